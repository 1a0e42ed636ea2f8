"""Everything loaded from models/: the three networks and the avatar, loaded
once per process and shared by every stream (ModelSet.load).

The networks run as TensorRT engines, or on the CPU (each network on its
`inference.cpu_runtime`: LiteRT or onnxruntime), chosen through
dmask.backends' one rule; all have the same `run` interface, so the tracker
does not know which it drives.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmask.measure.avatar import Avatar
from dmask.backends import preferred_or_cpu
from dmask.config import Config, CpuRuntime, InferenceConfig, InferenceEngine
from dmask.measure.inference import DETECTOR_FILE, IRIS_FILE, LANDMARK_FILE, FaceDetector, FaceMesh, IrisModel, Network, OnnxModel
from dmask.measure.litert import LiteRTModel
from dmask.draw.scene import AvatarRig
from dmask.measure.tracking import FaceTracker

MODEL_FILES = (DETECTOR_FILE, LANDMARK_FILE, IRIS_FILE)


@dataclass(frozen=True)
class InferenceModels:
    """The three networks, where they run, and that said in words (for `dmask check` and the daemon's start line)."""

    detector: Network
    landmarks: Network
    iris: Network
    engine: InferenceEngine
    label: str

    @staticmethod
    def load(config: Config) -> "InferenceModels":
        inference = config.inference
        return preferred_or_cpu(
            "inference.engine", inference.engine, InferenceEngine.TENSORRT,
            lambda: _tensorrt_models(inference), lambda: _cpu_models(inference), "the CPU",
        )

    def tracker(self, config: Config, still: bool) -> FaceTracker:
        tracking = config.tracking
        return FaceTracker(
            FaceDetector(self.detector, tracking.detection_threshold),
            FaceMesh(self.landmarks),
            IrisModel(self.iris),
            tracking,
            still,
        )


def _tensorrt_models(inference: InferenceConfig) -> InferenceModels:
    from dmask.measure.engines import TensorRTModel

    networks = [TensorRTModel(inference.models_path / name, inference.engine_cache_path) for name in MODEL_FILES]
    return InferenceModels(*networks, engine=InferenceEngine.TENSORRT, label="TensorRT engines")


def _cpu_models(inference: InferenceConfig) -> InferenceModels:
    """Each network on its CPU runtime; if LiteRT will not start, onnxruntime for all, said once."""
    asked = (inference.cpu_runtime.detector, inference.cpu_runtime.mesh, inference.cpu_runtime.iris)
    onnx_only = (CpuRuntime.ONNXRUNTIME,) * len(asked)
    networks, chosen = preferred_or_cpu(
        "inference.cpu_runtime", CpuRuntime.LITERT if CpuRuntime.LITERT in asked else CpuRuntime.ONNXRUNTIME, CpuRuntime.LITERT,
        lambda: (_cpu_networks(inference, asked), asked), lambda: (_cpu_networks(inference, onnx_only), onnx_only), "onnxruntime",
    )
    label = ", ".join(f"{role} {runtime.value}" for role, runtime in zip(("detector", "mesh", "iris"), chosen))
    if CpuRuntime.ONNXRUNTIME in chosen:
        label += f" (onnxruntime on {', '.join(inference.providers)})"
    return InferenceModels(*networks, engine=InferenceEngine.CPU, label=label)


def _cpu_networks(inference: InferenceConfig, runtimes: tuple[CpuRuntime, ...]) -> list[Network]:
    """LiteRT runs the wheel's TFLite file; onnxruntime the ONNX conversion."""
    folder = inference.models_path
    return [
        LiteRTModel(folder / name.replace(".onnx", ".tflite"), inference.threads) if runtime is CpuRuntime.LITERT
        else OnnxModel(folder / name, list(inference.providers), inference.threads)
        for runtime, name in zip(runtimes, MODEL_FILES)
    ]


@dataclass(frozen=True)
class ModelSet:
    """Networks, avatar and its rig: load once, share between streams."""

    inference: InferenceModels
    avatar: Avatar
    rig: AvatarRig

    @staticmethod
    def load(config: Config) -> "ModelSet":
        avatar = Avatar.load(config.inference.models_path)
        return ModelSet(InferenceModels.load(config), avatar, AvatarRig(avatar))
