"""Tests of the CPU reference rasteriser (dmask/draw/cpu.py).

The module also holds a pure-numpy float32 implementation of both passes
(``ref_rasterize`` / ``ref_shade``), written straight from the algorithm in
cpu.py's docstring; the numba kernels must match it byte for byte.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dmask.draw import materials as mat
from dmask.draw.cpu import CpuRenderer, rasterize_visibility, shade_pixels, shade_values, whole_image
from dmask.draw.mesh import Material, RenderMesh

F = np.float32
BG = (96, 96, 96)


# --------------------------------------------------------------------------
# pure-numpy float32 reference of both passes
# --------------------------------------------------------------------------


def _swap_rule(a, b, c, area2):
    """Vectorised: swap b, c where area2 < 0 and make area2 positive."""
    neg = area2 < 0
    b2 = np.where(neg[..., None], c, b)
    c2 = np.where(neg[..., None], b, c)
    return b2, c2, np.where(neg, -area2, area2), neg


def ref_rasterize(positions, triangles, cull_back, h, w):
    positions = np.asarray(positions, np.float32)
    depth = np.full((h, w), np.inf, np.float32)
    tri_id = np.full((h, w), -1, np.int32)
    n = len(positions)
    for t, (ia, ib, ic) in enumerate(np.asarray(triangles)):
        if min(ia, ib, ic) < 0 or max(ia, ib, ic) >= n:
            continue
        a, b, c = positions[ia], positions[ib], positions[ic]
        if not (np.isfinite(a).all() and np.isfinite(b).all() and np.isfinite(c).all()):
            continue
        area2 = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        assert area2.dtype == np.float32
        if not (area2 > 0 or area2 < 0):
            continue
        if area2 < 0:
            if cull_back:
                continue
            b, c, area2 = c, b, -area2
        x0 = max(F(0), np.ceil(min(a[0], b[0], c[0])))
        x1 = min(F(w - 1), np.floor(max(a[0], b[0], c[0])))
        y0 = max(F(0), np.ceil(min(a[1], b[1], c[1])))
        y1 = min(F(h - 1), np.floor(max(a[1], b[1], c[1])))
        if x0 > x1 or y0 > y1:
            continue
        x0, x1, y0, y1 = int(x0), int(x1), int(y0), int(y1)
        py, px = np.mgrid[y0:y1 + 1, x0:x1 + 1].astype(np.float32)
        w0 = (c[0] - b[0]) * (py - b[1]) - (c[1] - b[1]) * (px - b[0])
        w1 = (a[0] - c[0]) * (py - c[1]) - (a[1] - c[1]) * (px - c[0])
        w2 = (b[0] - a[0]) * (py - a[1]) - (b[1] - a[1]) * (px - a[0])
        z = ((w0 * a[2] + w1 * b[2]) + w2 * c[2]) / area2
        z = z + F(0)
        assert z.dtype == np.float32
        d = depth[y0:y1 + 1, x0:x1 + 1]
        ids = tri_id[y0:y1 + 1, x0:x1 + 1]
        win = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (z < np.inf)
        win &= (z < d) | ((z == d) & (t < ids))
        d[win] = z[win]
        ids[win] = t
    return depth, tri_id


def ref_bilinear(texture, u, v):
    """(K, 3) float32: the documented bilinear sample of texture at (K,) float32 texel coordinates."""
    th, tw = texture.shape[:2]
    u = np.where(u >= 0, u, F(0))
    u = np.where(u > F(tw - 1), F(tw - 1), u)
    v = np.where(v >= 0, v, F(0))
    v = np.where(v > F(th - 1), F(th - 1), v)
    fu, fv = np.floor(u), np.floor(v)
    x0, y0 = fu.astype(np.int64), fv.astype(np.int64)
    x1 = np.where(x0 < tw - 1, x0 + 1, x0)
    y1 = np.where(y0 < th - 1, y0 + 1, y0)
    du, dv = (u - fu)[:, None], (v - fv)[:, None]
    eu, ev = F(1) - du, F(1) - dv
    top = texture[y0, x0] * eu + texture[y0, x1] * du
    bottom = texture[y1, x0] * eu + texture[y1, x1] * du
    out = top * ev + bottom * dv
    assert out.dtype == np.float32
    return out


def ref_shade(mesh, tri_id, background=BG, material_table=mat.MATERIAL_TABLE):
    """Returns (uint8 image, float32 clamped colour before rounding)."""
    positions, normals, uv = mesh.positions, mesh.normals, mesh.uv
    h, w = tri_id.shape
    out = np.empty((h, w, 3), np.uint8)
    out[:] = np.asarray(background, np.uint8)
    values = out.astype(np.float32)
    ys, xs = np.nonzero(tri_id >= 0)
    if len(ys) == 0:
        return out, values
    t = tri_id[ys, xs]
    tri = np.asarray(mesh.triangles)[t]
    ia, ib, ic = tri[:, 0], tri[:, 1], tri[:, 2]
    a = positions[ia]
    b = positions[ib]
    c = positions[ic]
    area2 = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    b, c, area2, neg = _swap_rule(a, b, c, area2)
    ib, ic = np.where(neg, ic, ib), np.where(neg, ib, ic)
    px = xs.astype(np.float32)
    py = ys.astype(np.float32)
    w0 = (c[:, 0] - b[:, 0]) * (py - b[:, 1]) - (c[:, 1] - b[:, 1]) * (px - b[:, 0])
    w1 = (a[:, 0] - c[:, 0]) * (py - c[:, 1]) - (a[:, 1] - c[:, 1]) * (px - c[:, 0])
    w2 = (b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (b[:, 1] - a[:, 1]) * (px - a[:, 0])
    l0, l1, l2 = w0 / area2, w1 / area2, w2 / area2
    n = (l0[:, None] * normals[ia] + l1[:, None] * normals[ib]) + l2[:, None] * normals[ic]
    len2 = (n[:, 0] * n[:, 0] + n[:, 1] * n[:, 1]) + n[:, 2] * n[:, 2]
    good = len2 > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(good[:, None], n / np.sqrt(len2)[:, None],
                     np.array([0, 0, -1], np.float32))
    L, H = mat.LIGHT_DIR, mat.HALF_DIR
    diff = (n[:, 0] * L[0] + n[:, 1] * L[1]) + n[:, 2] * L[2]
    diff = np.where(diff > 0, diff, F(0))
    s = (n[:, 0] * H[0] + n[:, 1] * H[1]) + n[:, 2] * H[2]
    s = np.where(s > 0, s, F(0))
    for _ in range(4):
        s = s * s
    m = np.asarray(mesh.materials)[t].astype(np.int64)
    u = (l0 * uv[ia, 0] + l1 * uv[ib, 0]) + l2 * uv[ic, 0]
    v = (l0 * uv[ia, 1] + l1 * uv[ib, 1]) + l2 * uv[ic, 1]
    textured = material_table[m, 6] > 0
    base = np.where(textured[:, None], ref_bilinear(mesh.texture, u, v), material_table[m, 0:3])
    k = material_table[m, 3] + material_table[m, 4] * diff
    sp = (F(255) * material_table[m, 5]) * s
    col = base * k[:, None] + sp[:, None]
    col = np.where(col > 0, col, F(0))
    col = np.where(col > 255, F(255), col)
    assert col.dtype == np.float32
    values[ys, xs] = col
    out[ys, xs] = np.floor(col + F(0.5)).astype(np.uint8)
    return out, values


# The texture make_mesh gives by default: one texel, so every textured pixel's base is this colour.
FLAT = np.array([150.0, 170.0, 205.0], np.float32)


def shade_one(normal, material, base=FLAT):
    """Expected BGR of a pixel whose (already interpolated) normal is given, and whose base colour
    is the texture's sample (textured materials) or the material's own, in numpy float32 scalars."""
    nx, ny, nz = (F(v) for v in normal)
    len2 = (nx * nx + ny * ny) + nz * nz
    ln = np.sqrt(len2)
    nx, ny, nz = nx / ln, ny / ln, nz / ln
    L, H = mat.LIGHT_DIR, mat.HALF_DIR
    diff = max(F(0), (nx * L[0] + ny * L[1]) + nz * L[2])
    s = max(F(0), (nx * H[0] + ny * H[1]) + nz * H[2])
    s = s * s
    s = s * s
    s = s * s
    s = s * s
    row = mat.MATERIAL_TABLE[int(material)]
    base = np.asarray(base, np.float32) if row[6] > 0 else row[0:3]
    k = row[3] + row[4] * diff
    sp = (F(255) * row[5]) * s
    col = base * k + sp
    assert col.dtype == np.float32
    return np.floor(np.clip(col, F(0), F(255)) + F(0.5)).astype(np.uint8)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def make_mesh(positions, triangles, normals=None, uv=None, materials=None, texture=None):
    positions = np.asarray(positions, np.float32)
    n = len(positions)
    triangles = np.asarray(triangles, np.int32).reshape(-1, 3)
    if normals is None:
        normals = np.tile(np.array([0, 0, -1], np.float32), (n, 1))
    if uv is None:
        uv = np.zeros((n, 2), np.float32)
    if materials is None:
        materials = np.zeros(len(triangles), np.uint8)
    return RenderMesh(
        positions=positions,
        normals=np.asarray(normals, np.float32),
        uv=np.asarray(uv, np.float32),
        triangles=triangles,
        materials=np.asarray(materials, np.uint8).reshape(-1),
        texture=FLAT.reshape(1, 1, 3) if texture is None else np.asarray(texture, np.float32),
    )


def visibility(mesh, h, w, cull_back=True):
    depth = np.empty((h, w), np.float32)
    tri_id = np.empty((h, w), np.int32)
    rasterize_visibility(mesh.positions, mesh.triangles, cull_back, depth, tri_id, whole_image(h, w))
    return depth, tri_id


def is_bg(img):
    return np.all(img == np.array(BG, np.uint8), axis=-1)


def centres_inside(verts, h, w):
    """Pixel centres inside a positively wound triangle, float64 edge tests
    (exact for the dyadic vertex coordinates the tests use)."""
    (ax, ay), (bx, by), (cx, cy) = [(float(v[0]), float(v[1])) for v in verts]
    py, px = np.mgrid[0:h, 0:w].astype(np.float64)

    def edge(ux, uy, vx, vy):
        return (vx - ux) * (py - uy) - (vy - uy) * (px - ux)

    return (edge(bx, by, cx, cy) >= 0) & (edge(cx, cy, ax, ay) >= 0) & (edge(ax, ay, bx, by) >= 0)


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------


def test_single_front_triangle_covers_exactly_inside_centres():
    verts = [(2.25, 3.5, 1.0), (40.75, 10.25, 1.0), (12.5, 30.75, 1.0)]
    mesh = make_mesh(verts, [0, 1, 2])
    h, w = 36, 48
    img = CpuRenderer().render(mesh, h, w)
    assert img.shape == (h, w, 3) and img.dtype == np.uint8 and img.flags.c_contiguous
    expected = centres_inside(verts, h, w)
    assert expected.sum() > 300
    drawn = ~is_bg(img)
    assert drawn.sum() == expected.sum()
    assert np.array_equal(drawn, expected)
    # every covered pixel has the flat skin colour, the rest the background
    assert np.all(img[expected] == shade_one((0, 0, -1), Material.SKIN))
    assert np.all(img[~expected] == np.array(BG, np.uint8))


def test_vertex_and_edge_centres_are_inside():
    # integer vertices: the three corner centres and the centres on the
    # horizontal and vertical edges are included (inclusive edge rule)
    mesh = make_mesh([(5, 5, 1), (20, 5, 1), (5, 20, 1)], [0, 1, 2])
    _, tri_id = visibility(mesh, 24, 24)
    cov = tri_id == 0
    assert cov[5, 5] and cov[5, 20] and cov[20, 5]
    assert cov[5, 5:21].all() and cov[5:21, 5].all()
    assert cov[12, 13] and cov[10, 15] and cov[12, 12]  # [y, x]: x + y = 25 is the hypotenuse
    assert not cov[13, 13] and not cov[4, 5] and not cov[5, 21]
    assert np.array_equal(cov, centres_inside([(5, 5), (20, 5), (5, 20)], 24, 24))


def test_back_face_culled_only_when_asked():
    verts = [(2.25, 3.5, 1.0), (40.75, 10.25, 1.0), (12.5, 30.75, 1.0)]
    back = make_mesh(verts, [0, 2, 1])  # counter-clockwise on screen
    front = make_mesh(verts, [0, 1, 2])
    h, w = 36, 48
    _, culled = visibility(back, h, w, cull_back=True)
    assert np.all(culled == -1)
    _, drawn = visibility(back, h, w, cull_back=False)
    _, ref = visibility(front, h, w, cull_back=True)
    assert (drawn == 0).sum() > 300
    assert np.array_equal(drawn == 0, ref == 0)
    # the renderer culls back faces
    assert np.all(is_bg(CpuRenderer().render(back, h, w)))


@pytest.mark.parametrize("near_first", [True, False])
def test_nearer_triangle_wins_in_either_order(near_first):
    near = [(4.5, 2.25, 3.0), (30.5, 6.75, 3.0), (10.25, 28.5, 3.0)]
    far = [(2.75, 4.5, 5.0), (28.25, 3.5, 5.0), (20.5, 26.25, 5.0)]
    verts = near + far if near_first else far + near
    near_idx = 0 if near_first else 1
    mats = np.array([Material.SKIN, Material.BROW], np.uint8)
    if not near_first:
        mats = mats[::-1].copy()
    mesh = make_mesh(verts, [0, 1, 2, 3, 4, 5], materials=mats)
    h, w = 32, 36
    depth, tri_id = visibility(mesh, h, w)
    in_near = centres_inside(near, h, w)
    in_far = centres_inside(far, h, w)
    both = in_near & in_far
    assert both.sum() > 100 and (in_far & ~in_near).sum() > 10
    assert np.all(tri_id[in_near] == near_idx)
    assert np.all(depth[in_near] == F(3.0))
    assert np.all(tri_id[in_far & ~in_near] == 1 - near_idx)
    assert np.all(tri_id[~in_near & ~in_far] == -1)
    img = CpuRenderer().render(mesh, h, w)
    assert np.all(img[both] == shade_one((0, 0, -1), Material.SKIN))


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_equal_depth_lowest_index_wins(order):
    tri_a = [(4.5, 2.25, 2.0), (30.5, 6.75, 2.0), (10.25, 28.5, 2.0)]
    tri_b = [(2.75, 4.5, 2.0), (28.25, 3.5, 2.0), (20.5, 26.25, 2.0)]
    tris = [tri_a, tri_b]
    verts = tris[order[0]] + tris[order[1]]
    mesh = make_mesh(verts, [0, 1, 2, 3, 4, 5])
    h, w = 32, 36
    _, tri_id = visibility(mesh, h, w)
    first = centres_inside(tris[order[0]], h, w)
    second = centres_inside(tris[order[1]], h, w)
    assert (first & second).sum() > 100
    assert np.all(tri_id[first] == 0)
    assert np.all(tri_id[second & ~first] == 1)


def test_duplicate_triangles_lowest_index_wins():
    # the same triangle three times (the last with its vertices rotated):
    # identical depths everywhere, so index 0 must own every pixel
    verts = [(4.5, 2.25, 2.0), (30.5, 6.75, 2.0), (10.25, 28.5, 2.0)]
    mesh = make_mesh(verts, [0, 1, 2, 0, 1, 2, 1, 2, 0])
    _, tri_id = visibility(mesh, 32, 36)
    assert (tri_id == 0).sum() > 100
    assert not np.any(tri_id > 0)


@pytest.mark.parametrize("corners", [
    (5.0, 5.0, 25.0, 20.0),          # integer corners: centres on the border
    (3.25, 2.75, 41.5, 30.125),      # fractional corners
])
def test_split_square_has_no_gaps(corners):
    x0, y0, x1, y1 = corners
    verts = [(x0, y0, 1), (x1, y0, 1), (x1, y1, 1), (x0, y1, 1)]
    # two clockwise triangles sharing the diagonal (x0,y0)-(x1,y1)
    mesh = make_mesh(verts, [0, 1, 2, 0, 2, 3])
    h, w = 34, 46
    _, tri_id = visibility(mesh, h, w)
    py, px = np.mgrid[0:h, 0:w]
    inside = (px >= x0) & (px <= x1) & (py >= y0) & (py <= y1)
    assert inside.sum() > 200
    assert np.all(tri_id[inside] >= 0)
    assert np.all(tri_id[~inside] == -1)
    # centres exactly on the shared diagonal (hit by both): lower index wins
    if corners == (5.0, 5.0, 25.0, 20.0):
        assert tri_id[5, 5] == 0 and tri_id[20, 25] == 0 and tri_id[14, 17] == 0
    img = CpuRenderer().render(mesh, h, w)
    assert np.array_equal(~is_bg(img), inside)


def test_shading_lit_brighter_than_unlit_and_exact_pixel():
    L = mat.LIGHT_DIR
    toward = np.tile(L, (3, 1))
    away = np.tile(np.array([0.35, 0.45, -0.4], np.float32), (3, 1))
    verts = [(2.25, 3.5, 1.0), (40.75, 10.25, 1.0), (12.5, 30.75, 1.0)]
    h, w = 36, 48
    lit = CpuRenderer().render(make_mesh(verts, [0, 1, 2], normals=toward), h, w)
    dark = CpuRenderer().render(make_mesh(verts, [0, 1, 2], normals=away), h, w)
    py, px = 12, 15
    assert centres_inside(verts, h, w)[py, px]
    assert np.all(lit[py, px].astype(int) > dark[py, px].astype(int) + 40)

    # exact value with per-vertex normals that differ: interpolate by hand
    normals = np.array([[-0.3, -0.2, -0.93], [0.4, -0.1, -0.9], [-0.1, 0.5, -0.86]], np.float32)
    mesh = make_mesh(verts, [0, 1, 2], normals=normals, materials=[Material.LIPS])
    img = CpuRenderer().render(mesh, h, w)
    a, b, c = (np.asarray(v, np.float32) for v in verts)
    fx, fy = F(px), F(py)
    area2 = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    w0 = (c[0] - b[0]) * (fy - b[1]) - (c[1] - b[1]) * (fx - b[0])
    w1 = (a[0] - c[0]) * (fy - c[1]) - (a[1] - c[1]) * (fx - c[0])
    w2 = (b[0] - a[0]) * (fy - a[1]) - (b[1] - a[1]) * (fx - a[0])
    l0, l1, l2 = w0 / area2, w1 / area2, w2 / area2
    n = (l0 * normals[0] + l1 * normals[1]) + l2 * normals[2]
    assert n.dtype == np.float32
    expected = shade_one(n, Material.LIPS)
    assert np.array_equal(img[py, px], expected)
    # and the spec highlight is present: lit skin exceeds its diffuse-only value
    row = mat.MATERIAL_TABLE[Material.SKIN]
    diffuse_only = row[0:3] * (row[3] + row[4] * F(1.0))
    assert np.all(lit[py, px].astype(np.float32) > np.floor(diffuse_only))


def test_textured_pixels_sample_the_texture_bilinearly_and_clamp_at_its_edge():
    """A square whose uv is its pixel position over 8 (texel centres at integers): each pixel's
    base is the bilinear mix of its four texels; past the texture's last texel, the edge texels."""
    texture = (np.arange(4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3) * 4.0) % 251.0
    corners = np.array([(0, 0), (63, 0), (63, 47), (0, 47)], np.float32)
    verts = np.column_stack([corners, np.ones(4, np.float32)])
    uv = corners / 8.0 - 1.0  # from (-1, -1) to (6.875, 4.875): both edges overrun the 5 x 4 texels
    mesh = make_mesh(verts, [0, 1, 2, 0, 2, 3], uv=uv, materials=[Material.SKIN] * 2, texture=texture)
    img = CpuRenderer().render(mesh, 48, 64)
    # (pixel x, y) and the texel coordinates it samples, clamped where its uv overruns
    for x, y, u, v in ((12, 12, 0.5, 0.5), (20, 18, 1.5, 1.25), (4, 4, 0.0, 0.0), (60, 44, 4.0, 3.0), (36, 40, 3.5, 3.0)):
        base = ref_bilinear(texture, np.array([u], np.float32), np.array([v], np.float32))[0]
        assert np.array_equal(img[y, x], shade_one((0, 0, -1), Material.SKIN, base)), (x, y)
    # a flat material ignores the texture
    flat = make_mesh(verts, [0, 1, 2, 0, 2, 3], uv=uv, materials=[Material.LASH] * 2, texture=texture)
    lash = CpuRenderer().render(flat, 48, 64)
    assert np.all(lash[2:46, 2:62] == shade_one((0, 0, -1), Material.LASH))


def _random_mesh(seed, h=48, w=64):
    """~200 triangles: small random ones of both windings (independent
    vertices, a third snapped to a 0.5 grid so centres fall on edges and
    vertices), a shared-edge grid patch, a few large far ones, some exact
    duplicates (equal-depth ties) and zero-length normals."""
    rng = np.random.default_rng(seed)
    pos, tris = [], []

    def add(v):
        pos.extend(v)
        k = len(pos)
        return list(range(k - len(v), k))

    for _ in range(150):  # small random triangles, random winding
        c = rng.uniform([-4, -4], [w + 4, h + 4])
        v = np.concatenate([c + rng.uniform(-9, 9, (3, 2)), rng.uniform(1, 9, (3, 1))], 1)
        if rng.random() < 0.35:
            v[:, :2] = np.round(v[:, :2] * 2) / 2
        if rng.random() < 0.2:
            v[:, 2] = 4.0
        elif rng.random() < 0.1:
            v[:, 2] = -0.0  # z must come out +0 (the GPU packs z's bits)
        tris.append(add(list(v)))
    gx, gy = rng.uniform(5, 20), rng.uniform(5, 15)  # 4 x 3 grid of quads
    grid = [(gx + 6 * i, gy + 5.5 * j, 3.0 + 0.1 * i) for j in range(4) for i in range(5)]
    g = add(grid)
    for j in range(3):
        for i in range(4):
            a, b, c, d = g[j * 5 + i], g[j * 5 + i + 1], g[(j + 1) * 5 + i + 1], g[(j + 1) * 5 + i]
            tris += [[a, b, c], [a, c, d]]
    for _ in range(4):  # large and far
        v = np.concatenate([rng.uniform([-10, -10], [w + 10, h + 10], (3, 2)),
                            rng.uniform(9, 12, (3, 1))], 1)
        tris.append(add(list(v)))
    tris += [list(t) for t in tris[:10]]  # exact duplicates, later indices
    pos = np.asarray(pos, np.float32)
    tris = np.asarray(tris, np.int32)
    n_vert, n_tri = len(pos), len(tris)
    normals = rng.normal(size=(n_vert, 3)).astype(np.float32)
    normals[:, 2] = -np.abs(normals[:, 2])
    normals[:3] = 0.0  # a triangle with zero-length normals
    texture = rng.uniform(0, 255, (12, 16, 3)).astype(np.float32)
    # texel coordinates past both edges, and a third on texel centres and halves
    uv = rng.uniform([-3, -3], [18, 14], (n_vert, 2)).astype(np.float32)
    uv[::3] = np.round(uv[::3] * 2) / 2
    uv[5] = np.nan  # clamps to the first texel
    mats = rng.integers(0, len(Material), n_tri).astype(np.uint8)
    mats[rng.random(n_tri) < 0.3] = Material.EYE
    return make_mesh(pos, tris, normals, uv, mats, texture)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cull_back", [True, False])
def test_numba_matches_numpy_reference(seed, cull_back):
    h, w = 48, 64
    mesh = _random_mesh(seed, h=h, w=w)
    depth, tri_id = visibility(mesh, h, w, cull_back)
    ref_depth, ref_tri = ref_rasterize(mesh.positions, mesh.triangles, cull_back, h, w)
    assert (tri_id >= 0).mean() > 0.35
    assert len(np.unique(tri_id)) > 60
    assert np.array_equal(tri_id, ref_tri)
    assert np.array_equal(depth.view(np.uint32), ref_depth.view(np.uint32))
    assert np.any(depth == 0) and not np.any(np.signbit(depth))
    bg = np.array(BG, np.uint8)
    out = np.zeros((h, w, 3), np.uint8)
    shade_pixels(mesh.positions, mesh.normals, mesh.uv, mesh.triangles,
                 mesh.materials, mat.MATERIAL_TABLE, mesh.texture, tri_id, bg, out, whole_image(h, w))
    ref, ref_values = ref_shade(mesh, ref_tri)
    assert np.array_equal(out, ref)
    # and bit for bit before the rounding to uint8 (catches ulp-level
    # differences in the order of operations that rarely flip a byte)
    values = np.full((h, w, 3), -1.0, np.float32)
    shade_values(mesh.positions, mesh.normals, mesh.uv, mesh.triangles,
                 mesh.materials, mat.MATERIAL_TABLE, mesh.texture, tri_id, bg, values, whole_image(h, w))
    assert np.array_equal(values.view(np.uint32), ref_values.view(np.uint32))
    assert np.array_equal(np.floor(values + F(0.5)).astype(np.uint8), out)
    # the renderer (back-face culling) gives the same bytes
    if cull_back:
        assert np.array_equal(CpuRenderer().render(mesh, h, w), ref)
    # textured and flat pixels both appear, so both paths are compared
    textured = mat.MATERIAL_TABLE[mesh.materials[np.maximum(tri_id, 0)], 6] > 0
    assert ((tri_id >= 0) & textured).sum() > 100 and ((tri_id >= 0) & ~textured).sum() > 100


def test_empty_mesh_renders_plain_background():
    r = CpuRenderer(background=(10, 20, 30))
    img = r.render(RenderMesh.empty(), 20, 30)
    assert img.shape == (20, 30, 3)
    assert np.all(img == np.array([10, 20, 30], np.uint8))


def test_render_reuses_out_and_buffers():
    r = CpuRenderer()
    r.warmup()
    assert r._depth is None  # warm-up leaves the frame buffers alone
    mesh = make_mesh([(2.25, 3.5, 1.0), (40.75, 10.25, 1.0), (12.5, 30.75, 1.0)], [0, 1, 2])
    out = np.full((36, 48, 3), 7, np.uint8)
    res = r.render(mesh, 36, 48, out=out)
    assert res is out
    assert not np.any(np.all(out == 7, axis=-1))  # every pixel written
    d1 = r._depth
    r.render(RenderMesh.empty(), 36, 48, out=out)
    assert r._depth is d1
    assert np.all(is_bg(out))
    with pytest.raises(ValueError):
        r.render(mesh, 36, 48, out=np.zeros((36, 47, 3), np.uint8))
    with pytest.raises(ValueError):
        r.render(make_mesh(mesh.positions, [0, 1, 3]), 36, 48)


def test_degenerate_offscreen_and_nonfinite_triangles_are_skipped():
    verts = [(1, 1, 1), (5, 5, 1), (9, 9, 1),          # collinear
             (-20, -20, 1), (-5, -20, 1), (-20, -5, 1),  # off-screen
             (2, 2, np.nan), (20, 2, 1), (2, 20, 1),     # NaN depth
             (2, 2, 1), (np.inf, 2, 1), (2, 20, 1)]      # infinite x
    mesh = make_mesh(verts, np.arange(12))
    depth, tri_id = visibility(mesh, 24, 24, cull_back=False)
    assert np.all(tri_id == -1) and np.all(np.isinf(depth))


# --------------------------------------------------------------------------
# benchmark: a face-sized mesh in a 720p frame
# --------------------------------------------------------------------------


def face_like_mesh(cols=28, rows=28, cx=640.0, cy=360.0, half_w=200.0, half_h=250.0):
    """~1500 triangles: a dome over a 400 x 500 px ellipse, eyes included."""
    u = np.linspace(-1, 1, cols, dtype=np.float64)
    v = np.linspace(-1, 1, rows, dtype=np.float64)
    uu, vv = np.meshgrid(u, v)
    # squash the square grid into the ellipse
    rad = np.maximum(np.abs(uu), np.abs(vv))
    norm = np.hypot(uu, vv)
    scale = np.where(norm > 0, rad / np.maximum(norm, 1e-12), 0.0)
    ex, ey = uu * scale, vv * scale
    ez = -np.sqrt(np.clip(1 - ex ** 2 - ey ** 2, 0, 1))
    pos = np.stack([cx + half_w * ex, cy + half_h * ey, 1000.0 + 200.0 * ez], -1).reshape(-1, 3)
    nrm = np.stack([ex, ey, ez], -1).reshape(-1, 3)
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-9)
    idx = np.arange(rows * cols).reshape(rows, cols)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]
    tris = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                           np.stack([a, c, d], -1).reshape(-1, 3)])
    centres = pos[tris].mean(1)
    mats = np.full(len(tris), Material.SKIN, np.uint8)
    rel = (centres[:, :2] - [cx, cy]) / [half_w, half_h]
    for ex_ in (-0.4, 0.4):
        mats[np.hypot(rel[:, 0] - ex_, (rel[:, 1] + 0.2) * 1.5) < 0.18] = Material.EYE
    mats[np.hypot(rel[:, 0], (rel[:, 1] - 0.5) * 3) < 0.35] = Material.LIPS
    uv = np.stack([(ex + 1) * 255, (ey + 1) * 255], -1).reshape(-1, 2)
    texture = np.random.default_rng(0).uniform(0, 255, (512, 768, 3)).astype(np.float32)
    return make_mesh(pos, tris, nrm, uv, mats, texture)


@pytest.mark.benchmark(group="render-cpu")
def test_benchmark_render_face_720p(benchmark):
    mesh = face_like_mesh()
    assert 1400 <= len(mesh.triangles) <= 1600
    r = CpuRenderer()
    out = np.empty((720, 1280, 3), np.uint8)
    r.render(mesh, 720, 1280, out=out)  # JIT / cache load outside the timing
    res = benchmark(r.render, mesh, 720, 1280, out)
    covered = ~is_bg(res)
    assert 0.6 * math.pi * 200 * 250 < covered.sum() <= math.pi * 200 * 250 + 2000
