"""Helpers the tests share, one home each: `from support import ...`.

Subprocesses of this checkout's `dmask`, free ports, head rotations in the
signal convention, MaskParams builders, media probes, and the guard that
makes a missing tool skip on a developer's machine but fail in CI.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from dmask.measure.action_units import CHANNELS
from dmask.measure.clinical import BLINK_COMPLETE_FRACTION, GAZE_ZERO_VERGENCE_DEG
from dmask.records import EyeParams, MaskParams

REPO_ROOT = Path(__file__).resolve().parents[1]


def dmask_command(*args) -> list[str]:
    return [sys.executable, "-m", "dmask.cli", *map(str, args)]


def dmask_env() -> dict[str, str]:
    """This checkout's edge first, whether or not it is pip-installed."""
    path = os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def dmask(cwd, *args) -> subprocess.CompletedProcess:
    """`dmask ARGS` run to its end in cwd, output captured as text."""
    return subprocess.run(
        dmask_command(*args), cwd=cwd, env=dmask_env(), capture_output=True, text=True, timeout=120
    )


def assert_error(result: subprocess.CompletedProcess, message: str) -> None:
    """Exit status 2 and exactly one line `dmask: error: message` on stderr."""
    assert result.returncode == 2
    assert result.stderr == f"dmask: error: {message}\n"


def make_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """(CA, certificate, key) PEM files in directory, made by openssl: a test CA and a server
    certificate it signed for 127.0.0.1, valid for two days."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=dmask test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.cnf")
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing(message: str) -> None:
    """A tool or file a test needs is not there: skip on a developer's
    machine, fail in CI (env CI set), where a skip would hide that nothing ran."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so this fails, not skips)")
    pytest.skip(message)


def rotation(yaw: float, pitch: float, roll: float, dtype: type = np.float32) -> np.ndarray:
    """(3, 3) R = Ry(-yaw) Rx(pitch) Rz(roll), degrees: the signal CSV's head-pose
    convention; float32 as in MaskParams, or float64 where a test needs an exactly
    orthonormal matrix."""
    y, p, r = (math.radians(a) for a in (-yaw, pitch, roll))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return (ry @ rx @ rz).astype(dtype)


OPEN_APERTURE = 0.3  # eye_params' resting opening, upper + lower


def eye_params(yaw_deg: float = 0.0, pitch_deg: float = 0.0, upper: float = 0.2, lower: float = 0.1) -> EyeParams:
    """An eye with these angles and apertures; its MRDs plausible (4.5 and 5.25 mm), not derived; its openness
    over OPEN_APERTURE, shut below BLINK_COMPLETE_FRACTION of it."""
    openness = (upper + lower) / OPEN_APERTURE
    return EyeParams(math.radians(yaw_deg), math.radians(pitch_deg), upper, lower, 4.5, 5.25, openness=openness,
                     shut=openness < BLINK_COMPLETE_FRACTION)


def mask_params(**changes) -> MaskParams:
    """A plausible face (turned 15 degrees, eyes open, gaze 10 degrees left, no action, 60 cm from the camera, whose
    fixation demands exactly the gaze zero's convergence), changed as asked."""
    eye = eye_params(yaw_deg=10)
    face = MaskParams(
        track_id=7, rotation=rotation(15, 5, -3), translation=np.array([320, 240, 900], np.float32), scale=80.0,
        right_eye=eye, left_eye=eye, action_units=np.zeros(len(CHANNELS), np.float32),
        brow_height_mm=np.zeros(2, np.float32), mouth_corner_height_mm=np.zeros(2, np.float32), confidence=0.9,
        fixation_distance_mm=600.0, fixation_demand_deg=GAZE_ZERO_VERGENCE_DEG,
        action_unit_movement=np.zeros(len(CHANNELS), np.float32),
    )
    return dataclasses.replace(face, **changes)


def decoded_frames(path: Path) -> list[np.ndarray]:
    """A video file's frames as FFmpeg decodes them, BGR: what a player shows."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]


def damaged_copy(source: Path, target: Path, size: int) -> Path:
    """source copied to target with size bytes in its middle overwritten by (seeded) noise: a damaged transfer."""
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle : middle + size] = np.random.default_rng(7).integers(0, 256, size, np.uint8).tobytes()
    target.write_bytes(bytes(data))
    return target


def video_streams(path: Path) -> list[tuple[str, str, str | None]]:
    """(type, codec, pixel format) of every stream in a media file, as FFmpeg reads it."""
    with av.open(str(path)) as container:
        return [
            (stream.type, stream.codec_context.name, getattr(stream.codec_context, "pix_fmt", None))
            for stream in container.streams
        ]


def local_shift(image: np.ndarray, centre: tuple[float, float], shift: tuple[float, float], sigma: float,
                above: float | None = None) -> np.ndarray:
    """image with the content near centre moved by shift (pixels), fading as a Gaussian of sigma.

    above: if given, only rows above y = above + shift_y move (a lid drawn down over what is
    under it, which stays put) and the shift fades out upwards instead of downwards.
    """
    height, width = image.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    weight = np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * sigma**2))
    if above is not None:
        weight = np.exp(-((x - centre[0]) ** 2) / (2 * sigma**2)) * np.clip(1 - (above + shift[1] - y) / (3 * sigma), 0, 1)
        weight[y > above + shift[1]] = 0.0
    map_x, map_y = x - shift[0] * weight, y - shift[1] * weight
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
