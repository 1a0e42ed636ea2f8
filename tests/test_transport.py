"""The ZeroMQ wire: round trips, non-blocking sends, refusals, CURVE, keys.

Real sockets on 127.0.0.1 and ipc:// only. PUB/SUB loses whatever is sent
before a subscription has propagated ("slow joiner"), so each test publishes
in a bounded loop until the first message arrives, drains, then checks.
"""

from __future__ import annotations

import math
import re
import shutil
import stat
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from dmask.config import FrameEncoding, PublishConfig
from dmask.errors import ConfigError, DmaskError
from dmask.records import EyeParams, FrameStatus, MaskedFrame, MaskParams
from dmask.measure.action_units import CHANNEL_NAMES
from dmask.signals import FIELD_NAMES
from dmask.serve.transport import KEYS_HINT, Message, Publisher, Subscriber, decode_frame, generate_keys, read_key
from support import mask_params, rotation

JOIN_SECONDS = 2.0
QUIET_SECONDS = 1.5


def _face() -> MaskParams:
    return mask_params(
        rotation=rotation(20.0, 10.0, -5.0),
        translation=np.array([320.5, 240.25, 900.0], dtype=np.float32),
        scale=123.0,
        right_eye=EyeParams(math.radians(12.0), math.radians(-4.0), 0.03, 0.02, 0.5, 1.25, openness=0.2, shut=True),
        left_eye=EyeParams(math.radians(-6.0), math.radians(8.0), 0.2, 0.1, 4.5, 5.0),
        action_unit_movement=np.array([0.25, 0.0] + [0.0] * (len(CHANNEL_NAMES) - 2), np.float32),
        confidence=0.875,
    )


def _masked(seq: int = 41, width: int = 64, height: int = 48) -> MaskedFrame:
    """A smooth gradient image (JPEG-friendly) with one face."""
    x = np.linspace(0, 255, width)[None, :]
    y = np.linspace(0, 255, height)[:, None]
    image = np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=-1).astype(np.uint8)
    return MaskedFrame(image, seq, 1234.5, FrameStatus.OK, (_face(),))


def _config(endpoint: str, **overrides) -> PublishConfig:
    return PublishConfig(endpoints=(endpoint,), **{"send_hwm": 100, **overrides})


def _join(publish: Callable[[], None], subscriber: Subscriber) -> Message | None:
    """Publishes until the subscriber hears something (bounded), then drains it."""
    deadline = time.monotonic() + JOIN_SECONDS
    first = None
    while first is None and time.monotonic() < deadline:
        publish()
        first = subscriber.receive(0.02)
    while subscriber.receive(0.05) is not None:
        pass
    return first


def _endpoint(kind: str, tmp_path: Path) -> str:
    return "tcp://127.0.0.1:*" if kind == "tcp" else f"ipc://{tmp_path / 'p.sock'}"


@pytest.mark.parametrize("kind", ["tcp", "ipc"])
@pytest.mark.parametrize("encoding", ["jpeg", "bgr"])
def test_frame_signals_status_round_trip(kind: str, encoding: str, tmp_path: Path) -> None:
    masked = _masked()
    config = _config(_endpoint(kind, tmp_path), encoding=encoding)
    with Publisher(config, jpeg_quality=95) as publisher, Subscriber(publisher.endpoints[0]) as sub:
        assert _join(lambda: publisher.send_status({"warmup": True}), sub) is not None
        publisher.send_frame(masked)
        publisher.send_signals(masked)
        publisher.send_status({"fps_in": 30.0, "source": "up"})
        frame, signals, status = (sub.receive(1.0) for _ in range(3))

    assert frame.topic == "frame"
    header = frame.header
    assert {k: header[k] for k in ("v", "seq", "capture_ts", "width", "height")} == {
        "v": 9, "seq": 41, "capture_ts": 1234.5, "width": 64, "height": 48
    }
    assert (header["encoding"], header["faces"], header["status"]) == (encoding, 1, "ok")
    assert abs(header["publish_ts"] - time.time()) < 60
    image = decode_frame(frame)
    assert image.shape == masked.image.shape and image.dtype == np.uint8
    if encoding == "bgr":
        assert len(frame.payload) == 48 * 64 * 3
        np.testing.assert_array_equal(image, masked.image)
        np.testing.assert_array_equal(Subscriber.decode_frame(frame), image)
    else:
        assert frame.payload[:2] == b"\xff\xd8"
        assert np.abs(image.astype(int) - masked.image.astype(int)).mean() < 3

    _check_signals(signals)
    assert status == Message("status", {"v": 9, "fps_in": 30.0, "source": "up"}, None)


def _check_signals(message: Message) -> None:
    assert message.topic == "signals" and message.payload is None
    body = message.header
    assert (body["v"], body["seq"], body["capture_ts"], body["status"]) == (9, 41, 1234.5, "ok")
    assert body["schema"] == "dmask.signals/9"
    (face,) = body["faces"]
    assert list(face) == list(FIELD_NAMES)
    assert face["track_id"] == 7 and face["confidence"] == 0.875
    expected_pose = {"head_yaw_deg": 20.0, "head_pitch_deg": 10.0, "head_roll_deg": -5.0,
                     "head_x_px": 320.5, "head_y_px": 240.25, "head_scale_px": 123.0}
    assert {k: face[k] for k in expected_pose} == pytest.approx(expected_pose, abs=1e-3)
    right_eye = {
        "right_gaze_yaw_deg": 12.0, "right_gaze_pitch_deg": -4.0, "right_mrd1_mm": 0.5, "right_mrd2_mm": 1.25,
        "right_fissure_mm": 1.75, "right_openness": 0.2, "right_closed": 1.0, "right_upper_aperture": 0.03,
        "right_lower_aperture": 0.02, "right_aperture": 0.05}
    assert {k: face[k] for k in right_eye} == pytest.approx(right_eye, abs=1e-6)
    assert face["left_closed"] == 0.0 and face["left_aperture"] == pytest.approx(0.3)
    assert face["horizontal_deviation_deg"] == pytest.approx(18.0, abs=1e-4)
    assert face["horizontal_deviation_pd"] == pytest.approx(100 * math.tan(math.radians(18.0)), abs=1e-3)
    assert face["vertical_deviation_deg"] == pytest.approx(-12.0, abs=1e-4)
    assert face["au_right_inner_brow_raise"] == 0.25 and face["au_left_inner_brow_raise"] == 0.0
    assert face["asym_inner_brow_raise"] == 1.0 and face["asym_jaw_drop"] is None  # neither side moves: no asymmetry of nothing


@pytest.mark.parametrize("listener", ["absent", "stalled"])
def test_sending_never_blocks_on_full_queues(listener: str) -> None:
    """10 000 frames into HWM 1: every send returns, each counted sent or dropped."""
    masked = _masked(width=8, height=8)
    config = _config("tcp://127.0.0.1:*", send_hwm=1, encoding=FrameEncoding.BGR)
    with Publisher(config, jpeg_quality=95) as publisher:
        stalled = Subscriber(publisher.endpoints[0]) if listener == "stalled" else None
        for _ in range(10_000):
            publisher.send_frame(masked)
        if stalled is not None:
            stalled.close()
        assert publisher.sent + publisher.dropped == 10_000


@pytest.mark.parametrize("endpoint", [
    "tcp://0.0.0.0:5555", "tcp://192.168.1.10:5555", "tcp://[::]:5555", "tcp://*:5555",
    "tcp://eth0:5555",
])
def test_plain_tcp_off_loopback_is_refused(endpoint: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Publisher(PublishConfig(endpoints=("tcp://127.0.0.1:*", endpoint)), jpeg_quality=95)
    assert str(raised.value) == (
        f"publish.endpoints: plain (unencrypted) tcp is allowed only on loopback, not {endpoint}; "
        "bind 127.0.0.1 or set publish.curve_secret_key and publish.curve_allowed_keys"
    )


@pytest.mark.parametrize("endpoint", ["tcp://127.0.0.2:*", "tcp://localhost:*"])
def test_plain_tcp_on_loopback_is_accepted(endpoint: str) -> None:
    with Publisher(PublishConfig(endpoints=(endpoint,)), jpeg_quality=95) as publisher:
        assert publisher.endpoints[0].startswith("tcp://127.0.0.")


@pytest.mark.parametrize("endpoint", [
    "udp://127.0.0.1:5555", "tcp://127.0.0.1", "127.0.0.1:5555", "ipc://", "inproc://x",
    "tcp://127.0.0.1:port",
])
def test_bad_endpoint_is_refused(endpoint: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Publisher(PublishConfig(endpoints=(endpoint,)), jpeg_quality=95)
    assert str(raised.value) == (
        f"publish.endpoints: {endpoint!r} is not tcp://HOST:PORT or ipc://PATH"
    )


def test_missing_curve_files_are_refused_naming_the_path(tmp_path: Path) -> None:
    _, secret = generate_keys(tmp_path / "server", "server")
    missing_dir, missing_file = tmp_path / "no-such-dir", tmp_path / "no-such.key_secret"
    cases = {
        (str(secret), str(missing_dir)):
            f"publish.curve_allowed_keys: no such directory: {missing_dir}; {KEYS_HINT}",
        (str(missing_file), str(tmp_path)):
            f"publish.curve_secret_key: no such file: {missing_file}; {KEYS_HINT}",
        (str(secret), ""):
            "publish.curve_secret_key and publish.curve_allowed_keys must be set together",
    }
    for (secret_key, allowed), message in cases.items():
        config = _config("tcp://127.0.0.1:*", curve_secret_key=secret_key,
                         curve_allowed_keys=allowed)
        with pytest.raises(ConfigError) as raised:
            Publisher(config, jpeg_quality=95)
        assert str(raised.value) == message


def test_curve_public_key_given_as_secret_is_refused(tmp_path: Path) -> None:
    public, _ = generate_keys(tmp_path / "server", "server")
    config = _config("tcp://127.0.0.1:*", curve_secret_key=str(public),
                     curve_allowed_keys=str(tmp_path))
    with pytest.raises(ConfigError, match="publish.curve_secret_key: .* holds no secret key"):
        Publisher(config, jpeg_quality=95)


def test_curve_admits_only_allowed_clients(tmp_path: Path) -> None:
    server_public, server_secret = generate_keys(tmp_path / "server", "server")
    _, alice_secret = generate_keys(tmp_path / "alice", "alice")
    _, mallory_secret = generate_keys(tmp_path / "mallory", "mallory")
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    shutil.copy(tmp_path / "alice" / "alice.key", allowed)
    config = _config("tcp://127.0.0.1:*", curve_secret_key=str(server_secret),
                     curve_allowed_keys=str(allowed))
    masked = _masked()

    with Publisher(config, jpeg_quality=95) as publisher:
        endpoint = publisher.endpoints[0]
        with Subscriber(endpoint, client_secret_key=alice_secret,
                        server_public_key=server_public) as alice, \
             Subscriber(endpoint, client_secret_key=mallory_secret,
                        server_public_key=server_public) as mallory, \
             Subscriber(endpoint) as plain:
            assert _join(lambda: publisher.send_signals(masked), alice) is not None
            deadline = time.monotonic() + QUIET_SECONDS
            while time.monotonic() < deadline:
                publisher.send_frame(masked)
                assert alice.receive(0.05).header["seq"] == 41
                assert mallory.receive(0) is None
                assert plain.receive(0) is None


def test_generate_keys_writes_private_secret_and_refuses_overwrite(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    public, secret = generate_keys(directory, "edge")
    assert (public.name, secret.name) == ("edge.key", "edge.key_secret")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert b"secret-key" in secret.read_bytes() and b"secret-key" not in public.read_bytes()
    before = secret.read_bytes()
    with pytest.raises(DmaskError, match="already exists"):
        generate_keys(directory, "edge")
    assert secret.read_bytes() == before
    public.unlink()
    with pytest.raises(DmaskError, match="edge.key_secret: already exists"):
        generate_keys(directory, "edge")


def _edited(path: Path, field: str, value: str) -> Path:
    """A copy of a key file with one key replaced, as a hand edit or a truncated copy would leave it."""
    text = re.sub(rf'({field} = ")[^"]*(")', rf"\g<1>{value}\g<2>", path.read_text())
    edited = path.with_name("edited" + path.suffix)
    edited.write_text(text)
    edited.chmod(0o600)
    return edited


@pytest.mark.parametrize("field, value, problem", [
    ("secret-key", "tooshort", "its secret key is malformed or does not match its public key"),
    ("public-key", "x" * 39, "its public key is not 40 Z85 characters"),
])
def test_a_malformed_secret_key_is_refused_by_content(tmp_path: Path, field, value, problem) -> None:
    _, secret = generate_keys(tmp_path / "server", "server")
    client_public, _ = generate_keys(tmp_path / "clients", "viewer")
    bad = _edited(secret, field, value)
    config = _config("tcp://127.0.0.1:*", curve_secret_key=str(bad), curve_allowed_keys=str(tmp_path / "clients"))
    with pytest.raises(ConfigError) as raised:
        Publisher(config, jpeg_quality=95)
    assert str(raised.value).startswith(f"publish.curve_secret_key: {bad}: {problem}")


def test_a_secret_key_that_does_not_match_its_public_key_is_refused(tmp_path: Path) -> None:
    _, secret = generate_keys(tmp_path / "server", "server")
    _, other = generate_keys(tmp_path / "other", "other")
    foreign = re.search(r'secret-key = "([^"]*)"', other.read_text()).group(1)
    bad = _edited(secret, "secret-key", foreign)
    with pytest.raises(DmaskError, match="does not match its public key"):
        read_key(bad, "test", secret=True)


def test_a_secret_key_others_can_read_is_refused(tmp_path: Path) -> None:
    _, secret = generate_keys(tmp_path / "server", "server")
    generate_keys(tmp_path / "clients", "viewer")
    secret.chmod(0o644)
    config = _config("tcp://127.0.0.1:*", curve_secret_key=str(secret), curve_allowed_keys=str(tmp_path / "clients"))
    with pytest.raises(ConfigError) as raised:
        Publisher(config, jpeg_quality=95)
    assert str(raised.value) == f"publish.curve_secret_key: {secret}: others can read this secret key (mode 0644); chmod 600 {secret}"


def test_allowed_keys_must_hold_valid_client_keys(tmp_path: Path) -> None:
    _, secret = generate_keys(tmp_path / "server", "server")
    empty = tmp_path / "empty"
    empty.mkdir()
    config = _config("tcp://127.0.0.1:*", curve_secret_key=str(secret), curve_allowed_keys=str(empty))
    with pytest.raises(ConfigError, match="holds no client public key"):
        Publisher(config, jpeg_quality=95)
    (empty / "junk.key").write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"publish.curve_allowed_keys: .*junk.key: "):
        Publisher(config, jpeg_quality=95)


def test_a_subscriber_with_a_bad_client_key_names_the_file(tmp_path: Path) -> None:
    server_public, _ = generate_keys(tmp_path / "server", "server")
    _, client_secret = generate_keys(tmp_path / "client", "client")
    bad = _edited(client_secret, "secret-key", "short")
    with pytest.raises(DmaskError, match=f"{bad}: its secret key is malformed"):
        Subscriber("tcp://127.0.0.1:5555", client_secret_key=bad, server_public_key=server_public)


@pytest.mark.parametrize("name", ["../escaped", "a/b", "", ".hidden", "x" * 65])
def test_a_key_name_is_a_plain_file_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(DmaskError, match="not a path"):
        generate_keys(tmp_path / "keys", name)
    assert not (tmp_path / "escaped.key").exists() and not (tmp_path / "keys").exists()


def test_an_existing_open_key_directory_is_made_private(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    generate_keys(directory, "edge")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
