"""Media I/O: input checks, photo and video reading, atomic writers, output
planning, and the signal CSV (an output written the same atomic way)."""

from __future__ import annotations

import csv
import math
import os
import threading

import av
import numpy as np
import pytest

from dmask.errors import InputError, OutputError, StageError
from dmask.config import VideoCodec
from dmask.capture.media import (
    BackgroundSync,
    MediaKind,
    VideoReader,
    believable_fps,
    input_kind,
    plan_outputs,
    read_photo,
    write_photo_atomic,
)
from dmask.records import FrameStatus, MaskedFrame
from dmask.signals import SIGNAL_COLUMNS, SignalCsvWriter, euler_degrees
from dmask.video_out import AtomicVideoWriter
from support import damaged_copy, mask_params, rotation


def touch(path, data=b""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def listing(directory):
    return sorted(p.name for p in directory.iterdir())


def write_test_video(path, frames=5, size=(64, 48), fps=25.0):
    with AtomicVideoWriter(path, fps, size[0], size[1], VideoCodec.MP4V) as writer:
        for i in range(frames):
            writer.write(np.full((size[1], size[0], 3), 40 * i, np.uint8))


# input checks and reading


def test_input_kind(tmp_path):
    assert input_kind(touch(tmp_path / "a.JPG")) is MediaKind.PHOTO
    assert input_kind(touch(tmp_path / "b.mkv")) is MediaKind.VIDEO


def test_input_kind_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match=r"absent\.mp4: no such file$"):
        input_kind(tmp_path / "absent.mp4")
    unsupported = (
        r"notes\.txt: unsupported file type; supported are photos "
        r"\(\.jpg \.jpeg \.png \.bmp \.pgm\) and videos \(\.mp4 \.avi \.mov \.mkv\)"
    )
    with pytest.raises(InputError, match=unsupported):
        input_kind(touch(tmp_path / "notes.txt"))
    with pytest.raises(InputError, match="is a directory; give the photo and video files inside"):
        input_kind(tmp_path)


def test_read_photo_rejects_garbage(tmp_path):
    path = touch(tmp_path / "broken.jpg", b"not a jpeg at all" * 10)
    with pytest.raises(InputError, match=r"broken\.jpg: cannot be decoded as a photo"):
        read_photo(path)


def test_read_grey_photo_as_bgr(shared_data):
    image = read_photo(shared_data / "identities_orl" / "s1" / "1.pgm")
    assert image.shape == (112, 92, 3) and image.dtype == np.uint8
    assert np.array_equal(image[..., 0], image[..., 2])


def test_video_reader_frames_and_timing(shared_data):
    with VideoReader(shared_data / "videos" / "lp_driving_d1.mp4") as reader:
        assert (reader.width, reader.height, reader.fps) == (512, 512, 30.0)
        frames = list(reader)
    assert [f.seq for f in frames] == list(range(16))
    assert frames[3].timestamp == pytest.approx(0.1)
    assert frames[0].image.shape == (512, 512, 3)


def test_video_reader_decodes_past_damage_keeps_its_time_and_counts_the_shortfall(shared_data, tmp_path):
    """20 kB of noise in the middle of a 448-frame clip: OpenCV's reader stopped at 234 frames, in silence (issue 25)."""
    path = damaged_copy(shared_data / "videos" / "lp_driving_d10.mp4", tmp_path / "damaged.mp4", 20_000)
    with VideoReader(path) as reader:
        frames = list(reader)
    assert reader.frame_count == 448 and 430 <= len(frames) < 448
    assert reader.damaged_packets > 0 and reader.shortfall == 448 - len(frames)
    assert [f.seq for f in frames] == list(range(len(frames)))
    assert frames[-1].timestamp == pytest.approx(447 / 30)  # lost frames leave a gap in time
    assert max(b.timestamp - a.timestamp for a, b in zip(frames, frames[1:])) > 1.5 / 30


def test_a_clip_its_edit_list_trims_is_not_short(shared_data):
    """158 coded frames of which the container's edit list shows 55: all 55 decoded is the whole clip."""
    with VideoReader(shared_data / "videos" / "3ddfa_obama.mp4") as reader:
        frames = list(reader)
    assert (len(frames), reader.frame_count, reader.shortfall) == (55, 158, 0)
    assert frames[0].timestamp == 0.0 and frames[-1].timestamp == pytest.approx(54 / 25)


@pytest.mark.parametrize("data", [b"", b"\x00garbage" * 500])
def test_video_reader_rejects_undecodable_files(tmp_path, data):
    path = touch(tmp_path / "clip.mp4", data)
    with pytest.raises(InputError) as caught:
        VideoReader(path)
    assert str(caught.value) == (
        f"{path}: no frames could be decoded; check the file is a complete video"
    )


# atomic writers


def test_video_writer_commits_under_final_name_only(tmp_path):
    final = tmp_path / "out.mp4"
    with AtomicVideoWriter(final, 25.0, 64, 48, VideoCodec.MP4V) as writer:
        writer.write(np.zeros((48, 64, 3), np.uint8))
        assert listing(tmp_path) == [writer.temp_path.name]
        assert writer.temp_path.name.startswith(".out.partial-")
        assert writer.temp_path.suffix == ".mp4"
    assert listing(tmp_path) == ["out.mp4"]


def test_written_video_reads_back(tmp_path):
    write_test_video(tmp_path / "v.avi", frames=5, size=(64, 48), fps=25.0)
    with VideoReader(tmp_path / "v.avi") as reader:
        assert (reader.width, reader.height, reader.fps) == (64, 48, 25.0)
        assert len(list(reader)) == 5


def test_video_writer_abort_leaves_nothing(tmp_path):
    writer = AtomicVideoWriter(tmp_path / "out.mp4", 25.0, 64, 48, VideoCodec.MP4V)
    writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.abort()
    assert listing(tmp_path) == []


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, RuntimeError])
def test_interrupted_video_leaves_nothing(tmp_path, interruption):
    with pytest.raises(interruption):
        with AtomicVideoWriter(tmp_path / "out.mp4", 25.0, 64, 48, VideoCodec.MP4V) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
            raise interruption()
    assert listing(tmp_path) == []


def test_interrupted_rewrite_keeps_the_previous_file(tmp_path):
    final = touch(tmp_path / "out.mp4", b"previous")
    with pytest.raises(KeyboardInterrupt):
        with AtomicVideoWriter(final, 25.0, 64, 48, VideoCodec.MP4V) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
            raise KeyboardInterrupt
    assert listing(tmp_path) == ["out.mp4"] and final.read_bytes() == b"previous"


def test_video_writer_refuses_wrong_frame_size(tmp_path):
    with pytest.raises(StageError, match="does not fit the 64x48 video"):
        with AtomicVideoWriter(tmp_path / "out.mp4", 25.0, 64, 48, VideoCodec.MP4V) as writer:
            writer.write(np.zeros((64, 64, 3), np.uint8))
    assert listing(tmp_path) == []


def test_writers_refuse_a_directory_that_is_a_file(tmp_path):
    blocker = touch(tmp_path / "blocker")
    with pytest.raises(OutputError, match="is a file, not a directory"):
        AtomicVideoWriter(blocker / "out.mp4", 25.0, 64, 48, VideoCodec.MP4V)
    with pytest.raises(OutputError, match="output directory does not exist"):
        write_photo_atomic(tmp_path / "missing" / "out.png", np.zeros((4, 4, 3), np.uint8), 95)


@pytest.mark.parametrize("name", ["out.jpg", "out.png", "out.bmp", "out.pgm"])
def test_photo_round_trip(tmp_path, name):
    image = np.zeros((32, 48, 3), np.uint8)
    image[8:24, 12:36] = (200, 200, 200)
    write_photo_atomic(tmp_path / name, image, jpeg_quality=95)
    assert listing(tmp_path) == [name]
    back = read_photo(tmp_path / name)
    assert back.shape == image.shape
    assert np.abs(back.astype(int) - image).mean() < 3


# output planning


def test_one_input_to_a_file_or_a_directory(tmp_path):
    clip = touch(tmp_path / "in" / "clip.mp4")
    assert plan_outputs([clip], tmp_path / "masked.mov") == [(clip, tmp_path / "masked.mov")]
    assert plan_outputs([clip], tmp_path) == [(clip, tmp_path / "clip.mp4")]
    assert plan_outputs([clip], tmp_path / "new") == [(clip, tmp_path / "new" / "clip.mp4")]
    assert (tmp_path / "new").is_dir()


def test_several_inputs_go_to_a_created_directory(tmp_path):
    photo, clip = touch(tmp_path / "a.png"), touch(tmp_path / "b.mp4")
    out = tmp_path / "deep" / "out"
    assert plan_outputs([photo, clip], out) == [(photo, out / "a.png"), (clip, out / "b.mp4")]
    assert out.is_dir()


def test_output_suffix_must_fit_the_input(tmp_path):
    clip = touch(tmp_path / "clip.mp4")
    with pytest.raises(OutputError, match=r"out\.jpg: a video input needs a video output "
                       r"\(\.mp4 \.avi \.mov \.mkv\) or a directory"):
        plan_outputs([clip], tmp_path / "out.jpg")


def test_several_inputs_refuse_a_file_output(tmp_path):
    photos = [touch(tmp_path / "a.png"), touch(tmp_path / "b.png")]
    with pytest.raises(OutputError, match="several inputs need an output directory, not a file"):
        plan_outputs(photos, tmp_path / "out.png")
    with pytest.raises(OutputError, match="is a file; several inputs need an output directory"):
        plan_outputs(photos, photos[0])


def test_name_clash_among_inputs(tmp_path):
    clips = [touch(tmp_path / "x" / "clip.mp4"), touch(tmp_path / "y" / "clip.mp4")]
    with pytest.raises(InputError, match="several inputs are named clip.mp4"):
        plan_outputs(clips, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_never_overwrites_an_input(tmp_path):
    clip = touch(tmp_path / "clip.mp4")
    with pytest.raises(OutputError, match="would overwrite an input"):
        plan_outputs([clip], clip)
    with pytest.raises(OutputError, match="would overwrite an input"):
        plan_outputs([clip, touch(tmp_path / "other.mp4")], tmp_path)


# the signal CSV


def test_euler_angles_round_trip():
    assert euler_degrees(rotation(20, -10, 5)) == pytest.approx((20, -10, 5), abs=1e-3)
    assert euler_degrees(np.eye(3)) == pytest.approx((0, 0, 0))


def test_positive_head_yaw_turns_the_face_the_way_positive_gaze_yaw_turns_the_eyes():
    """Both towards the subject's left: image right for a face looking at the camera."""
    a = math.radians(30)
    turned = np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]])
    towards_camera = turned @ np.array([0, 0, -1.0])
    assert towards_camera[0] > 0
    assert euler_degrees(turned)[0] == pytest.approx(30)


def masked(seq, status, faces=()):
    return MaskedFrame(np.zeros((4, 4, 3), np.uint8), seq, seq / 30, status, tuple(faces))


def test_signal_rows(tmp_path):
    path = tmp_path / "signals.csv"
    with SignalCsvWriter(path) as signals:
        signals.write(masked(0, FrameStatus.NO_FACE), file="a.mp4")
        signals.write(masked(1, FrameStatus.OK, [mask_params(track_id=7), mask_params(track_id=8)]), file="a.mp4")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(SIGNAL_COLUMNS)
    assert len(rows) == 3
    assert rows[0]["status"] == "no_face" and rows[0]["face"] == "" and rows[0]["head_yaw_deg"] == ""
    assert [r["track_id"] for r in rows[1:]] == ["7", "8"]
    second = rows[2]
    assert (second["file"], second["seq"], second["face"]) == ("a.mp4", "1", "1")
    assert float(second["head_yaw_deg"]) == pytest.approx(15, abs=1e-3)
    assert float(second["head_roll_deg"]) == pytest.approx(-3, abs=1e-3)
    assert float(second["right_gaze_yaw_deg"]) == pytest.approx(10)
    assert float(second["left_aperture"]) == pytest.approx(0.3)
    assert float(second["head_x_px"]) == 320 and float(second["head_scale_px"]) == 80
    assert float(second["right_mrd1_mm"]) == 4.5 and float(second["au_left_jaw_drop"]) == 0.0


def test_interrupted_signals_leave_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with SignalCsvWriter(tmp_path / "signals.csv") as signals:
            signals.write(masked(0, FrameStatus.NO_FACE))
            raise KeyboardInterrupt
    assert listing(tmp_path) == []


def test_videos_are_h264_and_an_odd_size_falls_back_to_mp4v_with_one_warning(tmp_path, caplog):
    from support import video_streams

    frame = np.full((48, 64, 3), (40, 120, 200), np.uint8)
    with AtomicVideoWriter(tmp_path / "even.mp4", 25.0, 64, 48, VideoCodec.H264) as writer:
        writer.write(frame)
    assert writer.codec is VideoCodec.H264
    assert video_streams(tmp_path / "even.mp4") == [("video", "h264", "yuv420p")]
    with caplog.at_level("WARNING"):
        with AtomicVideoWriter(tmp_path / "odd.mp4", 25.0, 63, 47, VideoCodec.H264) as writer:
            writer.write(frame[:47, :63])
    assert writer.codec is VideoCodec.MP4V
    assert video_streams(tmp_path / "odd.mp4") == [("video", "mpeg4", "yuv420p")]
    assert [r.getMessage() for r in caplog.records] == [
        "a 63x47 video cannot be H.264 in yuv420p (odd width or height); writing mp4v"
    ]
    with VideoReader(tmp_path / "odd.mp4") as reader:
        assert (reader.width, reader.height) == (63, 47)


def test_the_temp_file_exists_from_the_start_and_an_interrupted_open_removes_it(tmp_path, monkeypatch):
    """The writer makes its temp file at once (x264 holds the first packets back), and
    Ctrl-C between that and the writer being entered leaves nothing behind."""
    writer = AtomicVideoWriter(tmp_path / "out.mp4", 25.0, 64, 48, VideoCodec.H264)
    assert writer.temp_path.is_file()
    writer.abort()

    def interrupted(self) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(av.container.OutputContainer, "start_encoding", interrupted)
    with pytest.raises(KeyboardInterrupt):
        AtomicVideoWriter(tmp_path / "out.mp4", 25.0, 64, 48, VideoCodec.H264)
    assert list(tmp_path.iterdir()) == []


def test_background_sync_never_makes_the_writer_wait(tmp_path, monkeypatch):
    """A disk that takes its time to sync holds up the helper thread, never the caller;
    requests made meanwhile fold into one, and a file gone by then is skipped."""
    entered, release, synced = threading.Event(), threading.Event(), []

    def slow_fsync(fd: int) -> None:
        entered.set()
        assert release.wait(10)
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(os, "fsync", slow_fsync)
    first, second, gone = (tmp_path / name for name in ("a.mp4", "b.jsonl", "gone.mp4"))
    first.write_text("x")
    second.write_text("y")
    syncer = BackgroundSync()
    syncer.request((first,))
    assert entered.wait(10), "the helper started syncing"
    caller = threading.Thread(target=lambda: [syncer.request((first, gone, second)) for _ in range(3)])
    caller.start()
    caller.join(5)
    assert not caller.is_alive(), "request() waited for the disk"
    release.set()
    syncer.close()
    assert synced == [str(first), str(first), str(second)]


@pytest.mark.parametrize("stated, used", [(25.0, 25.0), (29.97, 29.97), (1000.0, 1000.0), (0.0, 30.0), (-5.0, 30.0),
                                          (float("nan"), 30.0), (float("inf"), 30.0), (90000.0, 30.0)])
def test_a_files_or_sources_frame_rate_is_believed_by_one_rule(stated, used):
    """Files (PyAV) and sources (OpenCV) once had two rules; a 90 kHz time base read as a rate is a placeholder."""
    assert believable_fps(stated) == used
