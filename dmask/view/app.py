"""The view's HTTP surface (Starlette): a login form, the page, the MJPEG stream and the event stream.

Why MJPEG and Server-Sent Events, not WebRTC: the daemon already publishes
each masked frame as a JPEG, so the relay sends those bytes unchanged (no
transcoding on the box, one frame of delay), and both are plain HTTPS
responses on one port, which a clinic's proxy passes, where WebRTC needs UDP
or a TURN relay that hospital networks rarely allow. The cost is bandwidth:
a JPEG per frame, small for a rendered face.

Every route but /login answers 401 without a live session, and no frame or
signal byte leaves before that check. Forms carry a CSRF token (the login's
in a cookie of its own, the logout's in the session), cookies are HttpOnly
and SameSite=Strict (Secure over HTTPS), and every response forbids framing,
inline script and any origin but this one. Logins, failed logins, lockouts
and who watched for how long go to the audit log; frames never do.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from dmask.view.auth import Lockout, Sessions, Users
from dmask.view.relay import Relay

audit = logging.getLogger("dmask.view.audit")

STATIC = Path(__file__).with_name("static")
SESSION_COOKIE = "dmask_session"
LOGIN_CSRF_COOKIE = "dmask_login_csrf"
BOUNDARY = "dmask-frame"
HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
HSTS = "max-age=31536000"  # over HTTPS: a browser that has been here never tries plain HTTP for a year
_ASSETS = {"view.js": "text/javascript", "view.css": "text/css"}
# Password hashes (scrypt, about 16 MB and tens of ms each) run on worker threads, this many at a time: on the
# event loop, 64 failed logins stalled every viewer's stream for over a second (issue 26); unbounded, a burst
# of them would take the memory and both cores. Logins beyond it wait their turn.
HASHES_AT_ONCE = 2


def _page(name: str, **values: str) -> str:
    text = (STATIC / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value, quote=True))
    return text


class ViewApp:
    """The routes, bound to one relay, users file, session store and lockout."""

    def __init__(self, relay: Relay, users: Users, sessions: Sessions, lockout: Lockout, https: bool) -> None:
        self.relay, self.users, self.sessions, self.lockout, self.https = relay, users, sessions, lockout, https
        self._hashing = asyncio.Semaphore(HASHES_AT_ONCE)
        self.app = Starlette(lifespan=self._lifespan, routes=[
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/", self.index, methods=["GET"]),
            Route("/static/{name}", self.asset, methods=["GET"]),
            Route("/stream.mjpg", self.stream, methods=["GET"]),
            Route("/events", self.events, methods=["GET"]),
        ])
        self.app.add_middleware(_SecurityHeaders, https=https)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """The relay runs while the server does, handing messages to the server's own loop."""
        self.relay.start(asyncio.get_running_loop())
        try:
            yield
        finally:
            self.relay.stop()

    def _who(self, user: str) -> str:
        """A typed user name as the audit log may keep it: a user's name, or only a digest of anything else
        (a password typed into the name field must not be logged)."""
        if self.users.known(user):
            return repr(user)
        return f"an unknown name (sha256 {hashlib.sha256(user.encode('utf-8')).hexdigest()[:12]})"

    def _session(self, request: Request):
        return self.sessions.get(request.cookies.get(SESSION_COOKIE))

    def _cookie(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, secure=self.https, samesite="strict", path="/")

    @staticmethod
    def _unauthorised() -> Response:
        return HTMLResponse('<!doctype html><title>dmask view</title><p>Log in first: <a href="/login">log in</a>.',
                            status_code=401)

    async def login_form(self, request: Request, message: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(32)
        response = HTMLResponse(_page("login.html", csrf=token, message=message), status_code=status)
        self._cookie(response, LOGIN_CSRF_COOKIE, token)
        return response

    async def login(self, request: Request) -> Response:
        form = await request.form()
        address = _address(request)
        user = str(form.get("user", ""))[:64]
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not secrets.compare_digest(expected, str(form.get("csrf", ""))):
            return await self.login_form(request, "The form had expired; try again.", 403)
        async with self._hashing:  # the lockout is judged in turn too, so waiting logins cannot outrun it
            wait = self.lockout.wait_s(f"address:{address}", f"user:{user}")
            if wait <= 0:
                matched = await asyncio.to_thread(self.users.check, user, str(form.get("password", "")))
                if not matched:
                    self.lockout.failed(f"address:{address}", f"user:{user}")
        if wait > 0:
            audit.info("login for %s from %s refused: locked out for %.0f s more", self._who(user), address, wait)
            response = await self.login_form(request, f"Too many failed logins; try again in {wait:.0f} s.", 429)
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        if not matched:
            audit.info("failed login for %s from %s", self._who(user), address)
            return await self.login_form(request, "Wrong user name or password.", 401)
        audit.info("%s logged in from %s", user, address)
        response = RedirectResponse("/", status_code=303)
        self._cookie(response, SESSION_COOKIE, self.sessions.open(user), int(self.sessions.lifetime_s) + 1)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    async def logout(self, request: Request) -> Response:
        session = self._session(request)
        form = await request.form()
        if session is None or not secrets.compare_digest(session.csrf, str(form.get("csrf", ""))):
            return self._unauthorised()
        self.sessions.close(request.cookies.get(SESSION_COOKIE))
        audit.info("%s logged out", session.user)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def index(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return self._unauthorised()
        return HTMLResponse(_page("view.html", csrf=session.csrf, user=session.user))

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if self._session(request) is None:
            return self._unauthorised()
        if name not in _ASSETS:
            return Response(status_code=404)
        return Response((STATIC / name).read_bytes(), media_type=_ASSETS[name])

    async def stream(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return self._unauthorised()
        return StreamingResponse(self._frames(request, session.user),
                                 media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}")

    async def _frames(self, request: Request, user: str) -> AsyncIterator[bytes]:
        address = _address(request)
        started, sent = time.monotonic(), 0
        version = max(self.relay.frames.version - 1, 0)  # the newest frame at once, or the first to come
        audit.info("%s started watching from %s", user, address)
        try:
            while self._session(request) is not None:
                version, picture = await self.relay.frames.after(version)
                yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(picture.jpeg)}\r\n"
                       f"X-Seq: {picture.seq}\r\nX-Capture-Ts: {picture.capture_ts:.6f}\r\n\r\n").encode() + \
                    picture.jpeg + b"\r\n"
                sent += 1
        finally:
            audit.info("%s stopped watching from %s after %.0f s (%d frames)", user, address,
                          time.monotonic() - started, sent)

    async def events(self, request: Request) -> Response:
        if self._session(request) is None:
            return self._unauthorised()
        return StreamingResponse(self._events(request), media_type="text/event-stream")

    async def _events(self, request: Request) -> AsyncIterator[bytes]:
        """The signals of every frame, and the status whenever a new one came."""
        seen, status_seen = self.relay.signals.version, 0
        while self._session(request) is not None:
            seen, body = await self.relay.signals.after(seen)
            yield f"event: signals\ndata: {body}\n\n".encode()
            if self.relay.status.version > status_seen:
                status_seen = self.relay.status.version
                yield f"event: status\ndata: {self.relay.status.value}\n\n".encode()


def _address(request: Request) -> str:
    """The client's address, as the audit log names it."""
    return request.client.host if request.client else "unknown"


class _SecurityHeaders:
    """The same strict headers on every response (pure ASGI: streaming responses are not buffered)."""

    def __init__(self, app, https: bool) -> None:
        self.app = app
        headers = {**HEADERS, **({"Strict-Transport-Security": HSTS} if https else {})}
        self.headers = [(key.lower().encode(), value.encode()) for key, value in headers.items()]

    async def __call__(self, scope, receive, send) -> None:
        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.headers
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)
