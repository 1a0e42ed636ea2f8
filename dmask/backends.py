"""The one rule for a stage that has a faster backend than the CPU: the
preferred backend where it starts, else the CPU, said once.

Inference (TensorRT, else the CPU; there, LiteRT, else onnxruntime) and
rendering (CUDA, else numba on the CPU) follow it, and `dmask check`
reports what it chose, so what check says is what a run does. A setting
names the preferred backend (fall back with one warning: it was asked for),
AUTO (fall back quietly where it is simply not installed) or the CPU (never
try the GPU). A backend that is installed but fails to start is always a
warning.
"""

from __future__ import annotations

import enum
import logging
from typing import Callable, TypeVar

from dmask.errors import DmaskError

log = logging.getLogger(__name__)

T = TypeVar("T")


class BackendUnavailable(DmaskError):
    """The preferred backend is not on this machine (no package, no device)."""


def preferred_or_cpu(
    setting: str,
    asked: enum.Enum,
    preferred: enum.Enum,
    start_preferred: Callable[[], T],
    start_cpu: Callable[[], T],
    cpu_name: str,
) -> T:
    """start_preferred() when asked is preferred or "auto" and it starts, else start_cpu().

    setting: the config key, for the warning (e.g. "render.backend");
    cpu_name: what the warning says is used instead.
    """
    if asked is preferred or asked.value == "auto":
        try:
            return start_preferred()
        except (BackendUnavailable, ImportError) as reason:
            if asked is preferred:
                log.warning("%s %s is not available (%s); using %s", setting, preferred.value, reason, cpu_name)
        except Exception as error:  # noqa: BLE001 - an installed GPU stack that will not start means the CPU
            log.warning("%s %s failed to start (%s: %s); using %s", setting, preferred.value, type(error).__name__, error, cpu_name)
    return start_cpu()
