"""The one config tree, its defaults, and a strict YAML loader for it.

Every setting is a field of a frozen dataclass; the field's metadata says which
values it accepts (see `setting`). The loader is driven by those fields only:
it forbids unknown keys, checks types (an integer is accepted where a number is
expected, nothing else is converted) and ranges, and reports each problem as
one line `FILE:LINE key.path: problem`, LINE 1-based, so that a typo in a
deployed appliance's config fails loudly instead of silently using a default
(a command shows the first and counts the rest; `dmask config check` lists all).
A section left empty (`tracking:` with nothing under it) keeps its defaults.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dmask.measure.clinical import GAZE_ZERO_FIXATION_MM
from dmask.config.reader import TreeReader
from dmask.config.services import LOOPBACK, DatePolicy, DicomConfig, PacsConfig, PacsProtocol, ViewConfig
from dmask.config.setting import Weaker, endpoint_problem, setting
from dmask.errors import ConfigError, ConfigProblems

DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


class InferenceEngine(str, enum.Enum):
    """Where the networks run; AUTO is TensorRT when it and pycuda import and
    an engine builds, else the CPU, each network on its `inference.cpu_runtime`."""

    AUTO = "auto"
    TENSORRT = "tensorrt"
    CPU = "cpu"


class CpuRuntime(str, enum.Enum):
    """Which CPU runtime runs one network.

    LITERT runs MediaPipe's own TFLite file through LiteRT's XNNPACK delegate,
    the runtime MediaPipe itself uses (12 to 35% less time than onnxruntime
    on each of the three models here; tools/bench_models.py); ONNXRUNTIME runs
    the ONNX conversion with `inference.providers`."""

    LITERT = "litert"
    ONNXRUNTIME = "onnxruntime"


class RenderBackend(str, enum.Enum):
    """Which rasteriser draws the avatar; AUTO is CUDA when it works, else the CPU."""

    CPU = "cpu"
    CUDA = "cuda"
    AUTO = "auto"


class FrameEncoding(str, enum.Enum):
    """How a published frame's pixels travel (docs/WIRE.md)."""

    JPEG = "jpeg"
    BGR = "bgr"


class VideoCodec(str, enum.Enum):
    """What written videos are encoded with: H.264 (yuv420p, what browsers,
    PACS viewers and DICOM's video transfer syntaxes play), or MPEG-4 Part 2
    as a fallback for players that have no H.264 decoder."""

    H264 = "h264"
    MP4V = "mp4v"

    @property
    def label(self) -> str:
        """How the codec is named to a person."""
        return {"h264": "H.264", "mp4v": "MPEG-4 Part 2 (mp4v)"}[self.value]


@dataclass(frozen=True)
class CpuRuntimes:
    """The CPU runtime of each network (litert falls back to onnxruntime, with one
    warning, where ai-edge-litert is not installed)."""

    detector: CpuRuntime = setting(CpuRuntime.LITERT, doc=(
        "the face detector's runtime on the CPU: litert (MediaPipe's TFLite, XNNPACK) or onnxruntime"))
    mesh: CpuRuntime = setting(CpuRuntime.LITERT, doc="the face mesh's runtime on the CPU, the same choice")
    iris: CpuRuntime = setting(CpuRuntime.LITERT, doc="the iris model's runtime on the CPU, the same choice")


@dataclass(frozen=True)
class InferenceConfig:
    """The three networks (detector, face mesh, iris): where they run and with how many threads."""

    providers: tuple[str, ...] = setting(("CPUExecutionProvider",), non_empty=True, doc=(
        "onnxruntime execution providers, in order of preference"))
    threads: int = setting(1, ge=1, le=64, doc="threads per network (onnxruntime intra-op, LiteRT's XNNPACK)")
    models_dir: str = setting("", doc=(
        "\"\" = the repository's models/ next to the package; else a path (relative paths are relative to the "
        "current directory)"))
    engine: InferenceEngine = setting(InferenceEngine.AUTO, doc=(
        "tensorrt (engines built from models/, cached), cpu, or auto (TensorRT when it and pycuda import and "
        "an engine builds, else the CPU)"))
    engine_cache: str = setting("", doc=(
        "where TensorRT engines and the timing cache are kept; \"\" = ~/.cache/dmask/engines"))
    # on the CPU: litert or onnxruntime, per network
    cpu_runtime: CpuRuntimes = field(default_factory=CpuRuntimes)

    @property
    def models_path(self) -> Path:
        """Where the model files are, with the "" default resolved."""
        return Path(self.models_dir) if self.models_dir else DEFAULT_MODELS_DIR

    @property
    def engine_cache_path(self) -> Path:
        return Path(self.engine_cache) if self.engine_cache else Path.home() / ".cache" / "dmask" / "engines"


@dataclass(frozen=True)
class TrackingConfig:
    """Finding faces and following them from frame to frame."""

    max_faces: int = setting(4, ge=1, le=16, doc="faces beyond this many are failed closed")
    detect_interval: int = setting(10, ge=1, le=1000, doc=(
        "between detections, faces are followed from their last landmarks; the detector also runs every this "
        "many frames to pick up newcomers"))
    detection_threshold: float = setting(0.5, ge=0.0, le=1.0, doc=(
        "BlazeFace's score at or above which a detection is a face"))
    presence_threshold: float = setting(0.5, ge=0.0, le=1.0, weaker=Weaker.BELOW, doc=(
        "landmark face-presence below this = track lost; lower draws (and publishes the signals of) faces the"
        " landmark model is unsure of"))


@dataclass(frozen=True)
class FitConfig:
    """The fit's resting baseline and what is published of the action units."""

    baseline_seconds: float = setting(20.0, gt=0.0, le=3600.0, doc=(
        "time constant of the per-person resting baseline (action units and lids)"))
    action_unit_step: float = setting(0.0, ge=0.0, le=0.5, doc=(
        "published action-unit intensities are rounded to multiples of this (0 = not rounded): coarser steps "
        "carry less of a person's fine movement pattern and less clinical detail (README, \"What the mask "
        "carries\")"))


@dataclass(frozen=True)
class ClinicalConfig:
    """When a person's resting level passes to the mask instead of the population's.

    Resting action-unit intensities and lid levels are the population's unless
    one of these criteria is met (dmask.measure.clinical.resting_deviation); movement
    from the resting level always passes. mm are iris-scaled (dmask.measure.clinical).
    """

    ptosis_mrd1_mm: float = setting(2.0, ge=0.0, le=5.0, weaker=Weaker.ABOVE, doc=(
        "MRD1 at or below this is a ptosis (functional-ptosis criterion, MRD1 <= 2 mm)"))
    retraction_mrd1_mm: float = setting(6.0, ge=4.0, le=10.0, weaker=Weaker.BELOW, doc=(
        "MRD1 above this shows sclera over the iris (upper lid above the limbus: MRD1 > half the 11.7 mm iris"
        " diameter)"))
    scleral_show_mrd2_mm: float = setting(6.5, ge=4.0, le=10.0, weaker=Weaker.BELOW, doc=(
        "MRD2 above this shows sclera under the iris (lower lid below the limbus)"))
    lid_asymmetry_mm: float = setting(2.0, gt=0.0, le=10.0, weaker=Weaker.BELOW, doc=(
        "side-to-side MRD1 or MRD2 difference beyond this is a clinical asymmetry (about 1 mm is common in "
        "normal lids; 2 mm is a conventional threshold for a unilateral ptosis)"))
    brow_asymmetry_mm: float = setting(3.0, gt=0.0, le=20.0, weaker=Weaker.BELOW, doc=(
        "side-to-side difference of a resting brow action, mm at the unit's anchor, beyond which it is a "
        "static sign (normal faces differ by 1-2 mm at rest; 3 mm is a visible droop); set it with your "
        "clinic's grading scale"))
    midface_asymmetry_mm: float = setting(3.0, gt=0.0, le=20.0, weaker=Weaker.BELOW, doc=(
        "the same for a resting mid-face action (cheek, lid tightening, nose)"))
    mouth_asymmetry_mm: float = setting(2.0, gt=0.0, le=20.0, weaker=Weaker.BELOW, doc=(
        "how much lower the lip line sits near one mouth corner than near the other (dmask.measure.refine, "
        "full resolution), mm, beyond which it is a droop"))
    camera_fov_deg: float = setting(65.0, ge=10.0, le=170.0, doc=(
        "the camera's horizontal field of view over the frame as given (a crop: the crop's), degrees: with "
        "the frame's width it is the focal length the fixation distance and the vergence it demands come "
        "from. USB and laptop cameras span about 55-78 degrees; against 65, that is -17 to +27 % on the "
        "demand (about 2-3 prism dioptres at 50 cm)"))
    photo_fixation_mm: float = setting(GAZE_ZERO_FIXATION_MM, ge=200.0, le=100000.0, doc=(
        "where a photo's eyes fixated, mm, by the clinic's protocol (330 near, 6000 distance): a photo is a "
        "crop of a camera nobody described, so its distance is not read from it; its deviation is the "
        "vergence beyond what this distance demands. The default is the gaze zero's (press photos, a camera "
        "some 2.5 m off); at 330 mm an orthophoric adult converges by about 19 PD"))
    photo_margin: float = setting(1.25, ge=1.0, le=5.0, weaker=Weaker.BELOW, doc=(
        "a photo is one measurement, a video's resting level seconds of them: a photo's asymmetry must exceed"
        " the thresholds above by this factor"))


@dataclass(frozen=True)
class FailClosedConfig:
    """What is drawn after the face is lost: never the camera frame."""

    hold_seconds: float = setting(0.5, ge=0.0, le=10.0, doc=(
        "after tracking is lost, hold the neutral avatar at the last pose this long, then blank"))


@dataclass(frozen=True)
class RenderConfig:
    """Drawing the avatar."""

    backend: RenderBackend = setting(RenderBackend.CPU, doc=(
        "cpu, cuda (CuPy; falls back to cpu with a warning) or auto (cuda when it works)"))
    background: tuple[int, int, int] = setting((96, 96, 96), ge=0, le=255, doc=(
        "the colour of everything that is not a face, BGR"))


@dataclass(frozen=True)
class InputConfig:
    """What photos and videos are refused before they are decoded."""

    max_photo_megapixels: float = setting(50.0, ge=1.0, le=250.0, doc=(
        "photos whose header claims more pixels than this are refused before decoding (a 20000x20000 PNG "
        "takes 5.5 GB); dmask.capture.media.DEFAULT_MAX_MEGAPIXELS"))
    max_video_megapixels: float = setting(8.9, ge=0.3, le=50.0, doc=(
        "videos whose frames are larger than this are refused from the header, before decoding (a 12-frame "
        "8192x8192 video took 4.4 GB); 8.9 is 4096x2160. dmask.capture.media.DEFAULT_MAX_VIDEO_MEGAPIXELS"))


@dataclass(frozen=True)
class OutputConfig:
    """Written videos, published frames, and the key that seals every video."""

    video_codec: VideoCodec = setting(VideoCodec.H264, doc=(
        "codec of the written videos: h264 (yuv420p MP4), or mp4v as a fallback"))
    jpeg_quality: int = setting(95, ge=1, le=100, doc=(
        "JPEG quality of published frames (publish.encoding jpeg) and of the live view's stream"))
    provenance_key_file: str = setting("", doc=(
        "the secret that seals every MP4 dmask writes, and that `dmask export dicom` checks the seal with "
        "(dmask.provenance): \"\" = $XDG_STATE_HOME/dmask/provenance.key, made on first use, mode 600. Back it up: "
        "a new key leaves the videos sealed with the old one unverifiable"))


@dataclass(frozen=True)
class SourceConfig:
    """The daemon's source (`dmask run`): a camera, a stream or a file, reopened when it fails."""

    uri: str = setting("", doc=(
        "what `dmask run` masks: /dev/video0 or a camera index like \"0\", rtsp://..., \"gst:\" and a GStreamer "
        "pipeline, or a video file; \"\" = none"))
    loop: bool = setting(False, doc="files: start again at the end")
    pace: bool = setting(True, doc="files: deliver frames at the file's own frame rate (false = as fast as possible)")
    reopen_seconds: float = setting(0.5, ge=0.01, le=600.0, doc=(
        "a failed or stalled source is reopened after this long, doubling up to reopen_max_seconds"))
    reopen_max_seconds: float = setting(10.0, ge=0.01, le=3600.0, doc=(
        "the longest wait between two tries to reopen the source"))
    stall_seconds: float = setting(5.0, ge=0.1, le=3600.0, doc="no frame for this long = the source has stalled")


@dataclass(frozen=True)
class PublishConfig:
    """The daemon's ZeroMQ publisher: only masked frames and their signals."""

    endpoints: tuple[str, ...] = setting(("tcp://127.0.0.1:5555",), non_empty=True, check=endpoint_problem, doc=(
        "ZeroMQ endpoints the PUB socket binds (tcp://HOST:PORT or ipc://PATH)"))
    encoding: FrameEncoding = setting(FrameEncoding.JPEG, doc="frame payload: jpeg, or raw bgr")
    send_hwm: int = setting(4, ge=1, le=1000, doc="messages queued per subscriber before newer ones are dropped for it")
    status_interval_seconds: float = setting(1.0, ge=0.05, le=5.0, doc=(
        "the status topic, and systemd's STATUS and WATCHDOG, this often: at most a third of the unit's "
        "WatchdogSec (15 s), so one late ping is not a restart"))
    curve_secret_key: str = setting("", doc=(
        "CurveZMQ: this daemon's secret key file (\"\" = no encryption, allowed only on ipc or loopback)"))
    curve_allowed_keys: str = setting("", doc=(
        "CURVE: the folder of subscribers' public keys allowed to connect (\"\" = none: ipc and loopback only)"))


@dataclass(frozen=True)
class Config:
    """The whole tree; each section is a top-level key of the YAML file."""

    inference: InferenceConfig = field(default_factory=InferenceConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    clinical: ClinicalConfig = field(default_factory=ClinicalConfig)
    fail_closed: FailClosedConfig = field(default_factory=FailClosedConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    input: InputConfig = field(default_factory=InputConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    dicom: DicomConfig = field(default_factory=DicomConfig)
    pacs: PacsConfig = field(default_factory=PacsConfig)
    view: ViewConfig = field(default_factory=ViewConfig)
    acknowledge_weaker_privacy: tuple[str, ...] = setting((), doc=(
        "settings (key paths) that weaken the identity policy, accepted knowingly (see `setting`'s weaker); "
        "each is logged when the daemon starts"))


def load_config(path: str | Path | None) -> Config:
    """The config in the YAML file at path, or all defaults for None."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ConfigError(f"{path}: cannot read the config file ({reason})") from error
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = ", ".join(part for part in (error.context, error.problem) if part)
        raise ConfigError(f"{path}:{mark.line + 1}: invalid YAML: {problem}") from error
    if root is None:
        return Config()
    reader = TreeReader(path)
    config = reader.read(Config, root)
    for key_path, problem, related in _cross_problems(config):
        reader.note_at(key_path, problem, related)
    if reader.problems:
        raise ConfigProblems(reader.problems)
    return config


# Settings that bound one another: (key path, relation, other key path).
_CROSS = (
    ("source.reopen_max_seconds", ">=", "source.reopen_seconds"),
    ("clinical.retraction_mrd1_mm", ">", "clinical.ptosis_mrd1_mm"),
    ("pacs.retry_max_seconds", ">=", "pacs.retry_seconds"),
)


def settings(node: Any, prefix: str = "") -> typing.Iterator[tuple[str, dataclasses.Field, Any]]:
    """(key path, field, value) of every leaf setting of a config (sub)tree."""
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        path = f"{prefix}.{f.name}" if prefix else f.name
        if dataclasses.is_dataclass(value):
            yield from settings(value, path)
        else:
            yield path, f, value


def _weakening(config: Config) -> list[tuple[str, Any, Any]]:
    """(key path, value, default) of each setting on its privacy-weakening side of the default."""
    found = []
    for path, f, value in settings(config):
        side = f.metadata.get("weaker")
        if side is not None and (value < f.default if side is Weaker.BELOW else value > f.default):
            found.append((path, value, f.default))
    return found


def weakened(config: Config) -> list[str]:
    """'key.path = value (default D)' for each setting on its privacy-weakening side of the default."""
    return [f"{path} = {value} (default {default})" for path, value, default in _weakening(config)]


def _cross_problems(config: Config) -> list[tuple[str, str, tuple[str, ...]]]:
    """(key path, problem, related key paths) for settings out of step with another, or with the privacy acknowledgement."""
    values = {path: value for path, _, value in settings(config)}
    problems = []
    for path, relation, other in _CROSS:
        if not (values[path] >= values[other] if relation == ">=" else values[path] > values[other]):
            problems.append((path, f"must be {relation} {other} ({values[other]}); got {values[path]}", (other,)))
    if config.dicom.dates is DatePolicy.SHIFT and config.dicom.date_shift_days == 0:
        problems.append(("dicom.date_shift_days", "must not be 0 when dicom.dates is shift "
                         "(a shift of 0 keeps the real date)", ("dicom.dates",)))
    if config.pacs.protocol is PacsProtocol.STOW and not config.pacs.stow_url:
        problems.append(("pacs.stow_url", "must be set when pacs.protocol is stow", ("pacs.protocol",)))
    view = config.view
    if bool(view.tls_cert_file) != bool(view.tls_key_file):
        problems.append(("view.tls_key_file" if view.tls_cert_file else "view.tls_cert_file",
                         "HTTPS needs both view.tls_cert_file and view.tls_key_file", ()))
    elif not view.tls_cert_file and view.host not in LOOPBACK:
        problems.append(("view.host", f"{view.host} is off loopback: serve it over HTTPS "
                         "(set view.tls_cert_file and view.tls_key_file), or use 127.0.0.1", ()))
    acknowledged = set(config.acknowledge_weaker_privacy)
    weakening = {path for path, f, _ in settings(config) if "weaker" in f.metadata}
    for path in sorted(acknowledged - weakening):
        problems.append(("acknowledge_weaker_privacy", f"{path} is not a setting that weakens privacy "
                         f"(those are: {', '.join(sorted(weakening))})", ()))
    for path, value, default in _weakening(config):
        if path not in acknowledged:
            problems.append((path, f"{value} (default {default}) lets more of a person's own face through; "
                             f"to accept that, list {path} under acknowledge_weaker_privacy", ()))
    return problems
