"""TensorRT engines for the three networks: built from models/, cached on disk.

An engine is only valid for the TensorRT version and the GPU it was built
on, so its file name carries the model's sha256, the TensorRT version, the
GPU's name and the precision; anything else is rebuilt, never loaded. Builds
share a timing cache (one per TensorRT version and GPU) so rebuilding after
a model update takes seconds, not minutes. FP16 where the GPU has fast FP16.
The iris model's dynamic batch gets one optimisation profile, 1 to 2 (both
eyes). Buffers live on the device through pycuda; `TensorRTModel.run` has
OnnxModel's interface, so the tracker does not know which one it drives.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmask.errors import ModelError

MAX_BATCH = 2


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine's validity depends on."""

    model_sha256: str
    tensorrt_version: str
    gpu_name: str
    fp16: bool

    @staticmethod
    def for_model(path: Path, tensorrt_version: str, gpu_name: str, fp16: bool) -> "EngineKey":
        return EngineKey(hashlib.sha256(path.read_bytes()).hexdigest(), tensorrt_version, gpu_name, fp16)

    @property
    def gpu_slug(self) -> str:
        """The GPU's name as a file-name part."""
        return re.sub(r"[^A-Za-z0-9]+", "-", self.gpu_name).strip("-").lower()

    def file_name(self, model_stem: str) -> str:
        precision = "fp16" if self.fp16 else "fp32"
        return f"{model_stem}.{self.model_sha256[:16]}.trt{self.tensorrt_version}.{self.gpu_slug}.{precision}.engine"

    def timing_cache_name(self) -> str:
        return f"timing.trt{self.tensorrt_version}.{self.gpu_slug}.cache"


class TensorRTModel:
    """One engine with device buffers, run like an OnnxModel (NHWC float32 in)."""

    def __init__(self, path: Path, cache_dir: Path) -> None:
        import pycuda.autoinit  # noqa: F401 - creates the CUDA context
        import pycuda.driver as cuda
        import tensorrt as trt

        self.cuda, self.trt = cuda, trt
        self.logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(self.logger)
        key = EngineKey.for_model(path, trt.__version__, cuda.Device(0).name(), bool(builder.platform_has_fast_fp16))
        cache_dir.mkdir(parents=True, exist_ok=True)
        engine_path = cache_dir / key.file_name(path.stem)
        if not engine_path.is_file():
            self._build(builder, path, key, engine_path, cache_dir / key.timing_cache_name())
        self.engine = trt.Runtime(self.logger).deserialize_cuda_engine(engine_path.read_bytes())
        if self.engine is None:
            raise ModelError(f"TensorRT could not load {engine_path}; delete it to rebuild")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output_names = [n for n in names if n != self.input_name]
        self.stream = cuda.Stream()
        self._buffers: dict[str, tuple[object, int]] = {}

    def _build(self, builder, path: Path, key: EngineKey, engine_path: Path, timing_path: Path) -> None:
        trt = self.trt
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, self.logger)
        if not parser.parse(path.read_bytes()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ModelError(f"TensorRT cannot parse {path}: {errors}")
        config = builder.create_builder_config()
        if key.fp16:
            config.set_flag(trt.BuilderFlag.FP16)
        timing = config.create_timing_cache(timing_path.read_bytes() if timing_path.is_file() else b"")
        config.set_timing_cache(timing, ignore_mismatch=False)
        inputs = [network.get_input(i) for i in range(network.num_inputs)]
        if any(d < 0 for tensor in inputs for d in tensor.shape):
            profile = builder.create_optimization_profile()
            for tensor in inputs:
                shape = [MAX_BATCH if d < 0 else d for d in tensor.shape]
                profile.set_shape(tensor.name, [1, *shape[1:]], shape, shape)
            config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise ModelError(f"TensorRT could not build an engine from {path}")
        engine_path.write_bytes(bytes(serialized))
        timing_path.write_bytes(bytes(config.get_timing_cache().serialize()))

    def _device(self, name: str, nbytes: int):
        allocation, size = self._buffers.get(name, (None, 0))
        if size < nbytes:
            allocation = self.cuda.mem_alloc(nbytes)
            self._buffers[name] = (allocation, nbytes)
        return allocation

    def run(self, images: np.ndarray) -> list[np.ndarray]:
        """images: (B, H, W, 3) float32 RGB; returns outputs flattened per batch item."""
        cuda = self.cuda
        x = np.ascontiguousarray(images, np.float32)
        self.context.set_input_shape(self.input_name, x.shape)
        source = self._device(self.input_name, x.nbytes)
        cuda.memcpy_htod_async(source, x, self.stream)
        self.context.set_tensor_address(self.input_name, int(source))
        outputs = []
        for name in self.output_names:
            host = np.empty(tuple(self.context.get_tensor_shape(name)), np.float32)
            device = self._device(name, host.nbytes)
            self.context.set_tensor_address(name, int(device))
            outputs.append((host, device))
        self.context.execute_async_v3(self.stream.handle)
        for host, device in outputs:
            cuda.memcpy_dtoh_async(host, device, self.stream)
        self.stream.synchronize()
        return [host.reshape(len(x), -1) for host, _ in outputs]
