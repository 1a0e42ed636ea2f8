"""Publishing masked frames and their signals over ZeroMQ, and reading them back.

Only MaskedFrame travels: rendered pixels and the numbers they were drawn
from, never camera pixels. docs/WIRE.md is the wire format; this module is its
reference implementation (Publisher on the edge, Subscriber for `dmask record`
and `dmask status`).

Security is decided before anything is bound: unencrypted tcp only on
loopback, anything reachable from the network only with CurveZMQ and an
explicit directory of allowed client keys (Ironhouse). Sending never blocks:
a slow or absent subscriber loses messages instead of stalling the camera.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from dmask.config import FrameEncoding, PublishConfig
from dmask.config.setting import endpoint_problem, tcp_host
from dmask.errors import ConfigError, DmaskError, StageError
from dmask.records import MaskedFrame
from dmask.signals import SCHEMA, face_record

WIRE_VERSION = 9
# what makes the CURVE key files a config names, on a machine that has none yet
KEYS_HINT = ("sudo tools/install_service.sh makes /etc/dmask/keys and its clients folder, "
             "or dmask keys generate DIR --name server makes a key pair where you point the config")
_KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_PLAIN_TCP_REFUSED = (
    "publish.endpoints: plain (unencrypted) tcp is allowed only on loopback, not {endpoint}; "
    "bind 127.0.0.1 or set publish.curve_secret_key and publish.curve_allowed_keys"
)


class Topic(str, enum.Enum):
    """The wire's topics (docs/WIRE.md); a message's first part is the name, in ASCII."""

    FRAME = "frame"
    SIGNALS = "signals"
    STATUS = "status"

    @property
    def wire(self) -> bytes:
        return self.value.encode("ascii")


@dataclass(frozen=True)
class Message:
    """One received message: topic, its JSON part, and the frame payload (frames only)."""

    topic: Topic
    header: dict
    payload: bytes | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "topic", Topic(self.topic))  # a name as well as a member


@dataclass(frozen=True)
class _CurveServer:
    """The server's key pair and the directory of client public keys it admits."""

    public: bytes
    allowed_dir: Path
    secret: bytes = field(repr=False)  # never in a repr, so never in a log


class Publisher:
    """One PUB socket bound to every configured endpoint; never blocks the caller.

    sent / dropped count multipart messages handed to ZeroMQ and refused by it.
    Note that PUB drops silently per subscriber once that subscriber's queue
    holds send_hwm messages; `dropped` only counts what ZeroMQ refused outright.
    """

    def __init__(self, config: PublishConfig, jpeg_quality: int) -> None:
        curve = check_publish(config)
        self.encoding = config.encoding
        self.jpeg_quality = jpeg_quality
        self.sent = 0
        self.dropped = 0
        self._context = zmq.Context()
        self._auth: ThreadAuthenticator | None = None
        self._socket = self._context.socket(zmq.PUB)
        self._socket.sndhwm = config.send_hwm
        self._socket.linger = 0
        try:
            if curve is not None:
                self._start_curve(curve)
            self.endpoints = tuple(self._bind(e) for e in config.endpoints)
        except BaseException:
            self.close()
            raise

    @property
    def curve(self) -> bool:
        """True when the socket encrypts and admits only allowed client keys."""
        return self._auth is not None

    def _start_curve(self, curve: _CurveServer) -> None:
        """Ironhouse: encrypted, and only clients whose public key file is in allowed_dir."""
        self._auth = ThreadAuthenticator(self._context)
        self._auth.start()
        self._auth.configure_curve(domain="*", location=str(curve.allowed_dir))
        self._socket.curve_server = True
        self._socket.curve_secretkey = curve.secret
        self._socket.curve_publickey = curve.public

    def _bind(self, endpoint: str) -> str:
        """Binds one endpoint and returns it as bound (a `*` port resolved)."""
        if endpoint.startswith("tcp://["):
            self._socket.ipv6 = True
        try:
            self._socket.bind(endpoint)
        except zmq.ZMQError as error:
            raise ConfigError(f"publish.endpoints: cannot bind {endpoint} ({error})") from error
        return self._socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def send_frame(self, masked: MaskedFrame) -> None:
        """The rendered image with its header; topic frame."""
        height, width = masked.image.shape[:2]
        header = {
            "v": WIRE_VERSION,
            "seq": int(masked.seq),
            "capture_ts": float(masked.timestamp),
            "publish_ts": time.time(),
            "width": int(width),
            "height": int(height),
            "encoding": self.encoding,
            "faces": len(masked.faces),
            "status": masked.status.value,
        }
        self._send([Topic.FRAME.wire, _json(header), self._encode(masked.image)])

    def send_signals(self, masked: MaskedFrame) -> None:
        """The per-face numbers of one frame (never pixels); topic signals."""
        body = {
            "v": WIRE_VERSION,
            "seq": int(masked.seq),
            "capture_ts": float(masked.timestamp),
            "status": masked.status.value,
            "schema": SCHEMA,
            "faces": [face_record(face) for face in masked.faces],
        }
        self._send([Topic.SIGNALS.wire, _json(body)])

    def send_status(self, status: dict) -> None:
        """The daemon's health report, versioned; topic status."""
        self._send([Topic.STATUS.wire, _json({"v": WIRE_VERSION, **status})])

    def _encode(self, image: np.ndarray) -> bytes:
        if self.encoding == FrameEncoding.BGR:
            return np.ascontiguousarray(image, dtype=np.uint8).tobytes()
        ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise StageError(f"JPEG encoding failed for a {image.shape} image")
        return buffer.tobytes()

    def _send(self, parts: list[bytes]) -> None:
        """Hands a message to ZeroMQ without waiting; a full queue drops it."""
        try:
            self._socket.send_multipart(parts, flags=zmq.NOBLOCK, copy=False)
            self.sent += 1
        except zmq.Again:
            self.dropped += 1

    def close(self) -> None:
        """Closes the socket, stops the authenticator, ends the context; idempotent."""
        self._socket.close(linger=0)
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        self._context.term()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Subscriber:
    """A SUB socket connected to one publisher endpoint, optionally as a CURVE client.

    For CURVE give both the client's own secret key file (it holds the client's
    public key too) and the server's public key file.
    """

    def __init__(
        self,
        endpoint: str,
        topics: tuple[Topic, ...] = tuple(Topic),
        client_secret_key: Path | None = None,
        server_public_key: Path | None = None,
    ) -> None:
        if (client_secret_key is None) != (server_public_key is None):
            raise DmaskError("CURVE needs both the client's secret key and the server's public key")
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.SUB)
        self._socket.linger = 0
        try:
            if client_secret_key is not None:
                self._set_curve_client(Path(client_secret_key), Path(server_public_key))
            if endpoint.startswith("tcp://["):
                self._socket.ipv6 = True
            for topic in topics:
                self._socket.subscribe(topic.wire)
            self._socket.connect(endpoint)
        except BaseException:
            self.close()
            raise

    def _set_curve_client(self, client_secret_key: Path, server_public_key: Path) -> None:
        public, secret = read_key(client_secret_key, "client secret key", secret=True)
        server_public, _ = read_key(server_public_key, "server public key")
        self._socket.curve_publickey = public
        self._socket.curve_secretkey = secret
        self._socket.curve_serverkey = server_public

    def receive(self, timeout_s: float) -> Message | None:
        """The next message, or None when none arrives within timeout_s."""
        if not self._socket.poll(max(0, int(timeout_s * 1000)), zmq.POLLIN):
            return None
        parts = self._socket.recv_multipart()
        payload = parts[2] if len(parts) > 2 else None
        return Message(Topic(parts[0].decode("ascii")), json.loads(parts[1]), payload)

    @staticmethod
    def decode_frame(message: Message) -> np.ndarray:
        """The module's decode_frame, reachable from a subscriber in hand."""
        return decode_frame(message)

    def close(self) -> None:
        self._socket.close(linger=0)
        self._context.term()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def subscribe(
    endpoint: str, topics: tuple[Topic, ...], client_secret_key: Path | None, server_public_key: Path | None
) -> Subscriber:
    """A Subscriber; an endpoint ZeroMQ refuses becomes a one-line DmaskError."""
    try:
        return Subscriber(endpoint, topics, client_secret_key, server_public_key)
    except zmq.ZMQError as error:
        raise DmaskError(
            f"{endpoint}: cannot connect ({error}); give tcp://HOST:PORT or ipc://PATH"
        ) from error


def decode_frame(message: Message) -> np.ndarray:
    """The (H, W, 3) uint8 BGR image of a frame message."""
    header = message.header
    if message.topic != Topic.FRAME or message.payload is None:
        raise StageError(f"not a frame message (topic {message.topic.value!r})")
    shape = (header["height"], header["width"], 3)
    if header["encoding"] == FrameEncoding.BGR.value:
        return np.frombuffer(message.payload, dtype=np.uint8).reshape(shape)
    image = cv2.imdecode(np.frombuffer(message.payload, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.shape != shape:
        raise StageError(f"frame {header['seq']}: JPEG payload does not decode to {shape}")
    return image


def generate_keys(directory: Path, name: str) -> tuple[Path, Path]:
    """Writes NAME.key (public) and NAME.key_secret (secret, 0600) into directory (0700).

    name is a plain file name: no path, so nothing is written outside
    directory. An existing directory that others can read is made 0700 if
    it is ours, else refused. Refuses to overwrite: replacing a deployed key
    silently locks clients out.
    """
    directory = Path(directory)
    if not _KEY_NAME.fullmatch(name):
        raise DmaskError(f"--name {name!r}: a key name is letters, digits, '.', '_' and '-', not a path; "
                         "choose a plain name like 'recorder-1'")
    public, secret = directory / f"{name}.key", directory / f"{name}.key_secret"
    for path in (public, secret):
        if path.exists():
            raise DmaskError(f"{path}: already exists; refusing to overwrite a key")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        if directory.stat().st_uid != os.getuid():
            raise DmaskError(f"{directory}: others can read this directory and it is not ours to chmod; "
                             "give a directory only you can read")
        directory.chmod(0o700)
    old_umask = os.umask(0o077)
    try:
        public_file, secret_file = zmq.auth.create_certificates(directory, name)
    finally:
        os.umask(old_umask)
    os.chmod(secret_file, 0o600)
    return Path(public_file), Path(secret_file)


def check_publish(config: PublishConfig) -> _CurveServer | None:
    """ConfigError unless the endpoints and keys are usable and nothing plain leaves the machine.

    Returns the CURVE setup, or None for plain (ipc or loopback only).
    """
    for endpoint in config.endpoints:
        _check_endpoint(endpoint)
    curve = _load_curve_server(config)
    if curve is None:
        _refuse_plain_network(config.endpoints)
    return curve


def _check_endpoint(endpoint: str) -> None:
    problem = endpoint_problem(endpoint)
    if problem:
        raise ConfigError(f"publish.endpoints: {problem}")


def _refuse_plain_network(endpoints: tuple[str, ...]) -> None:
    """Without CURVE, nothing may leave the machine unencrypted."""
    for endpoint in endpoints:
        host = tcp_host(endpoint)
        if host is not None and not _is_loopback(host):
            raise ConfigError(_PLAIN_TCP_REFUSED.format(endpoint=endpoint))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _load_curve_server(config: PublishConfig) -> _CurveServer | None:
    """The server's CURVE setup, or None when both keys are "" (no encryption)."""
    secret_key, allowed = config.curve_secret_key, config.curve_allowed_keys
    if not secret_key and not allowed:
        return None
    if not secret_key or not allowed:
        raise ConfigError(
            "publish.curve_secret_key and publish.curve_allowed_keys must be set together"
        )
    allowed_dir = Path(allowed)
    if not allowed_dir.is_dir():
        raise ConfigError(f"publish.curve_allowed_keys: no such directory: {allowed_dir}; {KEYS_HINT}")
    path = Path(secret_key)
    if not path.is_file():
        raise ConfigError(f"publish.curve_secret_key: no such file: {path}; {KEYS_HINT}")
    try:
        public, secret = read_key(path, "the daemon's secret key", secret=True)
    except DmaskError as error:
        raise ConfigError(f"publish.curve_secret_key: {error}") from error
    try:
        clients = [read_key(key, "an allowed client's public key")[0] for key in sorted(allowed_dir.glob("*.key"))]
    except DmaskError as error:
        raise ConfigError(f"publish.curve_allowed_keys: {error}") from error
    if not clients:
        raise ConfigError(f"publish.curve_allowed_keys: {allowed_dir} holds no client public key (*.key); "
                          "copy each subscriber's NAME.key there (dmask keys generate makes them)")
    return _CurveServer(public, allowed_dir, secret)


def read_key(path: Path, what: str, secret: bool = False) -> tuple[bytes, bytes | None]:
    """(public, secret) Z85 keys of a ZeroMQ certificate file, checked by content.

    Each key is 40 Z85 characters (32 bytes); a secret key must match its
    public key and be readable by its owner only. DmaskError names the file.
    """
    if not path.is_file():
        raise DmaskError(f"{path}: no such file ({what})")
    try:
        public, secret_key = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as error:
        raise DmaskError(f"{path}: not a CURVE key file ({what})") from error
    if not _is_z85_key(public):
        raise DmaskError(f"{path}: its public key is not 40 Z85 characters ({what}); make a new pair with dmask keys generate")
    if not secret:
        return public, None
    if secret_key is None:
        raise DmaskError(f"{path}: holds no secret key ({what}; give the .key_secret file)")
    if not _is_z85_key(secret_key) or zmq.curve_public(secret_key) != public:
        raise DmaskError(f"{path}: its secret key is malformed or does not match its public key ({what}); "
                         "make a new pair with dmask keys generate")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise DmaskError(f"{path}: others can read this secret key (mode {mode:04o}); chmod 600 {path}")
    return public, secret_key


def _is_z85_key(key: bytes) -> bool:
    try:
        return len(key) == 40 and len(z85.decode(key)) == 32
    except (ValueError, KeyError, TypeError):
        return False


def _json(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
