"""What the two kinds of PACS link (dimse.py, stow.py) share: the interface, the PACS's name in messages, TLS.

Both links answer the two questions delivery needs, `holds(ds)` (is this
SOP instance already in the PACS: then it is never sent again) and
`store(ds)`, and turn every failure into one DeliveryError line that says
what to check: the host and port, the AE titles, the certificate, or the
PACS's refusal status.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from typing import Protocol

from pydicom.dataset import Dataset

from dmask.config.services import PacsConfig, PacsProtocol
from dmask.errors import DeliveryError

# pynetdicom and dicomweb-client log every refused connection themselves;
# dmask says it once, as a DeliveryError.
for _name in ("pynetdicom", "dicomweb_client"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

Progress = Callable[[int], None]  # called with the bytes just sent


class Link(Protocol):
    def holds(self, ds: Dataset) -> bool: ...

    def store(self, ds: Dataset) -> None: ...


def describe(config: PacsConfig) -> str:
    """The PACS as a log line names it (no credentials: none are configured)."""
    if config.protocol is PacsProtocol.STOW:
        return f"PACS at {config.stow_url}"
    return f"PACS {config.called_ae} at {config.host}:{config.port}"


def tls_context(config: PacsConfig) -> ssl.SSLContext | None:
    """The TLS client context for pacs.tls_* files, or None for plain TCP."""
    if not config.tls_ca_file:
        return None
    try:
        context = ssl.create_default_context(cafile=config.tls_ca_file)
        if config.tls_cert_file:
            context.load_cert_chain(config.tls_cert_file, config.tls_key_file or None)
    except (OSError, ssl.SSLError) as error:
        raise DeliveryError(f"pacs.tls_*: cannot load the TLS files ({error}); check pacs.tls_ca_file, "
                            "pacs.tls_cert_file and pacs.tls_key_file") from error
    return context


