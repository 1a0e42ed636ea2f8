"""The drawn lids read back: the landmark model on the avatar sees the eye as drawn.

The avatar is posed as a real face in a real video, its eyes set to chosen
lid apertures, and the whole chain (detector, face mesh, iris model, fit) is
run on the rendered image, as ``dmask eval fidelity`` does on masked video.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edge.media import VideoReader
from edge.pipeline import MaskPipeline
from edge.records import EyeParams, Frame, MaskParams

VIDEOS = ["lp_driving_d14.mp4", "lp_driving_d7.mp4"]
POSE_FRAME = 5  # a few frames in, so the tracker has settled


@pytest.fixture(scope="module", params=VIDEOS)
def posed(request, shared_data, config, models) -> tuple[MaskParams, tuple[int, int]]:
    """A real face's fitted params, and its frame's size."""
    pipeline = MaskPipeline(config, models=models)
    with VideoReader(shared_data / "videos" / request.param) as reader:
        for index, frame in enumerate(reader):
            masked = pipeline.process(frame)
            if index == POSE_FRAME:
                return masked.faces[0], frame.image.shape[:2]
    pytest.fail(f"{request.param} is shorter than {POSE_FRAME + 1} frames")


def read_back(posed, config, models, upper: float, lower: float) -> tuple[EyeParams, EyeParams]:
    """Both eyes drawn with these apertures, then measured on the rendering (no dead zone)."""
    params, (height, width) = posed
    eye = EyeParams(0.0, 0.0, upper, lower)
    raw = dataclasses.replace(config, fit=dataclasses.replace(config.fit, deadzone_sigmas=0.0))
    pipeline = MaskPipeline(raw, still=True, models=models)
    mesh = models.rig.mesh(dataclasses.replace(params, right_eye=eye, left_eye=eye))
    face = pipeline.process(Frame(pipeline.renderer.render(mesh, height, width), 0, 0.0)).faces[0]
    return face.right_eye, face.left_eye


def test_a_drawn_closed_eye_is_read_closed(posed, config, models):
    """With the lashes lying on the lid above the margin this read about 0.13 eye widths open."""
    eyes = read_back(posed, config, models, 0.0, 0.0)
    assert np.mean([e.aperture for e in eyes]) < 0.10


# How far a read upper lid may sit from the drawn one. The landmark model
# reads lp_driving_d7's half-closed lid (0.12) at 0.165-0.170 on every machine
# measured: 0.169 with AVX-512 (Xeon), 0.170 with AVX2 only (EPYC-Rome under
# qemu, as on the machine where a 0.05 tolerance failed), 0.165 with OpenCV's
# AVX paths off; d14's at 0.12-0.14. That bias is the model's, not the
# drawing's, and the ISA moves it by under 0.01. The defect this guards
# against, lashes drawn above the margin, read a closed lid 0.10-0.16 open.
UPPER_LID_TOLERANCE = 0.07


@pytest.mark.parametrize("upper", [0.0, 0.12])
def test_the_upper_lid_is_read_where_it_is_drawn(posed, config, models, upper):
    """A closing upper lid over a resting lower one, as in a blink (was read up to 0.1 too open)."""
    for eye in read_back(posed, config, models, upper, 0.08):
        assert eye.upper_aperture == pytest.approx(upper, abs=UPPER_LID_TOLERANCE)


def test_the_read_upper_lid_rises_with_the_drawn_one(posed, config, models):
    """Drawn 0, 0.06, 0.12, 0.18: each step is read as a rise of at least a quarter
    of it (measured: 0.03 to 0.11 per step of 0.06), on both eyes."""
    reads = np.array([[eye.upper_aperture for eye in read_back(posed, config, models, upper, 0.08)]
                      for upper in (0.0, 0.06, 0.12, 0.18)])
    assert (np.diff(reads, axis=0) > 0.015).all(), reads


def test_an_open_eye_is_read_near_its_drawn_aperture(posed, config, models):
    for eye in read_back(posed, config, models, 0.18, 0.12):
        assert eye.aperture == pytest.approx(0.30, abs=0.05)


def test_a_nystagmus_like_oscillation_survives_the_drawing(posed, config, models):
    """Both eyes beating at 4 Hz, 0.25 rad, drawn at 30 fps and read back frame by frame by a video pipeline."""
    from edge.evaluation.traces import band_coherence

    params, (height, width) = posed
    rest = models.avatar.resting_eye()
    raw = dataclasses.replace(config, fit=dataclasses.replace(config.fit, deadzone_sigmas=0.0))
    viewer = MaskPipeline(raw, models=models)
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
