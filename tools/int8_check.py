#!/usr/bin/env python3
"""Would INT8 make the landmark networks faster here, and what would it cost in accuracy?

Static QDQ quantisation with onnxruntime's quantiser, calibrated on the crops
the tracker really feeds each network (face crops for the mesh, both eyes'
crops for the iris model) from the first half of each video's frames; then,
on crops from the other half, the time per call against the float model
(same session options as the product) and the landmark error against it in
crop pixels (mean and 99th percentile over points). Nothing here is shipped:
the product runs the float models (models/MODELS.md).

    pip install onnx    # the quantiser needs it; the appliance does not
    python3 tools/int8_check.py ../shared/data/videos [--frames 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dmask.config import load_config  # noqa: E402
from dmask.report_folder import cpu_model  # noqa: E402
from dmask.measure.inference import IRIS_FILE, IRIS_SIZE, LANDMARK_FILE, LANDMARK_SIZE, OnnxModel, eye_roi  # noqa: E402
from dmask.capture.media import VideoReader  # noqa: E402
from dmask.measure.mesh_index import LEFT_EYE_INNER, LEFT_EYE_OUTER, RIGHT_EYE_INNER, RIGHT_EYE_OUTER  # noqa: E402
from dmask.models import InferenceModels  # noqa: E402

VIDEOS = ("lp_driving_d10.mp4", "lp_driving_d14.mp4", "lp_source_s32.mp4", "3ddfa_obama.mp4")
POINTS = {LANDMARK_FILE: 468, IRIS_FILE: 71}  # (x, y, z) triples in the larger output (mesh; eye contour)


def crops(videos: Path, frames: int) -> dict[str, list[np.ndarray]]:
    """The face and eye crops the tracker fed its networks, per model file, in frame order."""
    config = load_config(None)
    fed: dict[str, list[np.ndarray]] = {LANDMARK_FILE: [], IRIS_FILE: []}
    for name in VIDEOS:
        tracker = InferenceModels.load(config).tracker(config, still=False)
        with VideoReader(videos / name) as reader:
            for frame, _ in zip(reader, range(frames)):
                for track in tracker.tracks:
                    fed[LANDMARK_FILE].append(track.roi().warp(frame.image, LANDMARK_SIZE))
                    lm = track.landmarks
                    for outer, inner, mirrored in ((RIGHT_EYE_OUTER, RIGHT_EYE_INNER, False), (LEFT_EYE_OUTER, LEFT_EYE_INNER, True)):
                        fed[IRIS_FILE].append(eye_roi(lm[outer, :2], lm[inner, :2], mirrored).warp(frame.image, IRIS_SIZE))
                tracker.observe(frame.image)
    return fed


def quantise(source: Path, target: Path, calibration: list[np.ndarray]) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quant_pre_process, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self, name: str) -> None:
            self.items = iter([{name: crop[None]} for crop in calibration])

        def get_next(self):
            return next(self.items, None)

    prepared = target.with_suffix(".pre.onnx")
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    name = OnnxModel(source, ["CPUExecutionProvider"], 1).input_name
    quantize_static(str(prepared), str(target), Reader(name), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)


def timed(model: OnnxModel, held_out: list[np.ndarray]) -> tuple[float, np.ndarray]:
    """Median ms per call and the first output, per crop."""
    seconds, outputs = [], []
    for crop in held_out:
        start = time.perf_counter()
        result = model.run(crop[None])
        seconds.append(time.perf_counter() - start)
        outputs.append(max(result, key=lambda o: o.shape[1])[0])
    return 1e3 * float(np.median(seconds)), np.array(outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", type=Path)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    try:
        import onnx  # noqa: F401
    except ImportError:
        sys.exit("int8_check: the quantiser needs the onnx package; pip install onnx")
    models = load_config(None).inference.models_path
    fed = crops(args.videos, args.frames)
    print(f"CPU: {cpu_model()}; one thread, ORT_ENABLE_ALL; calibration on half of each network's crops, figures on the other half\n")
    print("| network | crops | float ms | INT8 ms | INT8 / float | error mean px | error p99 px |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for file, all_crops in fed.items():
            calibration, held_out = all_crops[0::2], all_crops[1::2]
            target = Path(scratch) / file.replace(".onnx", ".int8.onnx")
            quantise(models / file, target, calibration)
            float_ms, reference = timed(OnnxModel(models / file, ["CPUExecutionProvider"], 1), held_out)
            int8_ms, quantised = timed(OnnxModel(target, ["CPUExecutionProvider"], 1), held_out)
            points = POINTS[file]
            error = np.linalg.norm((quantised - reference)[:, : 3 * points].reshape(len(held_out), points, 3)[..., :2], axis=-1)
            print(f"| {file} | {len(all_crops)} | {float_ms:.2f} | {int8_ms:.2f} | {int8_ms / float_ms:.2f} | "
                  f"{error.mean():.2f} | {np.percentile(error, 99):.2f} |")


if __name__ == "__main__":
    main()
