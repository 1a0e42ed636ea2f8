"""`dmask run` as a real process on loopback: only masked frames come out."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from dmask import __version__
from dmask.capture.media import VideoReader
from dmask.serve.transport import Subscriber, Topic
from support import assert_error, dmask, dmask_command, dmask_env, free_port

pytestmark = pytest.mark.slow  # daemons in subprocesses: `pytest -m "not slow"` leaves it out

COLLECT_SECONDS = 90


def write_config(path: Path, source: Path, endpoint: str) -> Path:
    path.write_text(
        f"source:\n  uri: {source}\n  loop: true\n  pace: true\n"
        f"publish:\n  endpoints: [{endpoint}]\n  encoding: bgr\n  status_interval_seconds: 0.5\n"
    )
    return path


def collect(endpoint: str, frames: int, status: int) -> dict[str, list]:
    messages: dict[str, list] = {"frame": [], "signals": [], "status": []}
    deadline = time.monotonic() + COLLECT_SECONDS
    with Subscriber(endpoint) as subscriber:
        while time.monotonic() < deadline and (len(messages["frame"]) < frames or len(messages["status"]) < status):
            message = subscriber.receive(1.0)
            if message is not None:
                decoded = subscriber.decode_frame(message) if message.topic == "frame" else None
                messages[message.topic].append((message.header, decoded))
    return messages


@pytest.fixture
def daemon(tmp_path):
    started = []

    def start(source: Path) -> str:
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        config = write_config(tmp_path / "dmask.yaml", source, endpoint)
        started.append(subprocess.Popen(dmask_command("run", "--config", config), env=dmask_env(), stderr=subprocess.PIPE, text=True))
        return endpoint

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        assert process.wait(5) == 0, process.stderr.read()


def test_a_live_video_comes_out_masked_in_order_with_signals_and_status(daemon, shared_data, tmp_path):
    video = shared_data / "videos/lp_driving_d1.mp4"
    with VideoReader(video) as reader:
        originals = [f.image for f in reader]
    messages = collect(daemon(video), frames=24, status=2)
    frames = messages["frame"]
    assert len(frames) >= 24
    seqs = [header["seq"] for header, _ in frames]
    assert seqs == sorted(set(seqs))
    for header, image in frames:
        assert header["status"] == "ok" and header["v"] == 9
        camera = originals[header["seq"] % len(originals)]
        assert image.shape == camera.shape
        face = (slice(150, 400), slice(150, 360))
        assert np.abs(image[face].astype(int) - camera[face]).mean() > 20
    status = messages["status"][-1][0]
    assert status["source"]["state"] == "up" and status["fps_in"] > 0

    csv_path = tmp_path / "offline.csv"
    assert dmask(tmp_path, "mask", video, "-o", tmp_path / "offline.mp4", "--signals", csv_path, "--no-progress").returncode == 0
    with open(csv_path, newline="") as handle:
        offline = {int(row["seq"]): row for row in csv.DictReader(handle)}
    live = [h for h, _ in messages["signals"] if h["seq"] < len(originals) and h["faces"]]
    assert live
    for header in live:
        row = offline[header["seq"]]
        face = header["faces"][0]
        assert abs(face["right_aperture"] - float(row["right_aperture"])) < 0.05
        for name, tolerance in (("right_gaze_yaw_deg", 5.0), ("right_mrd1_mm", 1.5)):  # empty in a blink, in both
            if face[name] is None or row[name] == "":
                assert (face[name], row[name]) == (None, ""), (header["seq"], name)
            else:
                assert abs(face[name] - float(row[name])) < tolerance, (header["seq"], name)
    assert any(h["faces"][0]["right_gaze_yaw_deg"] is not None for h in live)


def noise_video(path: Path, frames: int = 30) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (240, 320, 3), np.uint8))
    writer.release()
    return path


def blank_video(path: Path, frames: int = 30) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    for _ in range(frames):
        writer.write(np.full((240, 320, 3), 200, np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize("make", [noise_video, blank_video])
def test_no_face_fails_closed_with_no_camera_pixels(daemon, tmp_path, make):
    messages = collect(daemon(make(tmp_path / "no_face.mp4")), frames=10, status=1)
    assert len(messages["frame"]) >= 10
    for header, image in messages["frame"]:
        assert header["status"] == "no_face" and header["faces"] == 0
        assert (image == 96).all()


def test_plain_tcp_on_a_public_address_is_refused(tmp_path, shared_data):
    result = dmask(tmp_path, "run", "--source", shared_data / "videos/lp_driving_d1.mp4", "--publish", "tcp://0.0.0.0:5599")
    assert result.returncode == 2
    assert result.stderr.startswith("dmask: error: publish.endpoints: plain (unencrypted) tcp is allowed only on loopback")


def test_systemd_hears_ready_status_and_watchdog(tmp_path, shared_data):
    """Type=notify: READY=1 after the first frame, then STATUS= and WATCHDOG=1 while frames flow."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(60)
    config = write_config(tmp_path / "dmask.yaml", shared_data / "videos/lp_driving_d1.mp4", f"ipc://{tmp_path / 'pub'}")
    env = {**dmask_env(), "NOTIFY_SOCKET": str(tmp_path / "notify")}
    process = subprocess.Popen(dmask_command("run", "--config", config), env=env, stderr=subprocess.PIPE, text=True)
    try:
        heard = []
        while not any("WATCHDOG=1" in m for m in heard):
            heard.append(notify.recv(4096).decode())
        process.send_signal(signal.SIGTERM)
        assert process.wait(5) == 0, process.stderr.read()
        heard += drain(notify)
    finally:
        process.kill()
        notify.close()
    assert heard[0] == "READY=1"
    assert any(m.startswith("STATUS=source up") for m in heard)
    assert heard[-1] == "STOPPING=1"


def test_systemd_hears_ready_with_the_camera_unplugged_at_boot(tmp_path):
    """READY=1 once the models are loaded, STATUS= saying the source is down, and WATCHDOG=1 while it is reopened."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(60)
    config = tmp_path / "dmask.yaml"
    config.write_text(f"source:\n  uri: /dev/video9\n  reopen_seconds: 0.2\npublish:\n  endpoints: [ipc://{tmp_path / 'pub'}]\n"
                      "  status_interval_seconds: 0.2\n")
    env = {**dmask_env(), "NOTIFY_SOCKET": str(tmp_path / "notify")}
    process = subprocess.Popen(dmask_command("run", "--config", config), env=env, stderr=subprocess.PIPE, text=True)
    try:
        heard = drain_until(notify, lambda heard: sum("WATCHDOG=1" in m for m in heard) >= 3)
        process.send_signal(signal.SIGTERM)
        assert process.wait(5) == 0, process.stderr.read()
    finally:
        process.kill()
        notify.close()
    assert heard[0] == "READY=1"
    assert any(m.startswith("STATUS=source down") for m in heard)


def drain(sock: socket.socket) -> list[str]:
    """What is already waiting on the socket (a short pause ends it)."""
    sock.settimeout(0.2)
    messages = []
    try:
        while True:
            messages.append(sock.recv(4096).decode())
    except socket.timeout:
        return messages


def test_watchdog_stops_when_the_pipeline_is_wedged(tmp_path, shared_data, monkeypatch, models):
    from dmask.config import load_config
    from dmask.serve.service import Daemon

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    config = load_config(write_config(tmp_path / "dmask.yaml", shared_data / "videos/lp_driving_d1.mp4", f"ipc://{tmp_path / 'pub'}"))
    daemon = Daemon(config, models)
    wedge, release = threading.Event(), threading.Event()
    process = daemon.pipeline.process

    def maybe_stuck(frame):
        if wedge.is_set():
            release.wait(30)
        return process(frame)

    monkeypatch.setattr(daemon.pipeline, "process", maybe_stuck)
    daemon.start()
    try:
        healthy = drain_until(notify, lambda heard: sum("WATCHDOG=1" in m for m in heard) >= 2)
        wedge.set()
        # the first status without a ping: the daemon has seen the pipeline stop (after ALIVE_SECONDS), no sleep guessed
        noticed = drain_until(notify, lambda heard: bool(heard) and withheld(heard[-1]))
        wedged = drain_for(notify, 3.0)
    finally:
        release.set()
        daemon.stop()
        notify.close()
    assert sum("WATCHDOG=1" in m for m in healthy) >= 2
    assert noticed and withheld(noticed[-1])
    assert wedged and all(withheld(m) for m in wedged)  # and it stays withheld while the pipeline is stuck


def withheld(message: str) -> bool:
    """A status report that carries no watchdog ping."""
    return message.startswith("STATUS=") and "WATCHDOG=1" not in message


def drain_until(sock: socket.socket, enough, timeout: float = 60.0) -> list[str]:
    heard, deadline = [], time.monotonic() + timeout
    sock.settimeout(1.0)
    while not enough(heard) and time.monotonic() < deadline:
        try:
            heard.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
    return heard


def drain_for(sock: socket.socket, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    return drain_until(sock, lambda heard: time.monotonic() >= deadline, timeout=seconds + 1.0)


def test_a_stream_that_is_down_is_reported_and_published_as_source_down(daemon):
    messages = collect(daemon("rtsp://127.0.0.1:9/live"), frames=2, status=2)
    assert [h["status"] for h, _ in messages["frame"][:2]] == ["source_down", "source_down"]
    assert all((image == 96).all() for _, image in messages["frame"])
    source = messages["status"][-1][0]["source"]
    assert source["state"] == "down" and source["last_error"] == "cannot open rtsp source rtsp://127.0.0.1:9"
    assert source["reopen_attempts"] >= 1


def test_a_video_file_that_does_not_exist_is_a_mistake_not_an_outage(tmp_path):
    """`dmask run --source` with a mistyped path retried for ever (issue 29)."""
    assert_error(dmask(tmp_path, "run", "--source", "unplugged.mp4", "--publish", f"ipc://{tmp_path / 'pub'}"),
                 "unplugged.mp4: no such file; give an existing video, a camera or a stream as --source")


def test_a_source_that_comes_back_is_reported_up_with_no_error(tmp_path, shared_data, models):
    """A file that appears once the daemon runs (as a camera that is plugged in): from down to up."""
    from dmask.config import load_config
    from dmask.serve.service import Daemon

    source, endpoint = tmp_path / "later.mp4", f"ipc://{tmp_path / 'pub'}"
    daemon = Daemon(load_config(write_config(tmp_path / "dmask.yaml", source, endpoint)), models)
    daemon.start()
    try:
        with Subscriber(endpoint, topics=(Topic.STATUS,)) as subscriber:
            assert next_status(subscriber)["source"]["state"] in ("starting", "down")
            shutil.copy(shared_data / "videos/lp_driving_d1.mp4", source)
            for _ in range(60):
                status = next_status(subscriber)["source"]
                if status["state"] == "up":
                    break
    finally:
        daemon.stop()
    assert status["state"] == "up" and status["last_error"] == ""


@pytest.mark.parametrize("source, kind, shown", [
    ("rtsp://admin:hunter2@127.0.0.1:9/live?token=s3cret", "rtsp", "rtsp://127.0.0.1:9"),
    ("gst:rtspsrc location=rtsp://127.0.0.1:9/stream user-id=admin user-pw=hunter2 extra-controls=s3cret ! decodebin",
     "gstreamer", "rtspsrc ! decodebin ! appsink from rtsp://127.0.0.1:9"),
])
def test_a_camera_password_never_reaches_the_status_topic_or_dmask_status(tmp_path, source, kind, shown):
    """A GStreamer source's user-pw was shown everywhere (issue 26)."""
    endpoint = f"ipc://{tmp_path / 'pub'}"
    config = tmp_path / "dmask.yaml"
    config.write_text(f"source:\n  uri: '{source}'\n  reopen_seconds: 0.2\n"
                      f"publish:\n  endpoints: [{endpoint}]\n  status_interval_seconds: 0.2\n")
    process = subprocess.Popen(dmask_command("run", "--config", config), env=dmask_env(), stderr=subprocess.PIPE, text=True)
    try:
        with Subscriber(endpoint, topics=(Topic.STATUS,)) as subscriber:
            statuses = [next_status(subscriber) for _ in range(3)]
        dmask_status = dmask(tmp_path, "status", endpoint, "--count", "2")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(5)
        process.kill()
    assert statuses[-1]["source"]["last_error"] == f"cannot open {kind} source {shown}"
    printed = dmask_status
    text = json.dumps(statuses) + printed.stdout + printed.stderr + process.stderr.read()
    assert "hunter2" not in text and "s3cret" not in text and "admin" not in text
    assert printed.returncode == 0 and shown in printed.stdout


def test_a_stage_that_raises_publishes_blank_failed_closed_frames(tmp_path, shared_data, monkeypatch, models):
    from dmask.config import load_config
    from dmask.serve.service import Daemon

    endpoint = f"ipc://{tmp_path / 'pub'}"
    config = load_config(write_config(tmp_path / "dmask.yaml", shared_data / "videos/lp_driving_d1.mp4", endpoint))
    daemon = Daemon(config, models)

    def broken(*args, **kwargs):
        raise RuntimeError("landmark model exploded")

    monkeypatch.setattr(daemon.pipeline.meter.tracker, "observe", broken)
    daemon.start()
    try:
        messages = collect(endpoint, frames=5, status=1)
    finally:
        daemon.stop()
    assert len(messages["frame"]) >= 5
    for header, image in messages["frame"]:
        assert header["status"] == "failed_closed"
        assert (image == 96).all()
    assert messages["status"][-1][0]["counts"]["failed_closed"] >= 1


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def next_status(subscriber: Subscriber) -> dict:
    for _ in range(100):
        message = subscriber.receive(1.0)
        if message is not None and message.topic == "status":
            return message.header
    raise AssertionError("no status message")


def test_a_subscriber_that_stops_reading_does_not_stall_the_daemon(tmp_path, shared_data):
    """Capture, processing and publishing all go on while a subscriber's queue is full.

    Asserted on the daemon's own counters, not on a rate, so a busy machine
    passes as long as nothing waits on the stuck subscriber.
    """
    import zmq

    endpoint = f"tcp://127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "dmask.yaml", shared_data / "videos/lp_driving_d1.mp4", endpoint)
    process = subprocess.Popen(dmask_command("run", "--config", config), env=dmask_env(), stderr=subprocess.PIPE, text=True)
    context = zmq.Context()
    stuck = context.socket(zmq.SUB)
    try:
        with Subscriber(endpoint, topics=(Topic.STATUS,)) as watcher:
            next_status(watcher)
            memory_before = rss_mib(process.pid)
            stuck.setsockopt(zmq.SUBSCRIBE, b"")
            stuck.connect(endpoint)
            statuses = [next_status(watcher) for _ in range(8)]
            memory_after = rss_mib(process.pid)
        assert stuck.poll(0), "the stuck subscriber has a backlog waiting"
        process.send_signal(signal.SIGTERM)
        assert process.wait(5) == 0, process.stderr.read()
    finally:
        process.kill()
        stuck.close(linger=0)
        context.term()
    for earlier, later in zip(statuses, statuses[1:]):
        assert later["uptime_s"] > earlier["uptime_s"]
        assert later["source"]["frames"] > earlier["source"]["frames"], "capture went on"
        assert later["counts"]["frames"] > earlier["counts"]["frames"], "processing went on"
        # CPU per wall second between the two messages: some, and no more than the machine has.
        assert 0 < later["cpu_cores"] <= os.cpu_count()
        p50, p99 = later["latency_ms_p50"]["capture_to_publish"], later["latency_ms_p99"]["capture_to_publish"]
        assert 0 < p50 <= p99
    assert memory_after - memory_before < 30


def test_curve_daemon_serves_only_allowed_keys(tmp_path, shared_data):
    from dmask.serve.transport import generate_keys

    _, server_secret = generate_keys(tmp_path / "server", "server")
    allowed_public, allowed_secret = generate_keys(tmp_path / "allowed", "client")
    _, stranger_secret = generate_keys(tmp_path / "stranger", "client")
    (tmp_path / "clients").mkdir()
    (tmp_path / "clients" / "client.key").write_bytes(allowed_public.read_bytes())
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "dmask.yaml", shared_data / "videos/lp_driving_d1.mp4", endpoint)
    config.write_text(
        config.read_text()
        + f"  curve_secret_key: {server_secret}\n  curve_allowed_keys: {tmp_path / 'clients'}\n"
    )
    process = subprocess.Popen(dmask_command("run", "--config", config), env=dmask_env(), stderr=subprocess.PIPE, text=True)
    server_public = tmp_path / "server" / "server.key"
    try:
        with Subscriber(endpoint, topics=(Topic.FRAME,), client_secret_key=allowed_secret, server_public_key=server_public) as allowed, \
                Subscriber(endpoint, topics=(Topic.FRAME,), client_secret_key=stranger_secret, server_public_key=server_public) as stranger, \
                Subscriber(endpoint, topics=(Topic.FRAME,)) as plain:
            first = [allowed.receive(30.0)]
            deadline = time.monotonic() + 3.0
            others = []
            while time.monotonic() < deadline:
                first.append(allowed.receive(0.2))
                others += [stranger.receive(0.01), plain.receive(0.01)]
        process.send_signal(signal.SIGTERM)
        assert process.wait(5) == 0, process.stderr.read()
    finally:
        process.kill()
    received = [m for m in first if m is not None]
    assert len(received) > 30
    assert all(m is None for m in others)


def stderr_until(process: subprocess.Popen, wanted: str, timeout: float = 60.0) -> list[str]:
    """The process's stderr lines up to and including the first that starts with wanted."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if line.startswith(wanted):
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout), f"no line starting {wanted!r} in {lines}"
    return lines


@pytest.mark.parametrize("source, kind, shown", [
    ("/dev/video9", "camera", "/dev/video9"),
    ("rtsp://admin:hunter2@127.0.0.1:9/live?token=s3cret", "rtsp", "rtsp://127.0.0.1:9"),
    ("rtsp://admin:hunt@er2 s3cret@127.0.0.1:9/live", "rtsp", "rtsp://127.0.0.1:9"),
    ("gst:rtspsrc location=rtsp://127.0.0.1:9/s user-id=admin user-pw=hunter2 ! decodebin", "gstreamer",
     "rtspsrc ! decodebin ! appsink from rtsp://127.0.0.1:9"),
])
def test_the_daemon_logs_its_start_and_a_missing_source_without_credentials(tmp_path, source, kind, shown):
    endpoint = f"ipc://{tmp_path / 'pub'}"
    config = tmp_path / "dmask.yaml"
    config.write_text(f"source:\n  uri: '{source}'\n  stall_seconds: 1.0\n  reopen_seconds: 0.2\npublish:\n  endpoints: [{endpoint}]\n")
    process = subprocess.Popen(dmask_command("run", "--config", config), env=dmask_env(), stderr=subprocess.PIPE, text=True)
    try:
        lines = stderr_until(process, "dmask: source down: ")
        process.send_signal(signal.SIGTERM)
        assert process.wait(5) == 0
        lines += process.stderr.read().splitlines()
    finally:
        process.kill()
    assert lines[0] == (
        f"dmask: started: version {__version__}; source {kind} {shown}; publishing jpeg frames on {endpoint} (CURVE off); "
        "inference detector litert, mesh litert, iris litert; render cpu"
    )
    assert lines[1] == f"dmask: source down: cannot open {kind} source {shown}; reopening in 0.2 s (attempt 1)"
    assert re.fullmatch(r"dmask: stopped: 0 frames processed, 0 dropped \(0 before processing, 0 before publishing, "
                        r"0 by the publisher\), \d+ published, 0 failed closed", lines[-1]), lines[-1]
    text = "\n".join(lines)
    assert "hunter2" not in text and "s3cret" not in text and "Traceback" not in text
