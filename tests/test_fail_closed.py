"""The fail-closed policy: what a frame shows when something is missing or breaks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dmask.measure.clinical import BlinkEvent
from dmask.config import RenderBackend
from dmask.capture.media import VideoReader, read_photo
from dmask.pipeline import MaskPipeline
from dmask.records import Frame, FrameStatus
from support import mask_params


@pytest.fixture(scope="module")
def face_frames(shared_data):
    with VideoReader(shared_data / "videos/lp_driving_d10.mp4") as reader:
        return [f.image for f, _ in zip(reader, range(30))]


def background(config) -> np.ndarray:
    return np.array(config.render.background, np.uint8)


def test_a_stage_that_raises_fails_the_frame_closed(config, models, face_frames, monkeypatch):
    pipeline = MaskPipeline(config, models=models)
    first = pipeline.process(Frame(face_frames[0], 0, 0.0))
    assert first.status is FrameStatus.OK

    def broken(*args, **kwargs):
        raise RuntimeError("fit exploded")

    monkeypatch.setattr(pipeline.meter.fitter, "fit", broken)
    masked = pipeline.process(Frame(face_frames[1], 1, 1 / 30))
    assert masked.status is FrameStatus.FAILED_CLOSED
    assert masked.faces == ()
    assert (masked.image == background(config)).all()
    assert pipeline.counts.failed_closed == 1


def test_a_lost_face_holds_the_neutral_avatar_then_blanks(config, models, face_frames):
    hold = 0.2
    config = dataclasses.replace(config, fail_closed=dataclasses.replace(config.fail_closed, hold_seconds=hold))
    pipeline = MaskPipeline(config, models=models)
    for i in range(5):
        assert pipeline.process(Frame(face_frames[i], i, i / 30)).status is FrameStatus.OK
    empty = np.full_like(face_frames[0], 180)
    held = pipeline.process(Frame(empty, 5, 5 / 30))
    assert held.status is FrameStatus.NO_FACE
    assert held.faces == ()  # drawn, not measured: nothing published (issue 25)
    assert (held.image != background(config)).any(axis=2).mean() > 0.05
    blank = pipeline.process(Frame(empty, 6, 5 / 30 + hold + 0.05))
    assert blank.status is FrameStatus.NO_FACE and blank.faces == ()
    assert (blank.image == background(config)).all()


def test_faces_beyond_the_maximum_are_not_drawn(shared_data, config, models):
    photo = read_photo(shared_data / "multi_face/fr_obama_and_biden.jpg")
    several = MaskPipeline(config, still=True, models=models).process(Frame(photo, 0, 0.0))
    assert len(several.faces) >= 2
    one = dataclasses.replace(config, tracking=dataclasses.replace(config.tracking, max_faces=1))
    pipeline = MaskPipeline(one, still=True, models=models)
    masked = pipeline.process(Frame(photo, 0, 0.0))
    assert len(masked.faces) == 1
    assert pipeline.counts.faces_dropped == len(several.faces) - 1
    drawn = (masked.image != background(config)).any(axis=2).mean()
    assert 0 < drawn < (several.image != background(config)).any(axis=2).mean()


class BrokenGpuRenderer:
    """Stands in for a GPU renderer whose device fails mid-run."""

    name = RenderBackend.CUDA

    def render(self, *args, **kwargs):
        raise RuntimeError("an illegal memory access was encountered")


def test_a_gpu_failure_fails_the_frame_closed_and_falls_back_to_the_cpu(config, models, face_frames):
    pipeline = MaskPipeline(config, models=models)
    pipeline.renderer = BrokenGpuRenderer()
    failed = pipeline.process(Frame(face_frames[0], 0, 0.0))
    assert failed.status is FrameStatus.FAILED_CLOSED
    assert (failed.image == background(config)).all()
    assert pipeline.renderer.name == "cpu"
    recovered = pipeline.process(Frame(face_frames[1], 1, 1 / 30))
    assert recovered.status is FrameStatus.OK
    assert (recovered.image != background(config)).any(axis=2).mean() > 0.05


def test_the_held_neutral_avatar_repeats_no_blink(config, models):
    """A blink that ended on the last good frame is an event of that frame only, not of the frames held after it."""
    last = mask_params(right_blink=BlinkEvent(1.0, 0.1, True), left_blink=BlinkEvent(1.0, 0.1, False))
    held = MaskPipeline(config, models=models)._neutral(last)
    assert held.right_blink is None and held.left_blink is None
    assert held.rotation is last.rotation
