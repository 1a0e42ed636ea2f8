"""Source parsing and the capture stage, on real video files (no camera needed)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
import time

import cv2
import pytest

from dmask.config import SourceConfig
from dmask.errors import ConfigError
from dmask.records import Frame
from dmask.capture.redaction import scrubbed
from dmask.capture.slot import NewestSlot
from dmask.capture.sources import CaptureStage, SourceKind, SourceSpec, SourceState, parse_source

CLIP = "lp_driving_d1.mp4"  # 16 frames, 30 fps, 512x512
CLIP_FRAMES = 16


class RecordingSlot(NewestSlot[Frame]):
    """A slot that also keeps every frame offered, with when it arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []
        self.arrivals: list[float] = []

    def put(self, item: Frame) -> None:
        self.frames.append(item)
        self.arrivals.append(time.monotonic())
        super().put(item)


def wait_for(condition, timeout: float = 10.0) -> bool:
    """Poll condition until it holds or timeout passes."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.002)
    return condition()


@pytest.fixture
def clip(shared_data):
    return str(shared_data / "videos" / CLIP)


# -- parse_source ----------------------------------------------------------


@pytest.mark.parametrize(
    "uri, kind, target",
    [
        ("/dev/video0", "camera", "/dev/video0"),
        ("/dev/video12", "camera", "/dev/video12"),
        ("0", "camera", 0),
        ("3", "camera", 3),
        ("rtsp://cam.local:554/stream", "rtsp", "rtsp://cam.local:554/stream"),
        ("rtsps://cam.local/s", "rtsp", "rtsps://cam.local/s"),
        ("gst:videotestsrc ! videoconvert ! appsink", "gstreamer", "videotestsrc ! videoconvert ! appsink"),
        ("gst:v4l2src ! videoconvert ! appsink drop=1", "gstreamer", "v4l2src ! videoconvert ! appsink drop=1"),
        (
            "gst:videotestsrc ! videoconvert",
            "gstreamer",
            "videotestsrc ! videoconvert ! appsink drop=true max-buffers=1",
        ),
        ("clips/a.mp4", "file", "clips/a.mp4"),
        ("/x/b.AVI", "file", "/x/b.AVI"),
        ("c.mov", "file", "c.mov"),
        ("d.mkv", "file", "d.mkv"),
    ],
)
def test_parse_source_forms(uri, kind, target):
    assert parse_source(uri) == SourceSpec(kind, target)


def test_parse_source_live_flag():
    assert parse_source("0").live and parse_source("rtsp://h/s").live
    assert not parse_source("a.mp4").live


@pytest.mark.parametrize("uri", ["", "   "])
def test_parse_source_empty(uri):
    with pytest.raises(ConfigError) as caught:
        parse_source(uri)
    assert str(caught.value) == "source.uri: no source given; set source.uri or pass --source"


def test_parse_source_not_a_video():
    with pytest.raises(ConfigError) as caught:
        parse_source("notes.txt")
    assert str(caught.value) == (
        "source.uri: notes.txt: not a camera (/dev/videoN or an index), rtsp:// URL, "
        "gst: pipeline or video file (.mp4 .avi .mov .mkv)"
    )
    assert "\n" not in str(caught.value)


def test_parse_source_empty_pipeline():
    with pytest.raises(ConfigError) as caught:
        parse_source("gst:  ")
    assert str(caught.value) == "source.uri: gst: needs a GStreamer pipeline after the prefix"


def test_stage_rejects_bad_uri_at_construction():
    with pytest.raises(ConfigError):
        CaptureStage(SourceConfig(uri=""), NewestSlot())


# -- capture stage on files ------------------------------------------------


def test_file_unpaced_delivers_every_frame_in_order(clip):
    slot = RecordingSlot()
    stage = CaptureStage(SourceConfig(uri=clip, pace=False), slot)
    assert stage.state().state == "starting"
    taken: list[Frame] = []
    done = threading.Event()

    def consume():
        while not done.is_set():
            frame = slot.take(timeout=0.05)
            if frame is not None:
                taken.append(frame)

    consumer = threading.Thread(target=consume)
    consumer.start()
    stage.start()
    try:
        assert wait_for(lambda: not stage.alive)
    finally:
        done.set()
        consumer.join(5)
    assert [f.seq for f in slot.frames] == list(range(CLIP_FRAMES))
    assert all(f.image.shape == (512, 512, 3) and f.image.dtype == "uint8" for f in slot.frames)
    assert all(f.source_id == Path(clip).name for f in slot.frames)
    # whatever the consumer got, it got in order
    seqs = [f.seq for f in taken]
    assert taken and seqs == sorted(set(seqs))
    state = stage.state()
    assert (state.state, state.last_error, state.frames) == (SourceState.ENDED, "end of file", CLIP_FRAMES)
    assert stage.stop(timeout=2) and stage.state().state == "stopped"


def test_file_loop_keeps_delivering_and_stops_promptly(clip):
    slot = RecordingSlot()
    stage = CaptureStage(SourceConfig(uri=clip, pace=False, loop=True), slot)
    stage.start()
    try:
        assert wait_for(lambda: len(slot.frames) > 3 * CLIP_FRAMES)
        assert stage.alive and stage.state().state == "up"
    finally:
        stopped = stage.stop(timeout=2)
    assert stopped and not stage.alive
    assert stage.state().state == "stopped"
    seqs = [f.seq for f in slot.frames]
    assert seqs == list(range(len(seqs)))
    stamps = [f.timestamp for f in slot.frames]
    assert all(b > a for a, b in zip(stamps, stamps[1:])), "media time continues across loops"
    assert stage.state().reopen_attempts == 0, "looping is not a failure"


def test_file_paced_at_its_frame_rate(clip):
    slot = RecordingSlot()
    stage = CaptureStage(SourceConfig(uri=clip, pace=True), slot)
    stage.start()
    try:
        assert wait_for(lambda: not stage.alive, timeout=20)
    finally:
        stage.stop(timeout=2)
    assert len(slot.frames) == CLIP_FRAMES
    period = 1 / 30
    stamps = [f.timestamp for f in slot.frames]
    for a, b in zip(stamps, stamps[1:]):
        assert b - a == pytest.approx(period, rel=0.3)
    # pacing can only make delivery slower, so this lower bound is not a timing race
    assert slot.arrivals[-1] - slot.arrivals[0] >= 0.7 * (CLIP_FRAMES - 1) * period
    assert abs(stamps[0] - time.time()) < 60, "file timestamps are anchored to wall time"
    assert stage.state().last_error == "end of file"


def test_missing_file_backs_off_and_stays_alive(tmp_path):
    path = tmp_path / "gone.mp4"
    config = SourceConfig(uri=str(path), reopen_seconds=0.01, reopen_max_seconds=0.04)
    stage = CaptureStage(config, NewestSlot())
    seen_retry: list[float] = []
    stage.start()
    try:
        def enough():
            state = stage.state()
            if not seen_retry or seen_retry[-1] != state.retry_seconds:
                seen_retry.append(state.retry_seconds)
            return state.reopen_attempts >= 5

        assert wait_for(enough)
        state = stage.state()
        assert state.state == "down"
        assert state.last_error == "no such file: gone.mp4"  # by name: a path is no one's business
        assert state.frames == 0
        assert stage.alive
        beat = stage.last_beat
        assert wait_for(lambda: stage.last_beat > beat, timeout=2), "heartbeat while down"
    finally:
        stopped = stage.stop(timeout=2)
    assert stopped and not stage.alive and stage.state().state == "stopped"
    # backoff doubles from reopen_seconds and is capped at reopen_max_seconds
    assert set(seen_retry) <= {0.01, 0.02, 0.04}
    assert seen_retry == sorted(seen_retry) and seen_retry[-1] == 0.04


def test_source_recovers_and_backoff_resets(tmp_path, clip):
    path = tmp_path / "later.mp4"
    config = SourceConfig(uri=str(path), pace=False, reopen_seconds=0.01, reopen_max_seconds=0.04)
    slot = RecordingSlot()
    stage = CaptureStage(config, slot)
    stage.start()
    try:
        assert wait_for(lambda: stage.state().retry_seconds == 0.04)
        os.symlink(clip, path)  # the file appears (a link: the data is never copied)
        assert wait_for(lambda: stage.state().frames == CLIP_FRAMES)
        assert wait_for(lambda: not stage.alive)
    finally:
        stage.stop(timeout=2)
    state = stage.state()
    assert state.retry_seconds == 0.01
    assert state.reopen_attempts >= 2
    assert [f.seq for f in slot.frames] == list(range(CLIP_FRAMES))


def test_stop_interrupts_long_backoff(tmp_path):
    config = SourceConfig(uri=str(tmp_path / "none.mp4"), reopen_seconds=60, reopen_max_seconds=60)
    stage = CaptureStage(config, NewestSlot())
    stage.start()
    assert wait_for(lambda: stage.state().state == "down")
    assert stage.stop(timeout=5)
    assert not stage.alive and stage.state().reopen_attempts == 0


def test_capture_never_waits_for_the_consumer(clip):
    slot = NewestSlot[Frame]()  # nobody takes from it
    stage = CaptureStage(SourceConfig(uri=clip, pace=False), slot)
    stage.start()
    try:
        assert wait_for(lambda: not stage.alive)
    finally:
        stage.stop(timeout=2)
    assert slot.put_count == CLIP_FRAMES
    assert slot.dropped == CLIP_FRAMES - 1 > 0
    assert slot.take(timeout=0).seq == CLIP_FRAMES - 1, "the newest frame is the one kept"


def test_undecodable_file_is_reported_and_retried(tmp_path):
    path = tmp_path / "junk.mp4"
    path.write_bytes(b"not a video at all" * 100)
    config = SourceConfig(uri=str(path), reopen_seconds=0.01, reopen_max_seconds=0.02)
    stage = CaptureStage(config, NewestSlot())
    stage.start()
    try:
        assert wait_for(lambda: stage.state().reopen_attempts >= 2)
        state = stage.state()
        assert state.state == "down" and state.last_error == "cannot open file source junk.mp4"
        assert stage.alive
    finally:
        assert stage.stop(timeout=2)


def test_open_capture_backends():
    from dmask.capture.sources import open_capture

    # nothing exists at these, so they do not open; the call must still return a capture
    capture = open_capture(SourceSpec(SourceKind.FILE, "/nonexistent/x.mp4"))
    assert isinstance(capture, cv2.VideoCapture) and not capture.isOpened()
    capture.release()


# (source.uri, what may be shown, secrets that must not be): issue 26's forms
SHOWN = [
    ("rtsp://admin:hunter2@10.0.0.9:554/Streaming/Channels/101", "rtsp://10.0.0.9:554", ("admin", "hunter2")),
    ("rtsp://admin:p@ssw0rd@10.0.0.9/stream", "rtsp://10.0.0.9", ("admin", "p@ssw0rd", "ssw0rd")),
    ("rtsp://admin:pass word@10.0.0.9/stream", "rtsp://10.0.0.9", ("admin", "pass word", "word")),
    ("rtsp://admin:p%40ss@10.0.0.9/stream", "rtsp://10.0.0.9", ("admin", "p%40ss", "p@ss")),
    ("rtsp://admin:p:s/s@10.0.0.9/live", "rtsp://10.0.0.9", ("admin", "p:s/s")),
    ("rtsps://10.0.0.9/live?token=s3cret", "rtsps://10.0.0.9", ("token", "s3cret")),
    ("rtsp://10.0.0.9/user=admin_password=hunter2_channel=1", "rtsp://10.0.0.9", ("admin", "hunter2")),
    ("gst:rtspsrc location=rtsp://10.0.0.9/stream user-id=admin user-pw=S3cretPw ! decodebin",
     "rtspsrc ! decodebin ! appsink from rtsp://10.0.0.9", ("admin", "S3cretPw")),
    ("gst:rtspsrc location=rtsp://admin:hunter2@10.0.0.9/stream ! decodebin ! videoconvert",
     "rtspsrc ! decodebin ! videoconvert ! appsink from rtsp://10.0.0.9", ("admin", "hunter2")),
    ("gst:v4l2src device=/dev/video0 extra-controls=\"c,exposure_auto=1,secret_gain=9\" ! video/x-raw,width=640 ! videoconvert",
     "v4l2src ! caps ! videoconvert ! appsink", ("secret_gain", "exposure_auto")),
    ("gst:souphttpsrc location=https://cam.local/mjpg?auth=abc123 ! jpegdec", "souphttpsrc ! jpegdec ! appsink from https://cam.local",
     ("auth=abc123", "abc123")),
    ("/dev/video0", "/dev/video0", ()),
    ("/dev/v4l/by-id/usb-Cam_1234-video-index0", "/dev/v4l/by-id/usb-Cam_1234-video-index0", ()),
    ("2", "2", ()),
    ("/srv/clinic/visits/2026-12-07.mp4", "2026-12-07.mp4", ("clinic", "visits")),
]


@pytest.mark.parametrize("uri, shown, secrets", SHOWN)
def test_a_source_is_shown_as_its_kind_and_host_or_its_file_name_and_never_a_secret(uri, shown, secrets):
    spec = parse_source(uri)
    assert spec.display == shown
    for secret in secrets:
        assert secret not in spec.display
    error = f"GStreamer warning: cannot open {uri}: pipeline {spec.target} failed (401 Unauthorized)"  # as backends say
    cleaned = scrubbed(error, uri)
    assert cleaned.startswith("GStreamer warning: cannot open ") and cleaned.endswith(" failed (401 Unauthorized)")
    for secret in secrets:
        assert secret not in cleaned, (secret, cleaned)


def test_a_bad_source_is_named_without_its_credentials():
    with pytest.raises(ConfigError) as raised:
        parse_source("rtsp:/admin:hunter2@10.0.0.9/stream")  # one slash: not a URL
    assert "hunter2" not in str(raised.value) and "admin" not in str(raised.value)
