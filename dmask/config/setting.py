"""How a config field says which values it accepts (`setting`), and the endpoint rules several sections share.

The loader (reader.py) is driven by these fields' metadata only.
"""

from __future__ import annotations

import enum
import re
from dataclasses import field
from typing import Any, Callable


class Weaker(str, enum.Enum):
    """Which side of its default a setting lets more of a person through."""

    BELOW = "below"
    ABOVE = "above"


def setting(
    default: Any,
    *,
    doc: str,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    non_empty: bool | None = None,
    check: Callable[[Any], str | None] | None = None,
    weaker: Weaker | None = None,
) -> Any:
    """A config field with its default, what it means and the values it accepts.

    doc: what the setting does, for a person (`dmask config show`, and the
    installed example systemd/dmask.yaml, print it beside the value).
    ge / gt / le bound numbers (each item, for a list of numbers); every
    number has both a lower and an upper bound, and must be finite. non_empty
    forbids an empty list; check(value) returns what is wrong with a value
    (each item, for a list), or None. weaker: a value on that side of the
    default weakens the identity policy, and is accepted only when named in
    `acknowledge_weaker_privacy` (and logged at start). A field typed with an
    enum accepts its values only.
    """
    rules = dict(doc=doc, ge=ge, gt=gt, le=le, non_empty=non_empty, check=check, weaker=weaker)
    return field(default=default, metadata={k: v for k, v in rules.items() if v is not None})


_TCP = re.compile(r"tcp://(\[[^\]]+\]|[^:/\[\]]+):(\d+|\*)")
_IPC = re.compile(r"ipc://.+")


def tcp_host(endpoint: str) -> str | None:
    """The host of a tcp://HOST:PORT endpoint (brackets kept for IPv6), or None for another kind."""
    match = _TCP.fullmatch(endpoint)
    return match.group(1) if match else None


def endpoint_problem(endpoint: str) -> str | None:
    """What is wrong with a ZeroMQ endpoint to bind, or None.

    tcp://HOST:PORT with PORT 1..65535, or * for a free port; or ipc://PATH.
    """
    match = _TCP.fullmatch(endpoint)
    if match:
        port = match.group(2)
        if port != "*" and not 1 <= int(port) <= 65535:
            return f"port {port} is not between 1 and 65535 (in {endpoint!r})"
        return None
    if _IPC.fullmatch(endpoint):
        return None
    return f"{endpoint!r} is not tcp://HOST:PORT or ipc://PATH"
