"""Running `dmask view`: the relay and the app under uvicorn, HTTPS where a certificate is configured."""

from __future__ import annotations

import logging
import socket
import ssl
import time
from pathlib import Path

import uvicorn

from dmask.config import Config
from dmask.errors import ConfigError
from dmask.view.app import ViewApp
from dmask.view.auth import Lockout, Sessions, Users
from dmask.view.guard import guarded_protocol
from dmask.view.relay import Relay

log = logging.getLogger(__name__)


def build(config: Config) -> ViewApp:
    """The app for a config; a users file without users is a one-line error (nobody could log in)."""
    view = config.view
    users = Users(view.users_file)
    if not users.names():
        raise ConfigError(f"{view.users_file}: no users; add one with dmask view add-user NAME")
    keys = (Path(view.curve_client_secret_key), Path(view.curve_server_public_key)) \
        if view.curve_client_secret_key else (None, None)
    return ViewApp(Relay(view.endpoint, *keys), users, Sessions(view.session_minutes * 60.0),
                   Lockout(view.max_failed_logins, view.lockout_seconds), https=bool(view.tls_cert_file))


def serve(config: Config) -> None:
    """Serve until SIGTERM or Ctrl-C; who logs in and who watches go to the log (dmask.view.audit)."""
    app = build(config)
    view = config.view
    _check_tls(view.tls_cert_file, view.tls_key_file)
    listener = _listen(view.host, view.port)
    _audit_log()
    scheme = "https" if view.tls_cert_file else "http"
    log.warning("view on %s://%s:%d, relaying %s", scheme, view.host, view.port, view.endpoint)
    server = uvicorn.Server(uvicorn.Config(
        app.app, ssl_certfile=view.tls_cert_file or None, ssl_keyfile=view.tls_key_file or None,
        log_level="warning", access_log=False, timeout_graceful_shutdown=2, lifespan="on",
        # forwarded headers only from the configured proxies: uvicorn believes any from loopback by default
        proxy_headers=bool(view.trusted_proxies), forwarded_allow_ips=list(view.trusted_proxies) or None,
        http=guarded_protocol(view.max_connections_per_client, view.max_connections, view.header_timeout_seconds)))
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:  # uvicorn re-raises the SIGTERM or Ctrl-C it shut down gracefully for
        pass
    log.warning("view stopped")


def _audit_log() -> None:
    """Who logged in, failed or watched, with when (UTC), on standard error: journald keeps it."""
    audit = logging.getLogger("dmask.view.audit")
    handler = logging.StreamHandler()
    formatter = logging.Formatter("dmask: audit %(asctime)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    audit.addHandler(handler)
    audit.setLevel(logging.INFO)
    audit.propagate = False


def _check_tls(cert: str, key: str) -> None:
    """The certificate and key load, or one line naming them (uvicorn would only say errno 2)."""
    if not cert:
        return
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or error
        raise ConfigError(f"view.tls_cert_file: cannot load {cert} with its key {key} ({reason}); "
                          "check both files and that this user may read them") from error


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a taken port is one line, not uvicorn's log."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise ConfigError(f"view.port: cannot listen on {host}:{port} ({error.strerror}); "
                          "choose another view.port or stop what uses it") from error
    listener.listen(64)
    return listener
