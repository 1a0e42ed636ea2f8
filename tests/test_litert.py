"""The LiteRT runner: the wheel's TFLite files give what the ONNX conversions give, and a
machine without LiteRT runs onnxruntime, said once."""

from __future__ import annotations

import dataclasses
import logging
import sys

import numpy as np

from dmask.config import DEFAULT_MODELS_DIR, Config, CpuRuntime, CpuRuntimes
from dmask.measure.inference import IRIS_FILE, OnnxModel
from dmask.measure.litert import LiteRTModel
from dmask.capture.media import VideoReader
from dmask.models import InferenceModels


def with_runtimes(config: Config, detector: CpuRuntime, mesh: CpuRuntime, iris: CpuRuntime) -> Config:
    runtimes = CpuRuntimes(detector, mesh, iris)
    return dataclasses.replace(config, inference=dataclasses.replace(config.inference, cpu_runtime=runtimes))


def test_iris_batch_of_two_is_two_single_calls_and_matches_onnxruntime():
    crops = np.random.default_rng(0).uniform(0, 1, (2, 64, 64, 3)).astype(np.float32)
    litert = LiteRTModel(DEFAULT_MODELS_DIR / IRIS_FILE.replace(".onnx", ".tflite"), threads=1)
    both = litert.run(crops)
    singles = [litert.run(crops[i : i + 1]) for i in range(2)]
    onnx = OnnxModel(DEFAULT_MODELS_DIR / IRIS_FILE, ["CPUExecutionProvider"], threads=1).run(crops)
    assert [o.shape for o in both] == [(2, 213), (2, 15)]
    for k in range(2):
        np.testing.assert_allclose(both[k], np.concatenate([s[k] for s in singles]), atol=1e-4)
        np.testing.assert_allclose(both[k], onnx[k], atol=1e-2)  # crop pixels of 64


def test_tracking_with_litert_follows_onnxruntime_to_a_fraction_of_a_pixel(shared_data, config):
    """Both runtimes track the same face through a real clip; tracking feeds each frame's
    landmarks into the next frame's crop, so rounding differences could only grow."""
    traces = {}
    for runtime in CpuRuntime:
        chosen = with_runtimes(config, runtime, runtime, runtime)
        models = InferenceModels.load(chosen)
        assert models.label.startswith(f"detector {runtime.value}, mesh {runtime.value}, iris {runtime.value}")
        tracker = models.tracker(chosen, still=False)
        with VideoReader(shared_data / "videos/lp_driving_d5.mp4") as reader:
            traces[runtime] = [tracker.observe(frame.image).faces[0] for frame, _ in zip(reader, range(60))]
    for lite, onnx in zip(traces[CpuRuntime.LITERT], traces[CpuRuntime.ONNXRUNTIME]):
        assert np.abs(lite.landmarks[:, :2] - onnx.landmarks[:, :2]).max() < 0.5
        for eye in ("right_eye", "left_eye"):
            assert np.abs(getattr(lite, eye).iris - getattr(onnx, eye).iris).max() < 0.5
            assert np.abs(getattr(lite, eye).lids - getattr(onnx, eye).lids).max() < 0.5


def test_without_litert_every_network_runs_on_onnxruntime_with_one_warning(config, caplog, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import fails as if not installed
    with caplog.at_level(logging.WARNING):
        models = InferenceModels.load(with_runtimes(config, CpuRuntime.LITERT, CpuRuntime.ONNXRUNTIME, CpuRuntime.LITERT))
    assert models.label == "detector onnxruntime, mesh onnxruntime, iris onnxruntime (onnxruntime on CPUExecutionProvider)"
    assert [r.getMessage() for r in caplog.records] == [
        "inference.cpu_runtime litert is not available (ai-edge-litert is not installed "
        "(import of ai_edge_litert.interpreter halted; None in sys.modules)); using onnxruntime"
    ]


def test_each_network_takes_its_own_runtime(config, caplog):
    with caplog.at_level(logging.WARNING):
        models = InferenceModels.load(with_runtimes(config, CpuRuntime.LITERT, CpuRuntime.LITERT, CpuRuntime.ONNXRUNTIME))
    assert caplog.records == []
    assert isinstance(models.detector, LiteRTModel) and isinstance(models.landmarks, LiteRTModel)
    assert isinstance(models.iris, OnnxModel)
    assert models.label == "detector litert, mesh litert, iris onnxruntime (onnxruntime on CPUExecutionProvider)"
