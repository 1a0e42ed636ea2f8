"""Colours and shading constants of the avatar.

Why these values
----------------
The mask must look clearly like a face (so a viewer, and any landmark model
run on the *masked* video, read it as one), while carrying no identity: every
face is drawn with the same fixed texture (models/avatar_texture.png, built by
tools/build_avatar.py: an average of many people's faces in the avatar's UV
space, with a synthetic eye), so skin, socket shading, lid crease, lid
margins, lips and nostrils follow real-face statistics and belong to no one.
The texture already carries soft shading, so textured materials are mostly
ambient; the light adds shape and a little specular.

Three parts stay flat-coloured: the upper lash fringe (scene.py,
LASH_HANG_AT_REST), dark brown so that a model takes it for lashes rather
than the dark inside of an open eye, the mouth cavity, and the cover drawn
over a hidden eye (scene.py, COVER_RADII).

Everything is float32 because the renderers (CPU in cpu.py, CUDA in
kernels/raster.cu) do all shading arithmetic in float32 and must agree to the
last bit; the CUDA renderer is given exactly these float32 values.

Tables
------
MATERIAL_TABLE: float32 (M, 7), one row per ``Material`` id, in enum order:
    base B, base G, base R (0..255), ambient, diffuse, specular, textured.
    The shaded channel is ``base * (ambient + diffuse * diff) + 255 * specular
    * spec`` (see cpu.py); where textured is 1 the base is the texture's
    bilinear sample at the pixel's interpolated UV instead of the row's colour.
LIGHT_DIR, VIEW_DIR, HALF_DIR: float32 (3,) unit vectors in camera space
    (x right, y down, z away from the camera), each pointing *from the
    surface*: towards the light (up, left, towards the camera), towards the
    viewer, and their normalised sum (Blinn-Phong half vector).
"""

from __future__ import annotations

import numpy as np

from dmask.draw.mesh import Material

# --- surface materials ------------------------------------------------------

_MATERIAL_ROWS = {
    #                          B      G      R    ambient diffuse specular textured
    Material.SKIN:           (0.0, 0.0, 0.0, 0.75, 0.35, 0.04, 1.0),
    Material.LIPS:           (0.0, 0.0, 0.0, 0.75, 0.35, 0.08, 1.0),
    Material.MOUTH_INTERIOR: (40.0, 45.0, 90.0, 0.50, 0.40, 0.01, 0.0),
    # A little specular, so the eyeball reads as wet and round.
    Material.EYE:            (0.0, 0.0, 0.0, 0.80, 0.30, 0.12, 1.0),
    Material.BROW:           (0.0, 0.0, 0.0, 0.75, 0.35, 0.02, 1.0),
    # Dark brown, not black: see "Why these values" above.
    Material.LASH:           (60.0, 75.0, 100.0, 0.60, 0.40, 0.02, 0.0),
    # The cover over a hidden eye: a matte neutral grey, the same for everyone.
    Material.COVER:          (110.0, 110.0, 110.0, 0.80, 0.25, 0.0, 0.0),
}

MATERIAL_TABLE = np.array(
    [_MATERIAL_ROWS[m] for m in Material], dtype=np.float32
)
MATERIAL_TABLE.setflags(write=False)

# --- light --------------------------------------------------------------------


def _normalize_f32(v: np.ndarray) -> np.ndarray:
    """v / sqrt((x*x + y*y) + z*z), every step in float32, in that order."""
    v = np.asarray(v, dtype=np.float32)
    len2 = (v[0] * v[0] + v[1] * v[1]) + v[2] * v[2]
    length = np.sqrt(np.float32(len2))
    return np.array([v[0] / length, v[1] / length, v[2] / length], np.float32)


LIGHT_DIR = _normalize_f32(np.array([-0.35, -0.45, -0.82], np.float32))
VIEW_DIR = np.array([0.0, 0.0, -1.0], np.float32)
HALF_DIR = _normalize_f32(LIGHT_DIR + VIEW_DIR)
for _a in (LIGHT_DIR, VIEW_DIR, HALF_DIR):
    _a.setflags(write=False)
del _a

# Blinn-Phong exponent, applied as four repeated squarings (s^2^2^2^2).
SPECULAR_POWER = 16

assert MATERIAL_TABLE.shape == (len(Material), 7)


# The shading constants as the CUDA kernels take them (kernels/raster.cu,
# load_shading): light direction, then half vector.
SHADING_CONSTANTS = np.array([*LIGHT_DIR, *HALF_DIR], np.float32)
SHADING_CONSTANTS.setflags(write=False)
