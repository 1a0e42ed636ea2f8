"""Running `dmask view`: the relay and the app under uvicorn, HTTPS where a certificate is configured."""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn

from edge.config import Config
from edge.errors import ConfigError
from edge.view.app import ViewApp
from edge.view.auth import Lockout, Sessions, Users
from edge.view.relay import Relay

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
    logging.getLogger("dmask.view.audit").setLevel(logging.INFO)
    scheme = "https" if view.tls_cert_file else "http"
    log.warning("view on %s://%s:%d, relaying %s", scheme, view.host, view.port, view.endpoint)
    server = uvicorn.Server(uvicorn.Config(
        app.app, host=view.host, port=view.port, ssl_certfile=view.tls_cert_file or None,
        ssl_keyfile=view.tls_key_file or None, log_level="warning", access_log=False,
        timeout_graceful_shutdown=2, lifespan="on"))
    server.run()
