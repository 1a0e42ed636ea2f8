"""Per-side FACS action units: the avatar's only expression channels.

Each unit is a displacement field over the canonical face, authored here on
the mean face (not learnt from anyone's movement), so a fitted intensity
carries how much a muscle group acts and never the shape of the person's
face. Units follow FACS (Ekman & Friesen); the names echo MediaPipe's 52
blendshapes where one exists. Every unit exists once per side: the right
side's field is the left's mirror image, and both are cut at the midline by a
smooth side weight, so the two sides of one unit sum to the bilateral action.

Intensities run 0..1; intensity 1 moves the unit's first anchor by its
first pull's `move` in mm (about FACS intensity E). The eyes have their own channels (per-eye
gaze and lids, dmask.measure.fit), so the lid margins and the lid skin rings take no
part in any unit.

Fitting is a bounded, regularised least-squares solve of the landmarks'
displacement from the mean face (projected Gauss-Seidel; numba, since it runs
per face per frame).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numba
import numpy as np

from dmask.measure.mesh_index import (
    LEFT_BROW,
    LEFT_EYE_INNER,
    LEFT_LID_RING,
    LEFT_LIDS,
    LIPS_INNER,
    LIPS_OUTER,
    LOWER_LIP_MIDDLE,
    NOSE_TIP,
    RIGHT_LID_RING,
    RIGHT_LIDS,
    UPPER_LIP_MIDDLE,
)


class Side(str, enum.Enum):
    """The subject's side: the one home of right and left (dmask.signals.SIDES is its members in order).

    It reads as its value wherever text is made of it ("right", as in the
    fields' names `right_gaze_yaw_deg`), on every Python the package runs on.
    """

    RIGHT = "right"
    LEFT = "left"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Region(str, enum.Enum):
    """Where a unit acts; each region has its own clinical asymmetry threshold (config `clinical`)."""

    BROW = "brow"
    MIDFACE = "midface"
    MOUTH = "mouth"


class Gate(enum.Enum):
    """Which lip a pull may move: the jaw carries the lower lip, not the upper."""

    NONE = 0
    UPPER = 1
    LOWER = 2


@dataclass(frozen=True)
class Pull:
    """A Gaussian displacement around a point of the left half-face.

    at: mesh indices whose mean is the centre (left side); move: mm at the
    centre (x towards the subject's left, i.e. lateral; y down; z away from
    the camera); radius: mm, the Gaussian's sigma.
    """

    at: tuple[int, ...]
    move: tuple[float, float, float]
    radius: float
    gate: Gate = Gate.NONE
    below: float = 0.0  # mm the centre sits below the mean of `at`


def _left(indices: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in indices)


_INNER_BROW = _left(LEFT_BROW[[3, 4, 8, 9]])
_OUTER_BROW = _left(LEFT_BROW[[0, 1, 5, 6]])
_LEFT_CORNER = _left(LIPS_OUTER[[10]])
_UPPER_LIP = _left(LIPS_OUTER[[7, 8]])
_LOWER_LIP = _left(LIPS_OUTER[[12, 13]])
_LOWER_LID_RING = _left(LEFT_LID_RING[2:5])
_NASAL_SIDE = (int(NOSE_TIP), int(LEFT_EYE_INNER))


@dataclass(frozen=True)
class ActionUnit:
    name: str
    facs: int
    region: Region
    pulls: tuple[Pull, ...]


ACTION_UNITS: tuple[ActionUnit, ...] = (
    ActionUnit("inner_brow_raise", 1, Region.BROW, (Pull(_INNER_BROW, (0, -8, 0), 9),)),
    ActionUnit("outer_brow_raise", 2, Region.BROW, (Pull(_OUTER_BROW, (0, -8, 0), 9),)),
    ActionUnit("brow_lower", 4, Region.BROW, (Pull(_INNER_BROW, (-3, 5, 0), 10), Pull(_OUTER_BROW, (0, 2, 0), 9))),
    ActionUnit("cheek_raise", 6, Region.MIDFACE, (Pull(_LOWER_LID_RING, (0, -4, 0), 10, below=9),)),
    ActionUnit("lid_tighten", 7, Region.MIDFACE, (Pull(_LOWER_LID_RING, (-1, -2.5, 0), 5, below=3),)),
    ActionUnit("nose_wrinkle", 9, Region.MIDFACE, (Pull(_NASAL_SIDE, (0, -3, 0), 7), Pull(_UPPER_LIP, (0, -1.5, 0), 5, Gate.UPPER))),
    ActionUnit("lip_corner_pull", 12, Region.MOUTH, (Pull(_LEFT_CORNER, (5, -5, 1), 11),)),
    # A depressor's field spans the side of the mouth: with a 10 mm sigma only the corner moved, and a drawn
    # palsy's droop read back at 0.7 of its size to dlib (tests/test_static_signs.py; docs/signs.md, "Static signs").
    ActionUnit("lip_corner_depress", 15, Region.MOUTH, (Pull(_LEFT_CORNER, (0, 5, 0), 16),)),
    ActionUnit("lip_stretch", 20, Region.MOUTH, (Pull(_LEFT_CORNER, (6, 1, 0), 10),)),
    ActionUnit("lip_press", 24, Region.MOUTH, (Pull(_UPPER_LIP, (0, 3, 1), 6, Gate.UPPER), Pull(_LOWER_LIP, (0, -3, 1), 6, Gate.LOWER))),
    ActionUnit("lip_pucker", 18, Region.MOUTH, (Pull(_LEFT_CORNER, (-6, 0, -3), 10), Pull(_UPPER_LIP + _LOWER_LIP, (0, 0, -4), 8))),
    ActionUnit("jaw_drop", 26, Region.MOUTH, (Pull(_LOWER_LIP, (0, 15, 3), 28, Gate.LOWER),)),
)

# The order of MaskParams.action_units: every unit's right side, then its left.
CHANNELS: tuple[tuple[ActionUnit, Side], ...] = tuple((unit, side) for unit in ACTION_UNITS for side in Side)
CHANNEL_NAMES: tuple[str, ...] = tuple(f"{side.value}_{unit.name}" for unit, side in CHANNELS)
PAIRS: tuple[tuple[int, int], ...] = tuple((2 * k, 2 * k + 1) for k in range(len(ACTION_UNITS)))
REGIONS = tuple(unit.region for unit in ACTION_UNITS)

SIDE_WIDTH_MM = 2.0  # how sharply a side's field fades across the midline
LIP_GATE_MM = 1.5  # how sharply a lip gate fades above or below the lips' meeting line
LIP_CLOSURE_MM = 6.0  # how far beyond the inner lip margins lip_closure fades
_EYE_VERTICES = np.concatenate([RIGHT_LIDS, LEFT_LIDS, RIGHT_LID_RING, LEFT_LID_RING])


def mirror_indices(vertices: np.ndarray) -> np.ndarray:
    """For each vertex of a left-right symmetric mesh, its mirror image (x -> -x)."""
    flipped = vertices * [-1, 1, 1]
    mirror = np.linalg.norm(flipped[:, None] - vertices[None], axis=2).argmin(1)
    if not (mirror[mirror] == np.arange(len(vertices))).all():
        raise ValueError("the mean face is not left-right symmetric enough to mirror")
    return mirror


def build_basis(vertices: np.ndarray, mm_per_unit: float) -> np.ndarray:
    """(C, 468, 3) float32 displacement per unit intensity of each channel, canonical units."""
    vertices = vertices.astype(np.float64)
    gates = _lip_gates(vertices, mm_per_unit)
    left_side = _left_side(vertices, mm_per_unit)
    mirror = mirror_indices(vertices)
    basis = []
    for unit, side in CHANNELS:
        field = sum(_pull_field(vertices, pull, mm_per_unit, gates) for pull in unit.pulls)
        field *= left_side[:, None]
        field[_EYE_VERTICES] = 0.0
        if side is Side.RIGHT:
            field = field[mirror] * [-1, 1, 1]
        basis.append(field)
    return np.array(basis, np.float32)


def _left_side(vertices: np.ndarray, mm_per_unit: float) -> np.ndarray:
    """Per vertex 0..1: how much it belongs to the subject's left half (a smooth step at the midline)."""
    return 1.0 / (1.0 + np.exp(-vertices[:, 0] * mm_per_unit / SIDE_WIDTH_MM))


def _pull_field(vertices: np.ndarray, pull: Pull, mm_per_unit: float, gates: dict[Gate, np.ndarray]) -> np.ndarray:
    centre = vertices[list(pull.at)].mean(0) + [0.0, pull.below / mm_per_unit, 0.0]
    distance2 = (((vertices - centre) * mm_per_unit) ** 2).sum(1)
    weight = np.exp(-0.5 * distance2 / pull.radius**2) * gates[pull.gate]
    return weight[:, None] * (np.asarray(pull.move, np.float64) / mm_per_unit)


def _inner_lips(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) each, the inner upper and lower lip's height (y) at each vertex's x; the corners' beyond the mouth."""
    inner = vertices[LIPS_INNER]
    upper, lower = inner[:11], np.vstack([inner[10:], inner[:1]])
    order_u, order_l = np.argsort(upper[:, 0]), np.argsort(lower[:, 0])
    return (np.interp(vertices[:, 0], upper[order_u, 0], upper[order_u, 1]),
            np.interp(vertices[:, 0], lower[order_l, 0], lower[order_l, 1]))


def _lip_gates(vertices: np.ndarray, mm_per_unit: float) -> dict[Gate, np.ndarray]:
    """Per-vertex 0..1: how far below the line where the lips meet; each lip's own points exactly 0 or 1."""
    meet = 0.5 * sum(_inner_lips(vertices))
    below = 1.0 / (1.0 + np.exp(-(vertices[:, 1] - meet) / (LIP_GATE_MM / mm_per_unit)))
    for contour in (LIPS_OUTER, LIPS_INNER):
        below[contour[1:10]] = 0.0
        below[contour[11:]] = 1.0
    return {Gate.NONE: np.ones(len(vertices)), Gate.UPPER: 1.0 - below, Gate.LOWER: below}


def lip_gap(vertices: np.ndarray) -> float:
    """The mouth's opening: how far the inner lips' middles are apart (y down), in the vertices' units.

    Linear in the vertices, so it applies to a channel's displacement as well.
    """
    return float(vertices[LOWER_LIP_MIDDLE, 1].mean() - vertices[UPPER_LIP_MIDDLE, 1].mean())


def lip_closure(vertices: np.ndarray, mm_per_unit: float) -> np.ndarray:
    """(468, 3) the displacement that brings this face's inner lips together on the line where they meet.

    Each lip moves by its own distance from that line, in full up to its
    inner margin and fading with a Gaussian of LIP_CLOSURE_MM beyond it, so
    the lips close without the nose or the chin moving.
    """
    upper, lower = _inner_lips(vertices)
    meet = 0.5 * (upper + lower)
    beyond = np.maximum(np.abs(vertices[:, 1] - meet) - 0.5 * np.abs(lower - upper), 0.0) * mm_per_unit
    fade = np.exp(-0.5 * (beyond / LIP_CLOSURE_MM) ** 2)
    gates = _lip_gates(vertices, mm_per_unit)
    shift = fade * (gates[Gate.UPPER] * (meet - upper) + gates[Gate.LOWER] * (meet - lower))
    return np.column_stack([np.zeros_like(shift), shift, np.zeros_like(shift)])


class Heights:
    """How far the action units raise each side of the face, in mm: the measurable signs.

    Units are not identifiable one by one from landmarks (a corner pulled up
    and pressed down at once looks like neither), so clinical criteria and
    the published heights use what the units do to the face: the vertical
    movement of each unit's own anchor region (the vertices its left field
    moves at least half as far as its anchor), on either side.
    """

    def __init__(self, vertices: np.ndarray, basis: np.ndarray, mm_per_unit: float) -> None:
        mirror = self.mirror = mirror_indices(vertices)
        self.left_side = _left_side(vertices, mm_per_unit)
        self.basis = basis.astype(np.float64)
        self.mm_per_unit = mm_per_unit
        self.sides: list[tuple[np.ndarray, np.ndarray]] = []
        for k in range(len(ACTION_UNITS)):
            magnitude = np.linalg.norm(self.basis[2 * k + 1], axis=1)
            left = np.nonzero(magnitude >= 0.5 * magnitude.max())[0]
            self.sides.append((mirror[left], left))
        self.corner = [u.name for u in ACTION_UNITS].index("lip_corner_depress")
        self.brows = [k for k, region in enumerate(REGIONS) if region is Region.BROW]

    def of(self, units: np.ndarray) -> np.ndarray:
        """(U, 2) mm each unit's anchor region is raised (right, left) by these intensities."""
        up = -np.tensordot(units, self.basis[:, :, 1], axes=1) * self.mm_per_unit
        return np.array([[up[right].mean(), up[left].mean()] for right, left in self.sides])

    def asymmetry(self, heights: np.ndarray, region: Region) -> float:
        """The largest right-left height difference among the region's anchors, mm."""
        return max(abs(h[0] - h[1]) for h, r in zip(heights, REGIONS) if r is region)

    def one_sided(self, units: np.ndarray, heights: np.ndarray, region: Region) -> np.ndarray:
        """(468, 3) the region's side-to-side difference, laid on its side farther from the population.

        heights: (U, 2) relative to the population's resting face. The other
        side, and everything the two sides share, is left at zero.
        """
        rows = [k for k, r in enumerate(REGIONS) if r is region]
        channels = [c for k in rows for c in PAIRS[k]]
        field = np.tensordot(units[channels], self.basis[channels], axes=1)
        difference = field - field[self.mirror] * [-1, 1, 1]
        left_farther = np.abs(heights[rows, 1]).sum() > np.abs(heights[rows, 0]).sum()
        side = self.left_side if left_farther else 1.0 - self.left_side
        reach = np.abs(self.basis[channels]).max(axis=(0, 2))
        return difference * (side * (reach > 1e-4 * reach.max()))[:, None]


class ActionUnitSolver:
    """Bounded, ridge-regularised least squares of a displacement onto the channels.

    minimise |B a - d|^2 + ridge * mean(diag(B^T B)) |a|^2 over 0 <= a <= 1,
    d the (468, 3) displacement of the landmarks from the mean face
    (canonical units), using only the vertices some channel moves.
    """

    def __init__(self, basis: np.ndarray, ridge: float = 0.01, sweeps: int = 40) -> None:
        moved = np.abs(basis).sum((0, 2)) > 1e-4 * np.abs(basis).max()
        self.vertices = np.nonzero(moved)[0]
        self.matrix = basis[:, self.vertices].reshape(len(basis), -1).T.astype(np.float64)
        gram = self.matrix.T @ self.matrix
        self.gram = gram + ridge * np.trace(gram) / len(gram) * np.eye(len(gram))
        self.sweeps = sweeps

    def solve(self, displacement: np.ndarray) -> np.ndarray:
        """(C,) intensities in 0..1 for a (468, 3) displacement."""
        rhs = self.matrix.T @ displacement[self.vertices].reshape(-1)
        return _projected_gauss_seidel(self.gram, rhs, self.sweeps)


@numba.njit(cache=True)
def _projected_gauss_seidel(gram: np.ndarray, rhs: np.ndarray, sweeps: int) -> np.ndarray:
    """Loops, not `@`: numba compiles a dot product to a BLAS call through SciPy,
    which the appliance's install does not have (every face then failed closed)."""
    n = len(rhs)
    a = np.zeros(n)
    for _ in range(sweeps):
        for k in range(n):
            residual = rhs[k]
            for j in range(n):
                if j != k:
                    residual -= gram[k, j] * a[j]
            a[k] = min(1.0, max(0.0, residual / gram[k, k]))
    return a
