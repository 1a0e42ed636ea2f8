"""What of a source setting may be shown: the one place that decides it.

A camera's credentials live in its source setting (an RTSP URL's user info, a
query token, a GStreamer element's `user-pw=`), and the setting is shown in the
start line, the source's state lines, the status topic, `dmask status` and the
view. Rather than cut known secrets out of it (a password with an `@` or a
space defeated that), `shown_source` builds what may be shown from the parts
that are never secret, preferring to show too little: the kind and the host
of a network source, the element names of a pipeline, a device's path, a
file's name. `scrubbed` cleans free text (an error a backend raised) of every
secret the setting holds.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(\S*)")
_HOST = re.compile(r"[^/?#\s]*")
_ELEMENT = re.compile(r"[A-Za-z0-9_-]+")
_PROPERTY_VALUE = re.compile(r"=\s*(\"[^\"]*\"|'[^']*'|\S+)")
GST_PREFIX = "gst:"
MIN_SECRET = 2  # a one-character secret would blank every such character of a message
REDACTED = "***"


def shown_source(setting: str) -> str:
    """A source setting (source.uri) as it may be logged, published or shown.

    A URL: its scheme and host (port kept; user info, path and query never).
    A GStreamer pipeline: its element names, then the hosts of any URLs in it.
    A device (an index or a /dev path): itself. Anything else: a file's name.
    """
    text = setting.strip()
    if text.lower().startswith(GST_PREFIX):
        return _pipeline(text[len(GST_PREFIX):])
    if _URL.match(text):  # the whole setting is the URL: a password may hold spaces
        scheme, rest = text.split("://", 1)
        return f"{scheme}://{_split(rest)[1]}"
    if text.isdigit() or text.startswith("/dev/"):
        return text
    return Path(text).name


def scrubbed(text: str, setting: str) -> str:
    """Free text (an error message) as it may be shown: the setting itself as shown_source shows it, every
    secret it holds as ***, and any URL cut to its scheme and host."""
    if setting.strip():
        text = text.replace(setting.strip(), shown_source(setting))
    for secret in sorted(_secrets(setting), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _URL.sub(_scheme_host, text)


def _split(rest: str) -> tuple[str, str, str]:
    """(user info, host[:port], the rest) of what follows a URL's `://`: the host follows the last @ (a
    password may hold @, :, / or spaces)."""
    userinfo = rest[: rest.rfind("@")] if "@" in rest else ""
    after = rest[len(userinfo) + bool(userinfo):]
    host = _HOST.match(after).group(0)
    return userinfo, host, after[len(host):]


def _scheme_host(url: re.Match) -> str:
    """scheme://host[:port] of a URL found in text."""
    return f"{url.group(1)}://{_split(url.group(2))[1]}"


def _pipeline(pipeline: str) -> str:
    """A GStreamer pipeline's element names (a caps filter as `caps`), then its URLs' hosts; no property."""
    elements = []
    for part in pipeline.split("!"):
        words = part.split()
        if words:
            elements.append(words[0] if _ELEMENT.fullmatch(words[0]) else "caps")
    hosts = [_scheme_host(url) for url in _URL.finditer(pipeline)]
    return " ! ".join(elements) + (f" from {', '.join(hosts)}" if hosts else "")


def _secrets(setting: str) -> set[str]:
    """Every string of the setting that may be a secret: each URL's user info (whole, user, password; as
    written and decoded), path and query, and every GStreamer property's value."""
    found: set[str] = set()
    text = setting.strip()
    whole = [text.split("://", 1)[1]] if _URL.match(text) else []  # the setting is one URL, spaces and all
    for rest in whole or [url.group(2) for url in _URL.finditer(text)]:
        userinfo, _, after = _split(rest)
        found |= {userinfo, *userinfo.split(":", 1), after} if userinfo else {after}
    if text.lower().startswith(GST_PREFIX):
        found |= {value.strip("\"'") for value in _PROPERTY_VALUE.findall(setting)}
    found |= {unquote(secret) for secret in found}
    return {secret for secret in found if len(secret) >= MIN_SECRET}
