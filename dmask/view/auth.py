"""Who may watch: the users file (scrypt hashes), sessions that expire, and a lockout for failed logins.

Passwords are never stored or logged: the users file holds per-user salts
and scrypt hashes (RFC 7914; hashlib, no extra dependency), written
atomically with mode 0600 by `dmask view add-user`. A session is a random
token held in memory (a restart logs everyone out), with its own CSRF token;
failed logins are counted per address and per user name, and either one
reaching view.max_failed_logins within view.lockout_seconds locks it out for
that long, so guessing is slow even across many addresses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dmask.errors import ConfigError, InputError
from dmask.capture.media import AtomicFile

MIN_PASSWORD = 12
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_USER_NAME = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")


def _hash(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)


class Users:
    """The users file: {name: {salt, hash, n, r, p}} in hex."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _load(self) -> dict[str, dict]:
        try:
            users = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise ConfigError(f"{self.path}: cannot read the users file ({error}); recreate it with "
                              "dmask view add-user") from error
        if not isinstance(users, dict):
            raise ConfigError(f"{self.path}: not a users file; recreate it with dmask view add-user")
        return users

    def names(self) -> list[str]:
        return sorted(self._load())

    def add(self, name: str, password: str) -> None:
        """Add or replace one user, the file written atomically and readable by its owner only."""
        if not name or not set(name) <= _USER_NAME or len(name) > 64:
            raise InputError(f"{name!r}: a user name is 1 to 64 letters, digits and . _ - @")
        if len(password) < MIN_PASSWORD:
            raise InputError(f"the password is too short: give at least {MIN_PASSWORD} characters")
        users = self._load()
        salt = secrets.token_bytes(16)
        users[name] = {"salt": salt.hex(), "hash": _hash(password, salt, **_SCRYPT).hex(), **_SCRYPT}
        with AtomicFile(self.path, "w", encoding="utf-8") as out:
            os.chmod(out.temp_path, 0o600)
            json.dump(users, out.file, indent=1, sort_keys=True)

    def known(self, name: str) -> bool:
        return name in self._load()

    def check(self, name: str, password: str) -> bool:
        """Whether name and password match; as slow for an unknown name as for a known one."""
        entry = self._load().get(name)
        salt = bytes.fromhex(entry["salt"]) if entry else b"\0" * 16
        params = {k: int(entry[k]) for k in _SCRYPT} if entry else _SCRYPT
        computed = _hash(password, salt, **params)
        return entry is not None and hmac.compare_digest(computed, bytes.fromhex(entry["hash"]))


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    expires: float  # on the store's clock


class Sessions:
    """Random session tokens, each with its user, CSRF token and expiry."""

    def __init__(self, lifetime_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def open(self, user: str) -> str:
        token = secrets.token_urlsafe(32)
        self._sessions[token] = Session(user, secrets.token_urlsafe(32), self._clock() + self.lifetime_s)
        return token

    def get(self, token: str | None) -> Session | None:
        """The live session of a token; an expired one is dropped."""
        session = self._sessions.get(token or "")
        if session is not None and session.expires <= self._clock():
            del self._sessions[token]
            return None
        return session

    def close(self, token: str | None) -> None:
        self._sessions.pop(token or "", None)


class Lockout:
    """Failed logins per key (an address, a user name) in a sliding window.

    Bounded: a key's record goes when its last failure leaves the window, and
    at most MAX_KEYS are kept; beyond that, new keys share one record
    (OVERFLOW), so spraying names or addresses locks the sprayer out together
    instead of growing the table (it grew by 0.9 kB a request, issue 26).
    """

    MAX_KEYS = 10_000
    OVERFLOW = "overflow"

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def __len__(self) -> int:
        return len(self._failures)

    def _recent(self, key: str) -> deque[float]:
        """The key's failures within the window; a key with none left is forgotten."""
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= self._clock() - self.window_s:
            failures.popleft()
        if not failures:
            self._failures.pop(key, None)
        return failures

    def wait_s(self, *keys: str) -> float:
        """Seconds until the locked key of keys may try again; 0 when none is locked."""
        waits = [failures[0] + self.window_s - self._clock() for key in self._keys(keys)
                 if len(failures := self._recent(key)) >= self.limit]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        if len(self._failures) >= self.MAX_KEYS:
            for key in list(self._failures):
                self._recent(key)
        for key in self._keys(keys):
            failures = self._recent(key)
            failures.append(self._clock())
            self._failures[key] = failures

    def _keys(self, keys: tuple[str, ...]) -> list[str]:
        """The keys as recorded: those not yet known share OVERFLOW while the table is full."""
        full = len(self._failures) >= self.MAX_KEYS
        return [key if key in self._failures or not full else self.OVERFLOW for key in keys]
