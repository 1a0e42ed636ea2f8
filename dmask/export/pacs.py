"""The link to the configured PACS for one delivery round: an association (DIMSE) or an HTTP session (DICOMweb)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dmask.config.services import PacsConfig, PacsProtocol
from dmask.export.dimse import associate
from dmask.export.link import Link, Progress
from dmask.export.stow import StowLink


@contextmanager
def open_link(config: PacsConfig, contexts: list[tuple[str, str]], progress: Progress | None = None) -> Iterator[Link]:
    """A link to the configured PACS for a delivery round. contexts: the (SOP class, transfer syntax) pairs to send."""
    if config.protocol is PacsProtocol.STOW:
        yield StowLink(config)
        return
    with associate(config, contexts, progress) as link:
        yield link


