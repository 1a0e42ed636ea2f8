"""Colours, shading constants and the procedural eye of the avatar.

Why these values
----------------
The mask must look clearly like a face (so a viewer, and a landmark model run
on the *masked* video, read it as one), while carrying no identity: every face
is drawn with the same neutral, light skin tone, the same flat-coloured lips,
brows and lashes, and the same eyes. Nothing here is sampled from a person.

What must survive the mask is the clinical signal (gaze and lid aperture).
The avatar's eye is therefore drawn with strong, fixed contrast: an off-white
sclera, a mid brown-grey iris with a clearly darker rim, a near-black pupil,
and a dark brown fringe of lashes hanging from the upper lid margin (scene.py,
LASH_HANG_AT_REST). The dark iris rim and pupil are what let a landmark / iris
model locate the iris (gaze) on the avatar, and the lash fringe against the
skin and sclera is what lets it find the upper lid margin (aperture). The
fringe is brown, not black: the model takes a near-black band for the dark
inside of an open eye and puts the lids outside it, so a black fringe over a
closed lid read as an opening; a brown one reads as lashes.

Everything is float32 because the renderers (CPU in cpu.py, CUDA later) do all
shading arithmetic in float32 and must agree to the last bit; the CUDA
renderer must be given exactly these float32 values, never recompute them.

Tables
------
MATERIAL_TABLE: float32 (M, 6), one row per ``Material`` id, in enum order:
    base B, base G, base R (0..255), ambient, diffuse, specular.
    The shaded channel is ``base * (ambient + diffuse * diff) + 255 * specular
    * spec`` (see cpu.py). The EYE row's base colour is unused (the eye takes
    its base colour per pixel from EYE_TABLE); its ambient / diffuse /
    specular shade the whole eyeball.
EYE_TABLE: float32 (4, 3) BGR base colours, rows EYE_SCLERA, EYE_IRIS,
    EYE_RIM, EYE_PUPIL.
EYE_PUPIL_COS > EYE_RIM_COS > EYE_IRIS_COS: thresholds on the interpolated
    ``eye_cos`` (cosine of the angle between a point's direction from the
    eyeball centre and the gaze axis):
        u >= EYE_PUPIL_COS -> pupil
        u >= EYE_RIM_COS   -> iris
        u >= EYE_IRIS_COS  -> rim (the outer 20 % of the iris disc)
        otherwise          -> sclera
LIGHT_DIR, VIEW_DIR, HALF_DIR: float32 (3,) unit vectors in camera space
    (x right, y down, z away from the camera), each pointing *from the
    surface*: towards the light (up, left, towards the camera), towards the
    viewer, and their normalised sum (Blinn-Phong half vector).
"""

from __future__ import annotations

import math

import numpy as np

from edge.render.mesh import Material

# --- surface materials ------------------------------------------------------

_MATERIAL_ROWS = {
    #                          B      G      R    ambient diffuse specular
    Material.SKIN:           (150.0, 170.0, 205.0, 0.45, 0.60, 0.06),
    Material.LIPS:           (120.0, 112.0, 172.0, 0.45, 0.60, 0.10),
    Material.MOUTH_INTERIOR: (40.0, 45.0, 90.0, 0.50, 0.40, 0.01),
    # Base colour unused (EYE_TABLE gives it); sclera-like shading, a little
    # specular so the eyeball reads as wet and round.
    Material.EYE:            (222.0, 228.0, 235.0, 0.55, 0.45, 0.12),
    Material.BROW:           (45.0, 60.0, 80.0, 0.50, 0.50, 0.02),
    # Dark brown, not black: see "Why these values" above.
    Material.LASH:           (60.0, 75.0, 100.0, 0.60, 0.40, 0.02),
}

MATERIAL_TABLE = np.array(
    [_MATERIAL_ROWS[m] for m in Material], dtype=np.float32
)
MATERIAL_TABLE.setflags(write=False)

# --- procedural eye -----------------------------------------------------------

EYE_SCLERA = 0
EYE_IRIS = 1
EYE_RIM = 2
EYE_PUPIL = 3

EYE_TABLE = np.array(
    [
        (222.0, 228.0, 235.0),  # sclera: off-white
        (95.0, 110.0, 125.0),   # iris: mid brown-grey
        (52.0, 60.0, 68.0),     # iris rim: darker
        (18.0, 18.0, 20.0),     # pupil: near black
    ],
    dtype=np.float32,
)
EYE_TABLE.setflags(write=False)

# Angular radii on the eyeball, measured from the gaze axis at its centre.
# On the drawn eyeball (DRAWN_EYEBALL_FRACTION = 0.62 eye widths, scene.py) a
# 20 deg disc is 0.42 eye widths across, a human iris (11.7 mm) in a 28 mm
# lid opening: enough sclera shows on either side to judge a squint by.
EYE_IRIS_DEG = 20.0                      # whole iris disc (incl. rim)
EYE_RIM_DEG = 0.8 * EYE_IRIS_DEG         # 16 deg: rim is the outer 20 %
EYE_PUPIL_DEG = 0.4 * EYE_IRIS_DEG       # 8 deg: pupil, 40 % of the iris

EYE_IRIS_COS = np.float32(math.cos(math.radians(EYE_IRIS_DEG)))
EYE_RIM_COS = np.float32(math.cos(math.radians(EYE_RIM_DEG)))
EYE_PUPIL_COS = np.float32(math.cos(math.radians(EYE_PUPIL_DEG)))

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

assert EYE_PUPIL_COS > EYE_RIM_COS > EYE_IRIS_COS
assert MATERIAL_TABLE.shape == (len(Material), 6)


# The shading constants as the CUDA kernels take them (kernels/raster.cu,
# load_shading): light direction, half vector, then the eye thresholds.
SHADING_CONSTANTS = np.array([*LIGHT_DIR, *HALF_DIR, EYE_PUPIL_COS, EYE_RIM_COS, EYE_IRIS_COS], np.float32)
SHADING_CONSTANTS.setflags(write=False)
