"""Exact, deterministic CPU rasteriser: the reference for the CUDA renderer.

A z-buffered triangle rasteriser with per-pixel smooth (Blinn-Phong) shading
and bilinear texture sampling, compiled with numba (``@njit(cache=True)``, no
fastmath, no parallel; ``nogil`` so other threads run meanwhile). The CUDA
renderer reproduces this algorithm pixel for pixel, so the algorithm below is
fixed; change it here and there together.

Arithmetic rules (both backends)
--------------------------------
* All per-pixel math is IEEE float32, round to nearest, with exactly the
  order of operations written below (parenthesised left to right, ``a*b + c``
  is a rounded multiply then a rounded add: **no FMA contraction**). On CUDA
  compile with ``--fmad=false`` (or use ``__fmul_rn``/``__fadd_rn``), keep
  the default ``-prec-div=true -prec-sqrt=true -ftz=false``.
* Division is a true IEEE division, sqrt an IEEE (correctly rounded) sqrt;
  nothing is replaced by a reciprocal multiply.
* Pixel centres are at integer coordinates (x right, y down). Integer pixel
  coordinates are converted exactly to float32.
* Constants (light, half vector, the material table) are the float32
  values in ``dmask.draw.materials``; the GPU is handed those exact values.

Both passes visit a window of the image: the renderer gives them the box of
the finite vertices (``vertex_window``), outside which no triangle reaches, and
writes the background outside it; the CUDA kernels visit the whole image. The
bytes are the same either way.

Pass 1: visibility (``rasterize_visibility``)
---------------------------------------------
``depth`` (H, W) float32 is set to +inf and ``tri_id`` (H, W) int32 to -1
inside the window. Then for every triangle t = 0 .. T-1 in index order:

1. Skip it if a vertex index is outside [0, N) or any of its nine vertex
   coordinates is not finite.
2. a, b, c = positions[triangles[t]];
   ``area2 = (b.x-a.x)*(c.y-a.y) - (b.y-a.y)*(c.x-a.x)``.
   Skip if ``area2 == 0`` (or NaN). If ``cull_back`` and ``area2 < 0`` skip
   (front faces have positive area in y-down image coordinates). If
   ``area2 < 0`` (not culled) swap b and c and set ``area2 = -area2`` (this is
   bit-identical to recomputing it with b and c swapped).
3. Bounding box: ``xmin = max(0, ceil(min(a.x, b.x, c.x)))``,
   ``xmax = min(W-1, floor(max(a.x, b.x, c.x)))``, same for y (0 and W-1
   being the window's bounds, which changes nothing); skip if empty.
4. For each pixel centre p = (px, py) in the box, with
   ``edge(u, v, p) = (v.x-u.x)*(p.y-u.y) - (v.y-u.y)*(p.x-u.x)``:
   ``w0 = edge(b, c, p)``, ``w1 = edge(c, a, p)``, ``w2 = edge(a, b, p)``.
   The pixel is inside iff ``w0 >= 0 and w1 >= 0 and w2 >= 0`` (inclusive:
   a centre on an edge shared by two triangles is hit by both, and the depth
   rule decides).
5. ``z = ((w0*a.z + w1*b.z) + w2*c.z) / area2``, then ``z = z + 0`` (turns
   -0 into +0, so the GPU may pack z's bits into an ordered key). A fragment
   whose z is not ``< +inf`` (overflow, NaN) is discarded.
6. Depth test: write ``depth = z, tri_id = t`` iff
   ``z < depth[py, px] or (z == depth[py, px] and t < tri_id[py, px])``.
   Nearest wins, equal depth -> lowest triangle index wins. This is an
   order-independent total order, i.e. exactly an ``atomicMin`` on the packed
   64-bit key (ordered bits of z, t) on the GPU.

Pass 2: shading (``shade_pixels``)
----------------------------------
For each pixel of the window with ``tri_id < 0`` (or an id that names no valid,
non-degenerate triangle, which pass 1 never writes): ``out = background``.
Otherwise, for its triangle t:

1. Same vertex load and swap rule as pass 1 (b, c and their normals and
   uv swapped when ``area2 < 0``), same ``area2``, same ``w0, w1, w2``.
2. ``l0 = w0/area2, l1 = w1/area2, l2 = w2/area2``.
3. ``n = (l0*n_a + l1*n_b) + l2*n_c`` per component;
   ``len2 = (n.x*n.x + n.y*n.y) + n.z*n.z``; if ``len2 > 0``:
   ``n = n / sqrt(len2)`` (three divisions), else (zero or NaN) ``n = (0, 0,
   -1)`` (facing the camera).
4. Only for a textured material (step 6): ``u = (l0*u_a + l1*u_b) +
   l2*u_c``, ``v`` likewise (interpolated uv, texels).
5. ``diff = n.L`` and ``s = n.H`` (each ``(n.x*X + n.y*Y) + n.z*Z``), each
   clamped: ``if not (d > 0): d = 0``. ``spec = s^16`` by four squarings
   (``s = s*s`` four times).
6. Material row m = materials[t] (ids >= M fall back to row 0):
   ``amb, dif, spc = material_table[m, 3:6]``. If ``material_table[m, 6] >
   0`` (textured) the base is the bilinear texture sample at (u, v): clamp
   ``if not (u >= 0): u = 0``, ``if u > TW-1: u = TW-1`` (v likewise with
   TH), ``fu = floor(u)``, ``x0 = int(fu)``, ``x1 = x0 + 1`` if ``x0 <
   TW-1`` else ``x0`` (y0, y1 likewise), ``du = u - fu``, ``eu = 1 - du``
   (dv, ev likewise), and per channel ``top = T[y0,x0]*eu + T[y0,x1]*du``,
   ``bottom = T[y1,x0]*eu + T[y1,x1]*du``, ``base = top*ev + bottom*dv``.
   Otherwise ``base = material_table[m, 0:3]``.
7. ``k = amb + dif*diff``; ``sp = (255*spc)*spec``; per channel
   ``c = base*k + sp``; ``if not (c > 0): c = 0``; ``if c > 255: c = 255``;
   ``out = uint8(floor(c + 0.5))``.

``shade_values`` (same arguments, ``out`` float32) runs the same pass but
stores the clamped float32 ``c`` of step 7 instead of the rounded byte: the
bit-exact comparison point for tests and for the CUDA port.

L is ``LIGHT_DIR`` (normalize(-0.35, -0.45, -0.82), up-left-front), V =
(0, 0, -1) and H = ``HALF_DIR`` = normalize(L + V), all from materials.py.

Implementation notes: the swap rule and area2 of step 1 are computed once per
triangle (the same values every pixel would recompute); the edge vector
differences of pass 1 are hoisted out of the pixel loops. Neither changes a
single rounding. The per-pixel work is scalar on purpose: it is what the CUDA
kernel does per thread.

Caching note: the shading kernels are built by ``_make_shading_kernels`` as
closures over the float32 constants from materials.py, so numba's on-disk cache
key includes their values (a plain global would go stale in the cache when
only materials.py changes).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dmask.config import RenderBackend
from dmask.draw import materials as _mat
from dmask.draw.mesh import RenderMesh

__all__ = ["CpuRenderer", "rasterize_visibility", "shade_pixels", "shade_values", "vertex_window", "whole_image"]

_F0 = np.float32(0.0)
_F255 = np.float32(255.0)
_FHALF = np.float32(0.5)
_FINF = np.float32(np.inf)
_FM1 = np.float32(-1.0)
_F1 = np.float32(1.0)


@njit(cache=True)
def _setup_triangle(positions, triangles, t, cull_back):
    """Vertex indices (after the swap rule) and area2 of triangle t.

    Returns (ok, ia, ib, ic, area2); ok is False for an invalid, degenerate or
    culled triangle.
    """
    n = positions.shape[0]
    ia = triangles[t, 0]
    ib = triangles[t, 1]
    ic = triangles[t, 2]
    if ia < 0 or ia >= n or ib < 0 or ib >= n or ic < 0 or ic >= n:
        return False, ia, ib, ic, _F0
    for v in (ia, ib, ic):
        for k in range(3):
            if not np.isfinite(positions[v, k]):
                return False, ia, ib, ic, _F0
    ax = positions[ia, 0]
    ay = positions[ia, 1]
    bx = positions[ib, 0]
    by = positions[ib, 1]
    cx = positions[ic, 0]
    cy = positions[ic, 1]
    area2 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    if area2 > _F0:
        return True, ia, ib, ic, area2
    if area2 < _F0 and not cull_back:
        return True, ia, ic, ib, -area2
    return False, ia, ib, ic, _F0  # zero, NaN, or culled


@njit(cache=True, nogil=True)
def rasterize_visibility(positions, triangles, cull_back, depth, tri_id, window):
    """Pass 1 over a window: fill depth (+inf where empty) and tri_id (-1 where empty) inside it.

    positions (N, 3) float32, triangles (T, 3) int32, cull_back bool,
    depth (H, W) float32, tri_id (H, W) int32 (overwritten inside the
    window), window (4,) int64 inclusive pixel bounds (x0, y0, x1, y1) inside
    the image that hold every finite vertex, or the whole image: the
    triangles' boxes are clamped to it, which for such a window is the image
    rule of step 3 (no triangle reaches past it).
    """
    x_low, y_low, x_high, y_high = window[0], window[1], window[2], window[3]
    for y in range(y_low, y_high + 1):
        for x in range(x_low, x_high + 1):
            depth[y, x] = _FINF
            tri_id[y, x] = -1
    fx_low = np.float32(x_low)
    fy_low = np.float32(y_low)
    fw1 = np.float32(x_high)
    fh1 = np.float32(y_high)
    for t in range(triangles.shape[0]):
        ok, ia, ib, ic, area2 = _setup_triangle(positions, triangles, t, cull_back)
        if not ok:
            continue
        ax = positions[ia, 0]
        ay = positions[ia, 1]
        az = positions[ia, 2]
        bx = positions[ib, 0]
        by = positions[ib, 1]
        bz = positions[ib, 2]
        cx = positions[ic, 0]
        cy = positions[ic, 1]
        cz = positions[ic, 2]
        fxmin = np.ceil(min(ax, bx, cx))
        fxmax = np.floor(max(ax, bx, cx))
        fymin = np.ceil(min(ay, by, cy))
        fymax = np.floor(max(ay, by, cy))
        if fxmin < fx_low:
            fxmin = fx_low
        if fymin < fy_low:
            fymin = fy_low
        if fxmax > fw1:
            fxmax = fw1
        if fymax > fh1:
            fymax = fh1
        if fxmin > fxmax or fymin > fymax:
            continue
        x0 = int(fxmin)
        x1 = int(fxmax)
        y0 = int(fymin)
        y1 = int(fymax)
        # Per-triangle edge vectors (v - u) of edge(u, v, p); hoisting them
        # does not change any rounding.
        e0x = cx - bx  # edge(b, c, p)
        e0y = cy - by
        e1x = ax - cx  # edge(c, a, p)
        e1y = ay - cy
        e2x = bx - ax  # edge(a, b, p)
        e2y = by - ay
        for py in range(y0, y1 + 1):
            fy = np.float32(py)
            dyb = fy - by
            dyc = fy - cy
            dya = fy - ay
            for px in range(x0, x1 + 1):
                fx = np.float32(px)
                w0 = e0x * dyb - e0y * (fx - bx)
                if w0 < _F0:
                    continue
                w1 = e1x * dyc - e1y * (fx - cx)
                if w1 < _F0:
                    continue
                w2 = e2x * dya - e2y * (fx - ax)
                if w2 < _F0:
                    continue
                z = ((w0 * az + w1 * bz) + w2 * cz) / area2
                z = z + _F0
                if not (z < _FINF):
                    continue
                d = depth[py, px]
                if z < d or (z == d and t < tri_id[py, px]):
                    depth[py, px] = z
                    tri_id[py, px] = t


@njit(cache=True)
def _clamp255(c):
    """Clamp to [0, 255]; NaN -> 0."""
    if not (c > _F0):
        c = _F0
    if c > _F255:
        c = _F255
    return c


@njit(cache=True, nogil=True)
def _shade_impl(positions, normals, uv, triangles, materials, material_table, texture,
                tri_id, background, out, fout, window, lx, ly, lz, hx, hy, hz):
    """Pass 2 over the window (x0, y0, x1, y1) of rasterize_visibility. Writes
    uint8 out (H, W, 3), or, if fout has the image's shape, the clamped
    float32 colour before rounding into fout instead; outside the window
    nothing is written."""
    h = tri_id.shape[0]
    w = tri_id.shape[1]
    want_float = fout.shape[0] == h and fout.shape[1] == w
    n_tri = triangles.shape[0]
    n_mat = material_table.shape[0]
    tex_h = texture.shape[0]
    tex_w = texture.shape[1]
    fw1 = np.float32(tex_w - 1)
    fh1 = np.float32(tex_h - 1)
    # Step 1 for every triangle once: the values each pixel would recompute.
    tok = np.empty(n_tri, np.bool_)
    tia = np.empty(n_tri, np.int32)
    tib = np.empty(n_tri, np.int32)
    tic = np.empty(n_tri, np.int32)
    tarea = np.empty(n_tri, np.float32)
    for t in range(n_tri):
        ok, ia, ib, ic, area2 = _setup_triangle(positions, triangles, t, False)
        tok[t] = ok
        tia[t] = ia
        tib[t] = ib
        tic[t] = ic
        tarea[t] = area2
    # (No njit helper taking arrays is called per pixel: numba would
    # reference-count the arrays at every call.)
    for py in range(window[1], window[3] + 1):
        fy = np.float32(py)
        for px in range(window[0], window[2] + 1):
            t = tri_id[py, px]
            if t < 0 or t >= n_tri or not tok[t]:
                if want_float:
                    for ch in range(3):
                        fout[py, px, ch] = np.float32(background[ch])
                else:
                    for ch in range(3):
                        out[py, px, ch] = background[ch]
                continue
            ia = tia[t]
            ib = tib[t]
            ic = tic[t]
            area2 = tarea[t]
            ax = positions[ia, 0]
            ay = positions[ia, 1]
            bx = positions[ib, 0]
            by = positions[ib, 1]
            cx = positions[ic, 0]
            cy = positions[ic, 1]
            fx = np.float32(px)
            w0 = (cx - bx) * (fy - by) - (cy - by) * (fx - bx)
            w1 = (ax - cx) * (fy - cy) - (ay - cy) * (fx - cx)
            w2 = (bx - ax) * (fy - ay) - (by - ay) * (fx - ax)
            l0 = w0 / area2
            l1 = w1 / area2
            l2 = w2 / area2
            nx = (l0 * normals[ia, 0] + l1 * normals[ib, 0]) + l2 * normals[ic, 0]
            ny = (l0 * normals[ia, 1] + l1 * normals[ib, 1]) + l2 * normals[ic, 1]
            nz = (l0 * normals[ia, 2] + l1 * normals[ib, 2]) + l2 * normals[ic, 2]
            len2 = (nx * nx + ny * ny) + nz * nz
            if len2 > _F0:
                ln = np.sqrt(len2)
                nx = nx / ln
                ny = ny / ln
                nz = nz / ln
            else:
                nx = _F0
                ny = _F0
                nz = _FM1
            diff = (nx * lx + ny * ly) + nz * lz
            if not (diff > _F0):
                diff = _F0
            s = (nx * hx + ny * hy) + nz * hz
            if not (s > _F0):
                s = _F0
            s = s * s
            s = s * s
            s = s * s
            s = s * s
            m = np.int64(materials[t])
            if m >= n_mat:
                m = 0
            if material_table[m, 6] > _F0:
                u = (l0 * uv[ia, 0] + l1 * uv[ib, 0]) + l2 * uv[ic, 0]
                v = (l0 * uv[ia, 1] + l1 * uv[ib, 1]) + l2 * uv[ic, 1]
                if not (u >= _F0):
                    u = _F0
                if u > fw1:
                    u = fw1
                if not (v >= _F0):
                    v = _F0
                if v > fh1:
                    v = fh1
                fu = np.floor(u)
                fv = np.floor(v)
                x0 = np.int64(fu)
                y0 = np.int64(fv)
                x1 = x0 + 1 if x0 < tex_w - 1 else x0
                y1 = y0 + 1 if y0 < tex_h - 1 else y0
                du = u - fu
                dv = v - fv
                eu = _F1 - du
                ev = _F1 - dv
                b0 = (texture[y0, x0, 0] * eu + texture[y0, x1, 0] * du) * ev + (
                    texture[y1, x0, 0] * eu + texture[y1, x1, 0] * du) * dv
                b1 = (texture[y0, x0, 1] * eu + texture[y0, x1, 1] * du) * ev + (
                    texture[y1, x0, 1] * eu + texture[y1, x1, 1] * du) * dv
                b2 = (texture[y0, x0, 2] * eu + texture[y0, x1, 2] * du) * ev + (
                    texture[y1, x0, 2] * eu + texture[y1, x1, 2] * du) * dv
            else:
                b0 = material_table[m, 0]
                b1 = material_table[m, 1]
                b2 = material_table[m, 2]
            k = material_table[m, 3] + material_table[m, 4] * diff
            sp = (_F255 * material_table[m, 5]) * s
            c0 = _clamp255(b0 * k + sp)
            c1 = _clamp255(b1 * k + sp)
            c2 = _clamp255(b2 * k + sp)
            if want_float:
                fout[py, px, 0] = c0
                fout[py, px, 1] = c1
                fout[py, px, 2] = c2
            else:
                out[py, px, 0] = np.uint8(np.floor(c0 + _FHALF))
                out[py, px, 1] = np.uint8(np.floor(c1 + _FHALF))
                out[py, px, 2] = np.uint8(np.floor(c2 + _FHALF))


def _make_shading_kernels(lx, ly, lz, hx, hy, hz):
    """Build the public shading kernels as closures over their constants (so
    numba's cache key includes the constants' values)."""
    lx = np.float32(lx)
    ly = np.float32(ly)
    lz = np.float32(lz)
    hx = np.float32(hx)
    hy = np.float32(hy)
    hz = np.float32(hz)

    @njit(cache=True, nogil=True)
    def shade_pixels(positions, normals, uv, triangles, materials, material_table, texture, tri_id, background, out,
                     window):
        """Pass 2: shade the window's pixels of out (H, W, 3) uint8 BGR from tri_id.

        positions, normals (N, 3) float32; uv (N, 2) float32; triangles
        (T, 3) int32; materials (T,) uint8; material_table (M, 7) float32;
        texture (TH, TW, 3) float32; tri_id (H, W) int32 from
        rasterize_visibility over the same window (4,) int64; background (3,) uint8 BGR.
        """
        no_float = np.empty((0, 0, 3), np.float32)
        _shade_impl(positions, normals, uv, triangles, materials, material_table, texture,
                    tri_id, background, out, no_float, window, lx, ly, lz, hx, hy, hz)

    @njit(cache=True, nogil=True)
    def shade_values(positions, normals, uv, triangles, materials, material_table, texture, tri_id, background, out,
                     window):
        """shade_pixels without the final rounding: out (H, W, 3) float32
        gets the clamped colour c of step 7 (background pixels get the
        background). For bit-exact comparisons (tests, the CUDA port)."""
        no_u8 = np.empty((0, 0, 3), np.uint8)
        _shade_impl(positions, normals, uv, triangles, materials, material_table, texture,
                    tri_id, background, no_u8, out, window, lx, ly, lz, hx, hy, hz)

    return shade_pixels, shade_values


shade_pixels, shade_values = _make_shading_kernels(
    _mat.LIGHT_DIR[0], _mat.LIGHT_DIR[1], _mat.LIGHT_DIR[2],
    _mat.HALF_DIR[0], _mat.HALF_DIR[1], _mat.HALF_DIR[2],
)


def _as_array(a, dtype, shape_tail: tuple, name: str) -> np.ndarray:
    arr = np.ascontiguousarray(a, dtype=dtype)
    if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail:
        want = "(n, " + ", ".join(map(str, shape_tail)) + ")" if shape_tail else "(n,)"
        raise ValueError(f"{name}: expected shape {want}, got {arr.shape}")
    return arr


class CpuRenderer:
    """Renders a RenderMesh to a BGR8 image; the reference for the CUDA renderer.

    Back faces are culled. The depth and triangle-id buffers are kept on the
    instance and reused while the output size stays the same, so one instance
    must not be used from two threads at once.
    """

    name = RenderBackend.CPU

    def __init__(self, background=(96, 96, 96)) -> None:
        bg = np.asarray(background)
        if bg.shape != (3,) or np.any(bg < 0) or np.any(bg > 255):
            raise ValueError(f"background must be 3 values in 0..255 (BGR), got {background!r}")
        self.background = np.ascontiguousarray(bg, dtype=np.uint8)
        self.material_table = _mat.MATERIAL_TABLE
        self._size: tuple[int, int] | None = None
        self._depth: np.ndarray | None = None
        self._tri_id: np.ndarray | None = None
        self._blank: np.ndarray | None = None

    def warmup(self) -> None:
        """Compile both kernels now (or load them from numba's on-disk cache).

        The first render otherwise compiles them, about 2-3 s without a warm
        cache; call this before opening outputs or starting the clock.
        """
        positions = np.array([[0, 0, 1], [2, 0, 1], [0, 2, 1]], np.float32)
        normals = np.array([[0, 0, -1]] * 3, np.float32)
        triangles = np.array([[0, 1, 2]], np.int32)
        depth = np.empty((2, 2), np.float32)
        tri_id = np.empty((2, 2), np.int32)
        window = whole_image(2, 2)
        rasterize_visibility(positions, triangles, True, depth, tri_id, window)
        shade_pixels(positions, normals, np.zeros((3, 2), np.float32), triangles,
                     np.zeros(1, np.uint8), self.material_table, np.zeros((1, 1, 3), np.float32),
                     tri_id, self.background, np.empty((2, 2, 3), np.uint8), window)

    def _buffers(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Depth and triangle-id buffers, and a background frame to copy from (a plain copy is
        several times faster than broadcasting the 3-byte colour)."""
        if self._size != (height, width):
            self._depth = np.empty((height, width), np.float32)
            self._tri_id = np.empty((height, width), np.int32)
            self._blank = np.empty((height, width, 3), np.uint8)
            self._blank[:] = self.background
            self._size = (height, width)
        return self._depth, self._tri_id, self._blank

    def render(self, mesh: RenderMesh, height: int, width: int,
               out: np.ndarray | None = None) -> np.ndarray:
        """Rasterise and shade ``mesh``; returns (height, width, 3) uint8 BGR.

        Writes into ``out`` (and returns it) when given; it must be a
        C-contiguous (height, width, 3) uint8 array.
        """
        height = int(height)
        width = int(width)
        if height < 0 or width < 0:
            raise ValueError(f"bad output size {height}x{width}")
        positions = _as_array(mesh.positions, np.float32, (3,), "positions")
        normals = _as_array(mesh.normals, np.float32, (3,), "normals")
        uv = _as_array(mesh.uv, np.float32, (2,), "uv")
        texture = np.ascontiguousarray(mesh.texture, np.float32)
        if texture.ndim != 3 or texture.shape[2] != 3 or texture.shape[0] < 1 or texture.shape[1] < 1:
            raise ValueError(f"texture: expected shape (h, w, 3) with h, w >= 1, got {texture.shape}")
        triangles = _as_array(mesh.triangles, np.int32, (3,), "triangles")
        mats = _as_array(mesh.materials, np.uint8, (), "materials")
        n = len(positions)
        if len(normals) != n or len(uv) != n:
            raise ValueError("positions, normals and uv differ in length")
        if len(mats) != len(triangles):
            raise ValueError("triangles and materials differ in length")
        if len(triangles):
            if triangles.min() < 0 or triangles.max() >= n:
                raise ValueError("triangle vertex index out of range")
            if mats.max() >= len(self.material_table):
                raise ValueError("material id out of range")
        if out is None:
            out = np.empty((height, width, 3), np.uint8)
        elif (out.shape != (height, width, 3) or out.dtype != np.uint8
              or not out.flags.c_contiguous or not out.flags.writeable):
            raise ValueError("out must be a writeable C-contiguous "
                             f"({height}, {width}, 3) uint8 array")
        depth, tri_id, blank = self._buffers(height, width)
        window = vertex_window(positions, height, width) if len(triangles) else None
        if window is None:
            np.copyto(out, blank)
            return out
        x0, y0, x1, y1 = window
        for rows, columns in ((slice(None, y0), slice(None)), (slice(y1 + 1, None), slice(None)),
                              (slice(y0, y1 + 1), slice(None, x0)), (slice(y0, y1 + 1), slice(x1 + 1, None))):
            np.copyto(out[rows, columns], blank[rows, columns])
        rasterize_visibility(positions, triangles, True, depth, tri_id, window)
        shade_pixels(positions, normals, uv, triangles, mats, self.material_table, texture, tri_id,
                     self.background, out, window)
        return out


def whole_image(height: int, width: int) -> np.ndarray:
    """The window (x0, y0, x1, y1) of every pixel."""
    return np.array([0, 0, width - 1, height - 1], np.int64)


def vertex_window(positions: np.ndarray, height: int, width: int) -> np.ndarray | None:
    """The pixels (x0, y0, x1, y1) inside the box of the finite vertices, clipped to the image; None if none.

    No triangle reaches outside it (a triangle with a vertex that is not
    finite is skipped), so the passes need visit nothing else: every other
    pixel is background. Why: a face covers a few percent of a 720p frame.
    """
    finite = positions[np.isfinite(positions).all(1), :2]
    if not len(finite) or height < 1 or width < 1:
        return None
    low = np.maximum(np.ceil(finite.min(0)), 0)
    high = np.minimum(np.floor(finite.max(0)), [width - 1, height - 1])
    if (low > high).any():
        return None
    return np.concatenate([low, high]).astype(np.int64)
