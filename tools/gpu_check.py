#!/usr/bin/env python3
"""The device check for the CUDA renderer, in one run (needs an NVIDIA GPU and CuPy, for its timers).

1. Fits the frames of a real video on the CPU (the normal pipeline) and draws
   each with both renderers; reports the fraction of differing pixels and the
   largest difference (the target is none).
2. Times the kernels at 720p, 1080p and 4K with CUDA events around the three
   launches (median of many runs after warm-up), the avatar scaled to a face
   of the same share of the frame; also the whole render call with the mesh
   upload and the frame download.
3. Where TensorRT and pycuda are installed, builds the engines (cached) and
   times the networks of a tracked frame against the CPU runtimes on the same frame.
Writes a table to stdout and every number to OUT/gpu_check.json.

On the lent machine, with a video copied into an ignored folder that is carried:
    python3 tools/gpu_check.py .gpucheck/lp_driving_d10.mp4 --frames 300 --out "$OUT"
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dmask.config import InferenceEngine, load_config  # noqa: E402
from dmask.capture.media import VideoReader  # noqa: E402
from dmask.models import ModelSet  # noqa: E402
from dmask.pipeline import MaskPipeline  # noqa: E402
from dmask.draw.cpu import CpuRenderer  # noqa: E402
from dmask.draw.cuda import CudaRenderer  # noqa: E402
from dmask.draw.launchers import CupyLauncher  # noqa: E402
from dmask.draw.mesh import RenderMesh  # noqa: E402

RESOLUTIONS = {"720p": (720, 1280), "1080p": (1080, 1920), "4K": (2160, 3840)}


def fitted_meshes(video: Path, frames: int) -> tuple[list[RenderMesh], tuple[int, int]]:
    config = load_config(None)
    pipeline = MaskPipeline(config, ModelSet.load(config))
    meshes = []
    with VideoReader(video) as reader:
        size = (reader.height, reader.width)
        for frame, _ in zip(reader, range(frames)):
            masked = pipeline.process(frame)
            meshes.append(RenderMesh.concatenate([pipeline.models.rig.mesh(p) for p in masked.faces]))
    return meshes, size


def compare(meshes: list[RenderMesh], size: tuple[int, int], gpu: CudaRenderer) -> dict:
    cpu = CpuRenderer()
    differing, largest = [], 0
    for mesh in meshes:
        a, b = cpu.render(mesh, *size).astype(np.int16), gpu.render(mesh, *size).astype(np.int16)
        differing.append(float((a != b).any(axis=2).mean()))
        largest = max(largest, int(np.abs(a - b).max()))
    return {"frames": len(meshes), "mean_differing_fraction": float(np.mean(differing)), "max_differing_fraction": max(differing), "largest_difference": largest}


def scaled(mesh: RenderMesh, source: tuple[int, int], target: tuple[int, int]) -> RenderMesh:
    factor = target[0] / source[0]
    positions = mesh.positions * np.float32(factor)
    return dataclasses.replace(mesh, positions=positions.astype(np.float32))


def time_kernels(gpu: CudaRenderer, mesh: RenderMesh, size: tuple[int, int], runs: int) -> dict:
    """Kernels alone (CUDA events around the launches) and the whole call with transfers."""
    cp = gpu.launcher.cp
    uploaded = gpu.upload(mesh)
    for _ in range(10):
        gpu.render(mesh, *size)
    start, stop = cp.cuda.Event(), cp.cuda.Event()
    kernel_ms, call_ms = [], []
    for _ in range(runs):
        start.record()
        gpu.launch(uploaded, *size)
        stop.record()
        stop.synchronize()
        kernel_ms.append(cp.cuda.get_elapsed_time(start, stop))
        t0 = time.perf_counter()
        gpu.render(mesh, *size)
        call_ms.append((time.perf_counter() - t0) * 1e3)
    return {"kernels_ms_p50": float(np.median(kernel_ms)), "render_with_transfers_ms_p50": float(np.median(call_ms))}


def time_inference(video: Path, runs: int) -> dict:
    """Median ms of mesh + both irises on one tracked frame, TensorRT against the CPU runtimes."""
    results = {}
    for engine in (InferenceEngine.TENSORRT, InferenceEngine.CPU):
        base = load_config(None)
        config = dataclasses.replace(base, inference=dataclasses.replace(base.inference, engine=engine))
        pipeline = MaskPipeline(config, ModelSet.load(config))
        if pipeline.models.inference.engine is not engine:
            return {"tensorrt": "failed to start; see the warning above"}
        with VideoReader(video) as reader:
            frame = next(iter(reader))
        pipeline.process(frame)
        track = pipeline.tracker.tracks[0]
        timings = []
        for _ in range(runs):
            t0 = time.perf_counter()
            pipeline.tracker.mesh.run(frame.image, track.roi())
            pipeline.tracker.iris.run(frame.image, track.landmarks)
            timings.append((time.perf_counter() - t0) * 1e3)
        results[f"{engine.value}_tracked_frame_ms_p50"] = float(np.median(timings))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    gpu = CudaRenderer(launcher=CupyLauncher())
    gpu.warmup()
    device = gpu.launcher.cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    meshes, size = fitted_meshes(args.video, args.frames)
    report = {"device": device, "video": args.video.name, "agreement": compare(meshes, size, gpu), "timing": {}}
    face = max(meshes, key=lambda m: len(m.triangles))
    for name, target in RESOLUTIONS.items():
        report["timing"][name] = time_kernels(gpu, scaled(face, size, target), target, args.runs)
    installed = all(importlib.util.find_spec(m) for m in ("tensorrt", "pycuda"))
    report["tensorrt"] = time_inference(args.video, args.runs) if installed else "TensorRT or pycuda not installed"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    a = report["agreement"]
    print(f"{device}; {a['frames']} frames of {args.video.name}: {a['mean_differing_fraction']:.6f} of pixels differ on average, largest difference {a['largest_difference']}")
    print(f"{'resolution':<12}{'kernels p50 ms':>16}{'with transfers p50 ms':>23}")
    for name, t in report["timing"].items():
        print(f"{name:<12}{t['kernels_ms_p50']:>16.3f}{t['render_with_transfers_ms_p50']:>23.3f}")
    print(f"TensorRT: {report['tensorrt']}")


if __name__ == "__main__":
    main()
