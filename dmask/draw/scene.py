"""MaskParams to a RenderMesh: the avatar posed, lids set, eyes turned.

The topology (face skin, lash lines, mouth cavity, two eyeballs, two eye
covers) is fixed per avatar and built once by AvatarRig; each frame only
moves vertices and turns the eyeballs' texture coordinates with the gaze, so a
GPU backend uploads triangles, materials and the texture once. An eye cover is
drawn only over an occluded eye (dmask.measure.occlusion); otherwise its vertices all
sit on one point, and the rasteriser skips its triangles as degenerate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from dmask.measure.avatar import EYE_ATLAS_CENTRE, EYE_ATLAS_DEGREES, EYE_ATLAS_RADIUS, EYEBALL_RADIUS_FRACTION, Avatar
from dmask.measure.geometry import EyeLine
from dmask.measure.mesh_index import (
    INNER_CORNER,
    LEFT_LID_RING,
    LEFT_LIDS,
    LIPS_INNER,
    LIPS_OUTER,
    LOWER,
    OUTER_CORNER,
    RIGHT_LID_RING,
    RIGHT_LIDS,
    RING_LOWER,
    RING_UPPER,
    UPPER,
)
from dmask.records import EyeParams, MaskParams
from dmask.draw.mesh import Material, RenderMesh

# The drawn eyeball is larger than the anatomical one the fit assumes, so it
# fills the whole lid opening; the gaze is remapped so the iris lands where
# the fit measured it.
DRAWN_EYEBALL_FRACTION = 0.62
SPHERE_RINGS, SPHERE_SEGMENTS, SPHERE_MAX_POLAR = 20, 32, np.radians(100)
# The upper lashes hang from the lid margin over the opening, as on a real
# eye, rather than lying on the lid skin above it: the landmark model reads a
# lid edge at the far side of a dark band from the opening, so a band above
# the margin read as extra opening (a drawn closed eye read as about 0.13 eye
# widths open), and a narrow sclera slit under it as an open eye. Hanging, the
# fringe seals the closed lid and the model reads the upper lid where it is
# drawn. Its length is a fraction of the distance from the upper margin to its
# skin ring (about 0.14 eye widths at rest), and it turns down as the lid closes, as real lashes do: the
# fraction is LASH_HANG_AT_REST at the avatar's rest opening, grows linearly
# as the lid closes up to LASH_HANG_MAX (at half the rest opening) and
# shrinks to nothing at twice the rest opening, so a wide-open eye shows its
# whole opening (a fixed fringe made open eyes read narrower than drawn).
LASH_HANG_AT_REST = 0.4
LASH_HANG_MAX = 0.6
LASH_LIFT = 0.004  # canonical units towards the camera, so the fringe wins the depth test
MOUTH_DEPTH = 0.12  # canonical units behind the inner lips
LID_RING_FOLLOW = 0.5
EYEBALL_CLEARANCE = 0.02  # eye widths between the drawn eyeball and the nearest skin
# The cover drawn over a hidden eye: a flat ellipse, as a paddle held before
# it, over the lids and the socket to below the brow; radii in eye widths,
# standing COVER_LIFT canonical units before the nearest skin under it.
COVER_RADII = (0.8, 0.6)
COVER_SEGMENTS = 24
COVER_LIFT = 0.02


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted outward unit normals ((b - a) x (c - a) points inwards)."""
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    face = -np.cross(b - a, c - a)
    normals = np.zeros_like(vertices)
    for i in range(3):
        np.add.at(normals, triangles[:, i], face)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def _sphere() -> tuple[np.ndarray, np.ndarray]:
    """Unit directions (front pole at -z) and inward-wound triangles of a cap."""
    polar = np.linspace(0, SPHERE_MAX_POLAR, SPHERE_RINGS + 1)[1:]
    azimuth = np.linspace(0, 2 * np.pi, SPHERE_SEGMENTS, endpoint=False)
    p, a = np.meshgrid(polar, azimuth, indexing="ij")
    dirs = np.stack([np.sin(p) * np.cos(a), np.sin(p) * np.sin(a), -np.cos(p)], -1).reshape(-1, 3)
    dirs = np.vstack([[0.0, 0.0, -1.0], dirs])
    ring = lambda r, s: 1 + r * SPHERE_SEGMENTS + s % SPHERE_SEGMENTS  # noqa: E731
    tris = [(0, ring(0, s + 1), ring(0, s)) for s in range(SPHERE_SEGMENTS)]
    for r in range(SPHERE_RINGS - 1):
        for s in range(SPHERE_SEGMENTS):
            tris += [(ring(r, s), ring(r, s + 1), ring(r + 1, s)), (ring(r, s + 1), ring(r + 1, s + 1), ring(r + 1, s))]
    tris = np.array(tris, np.int32)
    a_, b_, c_ = (dirs[tris[:, i]] for i in range(3))
    inward = (np.cross(b_ - a_, c_ - a_) * a_).sum(1) < 0
    tris[~inward] = tris[~inward][:, [0, 2, 1]]
    return dirs, tris


def _skin_samples(vertices: np.ndarray, triangles: np.ndarray, steps: int = 6) -> np.ndarray:
    """Points spread over every triangle (vertices, edges and interiors)."""
    grid = [(i, j, steps - i - j) for i in range(steps + 1) for j in range(steps + 1 - i)]
    weights = np.array(grid, np.float64) / steps
    return np.einsum("pk,tkc->tpc", weights, vertices[triangles]).reshape(-1, 3)


def _behind_skin(skin: np.ndarray, centre_xy: np.ndarray, radius: float) -> float:
    """The least depth of a sphere's centre that keeps it behind the skin.

    A skin point at distance d (in x, y) from the centre is in front of the
    sphere when its z is below the sphere's surface there, centre - sqrt(r^2 - d^2).
    The skin is sampled inside its triangles too: a convex eyeball could
    otherwise bulge through the middle of a large triangle.
    """
    d2 = ((skin[:, :2] - centre_xy) ** 2).sum(1)
    near = d2 < radius**2
    return float((skin[near, 2] + np.sqrt(radius**2 - d2[near])).max())


def _lash_tips(margin: np.ndarray, ring: np.ndarray, hang: float) -> np.ndarray:
    """Where the upper lashes end: the lid skin's slope continued past the margin.

    hang is the fringe's length over the margin-to-ring distance. The upper lid
    stands further forward than the lower one, so the fringe (lifted by
    LASH_LIFT) stays in front of the lower lid it overlaps when the eye is
    closed, and well in front of the eyeball.
    """
    return margin + hang * (margin - ring) - [0, 0, LASH_LIFT]


def eyeball_uv(directions: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """(K, 2) texels of the eye square for (K, 3) unit directions from the eyeball centre, gaze along axis.

    Radius in the square is the angle from the gaze axis (EYE_ATLAS_RADIUS at
    EYE_ATLAS_DEGREES, clamped there: sclera beyond), direction the direction
    round the axis, the square's x along the canonical x, y along y.
    """
    cos = np.clip(directions @ axis, -1.0, 1.0)
    across = directions - cos[:, None] * axis
    x_ref = np.array([1.0, 0.0, 0.0]) - axis[0] * axis
    x_ref /= np.linalg.norm(x_ref)
    y_ref = np.cross(x_ref, axis)
    length = np.maximum(np.linalg.norm(across, axis=1), 1e-12)
    radius = EYE_ATLAS_RADIUS * np.minimum(np.degrees(np.arccos(cos)) / EYE_ATLAS_DEGREES, 1.0) / length
    return np.column_stack([EYE_ATLAS_CENTRE[0] + radius * (across @ x_ref), EYE_ATLAS_CENTRE[1] + radius * (across @ y_ref)])


@dataclass(frozen=True)
class EyeRig:
    """One eye of the avatar at rest, in canonical units."""

    lids: np.ndarray  # (16,) mesh indices, iris-model order
    ring: np.ndarray  # (14,) the lid skin ring matching margin points 1-7, 9-15
    line: EyeLine  # the corner line at rest, 3D
    rest_upper: float  # aperture fractions of the avatar itself
    rest_lower: float
    centre: np.ndarray  # (3,) drawn eyeball centre
    radius: float

    @staticmethod
    def build(vertices: np.ndarray, skin: np.ndarray, lids: np.ndarray, ring: np.ndarray, iris_rest: np.ndarray) -> "EyeRig":
        """The eye at rest; the drawn eyeball sits so that gaze 0 puts the iris at iris_rest (from the mesh's corners)."""
        line = EyeLine.of(vertices[lids])
        rest_upper, rest_lower = line.apertures(vertices[lids])
        radius = DRAWN_EYEBALL_FRACTION * line.width
        ahead = line.middle[:2] + line.width * np.asarray(iris_rest, np.float64)
        centre = np.array([ahead[0], ahead[1], _behind_skin(skin, ahead, radius) + EYEBALL_CLEARANCE * line.width])
        return EyeRig(lids, ring, line, rest_upper, rest_lower, centre, radius)

    def set_lids(self, vertices: np.ndarray, eye: EyeParams) -> None:
        """Scale the rest lid curves to the measured apertures, in place."""
        for part, ring_part, rest, value, sign in (
            (UPPER, RING_UPPER, self.rest_upper, eye.upper_aperture, -1.0),
            (LOWER, RING_LOWER, self.rest_lower, eye.lower_aperture, 1.0),
        ):
            idx = self.lids[part]
            height = sign * self.line.below(vertices[idx])
            target = height * (value / rest) if abs(rest) > 1e-6 else height
            shift = (sign * (target - height))[:, None] * self.line.down
            vertices[idx] += shift
            vertices[self.ring[ring_part]] += LID_RING_FOLLOW * shift

    def lash_hang(self, eye: EyeParams) -> float:
        """The upper fringe's length for these lids (see LASH_HANG_AT_REST)."""
        openness = eye.upper_aperture / self.rest_upper if abs(self.rest_upper) > 1e-6 else 1.0
        return float(np.clip(LASH_HANG_AT_REST * (2.0 - openness), 0.0, LASH_HANG_MAX))

    def cover(self, skin: np.ndarray) -> np.ndarray:
        """(COVER_SEGMENTS + 1, 3) the cover's centre, then its rim, in canonical units."""
        angles = np.linspace(0, 2 * np.pi, COVER_SEGMENTS, endpoint=False)
        rim = np.column_stack([np.cos(angles), np.sin(angles)]) * np.multiply(COVER_RADII, self.line.width)
        xy = np.vstack([[0.0, 0.0], rim]) + self.line.middle[:2]
        under = (((skin[:, :2] - self.line.middle[:2]) / np.multiply(COVER_RADII, self.line.width)) ** 2).sum(1) <= 1
        return np.column_stack([xy, np.full(len(xy), skin[under, 2].min() - COVER_LIFT)])

    def gaze_axis(self, eye: EyeParams) -> np.ndarray:
        """Drawn-eyeball axis that puts the iris where the fit's eyeball had it."""
        ratio = EYEBALL_RADIUS_FRACTION / DRAWN_EYEBALL_FRACTION
        sin_pitch = np.clip(ratio * np.sin(eye.gaze_pitch), -1, 1)
        cos_pitch = np.sqrt(1 - sin_pitch**2)
        sin_yaw = np.clip(ratio * np.sin(eye.gaze_yaw) * np.cos(eye.gaze_pitch) / max(cos_pitch, 1e-6), -1, 1)
        cos_yaw = np.sqrt(1 - sin_yaw**2)
        return np.array([sin_yaw * cos_pitch, sin_pitch, -cos_yaw * cos_pitch])


class AvatarRig:
    """The avatar's fixed topology and the per-frame vertex update."""

    def __init__(self, avatar: Avatar) -> None:
        self.avatar = avatar
        rest = avatar.vertices.astype(np.float64)
        skin = _skin_samples(rest, avatar.triangles)
        self.eyes = (
            EyeRig.build(rest, skin, RIGHT_LIDS, RIGHT_LID_RING, avatar.iris_rest_mesh[0]),
            EyeRig.build(rest, skin, LEFT_LIDS, LEFT_LID_RING, avatar.iris_rest_mesh[1]),
        )
        self.sphere_dirs, sphere_tris = _sphere()
        self.covers = tuple(eye.cover(skin) for eye in self.eyes)
        n_face = len(rest)
        self.lash_start = n_face
        self.mouth_centre = n_face + 14
        self.sphere_start = (self.mouth_centre + 1, self.mouth_centre + 1 + len(self.sphere_dirs))
        self.cover_start = self.sphere_start[1] + len(self.sphere_dirs)
        self.n_vertices = self.cover_start + 2 * (COVER_SEGMENTS + 1)
        face_materials = np.full(len(avatar.triangles), Material.SKIN, np.uint8)
        face_materials[avatar.lip_triangles] = Material.LIPS
        face_materials[avatar.brow_triangles] = Material.BROW
        surface = [
            (avatar.triangles, face_materials),
            (self._lash_triangles(), Material.LASH),
            (self._mouth_triangles(rest), Material.MOUTH_INTERIOR),
        ]
        behind = [
            (sphere_tris + self.sphere_start[0], Material.EYE),
            (sphere_tris + self.sphere_start[1], Material.EYE),
            (self._lid_backs(), Material.SKIN),
        ]
        covers = [(self._cover_triangles(k), Material.COVER) for k in range(2)]
        parts = surface + behind + covers
        self.triangles = np.concatenate([t for t, _ in parts]).astype(np.int32)
        self.materials = np.concatenate([np.broadcast_to(np.asarray(m, np.uint8), len(t)) for t, m in parts])
        self.surface_triangles = sum(len(t) for t, _ in surface)

    def _lid_backs(self) -> np.ndarray:
        """Reversed copies of the skin triangles at the lid margins.

        A closing lid can fold a few of these over (the upper margin passes
        the corner line); drawn from both sides they still cover the eyeball
        instead of being culled into holes.
        """
        margins = np.concatenate([eye.lids for eye in self.eyes])
        touching = np.isin(self.avatar.triangles, margins).any(1)
        return self.avatar.triangles[touching][:, [0, 2, 1]]

    def _cover_triangles(self, k: int) -> np.ndarray:
        """A fan over eye k's cover, facing the camera at rest."""
        start = self.cover_start + k * (COVER_SEGMENTS + 1)
        rim = np.arange(COVER_SEGMENTS)
        tris = np.column_stack([np.zeros(COVER_SEGMENTS, int), 1 + rim, 1 + (rim + 1) % COVER_SEGMENTS])
        a, b, c = (self.covers[k][tris[:, i]] for i in range(3))
        if np.cross(b - a, c - a)[0, 2] < 0:
            tris = tris[:, [0, 2, 1]]
        return (tris + start).astype(np.int32)

    def _lash_triangles(self) -> np.ndarray:
        """A fringe from each upper lid margin to its lash tips, tapering into the corners."""
        tris = []
        for e, eye in enumerate(self.eyes):
            corners = eye.lids[OUTER_CORNER], eye.lids[INNER_CORNER]
            margin = [corners[0], *eye.lids[UPPER], corners[1]]
            offset = [corners[0], *range(self.lash_start + 7 * e, self.lash_start + 7 * e + 7), corners[1]]
            for k in range(len(margin) - 1):
                tris += [(margin[k], margin[k + 1], offset[k]), (offset[k], margin[k + 1], offset[k + 1])]
        return self._inward(np.array(tris, np.int32))

    def _mouth_triangles(self, rest: np.ndarray) -> np.ndarray:
        """A fan from the inner lips to a point behind them: the mouth cavity.

        The inner lips nearly touch at rest, so the winding is taken from the
        outer lip contour, which runs the same way round.
        """
        ring = LIPS_INNER
        tris = np.array([(ring[k], ring[(k + 1) % len(ring)], self.mouth_centre) for k in range(len(ring))], np.int32)
        x, y = rest[LIPS_OUTER, 0], rest[LIPS_OUTER, 1]
        if (x * np.roll(y, -1) - np.roll(x, -1) * y).sum() < 0:
            tris = tris[:, [0, 2, 1]]
        return tris

    def _inward(self, tris: np.ndarray) -> np.ndarray:
        """Wind triangles so their cross product points into the head (+z at rest)."""
        vertices = self._with_extras(self.avatar.vertices.astype(np.float64), (LASH_HANG_AT_REST, LASH_HANG_AT_REST))
        a, b, c = (vertices[tris[:, i]] for i in range(3))
        flip = np.cross(b - a, c - a)[:, 2] < 0
        tris[flip] = tris[flip][:, [0, 2, 1]]
        return tris

    def _with_extras(self, face: np.ndarray, hangs: tuple[float, float]) -> np.ndarray:
        """Face vertices plus lash-tip and mouth-centre vertices (no eyeballs); hangs per eye."""
        lashes = [_lash_tips(face[eye.lids[UPPER]], face[eye.ring[RING_UPPER]], hang) for eye, hang in zip(self.eyes, hangs)]
        centre = face[LIPS_INNER].mean(0) + [0, 0, MOUTH_DEPTH]
        return np.vstack([face, *lashes, centre[None]])

    def drawn_eyes(self, params: MaskParams) -> tuple[EyeParams, EyeParams]:
        """The eyes as drawn: a hidden eye (no values) at the population's rest, under its cover; an eye
        in a blink (no gaze) looking ahead under its lid."""
        rest = self.avatar.resting_eye()
        ahead = {"gaze_yaw": 0.0, "gaze_pitch": 0.0}
        return tuple(rest if eye.occluded else eye if math.isfinite(eye.gaze_yaw) else replace(eye, **ahead)
                     for eye in (params.right_eye, params.left_eye))

    def canonical_vertices(self, params: MaskParams) -> np.ndarray:
        """Face, lash and mouth vertices in canonical units for these params."""
        face = self.avatar.drawn(params.action_units)
        eyes = tuple(zip(self.eyes, self.drawn_eyes(params)))
        for eye, eye_params in eyes:
            eye.set_lids(face, eye_params)
        return self._with_extras(face, tuple(eye.lash_hang(eye_params) for eye, eye_params in eyes))

    def mesh(self, params: MaskParams) -> RenderMesh:
        """The posed avatar for one face."""
        vertices = self.canonical_vertices(params)
        normals = np.zeros((self.n_vertices, 3))
        normals[: len(vertices)] = vertex_normals(vertices, self.triangles[: self.surface_triangles])
        normals[self.cover_start :] = [0.0, 0.0, -1.0]
        uv = np.zeros((self.n_vertices, 2))
        uv[: len(self.avatar.uv)] = self.avatar.uv
        spheres = []
        for k, (eye, eye_params) in enumerate(zip(self.eyes, self.drawn_eyes(params))):
            spheres.append(eye.centre + eye.radius * self.sphere_dirs)
            start = self.sphere_start[k]
            normals[start : start + len(self.sphere_dirs)] = self.sphere_dirs
            uv[start : start + len(self.sphere_dirs)] = eyeball_uv(self.sphere_dirs, eye.gaze_axis(eye_params))
        covered = (params.right_eye.occluded, params.left_eye.occluded)
        covers = [cover if on else np.broadcast_to(cover[0], cover.shape) for cover, on in zip(self.covers, covered)]
        canonical = np.vstack([vertices, *spheres, *covers])
        rotation = params.rotation.astype(np.float64)
        positions = params.scale * canonical @ rotation.T + params.translation
        return RenderMesh(
            positions=positions.astype(np.float32),
            normals=(normals @ rotation.T).astype(np.float32),
            uv=uv.astype(np.float32),
            triangles=self.triangles,
            materials=self.materials,
            texture=self.avatar.texture,
        )
