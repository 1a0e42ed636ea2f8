"""TensorRT engine cache keys, the onnxruntime fallback, and `dmask check` without a GPU."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging

import pytest

from dmask.config import InferenceEngine
from dmask.measure.engines import EngineKey
from dmask.models import InferenceModels
from support import dmask

NO_GPU_STACK = not any(importlib.util.find_spec(m) for m in ("tensorrt", "pycuda", "cupy"))
needs_no_gpu_stack = pytest.mark.skipif(not NO_GPU_STACK, reason="these check machines without TensorRT, pycuda and CuPy")


def test_an_engine_is_keyed_by_model_tensorrt_version_gpu_and_precision(config):
    model = config.inference.models_path / "face_landmark.onnx"
    key = EngineKey.for_model(model, "10.3.0", "Orin (nvgpu)", fp16=True)
    name = key.file_name("face_landmark")
    assert name == EngineKey.for_model(model, "10.3.0", "Orin (nvgpu)", fp16=True).file_name("face_landmark")
    others = {
        EngineKey.for_model(config.inference.models_path / "iris_landmark.onnx", "10.3.0", "Orin (nvgpu)", True).file_name("face_landmark"),
        dataclasses.replace(key, tensorrt_version="10.4.0").file_name("face_landmark"),
        dataclasses.replace(key, gpu_name="NVIDIA H100 80GB HBM3").file_name("face_landmark"),
        dataclasses.replace(key, fp16=False).file_name("face_landmark"),
    }
    assert name not in others and len(others) == 4
    assert name.startswith("face_landmark.") and name.endswith(".trt10.3.0.orin-nvgpu.fp16.engine")
    assert key.timing_cache_name() != dataclasses.replace(key, gpu_name="NVIDIA H100").timing_cache_name()


@needs_no_gpu_stack
def test_tensorrt_asked_for_but_missing_falls_back_to_the_cpu_with_one_warning(config, caplog):
    wanted = dataclasses.replace(config, inference=dataclasses.replace(config.inference, engine=InferenceEngine.TENSORRT))
    with caplog.at_level(logging.WARNING):
        models = InferenceModels.load(wanted)
    assert models.engine is InferenceEngine.CPU
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith("inference.engine tensorrt is not available (No module named")


@needs_no_gpu_stack
def test_auto_without_tensorrt_uses_the_cpu_quietly(config, caplog):
    with caplog.at_level(logging.WARNING):
        assert InferenceModels.load(config).engine is InferenceEngine.CPU
    assert caplog.records == []


@needs_no_gpu_stack
def test_check_says_what_is_missing_and_what_each_stage_uses(tmp_path):
    result = dmask(tmp_path, "check")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "GPU: none found (the CPU path runs everything)"
    assert any(line.startswith("TensorRT: not installed (on a Jetson: apt install python3-libnvinfer") for line in lines)
    assert any(line.startswith("pycuda: not installed") for line in lines)
    assert lines[-2:] == ["stage inference: detector litert, mesh litert, iris litert", "stage render: cpu"]
