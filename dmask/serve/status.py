"""The daemon's health report: one typed record for the `status` topic.

The daemon builds a DaemonStatus about once a second; `to_wire` is the JSON
body it publishes (docs/WIRE.md) and `from_wire` reads one back for the
recorder and `dmask status`. Reading is lenient, since a subscriber may be
older or newer than the daemon: a missing, mistyped or unknown field becomes
its default (None for a figure, shown as "?") instead of an error.
"""

from __future__ import annotations

import dataclasses
import enum
import time
import typing
from dataclasses import dataclass, field
from typing import Any

from dmask.capture.sources import SourceState, SourceStatus


@dataclass(frozen=True)
class Drops:
    """Frames lost on the way, by where: the newest-item slot before
    processing, the one before publishing, and messages ZeroMQ refused."""

    before_processing: int | None = None
    before_publishing: int | None = None
    publisher: int | None = None

    def line(self) -> str:
        """`3 dropped (0 before processing, 1 before publishing, 2 by the publisher)`; `?` for an unknown count."""
        parts = (self.before_processing, self.before_publishing, self.publisher)
        total = sum(parts) if None not in parts else None
        return (f"{_num(total)} dropped ({_num(parts[0])} before processing, {_num(parts[1])} before publishing, "
                f"{_num(parts[2])} by the publisher)")


@dataclass(frozen=True)
class Latencies:
    """Milliseconds over the recent frames, at one percentile; None before any frame."""

    inference: float | None = None
    fit: float | None = None
    render: float | None = None
    capture_to_publish: float | None = None


@dataclass(frozen=True)
class Counts:
    """Frames processed since start, and what became of them."""

    frames: int | None = None
    faces: int | None = None
    failed_closed: int | None = None
    no_face: int | None = None


@dataclass(frozen=True)
class DaemonStatus:
    """Rates (frames per second since start), drops, latencies, the source, uptime.

    cpu_cores: the daemon process's CPU time (all threads) per second of wall
    time since the previous status: 1.0 is one core kept busy.
    """

    uptime_s: float | None = None
    fps_in: float | None = None
    fps_out: float | None = None
    dropped: Drops = field(default_factory=Drops)
    latency_ms_p50: Latencies = field(default_factory=Latencies)
    latency_ms_p99: Latencies = field(default_factory=Latencies)
    cpu_cores: float | None = None
    source: SourceStatus | None = None
    counts: Counts = field(default_factory=Counts)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body of a status message, without the wire version."""
        return dataclasses.asdict(self, dict_factory=lambda items: {k: _plain(v) for k, v in items})

    @staticmethod
    def from_wire(body: dict) -> "DaemonStatus":
        return _read(DaemonStatus, body)

    def line(self) -> str:
        """One readable line, e.g. `source up | 29.8 fps in, 29.7 fps out | 357
        frames processed, 0 dropped (0 before processing, 0 before publishing,
        0 by the publisher) | inference 5.4 ms, render 4.1 ms | capture to
        publish 12.0 ms (p99 19.4) | cpu 0.8 cores | uptime 12.0 s`."""
        source = self.source
        state = f"source {source.state.value if source else '?'}"
        if source and source.last_error and source.state is not SourceState.UP:
            state += f" ({source.last_error})"
        latency = self.latency_ms_p50
        return " | ".join([
            state,
            f"{_num(self.fps_in)} fps in, {_num(self.fps_out)} fps out",
            f"{_num(self.counts.frames)} frames processed, {self.dropped.line()}",
            f"inference {_num(latency.inference)} ms, render {_num(latency.render)} ms",
            f"capture to publish {_num(latency.capture_to_publish)} ms (p99 {_num(self.latency_ms_p99.capture_to_publish)})",
            f"cpu {_num(self.cpu_cores)} cores",
            f"uptime {_num(self.uptime_s)} s",
        ])


class CpuMeter:
    """This process's CPU time (all its threads) per second of wall time, between readings."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.monotonic(), time.process_time()

    def cores(self) -> float | None:
        """Cores kept busy since the last reading (None if no time has passed)."""
        wall, cpu = time.monotonic(), time.process_time()
        elapsed, used = wall - self.wall, cpu - self.cpu
        self.wall, self.cpu = wall, cpu
        return round(used / elapsed, 3) if elapsed > 0 else None


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _read(cls: type, body: Any) -> Any:
    """cls from a JSON object, field by field, defaults for whatever is off."""
    body = body if isinstance(body, dict) else {}
    hints = typing.get_type_hints(cls)
    values = {}
    for item in dataclasses.fields(cls):
        if item.name not in body:
            continue
        kind, value = _unless_none(hints[item.name]), body[item.name]
        if dataclasses.is_dataclass(kind):
            values[item.name] = _read(kind, value)
        elif (parsed := _scalar(kind, value)) is not None:
            values[item.name] = parsed
    return cls(**values)


def _unless_none(kind: Any) -> Any:
    """X for `X | None` where X is a record; kind otherwise."""
    records = [option for option in typing.get_args(kind) if dataclasses.is_dataclass(option)]
    return records[0] if records else kind


def _scalar(kind: Any, value: Any) -> Any:
    """value as kind (int, float, str, an enum, or one of them | None), or None."""
    options = typing.get_args(kind) or (kind,)
    if isinstance(value, bool):
        return None
    for option in options:
        if isinstance(option, type) and issubclass(option, enum.Enum):
            try:
                return option(value)
            except ValueError:
                return None
        if option is float and isinstance(value, (int, float)):
            return float(value)
        if option in (int, str) and isinstance(value, option):
            return value
    return None


def _num(value: float | None) -> str:
    """A figure as shown: "?" when unknown, counts whole, rates to one decimal."""
    if value is None:
        return "?"
    return str(value) if isinstance(value, int) else f"{value:.1f}"
