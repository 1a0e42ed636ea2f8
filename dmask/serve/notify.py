"""sd_notify: tell systemd we are ready, what we are doing, and that we are alive.

The protocol is one datagram to the unix socket named in $NOTIFY_SOCKET
(a leading "@" means the abstract namespace); without that variable (not
under systemd, or Type=simple) every call is a no-op.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address

    def send(self, *lines: str) -> None:
        if not self.address:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto("\n".join(lines).encode(), self.address)
            except OSError:
                pass  # systemd gone or socket unreachable: nothing to tell
