"""`dmask check`: what this machine has for each stage, and what each stage will use.

Only looks and reports; the answers for the stages come from the same
selection rule the pipeline runs (dmask.backends, through InferenceModels.load
and make_renderer), so what it says is what `dmask mask` would do.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from dmask.config import Config, RenderBackend
from dmask.errors import DmaskError


@dataclass(frozen=True)
class Finding:
    name: str
    found: str  # what is there, or "not installed" / "none found"
    hint: str = ""  # what to do when it is missing


def _version(module: str) -> str:
    if importlib.util.find_spec(module) is None:
        return "not installed"
    try:
        return f"version {importlib.import_module(module).__version__}"
    except Exception as error:  # noqa: BLE001 - a package that breaks on import is reported as such
        return f"installed but fails to import ({type(error).__name__}: {error})"


def _gpu() -> str:
    """The first CUDA device, through whichever launcher is there."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
            return f"{name} (CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()})"
    except Exception:  # noqa: BLE001 - no CuPy or no device: try the next way
        pass
    try:
        import pycuda.driver as cuda

        cuda.init()
        if cuda.Device.count() > 0:
            return f"{cuda.Device(0).name()} (CUDA driver {cuda.get_version()})"
    except Exception:  # noqa: BLE001 - no pycuda or no device
        pass
    return "none found"


def machine_findings() -> list[Finding]:
    import onnxruntime

    return [
        Finding("GPU", _gpu(), "the CPU path runs everything"),
        Finding("pycuda", _version("pycuda"), "on a Jetson: pip install pycuda against JetPack's CUDA (README)"),
        Finding("CuPy", _version("cupy"), "pip install cupy-cuda12x (or the build for your CUDA)"),
        Finding("TensorRT", _version("tensorrt"), "on a Jetson: apt install python3-libnvinfer (README)"),
        Finding("LiteRT", _version("ai_edge_litert"), "pip install ai-edge-litert (onnxruntime runs the networks without it)"),
        Finding("onnxruntime", f"version {onnxruntime.__version__}, providers {', '.join(onnxruntime.get_available_providers())}"),
    ]


def stage_choices(config: Config) -> list[Finding]:
    from dmask.models import InferenceModels
    from dmask.draw import make_renderer

    models = InferenceModels.load(config)
    renderer = make_renderer(config.render)
    render = renderer.name.value + (f" ({renderer.backend.launcher.name})" if renderer.name is RenderBackend.CUDA else "")
    return [Finding("inference", models.label), Finding("render", render)]


def config_problems(config: Config) -> list[str]:
    """What `dmask config check` adds to the schema: endpoints, key files, the source, the models.

    Each problem as one line naming the key (the publisher's first); starts nothing.
    """
    from dmask.measure.avatar import AVATAR_FILE, TEXTURE_FILE
    from dmask.measure.inference import DETECTOR_FILE, IRIS_FILE, LANDMARK_FILE
    from dmask.capture.sources import parse_source
    from dmask.serve.transport import check_publish

    problems = []
    for check in (lambda: check_publish(config.publish), lambda: config.source.uri and parse_source(config.source.uri)):
        try:
            check()
        except DmaskError as error:
            problems.append(str(error))
    for name in (DETECTOR_FILE, LANDMARK_FILE, IRIS_FILE, AVATAR_FILE, TEXTURE_FILE):
        if not (config.inference.models_path / name).is_file():
            problems.append(f"inference.models_dir: {config.inference.models_path / name} is missing")
    return problems


def report(config: Config) -> str:
    lines = []
    for finding in machine_findings():
        missing = finding.found in ("not installed", "none found")
        lines.append(f"{finding.name}: {finding.found}" + (f" ({finding.hint})" if missing and finding.hint else ""))
    lines += [f"stage {f.name}: {f.found}" for f in stage_choices(config)]
    return "\n".join(lines)
