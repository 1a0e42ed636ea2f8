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
import numpy as np
import pytest

from edge.records import EyeParams, MaskParams

REPO_ROOT = Path(__file__).resolve().parents[1]


def dmask_command(*args) -> list[str]:
    return [sys.executable, "-m", "edge.cli", *map(str, args)]


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


def mask_params(expression_vertices: int = 4, **changes) -> MaskParams:
    """A plausible face (turned 15 degrees, eyes open, gaze 10 degrees left), changed as asked."""
    eye = EyeParams(gaze_yaw=math.radians(10), gaze_pitch=0.0, upper_aperture=0.2, lower_aperture=0.1)
    face = MaskParams(
        track_id=7, rotation=rotation(15, 5, -3), translation=np.array([320, 240, 900], np.float32), scale=80.0,
        right_eye=eye, left_eye=eye, expression=np.zeros((expression_vertices, 3), np.float32),
        mouth_open=0.05, brow_raise_right=0.0, brow_raise_left=0.01, mouth_corner_right=0.0,
        mouth_corner_left=0.0, confidence=0.9,
    )
    return dataclasses.replace(face, **changes)


def video_streams(path: Path) -> list[tuple[str, str, str | None]]:
    """(type, codec, pixel format) of every stream in a media file, as FFmpeg reads it."""
    with av.open(str(path)) as container:
        return [
            (stream.type, stream.codec_context.name, getattr(stream.codec_context, "pix_fmt", None))
            for stream in container.streams
        ]
