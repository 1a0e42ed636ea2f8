"""`dmask record` and `dmask status`: a real Publisher in this process on
loopback tcp, the recorder as a thread or as a `dmask` subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from dmask.serve import recorder as recorder_module
from dmask.config import FrameEncoding, PublishConfig
from dmask.provenance import ProvenanceKey, seal_problem
from dmask.records import FrameStatus, MaskedFrame
from dmask.serve.recorder import Recorder, RecordSummary, iter_status_lines
from dmask.serve.status import DaemonStatus
from dmask.serve.transport import Publisher
from support import dmask, dmask_command, dmask_env, free_port, video_streams

WAIT_SECONDS = 20.0
STEP = 0.02
STATUS = {
    "uptime_s": 12.0,
    "fps_in": 29.8,
    "fps_out": 29.7,
    "dropped": {"before_processing": 0, "before_publishing": 1, "publisher": 2},
    "latency_ms_p50": {"inference": 5.4, "fit": 0.3, "render": 4.1, "capture_to_publish": 12.0},
    "latency_ms_p99": {"inference": 7.9, "fit": 0.5, "render": 6.2, "capture_to_publish": 19.4},
    "cpu_cores": 0.83,
    "source": {"state": "up", "frames": 357, "reopen_attempts": 0, "last_error": ""},
    "counts": {"frames": 357, "faces": 350, "failed_closed": 2, "no_face": 5},
}
STATUS_LINE = (
    "source up | 29.8 fps in, 29.7 fps out | 357 frames processed, 3 dropped (0 before processing, 1 before publishing, "
    "2 by the publisher) | "
    "inference 5.4 ms, render 4.1 ms | capture to publish 12.0 ms (p99 19.4) | cpu 0.8 cores | uptime 12.0 s"
)


def start_publisher(endpoint: str = "tcp://127.0.0.1:*") -> Publisher:
    return Publisher(PublishConfig(endpoints=(endpoint,), encoding=FrameEncoding.BGR, send_hwm=1000), 95)


@pytest.fixture
def publisher():
    pub = start_publisher()
    yield pub
    pub.close()


def masked(seq: int, size=(64, 48), colour=(40, 120, 200), status=FrameStatus.OK, fps: float = 30.0) -> MaskedFrame:
    width, height = size
    image = np.empty((height, width, 3), np.uint8)
    image[:] = colour
    return MaskedFrame(image, seq, 1000.0 + seq / fps, status)


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(STEP)


def sync(publisher: Publisher, rec: Recorder) -> None:
    """Past ZeroMQ's slow joiner: status until the recorder has seen this one."""
    token = float(uuid.uuid4().int % 10**9)  # an uptime no earlier status had

    def seen() -> bool:
        publisher.send_status({"uptime_s": token})
        return rec.last_status is not None and rec.last_status.uptime_s == token

    wait_until(seen, "the recorder to subscribe")


def publish(publisher: Publisher, frames: list[MaskedFrame]) -> None:
    for frame in frames:
        publisher.send_frame(frame)
        publisher.send_signals(frame)
        time.sleep(0.002)


def publish_until(publisher: Publisher, done, what: str) -> int:
    """Publish masked frames, one at a time, until done() (a recorder in another process shows progress on
    disk); the next frame's seq."""
    seq = 0

    def one_more() -> bool:
        nonlocal seq
        publish(publisher, [masked(seq)])
        seq += 1
        return done()

    wait_until(one_more, what)
    return seq


class Running:
    """A Recorder running in a thread of this process."""

    def __init__(self, rec: Recorder) -> None:
        self.recorder = rec
        self.stop = threading.Event()
        self.result: dict = {}
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result["summary"] = self.recorder.run(self.stop)
        except BaseException as error:
            self.result["error"] = error

    def finish(self) -> RecordSummary:
        self.stop.set()
        self.thread.join(WAIT_SECONDS)
        assert not self.thread.is_alive()
        if "error" in self.result:
            raise self.result["error"]
        return self.result["summary"]


def record(publisher: Publisher, output: Path, frames: list[MaskedFrame], **options) -> RecordSummary:
    running = Running(Recorder(publisher.endpoints[0], output, **options))
    try:
        sync(publisher, running.recorder)
        publish(publisher, frames)
        expected = sum(1 for _ in frames)
        wait_until(lambda: running.recorder.frames >= expected, f"{expected} frames")
        sync(publisher, running.recorder)  # and the last frame's signals, sent after it on the same socket
    finally:
        summary = running.finish()
    return summary


def read_video(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), path
    frames = []
    while len(frames) < 10_000:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames


def signal_lines(video: Path) -> list[dict]:
    path = video.with_name(video.stem + ".signals.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def hidden_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith("."))


def test_records_every_frame_with_its_signals(publisher, tmp_path):
    output = tmp_path / "out.mp4"
    summary = record(publisher, output, [masked(seq) for seq in range(10)])

    assert summary.frames == 10
    assert summary.segments == (output,)
    assert summary.gaps == 0
    assert summary.statuses == {"ok": 10}
    assert summary.last_status is not None
    frames = read_video(output)
    assert len(frames) == 10
    assert frames[0].shape == (48, 64, 3)
    assert np.abs(frames[5].astype(int) - (40, 120, 200)).max() < 12  # the solid colour survives mp4v
    signals = signal_lines(output)
    assert [body["seq"] for body in signals] == list(range(10))
    assert all(body["v"] == 9 and body["status"] == "ok" and body["faces"] == [] for body in signals)
    assert hidden_files(tmp_path) == []
    assert summary.line().startswith(
        "recorded 10 frames in 1 H.264 file; no frames missing; "
        "statuses: ok=10, no_face=0, failed_closed=0, source_down=0"
    )


def test_a_25fps_source_keeps_its_time_and_dropped_frames_leave_gaps(publisher, tmp_path):
    """The recorder wrote 184 frames of an 8 s 25 fps source as a 6.13 s video at its default 30 fps (issue 25)."""
    dropped = {40, 41, 42, 120}
    summary = record(publisher, tmp_path / "out.mp4", [masked(seq, fps=25.0) for seq in range(200) if seq not in dropped])
    assert (summary.frames, summary.gaps) == (196, 4)
    with av.open(str(tmp_path / "out.mp4")) as video:
        stream = video.streams.video[0]
        times = [float(frame.pts * frame.time_base) for frame in video.decode(stream)]
        seconds = video.duration / 1e6
    assert len(times) == 196
    assert seconds == pytest.approx(8.0, abs=1 / 25)  # the source's 200 frames of 1/25 s
    steps = np.round(np.diff(times) * 25).astype(int)
    assert sorted(np.flatnonzero(steps > 1)) == [39, 116] and steps[39] == 4 and steps[116] == 2
    assert set(steps) == {1, 2, 4}


def test_seq_jumps_are_gaps_and_source_down_fillers_are_statuses(publisher, tmp_path):
    frames = [masked(seq) for seq in (0, 1, 2)]
    frames += [masked(-1, status=FrameStatus.SOURCE_DOWN), masked(-1, status=FrameStatus.SOURCE_DOWN)]
    frames += [masked(5, status=FrameStatus.NO_FACE), masked(6)]
    summary = record(publisher, tmp_path / "out.mp4", frames)

    assert summary.gaps == 2
    assert summary.frames == 7
    assert summary.statuses == {"ok": 4, "source_down": 2, "no_face": 1}
    assert summary.restarts == 0


def test_a_size_change_starts_a_new_file(publisher, tmp_path):
    output = tmp_path / "out.mp4"
    frames = [masked(seq) for seq in range(3)] + [masked(seq, size=(80, 60)) for seq in range(3, 5)]
    summary = record(publisher, output, frames)

    second = tmp_path / "out-0002.mp4"
    assert summary.segments == (output, second)
    assert [len(read_video(p)) for p in summary.segments] == [3, 2]
    assert read_video(second)[0].shape == (60, 80, 3)
    assert [b["seq"] for b in signal_lines(output)] == [0, 1, 2]
    assert [b["seq"] for b in signal_lines(second)] == [3, 4]
    assert hidden_files(tmp_path) == []


def test_segment_minutes_roll_numbered_files(publisher, tmp_path):
    # 0.001 minutes of capture time (0.06 s) is 2 frames at 30 fps
    summary = record(publisher, tmp_path / "out.mp4", [masked(seq) for seq in range(5)],
                     fps=30.0, segment_minutes=0.001)

    names = [p.name for p in summary.segments]
    assert names == ["out-0001.mp4", "out-0002.mp4", "out-0003.mp4"]
    assert [len(read_video(p)) for p in summary.segments] == [2, 2, 1]
    assert [len(signal_lines(p)) for p in summary.segments] == [2, 2, 1]
    assert not (tmp_path / "out.mp4").exists()


def test_a_daemon_restart_is_survived(tmp_path):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    first = start_publisher(endpoint)
    running = Running(Recorder(endpoint, tmp_path / "out.mp4"))
    try:
        sync(first, running.recorder)
        publish(first, [masked(seq) for seq in range(5)])
        wait_until(lambda: running.recorder.frames >= 5, "5 frames")
        first.close()
        time.sleep(0.3)  # the daemon is down; the recorder keeps waiting
        second = start_publisher(endpoint)
        try:
            sync(second, running.recorder)
            publish(second, [masked(seq) for seq in range(3)])
            wait_until(lambda: running.recorder.frames >= 8, "8 frames")
        finally:
            second.close()
    finally:
        summary = running.finish()
    assert summary.frames == 8
    assert summary.restarts == 1
    assert summary.gaps == 0
    assert len(read_video(tmp_path / "out.mp4")) == 8


def test_an_exception_leaves_nothing_under_the_final_name(publisher, tmp_path, monkeypatch):
    real_decode = recorder_module.decode_frame
    calls = []

    def failing_decode(message):
        calls.append(message)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return real_decode(message)

    monkeypatch.setattr(recorder_module, "decode_frame", failing_decode)
    running = Running(Recorder(publisher.endpoints[0], tmp_path / "out.mp4"))
    try:
        sync(publisher, running.recorder)
        publish(publisher, [masked(seq) for seq in range(5)])
        wait_until(lambda: not running.thread.is_alive(), "the recorder to fail")
    finally:
        with pytest.raises(RuntimeError, match="boom"):
            running.finish()
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_is_refused_before_recording(tmp_path):
    result = dmask(tmp_path, "record", "tcp://127.0.0.1:1", "-o", tmp_path / "absent" / "out.mp4")
    assert result.returncode == 2
    assert result.stderr == f"dmask: error: {tmp_path / 'absent'}: output directory does not exist; create it first\n"


def record_then_stop(publisher, directory: Path, *args) -> tuple[subprocess.Popen, str, str]:
    """`dmask record ENDPOINT -o out.mp4 ARGS` fed a few frames, then stopped by SIGTERM: (process, stdout, stderr)."""
    process = subprocess.Popen(
        dmask_command("record", publisher.endpoints[0], "-o", "out.mp4", *args),
        cwd=directory, env=dmask_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # the partial file: the first frame arrived
        seq = publish_until(publisher, lambda: bool(hidden_files(directory)), "dmask record to write its first frame")
        publish(publisher, [masked(s) for s in range(seq, seq + 5)])
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process, stdout, stderr


def test_cli_record_writes_the_configured_codec(publisher, tmp_path):
    """`dmask record` wrote H.264 whatever output.video_codec said (issue 29)."""
    config = tmp_path / "dmask.yaml"
    config.write_text("output:\n  video_codec: mp4v\n")
    process, stdout, stderr = record_then_stop(publisher, tmp_path, "--config", config)
    assert process.returncode == 0, stderr
    assert " in 1 MPEG-4 Part 2 (mp4v) file; " in stdout
    assert [codec for kind, codec, _ in video_streams(tmp_path / "out.mp4") if kind == "video"] == ["mpeg4"]


def test_cli_record_stops_cleanly_on_sigterm(publisher, tmp_path):
    process, stdout, stderr = record_then_stop(publisher, tmp_path)
    assert process.returncode == 0, stderr
    assert stdout.startswith("recorded ")
    assert " in 1 H.264 file; " in stdout and "statuses: ok=" in stdout
    assert len(stdout.splitlines()) == 1
    frames = read_video(tmp_path / "out.mp4")
    assert len(frames) >= 1 and frames[0].shape == (48, 64, 3)
    assert f"recorded {len(frames)} frames" in stdout
    assert len(signal_lines(tmp_path / "out.mp4")) >= 1
    assert hidden_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "out.signals.jsonl"]


def test_cli_record_duration(publisher, tmp_path):
    result = dmask(tmp_path, "record", publisher.endpoints[0], "-o", "out.mp4", "--duration", "0.5")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "recorded 0 frames in 0 files; no frames missing; "
        "statuses: ok=0, no_face=0, failed_closed=0, source_down=0\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_status_lines_are_readable(publisher):
    assert DaemonStatus.from_wire({"v": 1, **STATUS}).line() == STATUS_LINE
    assert DaemonStatus.from_wire({"v": 1, **STATUS}).to_wire() == {**STATUS, "source": {**STATUS["source"], "retry_seconds": 0.0}}
    assert DaemonStatus.from_wire({"v": 1, "fps_in": "fast", "source": {"state": "exploded"}}).line() == (
        "source starting | ? fps in, ? fps out | ? frames processed, ? dropped (? before processing, ? before publishing, ? by the publisher) | inference ? ms, render ? ms | capture to publish ? ms (p99 ?) | cpu ? cores | uptime ? s"
    )
    assert DaemonStatus.from_wire({"v": 1}).line() == (
        "source ? | ? fps in, ? fps out | ? frames processed, ? dropped (? before processing, ? before publishing, ? by the publisher) | inference ? ms, render ? ms | capture to publish ? ms (p99 ?) | cpu ? cores | uptime ? s"
    )
    stop = threading.Event()

    def keep_sending() -> None:
        while not stop.wait(0.05):
            publisher.send_status(STATUS)

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        assert list(iter_status_lines(publisher.endpoints[0], 2, WAIT_SECONDS)) == [STATUS_LINE, STATUS_LINE]
        result = dmask(Path.cwd(), "status", publisher.endpoints[0], "--count", "3",
                       "--timeout", str(WAIT_SECONDS))
    finally:
        stop.set()
        sender.join()
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{STATUS_LINE}\n" * 3


def test_status_against_nothing_is_a_one_line_error(tmp_path):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    result = dmask(tmp_path, "status", endpoint, "--timeout", "0.5")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"dmask: error: {endpoint}: no status message within 0.5 s; "
        "is `dmask run` publishing there (and are the keys right)?\n"
    )


def test_a_killed_recorder_loses_at_most_two_seconds_and_the_next_one_finishes_its_files(publisher, tmp_path):
    """SIGKILL mid-recording: the partial files stay; the next `dmask record` into the same output
    makes them whole files (all but the last ~2 s), says so, and records on beside them."""
    output = tmp_path / "visit.mp4"
    process = subprocess.Popen(dmask_command("record", publisher.endpoints[0], "-o", output), env=dmask_env(),
                               stderr=subprocess.PIPE, text=True)
    sent = 0
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not list(tmp_path.glob(".visit.partial-*.mp4")):  # the recorder has subscribed and opened its file
            assert time.monotonic() < deadline and process.poll() is None, "the recorder never started a file"
            publish(publisher, [masked(sent)])
            sent += 1
            time.sleep(1 / 30)
        for _ in range(150):  # 5 s more at 30 fps
            publish(publisher, [masked(sent, colour=(sent % 256, 80, 160))])
            sent += 1
            time.sleep(1 / 30)
        time.sleep(0.5)
    finally:
        process.kill()
        process.wait(10)
    partial = list(tmp_path.glob(".visit.partial-*.mp4"))
    assert len(partial) == 1 and list(tmp_path.glob(".visit.signals.partial-*.jsonl"))
    assert not output.exists()

    again = dmask(tmp_path, "record", publisher.endpoints[0], "-o", "visit.mp4", "--duration", "1")
    assert again.returncode == 0, again.stderr
    pid = partial[0].name.split("partial-")[1].split(".")[0]
    recovered = [line for line in again.stderr.splitlines() if "recovered" in line]
    assert recovered[0].startswith("dmask: recovered visit.mp4: ") and f"(pid {pid})" in recovered[0]
    assert recovered[1].startswith("dmask: recovered visit.signals.jsonl: ")
    assert not list(tmp_path.glob(".*partial*"))
    capture = cv2.VideoCapture(str(output))
    frames = 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    assert sent - 2 * 30 <= frames <= sent, f"{frames} of {sent} frames recovered"
    lines = (tmp_path / "visit.signals.jsonl").read_text().splitlines()
    assert len(lines) >= sent - 2 * 30 and all(json.loads(line)["status"] == "ok" for line in lines)


# `dmask record` with a disk that fills up after 45 frames: the video writer meets ENOSPC as PyAV raises it.
FULL_DISK = """
import errno, sys
from dmask import cli, video_out
write = video_out.AtomicVideoWriter.write
def write_until_full(self, image, timestamp=None):
    self.frames_sent = getattr(self, "frames_sent", 0) + 1
    if self.frames_sent > 45:
        raise OSError(errno.ENOSPC, "No space left on device")
    write(self, image, timestamp)
video_out.AtomicVideoWriter.write = write_until_full
sys.argv[0] = "dmask"
cli.main()
"""


def test_a_full_disk_keeps_what_was_recorded_and_the_next_run_recovers_it(publisher, tmp_path):
    """Before, a full disk deleted the 1.1 MB partial video and its signals: nothing was left (issue 25)."""
    script = tmp_path / "full_disk.py"
    script.write_text(FULL_DISK)
    process = subprocess.Popen([sys.executable, script, "record", publisher.endpoints[0], "-o", "visit.mp4"],
                               cwd=tmp_path, env=dmask_env(), stderr=subprocess.PIPE, text=True)
    sent = 0
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while process.poll() is None:
            assert time.monotonic() < deadline, "the recorder did not stop at the full disk"
            publish(publisher, [masked(sent)])
            sent += 1
            time.sleep(1 / 30)
    finally:
        process.kill()
    error = process.stderr.read()
    assert process.returncode == 2
    assert error.splitlines() == [
        "dmask: error: visit.mp4: the disk is full (No space left on device) after 45 frames; what was written is "
        "kept, and the next `dmask record -o visit.mp4` recovers it: free space, then run it again"]
    assert list(tmp_path.glob(".visit.partial-*.mp4")) and list(tmp_path.glob(".visit.signals.partial-*.jsonl"))

    again = dmask(tmp_path, "record", publisher.endpoints[0], "-o", "visit.mp4", "--duration", "1")
    assert again.returncode == 0, again.stderr
    assert [line.split(":")[1] for line in again.stderr.splitlines() if "recovered" in line] == [
        " recovered visit.mp4", " recovered visit.signals.jsonl"]
    assert 30 <= len(read_video(tmp_path / "visit.mp4")) <= 45  # all but the fragment under way
    assert len(signal_lines(tmp_path / "visit.mp4")) >= 30


def dead_recorders_partial(output: Path, cut: int = 0) -> None:
    """What a recorder of output killed after 75 frames left (its last cut bytes lost with it)."""
    from dmask.config import VideoCodec
    from dmask.capture.media import partial_path
    from dmask.video_out import AtomicVideoWriter

    writer = AtomicVideoWriter(output, 30.0, 64, 48, VideoCodec.H264, fragmented=True, seal=ProvenanceKey.generate())
    rng = np.random.default_rng(0)
    for seq in range(75):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), seq / 30)
    writer.flush()
    writer.keep()
    dead = partial_path(output).with_name(partial_path(output).name.replace(f"-{os.getpid()}", "-999999"))
    data = partial_path(output).read_bytes()
    dead.write_bytes(data[: len(data) - cut])
    partial_path(output).unlink()


def test_recovery_stops_before_a_packet_the_stop_cut_short(tmp_path):
    """A disk that filled mid-write cuts the last packet: copied on, it was a damaged frame in the recovered file."""
    from dmask.serve.recovery import recover_partials

    output = tmp_path / "visit.mp4"
    dead_recorders_partial(output, cut=700)  # into the last fragment's last picture
    key = ProvenanceKey.generate()
    assert recover_partials(output, key)[0].startswith("recovered visit.mp4: ")
    assert seal_problem(output, key) is None  # the recorder's own folder: what it recovers is sealed
    decoded, damaged = 0, 0
    with av.open(str(output)) as video:
        for packet in video.demux(video.streams.video[0]):
            try:
                decoded += len(packet.decode())
            except av.FFmpegError:
                damaged += 1
    assert damaged == 0 and 30 <= decoded < 75


def test_a_recovery_in_a_folder_others_can_write_is_not_sealed(tmp_path):
    """Anyone who can write there could have left a file under a partial name: sealing it would vouch for it."""
    from dmask.serve.recovery import recover_partials

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    dead_recorders_partial(shared / "visit.mp4")
    key = ProvenanceKey.generate()
    line = recover_partials(shared / "visit.mp4", key)[0]
    assert re.fullmatch(r"recovered visit.mp4: \d+ frames from a recorder that stopped without finishing \(pid 999999\); "
                        "left unsealed, so dmask export dicom refuses it: its folder is writable by others, "
                        "who could have left it there", line)
    assert seal_problem(shared / "visit.mp4", key) == "it carries no dmask seal"
