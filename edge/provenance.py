"""Where a result came from: the source commit and a hash of the config it was made with."""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from edge.config import Config

_ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def source_commit() -> str:
    """The checkout's short commit, or 'unknown' outside a git checkout."""
    try:
        commit = subprocess.run(["git", "-C", str(_ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return commit or "unknown"


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def config_hash(config: Config) -> str:
    """sha256 of the whole config tree as canonical JSON: equal for equal settings, whatever file they came from."""
    text = json.dumps(_plain(dataclasses.asdict(config)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
