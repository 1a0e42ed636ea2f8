"""What uvicorn lacks to stay up on a clinic's network: bounded connections and a deadline for headers.

One unauthenticated client holding 1,100 idle connections made `GET /login`
time out for 30 s under a 1,024-file limit, and the accept loop wrote 106,449
"Too many open files" tracebacks (issue 26). uvicorn reads request headers
with no deadline and accepts every connection. `guarded_protocol` returns its
HTTP/1.1 protocol with:
- at most `max_connections_per_client` open connections per client address
  and `max_connections` in all (kept below the unit's LimitNOFILE, so the
  process never runs out of descriptors): a connection beyond either is
  closed as it arrives;
- a deadline for the first request's headers (`header_timeout_seconds`);
  uvicorn's keep-alive timeout covers the later ones;
- one log line per REFUSAL_LOG_SECONDS saying how many were refused, not one
  per connection.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.utils import get_remote_addr

log = logging.getLogger(__name__)

REFUSAL_LOG_SECONDS = 60.0


@dataclass
class _Open:
    """The server's open connections, per client address, and the refusals not yet logged."""

    per_client: Counter = field(default_factory=Counter)
    refused: int = 0
    logged_at: float = 0.0

    def refuse(self, limit_per_client: int, limit: int) -> None:
        self.refused += 1
        now = time.monotonic()
        if now - self.logged_at >= REFUSAL_LOG_SECONDS:
            log.warning("refused %d connections over the limits (%d per client, %d in all) in the last %g s",
                        self.refused, limit_per_client, limit, REFUSAL_LOG_SECONDS)
            self.refused, self.logged_at = 0, now


def guarded_protocol(max_connections_per_client: int, max_connections: int, header_timeout_seconds: float) -> type:
    """uvicorn's H11Protocol with the bounds above (uvicorn.Config(http=...))."""
    opened = _Open()

    class GuardedH11(H11Protocol):
        def connection_made(self, transport) -> None:  # type: ignore[override]
            self._client_host = (get_remote_addr(transport) or ("?", 0))[0]
            crowded = opened.per_client[self._client_host] >= max_connections_per_client
            if crowded or sum(opened.per_client.values()) >= max_connections:
                self._client_host = None
                opened.refuse(max_connections_per_client, max_connections)
                transport.abort()
                return
            opened.per_client[self._client_host] += 1
            super().connection_made(transport)
            self._headers_due = self.loop.call_later(header_timeout_seconds, self._headers_late)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None:  # the first request's headers are in
                self._headers_due.cancel()

        def _headers_late(self) -> None:
            if self.cycle is None:
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._client_host is None:  # refused: never counted, never started
                return
            self._headers_due.cancel()
            opened.per_client[self._client_host] -= 1
            if not opened.per_client[self._client_host]:
                del opened.per_client[self._client_host]
            super().connection_lost(exc)

    return GuardedH11
