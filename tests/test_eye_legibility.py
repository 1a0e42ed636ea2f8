"""The drawn lids read back: the landmark model on the avatar sees the eye as drawn.

The avatar is posed as a real face in a real video, its eyes set to chosen
lid apertures, and the whole chain (detector, face mesh, iris model, fit) is
run on the rendered image, as ``dmask eval fidelity`` does on masked video.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dmask.measure.fit import RestingPolicy
from dmask.capture.media import VideoReader
from dmask.pipeline import MaskPipeline
from dmask.records import EyeParams, Frame, MaskParams
from support import eye_params

VIDEOS = ["lp_driving_d14.mp4", "lp_driving_d7.mp4"]
POSE_FRAME = 5  # a few frames in, so the tracker has settled
# The lid checks average over several poses (and both eyes): the model's read of
# one drawn lid moves by up to 0.03 eye widths from one pose to the next, and by
# up to 0.016 between CPUs (float rounding of onnxruntime's and OpenBLAS's
# AVX-512 against AVX2 kernels, carried through the tracker), so one pose's read
# can sit on any bound; the mean of ten moves by less than 0.003.
POSE_FRAMES = (4, 5, 6, 7, 8)


@pytest.fixture(scope="module", params=VIDEOS)
def poses(request, shared_data, config, models) -> list[tuple[MaskParams, tuple[int, int]]]:
    """A real face's fitted params at each of POSE_FRAMES, with the frame's size."""
    pipeline = MaskPipeline(config, models=models)
    found = []
    with VideoReader(shared_data / "videos" / request.param) as reader:
        for index, frame in enumerate(reader):
            masked = pipeline.process(frame)
            if index in POSE_FRAMES:
                found.append((masked.faces[0], frame.image.shape[:2]))
            if index == POSE_FRAMES[-1]:
                return found
    pytest.fail(f"{request.param} is shorter than {POSE_FRAMES[-1] + 1} frames")


@pytest.fixture(scope="module")
def posed(poses) -> tuple[MaskParams, tuple[int, int]]:
    """One real face's fitted params, and its frame's size."""
    return poses[POSE_FRAMES.index(POSE_FRAME)]


def read_back(posed, config, models, upper: float, lower: float) -> tuple[EyeParams, EyeParams]:
    """Both eyes drawn with these apertures, then measured on the rendering (resting levels as read)."""
    params, (height, width) = posed
    eye = eye_params(upper=upper, lower=lower)
    pipeline = MaskPipeline(config, still=True, models=models, resting=RestingPolicy.OWN)
    mesh = models.rig.mesh(dataclasses.replace(params, right_eye=eye, left_eye=eye))
    face = pipeline.process(Frame(pipeline.renderer.render(mesh, height, width), 0, 0.0)).faces[0]
    return face.right_eye, face.left_eye


def mean_aperture(poses, config, models, upper: float, lower: float) -> float:
    """The read whole aperture of both eyes drawn with these lids, averaged over the poses."""
    return float(np.mean([[e.aperture for e in read_back(pose, config, models, upper, lower)] for pose in poses]))


# The textured avatar (issue 11) made the independent reader (dlib) see blinks,
# and made MediaPipe read a drawn closed lid more open: 0.12 (d14) and 0.135
# (d7), and an upper lid drawn at 0 / 0.06 at 0.06 / 0.11. A shorter, a longer,
# a lighter or a darker fringe, a skin-coloured eye-opening fill and the flat
# avatar's stronger diffuse light each read the same or more open (docs/fidelity.md,
# Clinical fidelity). With the texture's outline band cleaned (issue 27) the
# closed lid reads 0.091 (d14) and 0.122 (d7), and an upper lid drawn at 0
# reads 0.039 / 0.061, at 0.06 0.107 / 0.119: d14's closed lid is read closed.
# Strict, so the day the drawing is fixed the bounds come back.
TEXTURED_LID_READS_OPEN = pytest.mark.xfail(strict=True, reason=(
    "MediaPipe reads the textured avatar's closed lid up to 0.06 eye widths open (0.06-0.08 on the flat avatar)"))
STILL_READ_OPEN = {("lp_driving_d7.mp4", None), ("lp_driving_d7.mp4", 0.0), ("lp_driving_d7.mp4", 0.06),
                   ("lp_driving_d14.mp4", 0.06)}  # (video, drawn upper lid; None: the whole eye closed)


# d14's upper lid drawn at 0 reads 0.039 against the bound of 0.04: within the 0.003 the mean moves between CPUs.
ON_THE_BOUND = pytest.mark.xfail(strict=False, reason="reads 0.039 on AVX-512, against 0.04; another CPU may read 0.042")


def expect_read_open(request, upper: float | None) -> None:
    """Mark this video's case TEXTURED_LID_READS_OPEN where it still is (ON_THE_BOUND where it may be)."""
    case = (request.node.callspec.params["poses"], upper)
    if case in STILL_READ_OPEN:
        request.applymarker(TEXTURED_LID_READS_OPEN)
    elif case == ("lp_driving_d14.mp4", 0.0):
        request.applymarker(ON_THE_BOUND)


def test_a_drawn_closed_eye_is_read_closed(poses, config, models, request):
    """Read 0.06 to 0.08 on the flat avatar; with the lashes lying on the lid above the margin it read 0.12 to 0.14."""
    expect_read_open(request, None)
    assert mean_aperture(poses, config, models, 0.0, 0.0) < 0.10


UPPER_LIDS = (0.0, 0.06, 0.12)  # drawn over a lower lid resting at 0.08, as in a blink
# How far the mean read may fall below and rise above the drawn upper aperture.
# Measured means (d14 / d7, on AVX-512 and emulated AVX2 alike, within 0.003):
# drawn 0.0 reads 0.01 / -0.01, 0.06 reads 0.06 / 0.08, 0.12 reads 0.13 / 0.17.
# The model reads a half-closed lid on d7 0.05 too open at every pose and on
# every CPU: that is the model, not the drawing, so 0.12 has room above it.
# With the lashes lying on the lid above the margin (the bug this guards
# against) 0.0 read 0.07 / 0.11 and 0.06 read 0.12 / 0.15: 0.0 and 0.06
# carry the test, and fail that drawing by 0.02 to 0.07.
UPPER_READ_BOUNDS = dict(zip(UPPER_LIDS, [(0.04, 0.04), (0.04, 0.04), (0.04, 0.08)]))


@pytest.fixture(scope="module")
def upper_reads(poses, config, models) -> dict[float, np.ndarray]:
    """Read upper apertures, (pose, eye), for each drawn upper lid in UPPER_LIDS."""
    return {
        upper: np.array([[e.upper_aperture for e in read_back(pose, config, models, upper, 0.08)] for pose in poses])
        for upper in UPPER_LIDS
    }


@pytest.mark.parametrize("upper", UPPER_LIDS)
def test_the_upper_lid_is_read_where_it_is_drawn(upper_reads, upper, request):
    """A closing upper lid over a resting lower one, as in a blink (was read up to 0.1 too open)."""
    expect_read_open(request, upper)
    below, above = UPPER_READ_BOUNDS[upper]
    read = float(upper_reads[upper].mean())
    assert upper - below <= read <= upper + above, f"drawn {upper}, read {read:.3f} (by pose and eye: {upper_reads[upper].round(3).tolist()})"


def test_the_upper_lid_is_read_in_the_order_it_is_drawn(upper_reads):
    """Each step of 0.06 in the drawn upper lid opens the read one, on average, by at least 0.02 (measured: 0.05 to 0.09).

    Above 0.12 the model's read flattens on d7 (0.18 reads 0.20), so the steps stop there.
    """
    means = [float(upper_reads[upper].mean()) for upper in UPPER_LIDS]
    assert np.all(np.diff(means) >= 0.02), f"drawn {UPPER_LIDS}, read {np.round(means, 3).tolist()}"


def test_an_open_eye_is_read_near_its_drawn_aperture(poses, config, models):
    """Drawn 0.30, read 0.34 to 0.35 (single eyes 0.33 to 0.36): the model reads this open eye a little wider.

    The bound below is the one that matters: a fixed lash fringe made open eyes read narrower than drawn.
    """
    assert 0.30 - 0.05 <= mean_aperture(poses, config, models, 0.18, 0.12) <= 0.30 + 0.08


def test_a_nystagmus_like_oscillation_survives_the_drawing(posed, config, models):
    """Both eyes beating at 4 Hz, 0.25 rad, drawn at 30 fps and read back frame by frame by a video pipeline."""
    from dmask.evaluation.traces import band_coherence

    params, (height, width) = posed
    rest = models.avatar.resting_eye()
    viewer = MaskPipeline(config, models=models, resting=RestingPolicy.OWN)
    drawn = 0.25 * np.sin(2 * np.pi * 4.0 * np.arange(90) / 30.0)
    read = []
    for seq, yaw in enumerate(drawn):
        eye = dataclasses.replace(rest, gaze_yaw=float(yaw))
        mesh = models.rig.mesh(dataclasses.replace(params, right_eye=eye, left_eye=eye))
        seen = viewer.process(Frame(viewer.renderer.render(mesh, height, width), seq, seq / 30.0))
        read.append([seen.faces[0].right_eye.gaze_yaw, seen.faces[0].left_eye.gaze_yaw])
    for side in np.array(read).T:
        assert np.corrcoef(drawn, side)[0, 1] > 0.9
        assert band_coherence(drawn, side, 30.0).weighted > 0.9
        # the model reads the drawn iris at about half its displacement (README), not much less
        assert np.std(side) > 0.3 * np.std(drawn)
