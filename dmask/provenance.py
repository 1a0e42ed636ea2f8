"""Where a result came from: the source commit, a hash of the config it was made with, and the seal
that proves a video was written by this appliance."""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import hmac
import json
import os
import secrets
import shlex
import stat
import struct
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmask.config import Config
from dmask.errors import ConfigError

_ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def source_commit() -> str:
    """The checkout's short commit, or 'unknown' outside a git checkout."""
    try:
        commit = subprocess.run(["git", "-C", str(_ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return commit or "unknown"


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def config_hash(config: Config) -> str:
    """sha256 of the whole config tree as canonical JSON: equal for equal settings, whatever file they came from."""
    text = json.dumps(_plain(dataclasses.asdict(config)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# A video's seal: proof that this appliance wrote it, which `dmask export dicom` asks for before it files a video
# into a PACS as free of recognisable features (a tag in the container's metadata can be copied onto any file).
# The seal is one ISO BMFF box appended to an MP4 or MOV file once it is complete: a `uuid` box (ISO/IEC 14496-12
# 4.2: players skip boxes they do not know) holding the key's id and HMAC-SHA256, under the appliance's secret
# key, of every byte of the file before it. Changing, remuxing or re-tagging the file breaks it.
SEALED_SUFFIXES = (".mp4", ".mov")
_SEAL_UUID = uuid.UUID("57ac3b75-4354-41e0-b1dc-5f9b433c73b4").bytes
_SEAL_VERSION = 1
_SEAL = struct.Struct(">I4s16sB8s32s")  # box size, "uuid", our uuid, version, key id, HMAC-SHA256
_KEY_BYTES = 32
_CHUNK = 1 << 20


@dataclass(frozen=True, repr=False)
class ProvenanceKey:
    """The appliance's secret for sealing videos; never logged or shown (repr hides it), only its id."""

    secret: bytes

    @property
    def id(self) -> bytes:
        """8 bytes that name the key without revealing it: which appliance sealed a file."""
        return hashlib.sha256(b"dmask provenance key id\0" + self.secret).digest()[:8]

    def __repr__(self) -> str:
        return f"ProvenanceKey(id={self.id.hex()})"

    @classmethod
    def generate(cls) -> ProvenanceKey:
        """A throwaway random key (dmask bench, which seals what it then deletes, as dmask mask seals)."""
        return cls(secrets.token_bytes(_KEY_BYTES))

    def mac(self, path: Path, length: int) -> bytes:
        """HMAC-SHA256 of the first length bytes of the file at path."""
        digest = hmac.new(self.secret, digestmod=hashlib.sha256)
        with open(path, "rb") as file:
            while length > 0 and (chunk := file.read(min(_CHUNK, length))):
                digest.update(chunk)
                length -= len(chunk)
        return digest.digest()


def key_path(config: Config) -> Path:
    """output.provenance_key_file, or $XDG_STATE_HOME/dmask/provenance.key (~/.local/state where unset)."""
    if config.output.provenance_key_file:
        return Path(config.output.provenance_key_file)
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "dmask" / "provenance.key"


def provenance_key(config: Config, create: bool = True) -> ProvenanceKey:
    """The appliance's key, made on first use where create (the commands that write videos); ConfigError
    if it cannot be read, is not one, or others can read it."""
    path = key_path(config)
    if create and not path.exists():
        _create(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no provenance key here, so this machine never sealed a video; export on the "
                          "appliance that masked it, or set output.provenance_key_file to its key") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: the provenance key cannot be read ({getattr(error, 'strerror', None) or error}); "
                          "check output.provenance_key_file") from None
    if mode & 0o077:
        raise ConfigError(f"{path}: the provenance key is readable by others (mode {stat.S_IMODE(mode):o}); "
                          f"chmod 600 {shlex.quote(str(path))}")
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != _KEY_BYTES:
        raise ConfigError(f"{path}: not a provenance key ({_KEY_BYTES * 2} hex digits); restore it from the "
                          "appliance's backup, or remove it to start a new key (older videos then no longer verify)")
    return ProvenanceKey(secret)


def _create(path: Path) -> None:
    """A new random key at path, readable by its owner only; another process making one at once wins (link)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secrets.token_hex(_KEY_BYTES) + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        finally:
            temp.unlink(missing_ok=True)
    except OSError as error:
        raise ConfigError(f"{path}: cannot make the provenance key ({error.strerror}); set "
                          "output.provenance_key_file to a writable place") from None


def seal_file(path: Path, key: ProvenanceKey) -> None:
    """Append the seal to the complete MP4 or MOV file at path."""
    length = path.stat().st_size
    box = _SEAL.pack(_SEAL.size, b"uuid", _SEAL_UUID, _SEAL_VERSION, key.id, key.mac(path, length))
    with open(path, "ab") as file:
        file.write(box)


def seal_problem(path: Path, key: ProvenanceKey) -> str | None:
    """None if the file at path carries this key's seal over all of it before the seal; else what is wrong."""
    length = path.stat().st_size - _SEAL.size
    if length <= 0:
        return "it carries no dmask seal"
    with open(path, "rb") as file:
        file.seek(length)
        size, kind, owner, version, key_id, mac = _SEAL.unpack(file.read(_SEAL.size))
    if (size, kind, owner, version) != (_SEAL.size, b"uuid", _SEAL_UUID, _SEAL_VERSION):
        return "it carries no dmask seal"
    if key_id != key.id:
        return f"it was sealed by another appliance (key {key_id.hex()}; this one's is {key.id.hex()})"
    if not hmac.compare_digest(mac, key.mac(path, length)):
        return "its content changed after dmask sealed it"
    return None
