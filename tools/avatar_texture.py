"""The avatar's one texture: many people's faces averaged in its UV space, and a synthetic eye.

Used by tools/build_avatar.py; the layout is dmask.measure.avatar's (TEXTURE_SHAPE,
the face square, the eye square).

Face. The face square holds the mean face's canonical x, y, scaled to fit
(face_uv). Every colour photo is unwrapped into it: each texel's place in the
photo is its triangle's barycentric mix of the photo's landmarks (a
piecewise-affine warp, cv2.remap). A texel counts in proportion to how
squarely its triangle faces the camera in that photo (turned-away and folded
triangles count nothing). Each photo's colours are divided by its own
median face colour and multiplied by one fixed skin tone, so skin tone,
exposure and white balance are the same for every contributor; what remains
to average is the shading and the features: socket, lid crease, lid margins
and lashes, brows, lips, nostrils. Each identity's photos are averaged first
and the identities then weigh equally, so nobody with many photos stands
out. Texels no triangle covers (the eye openings, the mouth, the margin) are
filled: the eye openings dark (so a lid margin shades into a lash line), the
mouth as the lips' parting, the rest from their neighbours. Per texel the
median over identities is kept, so no single person's photo shows through.

Edges (clean_edges). Near the face's outline the photos were seen at grazing
angles, and their backgrounds and hair leaked into the average: green, teal
and purple tints that a turned head showed as streaks along its far side,
and bilinear samples at the outline reached the smear beyond it (issue 27).
Within EDGE_BAND texels of the outline, and outside it, the face square is
replaced by a smooth fill of the texels further in (normalised Gaussian
convolution, widening until every texel is reached). The fill depends only on
those texels, so cleaning a cleaned texture changes nothing (build_avatar.py
cleans a kept texture too).

Eye. The eye square is painted, not photographed: radius is the angle from
the gaze axis, direction the direction round it (dmask.draw.scene.eyeball_uv).
A near-black pupil, a dark brown iris with radial fibres and a lighter
collarette, a dark limbal ring, an off-white sclera; edges smoothed over a
degree so a small drawn eye does not alias.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

from dmask.measure.avatar import (
    EYE_ATLAS_CENTRE,
    EYE_ATLAS_DEGREES,
    EYE_ATLAS_RADIUS,
    FACE_ATLAS_SIDE,
    IRIS_DEGREES,
    PUPIL_DEGREES,
    TEXTURE_SHAPE,
)

FACE_MARGIN = 12  # texels between the unwrapped face and its square's edge
SKIN_BGR = np.array([138.0, 158.0, 196.0])  # the one skin tone: a photo's median face colour becomes this
SCLERA_BGR = np.array([212.0, 220.0, 230.0])
IRIS_BGR = np.array([38.0, 60.0, 92.0])
LIMBUS_BGR = np.array([28.0, 32.0, 40.0])
PUPIL_BGR = np.array([12.0, 12.0, 14.0])
EDGE_BAND = 24.0  # texels inside the face's outline replaced by the fill (the tints reached about this far in)
FILL_SIGMAS = (2, 4, 8, 16, 32, 64, 128)  # texels: each fills what the narrower ones could not reach


def face_uv(vertices: np.ndarray) -> np.ndarray:
    """(468, 2) texels: the canonical x, y scaled uniformly into the face square and centred in it."""
    xy = vertices[:, :2].astype(np.float64)
    low, high = xy.min(0), xy.max(0)
    scale = (FACE_ATLAS_SIDE - 1 - 2 * FACE_MARGIN) / (high - low).max()
    return ((xy - (low + high) / 2) * scale + (FACE_ATLAS_SIDE - 1) / 2).astype(np.float32)


def texel_triangles(uv: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per texel of the face square: its triangle (-1 for none) and (3,) barycentric weights."""
    side = FACE_ATLAS_SIDE
    owner = np.full((side, side), -1, np.int32)
    weights = np.zeros((side, side, 3))
    for t, corners in enumerate(uv[triangles].astype(np.float64)):
        low = np.maximum(np.floor(corners.min(0)).astype(int), 0)
        high = np.minimum(np.ceil(corners.max(0)).astype(int), side - 1)
        ys, xs = np.mgrid[low[1] : high[1] + 1, low[0] : high[0] + 1]
        a, b, c = corners
        matrix = np.array([b - a, c - a]).T
        if abs(np.linalg.det(matrix)) < 1e-9:
            continue
        local = np.linalg.solve(matrix, np.stack([xs - a[0], ys - a[1]]).reshape(2, -1)).T
        mix = np.column_stack([1 - local.sum(1), local])
        hit = (mix >= -1e-6).all(1)
        owner[ys.ravel()[hit], xs.ravel()[hit]] = t
        weights[ys.ravel()[hit], xs.ravel()[hit]] = mix[hit]
    return owner, weights


class FaceUnwrapper:
    """Unwraps photos of faces into the face square, given each photo's landmarks."""

    def __init__(self, uv: np.ndarray, triangles: np.ndarray) -> None:
        self.triangles = triangles
        self.owner, self.weights = texel_triangles(uv, triangles)
        self.covered = self.owner >= 0

    def unwrap(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(S, S, 3) float32 the photo's colours over its median face colour times SKIN_BGR, and (S, S) weights."""
        owner = self.owner[self.covered]
        corners = landmarks[self.triangles[owner]].astype(np.float64)  # (V, 3, 3)
        source = np.einsum("vk,vkc->vc", self.weights[self.covered], corners[:, :, :2])
        maps = np.full((2, *self.owner.shape), -1.0, np.float32)
        maps[:, self.covered] = source.T
        texels = cv2.remap(image.astype(np.float32), maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        height, width = image.shape[:2]
        inside = (maps[0] >= 0) & (maps[1] >= 0) & (maps[0] <= width - 1) & (maps[1] <= height - 1)
        weight = np.zeros(self.owner.shape)
        weight[self.covered] = self._facing(landmarks)[owner]
        weight *= inside
        median = np.median(texels[weight > 0.25], axis=0) if (weight > 0.25).sum() > 100 else None
        if median is None:
            return texels, np.zeros_like(weight)
        return texels / np.maximum(median, 1.0) * SKIN_BGR, weight

    def _facing(self, landmarks: np.ndarray) -> np.ndarray:
        """(T,) how squarely each triangle faces the camera, 0..1 (its inward normal's depth component, squared)."""
        a, b, c = (landmarks[self.triangles[:, i]].astype(np.float64) for i in range(3))
        normal = np.cross(b - a, c - a)
        facing = normal[:, 2] / np.maximum(np.linalg.norm(normal, axis=1), 1e-12)
        return np.clip(facing, 0.0, 1.0) ** 2


def average_face(identities: list[list[tuple[np.ndarray, np.ndarray]]], holes: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(S, S, 3) per texel, the median over identities of each one's weighted mean of its unwrapped photos.

    identities: per identity, (texels, weights) of each photo. holes: (polygon
    (K, 2) texels, BGR) pairs: the eye openings and the mouth, filled with a
    fixed colour so that a lid or lip margin sampled at its edge shades into
    it (a dark lash line, the lips' parting). Other texels seen by too few
    identities are filled from their neighbours.
    """
    means = []
    for photos in identities:
        colour = sum(w[..., None] * t for t, w in photos)
        weight = sum(w for _, w in photos)
        means.append(np.where((weight > 1e-6)[..., None], colour / np.maximum(weight, 1e-6)[..., None], np.nan))
    stack = np.array(means)
    seen = np.isfinite(stack[..., 0]).sum(0)
    with warnings.catch_warnings():  # a texel no identity saw is all NaN: filled below
        warnings.simplefilter("ignore", RuntimeWarning)
        face = np.nan_to_num(np.nanmedian(stack, axis=0))
    for polygon, colour in holes:
        fill = np.zeros(seen.shape, np.uint8)
        cv2.fillPoly(fill, [np.round(polygon).astype(np.int32)], 1)
        face[fill > 0] = colour
        seen[fill > 0] = len(identities)
    missing = (seen < max(2, 0.25 * len(identities))).astype(np.uint8)
    return cv2.inpaint(np.clip(face, 0, 255).astype(np.uint8), missing, 5, cv2.INPAINT_TELEA).astype(np.float64)


def _smoothstep(edge: float, width: float, x: np.ndarray) -> np.ndarray:
    """0 below edge - width/2, 1 above edge + width/2, smooth between."""
    t = np.clip((x - edge) / width + 0.5, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def eye_square() -> np.ndarray:
    """(S, S, 3) the painted eyeball over the eye square (S = TEXTURE_SHAPE[0] // 2)."""
    side = TEXTURE_SHAPE[0] // 2
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float64)
    dx, dy = xs + (TEXTURE_SHAPE[1] - side) - EYE_ATLAS_CENTRE[0], ys - EYE_ATLAS_CENTRE[1]
    angle = np.minimum(np.hypot(dx, dy) / EYE_ATLAS_RADIUS, 1.0) * EYE_ATLAS_DEGREES
    around = np.arctan2(dy, dx)
    depth = angle / IRIS_DEGREES  # 0 at the pupil's centre, 1 at the iris's edge
    fibres = 0.78 + 0.22 * (0.5 + 0.5 * np.sin(47 * around + 2.5 * np.sin(9 * around) + 6 * depth))
    collarette = 1.0 + 0.35 * np.exp(-(((depth - 0.55) / 0.08) ** 2))
    iris = IRIS_BGR * (fibres * collarette * (1.1 - 0.3 * depth))[..., None]
    limbus = _smoothstep(0.86 * IRIS_DEGREES, 2.0, angle)[..., None]
    iris = iris * (1 - limbus) + LIMBUS_BGR * limbus
    sclera = _smoothstep(IRIS_DEGREES, 1.5, angle)[..., None]
    eye = iris * (1 - sclera) + SCLERA_BGR * sclera
    pupil = 1 - _smoothstep(PUPIL_DEGREES, 1.0, angle)[..., None]
    return eye * (1 - pupil) + PUPIL_BGR * pupil


def atlas(face: np.ndarray) -> np.ndarray:
    """(TEXTURE_SHAPE, 3) float32: the face square, the eye square to its right, the rest sclera-white."""
    texture = np.empty((*TEXTURE_SHAPE, 3))
    texture[:] = SCLERA_BGR
    texture[:, :FACE_ATLAS_SIDE] = face
    side = TEXTURE_SHAPE[0] // 2
    texture[:side, TEXTURE_SHAPE[1] - side :] = eye_square()
    return texture.astype(np.float32)


def face_outline(uv: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(S, S) uint8 1 inside the face's outer outline in the face square (its eye and mouth openings included)."""
    covered = np.zeros((FACE_ATLAS_SIDE, FACE_ATLAS_SIDE), np.uint8)
    for triangle in triangles:
        cv2.fillConvexPoly(covered, np.round(uv[triangle] * 16).astype(np.int32), 1, shift=4)
    contours, _ = cv2.findContours(covered, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    outline = np.zeros_like(covered)
    cv2.drawContours(outline, contours, -1, 1, thickness=cv2.FILLED)
    return outline


def clean_edges(texture: np.ndarray, uv: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """The texture with its face square's outline band and margin filled from the texels further in (module docstring)."""
    face = texture[:, :FACE_ATLAS_SIDE].astype(np.float32)
    trusted = (cv2.distanceTransform(face_outline(uv, triangles), cv2.DIST_L2, 5) >= EDGE_BAND).astype(np.float32)
    fill, reached = face.copy(), trusted > 0
    for sigma in FILL_SIGMAS:
        total = cv2.GaussianBlur(face * trusted[..., None], (0, 0), sigma)
        weight = cv2.GaussianBlur(trusted, (0, 0), sigma)
        now = ~reached & (weight > 0.2)
        fill[now] = total[now] / weight[now, None]
        reached |= now
    cleaned = texture.astype(np.float32).copy()
    cleaned[:, :FACE_ATLAS_SIDE] = np.where(trusted[..., None] > 0, face, cv2.GaussianBlur(fill, (0, 0), 3))
    return cleaned
