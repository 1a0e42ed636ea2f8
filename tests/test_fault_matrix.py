"""The fault matrix: `dmask run` as a subprocess under each fault, and no raw pixel out.

Every frame received (published losslessly, `publish.encoding: bgr`) is
scanned for raw source pixels: each 16x16 block of it, on the 16-pixel grid,
against every such block of every frame the source file decodes to (flat
blocks, which carry nothing of a person, are left out). The scanner's
positive controls, a raw frame and one raw 16x16 patch pasted into a masked
frame, must be caught. The faults: broken files (truncated, corrupt bytes,
replaced by one of another size, deleted while running), odd content (16x16,
1x1 and grey frames, a face half off the frame, a photo on noise, cuts
between people every few frames) and process faults (SIGSTOP and SIGCONT, a
subscriber that never reads, many subscribers, connect and disconnect storms).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import pytest

from dmask.serve.transport import Subscriber, Topic
from support import dmask_command, dmask_env

pytestmark = pytest.mark.slow  # a daemon per fault: `pytest -m "not slow"` leaves it out

BLOCK = 16
BACKGROUND = 96  # render.background, every channel
CLIP_FRAMES = 45


def blocks(image: np.ndarray) -> set[bytes]:
    """Digests of image's grid-aligned 16x16 blocks that are not flat."""
    h, w = (s // BLOCK * BLOCK for s in image.shape[:2])
    tiles = image[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK, 3).swapaxes(1, 2).reshape(-1, BLOCK * BLOCK * 3)
    varied = tiles[tiles.max(1) != tiles.min(1)]
    return {hashlib.blake2b(tile.tobytes(), digest_size=8).digest() for tile in varied}


def decoded_blocks(*paths: Path) -> set[bytes]:
    """Every block of every frame these files decode to, as the daemon's reader decodes them."""
    found: set[bytes] = set()
    for path in paths:
        capture = cv2.VideoCapture(str(path))
        while True:
            ok, image = capture.read()
            if not ok:
                break
            found |= blocks(image)
        capture.release()
    return found


def leaks(frames: list[np.ndarray], raw: set[bytes]) -> int:
    return sum(len(blocks(frame) & raw) for frame in frames)


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    fourcc = "MJPG" if path.suffix == ".avi" else "mp4v"
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), path
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def clip_frames(path: Path, count: int = CLIP_FRAMES, start: int = 0) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < start + count:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames[start:]


@contextmanager
def running_daemon(tmp_path: Path, source: Path, loop: bool = True) -> Iterator[tuple[str, subprocess.Popen]]:
    """`dmask run` on source, publishing bgr frames on ipc; stopped with SIGTERM, which must exit 0."""
    endpoint = f"ipc://{tmp_path / 'pub'}"
    config = tmp_path / "dmask.yaml"
    config.write_text(
        f"source:\n  uri: '{source}'\n  loop: {'true' if loop else 'false'}\n  reopen_seconds: 0.2\n  stall_seconds: 1.0\n"
        f"publish:\n  endpoints: [{endpoint}]\n  encoding: bgr\n  send_hwm: 100\n  status_interval_seconds: 0.2\n"
    )
    process = subprocess.Popen(dmask_command("run", "--config", config), env=dmask_env(), stderr=subprocess.PIPE, text=True)
    try:
        yield endpoint, process
    finally:
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(10)
        finally:
            process.kill()
        stderr = process.stderr.read()
        assert code == 0 and "Traceback" not in stderr, stderr


STARTUP_SECONDS = 60.0


def receive(endpoint: str, frames: int, seconds: float, during: Callable[[float], None] | None = None) -> list:
    """(header, image) of the frames published, until `frames` of them or `seconds` after the first;
    during(seconds since the first) runs between receives."""
    got: list = []
    deadline = time.monotonic() + STARTUP_SECONDS
    first = None
    with Subscriber(endpoint, topics=(Topic.FRAME,)) as subscriber:
        while len(got) < frames and time.monotonic() < deadline:
            if during is not None and first is not None:
                during(time.monotonic() - first)
            message = subscriber.receive(0.2)
            if message is None:
                continue
            if first is None:
                first = time.monotonic()
                deadline = first + seconds
            got.append((message.header, Subscriber.decode_frame(message)))
    return got


# --- the faults: each builds its source from ../shared/data, and may act while frames are received --------


def face_clip(videos: Path, tmp: Path, name: str = "lp_driving_d14.mp4", suffix: str = ".mp4") -> Path:
    return write_clip(tmp / f"face{suffix}", clip_frames(videos / name))


def truncated(videos, tmp):
    """An AVI cut at 60 %: its first frames decode, then the file ends early."""
    clip = face_clip(videos, tmp, suffix=".avi")
    data = clip.read_bytes()
    clip.write_bytes(data[: int(len(data) * 0.6)])
    return clip, False, None


def truncated_mp4(videos, tmp):
    """An MP4 cut at 60 %: its index (at the end) is gone, so nothing decodes."""
    clip = face_clip(videos, tmp)
    data = clip.read_bytes()
    clip.write_bytes(data[: int(len(data) * 0.6)])
    return clip, False, None


def corrupt(videos, tmp):
    clip = face_clip(videos, tmp)
    data = bytearray(clip.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = np.random.default_rng(1).integers(0, 256, 4096, np.uint8).tobytes()
    clip.write_bytes(bytes(data))
    return clip, True, None


def replaced_by_another_size(videos, tmp):
    clip = face_clip(videos, tmp)
    other = write_clip(tmp / "other.mp4", [cv2.resize(f, (320, 240)) for f in clip_frames(videos / "lp_source_s20.mp4")])
    raw_other = tmp / "raw_other.mp4"
    shutil.copy(other, raw_other)
    done = []

    def replace(elapsed: float) -> None:
        if elapsed > 1.0 and not done:
            os.replace(other, clip)
            done.append(True)

    return clip, True, replace, raw_other


def deleted_while_running(videos, tmp):
    clip = face_clip(videos, tmp)
    kept = tmp / "kept.mp4"
    shutil.copy(clip, kept)

    def delete(elapsed: float) -> None:
        if elapsed > 1.0 and clip.exists():
            clip.unlink()

    return clip, True, delete, kept


def noise_frames(size: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size[1], size[0], 3), np.uint8) for _ in range(CLIP_FRAMES)]


def tiny_16(videos, tmp):
    return write_clip(tmp / "tiny16.avi", noise_frames((16, 16))), True, None


def tiny_1(videos, tmp):
    return write_clip(tmp / "tiny1.avi", noise_frames((1, 1))), True, None


def grey(videos, tmp):
    return write_clip(tmp / "grey.mp4", [np.full((240, 320, 3), 128, np.uint8)] * CLIP_FRAMES), True, None


def half_off(videos, tmp):
    frames = clip_frames(videos / "lp_driving_d14.mp4")
    shift = frames[0].shape[1] // 2
    return write_clip(tmp / "half.mp4", [np.roll(f, shift, axis=1) for f in frames]), True, None


def photo_on_noise(videos, tmp):
    photo = cv2.imread(str(videos.parent / "identities/barack_obama/fr_obama.jpg"))
    photo = cv2.resize(photo, (240, 300))
    frames = []
    for noise in noise_frames((640, 480), seed=2):
        noise[90:390, 200:440] = photo
        frames.append(noise)
    return write_clip(tmp / "photo.mp4", frames), True, None


def cuts(videos, tmp):
    a = clip_frames(videos / "lp_driving_d14.mp4")
    b = [cv2.resize(f, a[0].shape[1::-1]) for f in clip_frames(videos / "lp_source_s29.mp4")]
    return write_clip(tmp / "cuts.mp4", [(a if (k // 3) % 2 == 0 else b)[k] for k in range(CLIP_FRAMES)]), True, None


FAULTS = {f.__name__: f for f in (truncated, truncated_mp4, corrupt, replaced_by_another_size, deleted_while_running,
                                  tiny_16, tiny_1, grey, half_off, photo_on_noise, cuts)}
# What else each fault must show, from the frames' (header, image) pairs: that the fault happened.
SHOWN: dict[str, Callable[[list], bool]] = {
    "truncated": lambda got: {h["status"] for h, _ in got} == {"ok"},
    "truncated_mp4": lambda got: {h["status"] for h, _ in got} == {"source_down"},
    "replaced_by_another_size": lambda got: len({image.shape for _, image in got}) == 2,
    "deleted_while_running": lambda got: got[-1][0]["status"] == "source_down",
    "tiny_1": lambda got: {h["status"] for h, _ in got} == {"no_face"},
    "grey": lambda got: {h["status"] for h, _ in got} == {"no_face"},
    "half_off": lambda got: "ok" in {h["status"] for h, _ in got},
    "photo_on_noise": lambda got: "ok" in {h["status"] for h, _ in got},
    "cuts": lambda got: "ok" in {h["status"] for h, _ in got},
}


@pytest.fixture(scope="module")
def videos(shared_data) -> Path:
    return shared_data / "videos"


def test_the_scanner_catches_a_raw_frame_and_one_pasted_raw_patch(videos, tmp_path):
    """The positive controls: without them, 0 leaks would prove nothing."""
    clip = face_clip(videos, tmp_path)
    raw = decoded_blocks(clip)
    frame = clip_frames(clip, 1)[0]
    masked = np.full_like(frame, BACKGROUND)
    assert leaks([masked], raw) == 0
    assert leaks([frame], raw) > 100
    masked[160:176, 240:256] = frame[160:176, 240:256]
    assert leaks([masked], raw) == 1


@pytest.mark.parametrize("fault", FAULTS)
def test_no_raw_pixel_leaves_under_a_source_fault(videos, tmp_path, fault):
    source, loop, during, *kept = FAULTS[fault](videos, tmp_path)
    raw = decoded_blocks(source, *kept)
    with running_daemon(tmp_path, source, loop) as (endpoint, _):
        received = receive(endpoint, frames=80, seconds=4.0, during=during)
    frames = [image for _, image in received]
    assert frames, f"{fault}: no frame was published"
    assert leaks(frames, raw) == 0
    assert SHOWN.get(fault, lambda got: True)(received), (fault, [h["status"] for h, _ in received], {f.shape for f in frames})
    if min(frames[0].shape[:2]) < BLOCK:  # no whole block to compare: the frame must be the background alone
        assert all((image == BACKGROUND).all() for image in frames)
    print(f"fault matrix: {fault}: {len(frames)} frames scanned, 0 leaks; "
          f"statuses {sorted({h['status'] for h, _ in received})}")


def test_no_raw_pixel_leaves_and_frames_flow_under_process_faults(videos, tmp_path):
    """SIGSTOP then SIGCONT, a subscriber that never reads, 20 more subscribers, and 50 connect-disconnect cycles."""
    source = face_clip(videos, tmp_path)
    raw = decoded_blocks(source)
    with running_daemon(tmp_path, source) as (endpoint, process):
        stalled = Subscriber(endpoint, topics=(Topic.FRAME,))  # never reads
        many = [Subscriber(endpoint, topics=(Topic.FRAME,)) for _ in range(20)]
        stopped = []

        def act(elapsed: float) -> None:
            if 1.0 < elapsed and not stopped:
                process.send_signal(signal.SIGSTOP)
                time.sleep(1.0)
                process.send_signal(signal.SIGCONT)
                stopped.append(True)
            elif stopped and len(stopped) < 50:
                Subscriber(endpoint, topics=(Topic.FRAME,)).close()  # a storm, spread over the receiving
                stopped.append(True)

        try:
            received = receive(endpoint, frames=90, seconds=15.0, during=act)
        finally:
            for subscriber in [stalled, *many]:
                subscriber.close()
    frames = [image for _, image in received]
    assert len(stopped) == 50 and len(frames) >= 90, (len(stopped), len(frames))
    assert leaks(frames, raw) == 0
    assert sum(header["status"] == "ok" for header, _ in received) >= 60
    print(f"fault matrix: process faults: {len(frames)} frames scanned, 0 leaks")
