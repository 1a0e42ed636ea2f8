"""Everything loaded from models/: the three networks and the avatar, loaded
once per process and shared by every stream (ModelSet.load).

The networks run as TensorRT engines or onnxruntime sessions, chosen by
`inference.engine` through edge.backends' one rule; both have the same
`run` interface, so the tracker does not know which it drives.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.avatar import Avatar
from edge.backends import preferred_or_cpu
from edge.config import Config, InferenceConfig, InferenceEngine
from edge.inference import DETECTOR_FILE, IRIS_FILE, LANDMARK_FILE, FaceDetector, FaceMesh, IrisModel, Network, OnnxModel
from edge.render.scene import AvatarRig
from edge.tracking import FaceTracker

MODEL_FILES = (DETECTOR_FILE, LANDMARK_FILE, IRIS_FILE)


@dataclass(frozen=True)
class InferenceModels:
    """The three networks, and which runtime runs them."""

    detector: Network
    landmarks: Network
    iris: Network
    engine: InferenceEngine

    @staticmethod
    def load(config: Config) -> "InferenceModels":
        inference = config.inference
        return preferred_or_cpu(
            "inference.engine", inference.engine, InferenceEngine.TENSORRT,
            lambda: _tensorrt_models(inference), lambda: _onnx_models(inference), "onnxruntime",
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
    from edge.engines import TensorRTModel

    networks = [TensorRTModel(inference.models_path / name, inference.engine_cache_path) for name in MODEL_FILES]
    return InferenceModels(*networks, engine=InferenceEngine.TENSORRT)


def _onnx_models(inference: InferenceConfig) -> InferenceModels:
    networks = [OnnxModel(inference.models_path / name, list(inference.providers), inference.threads) for name in MODEL_FILES]
    return InferenceModels(*networks, engine=InferenceEngine.ONNXRUNTIME)


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
