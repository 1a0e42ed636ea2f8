#!/usr/bin/env python3
"""Could the iris model run less often while the eye is still? What a hold would hide.

The option measured (and not shipped): run the iris model on an eye only when
its 64x64 crop has changed since the crop the model last saw (the largest
mean absolute difference of any 8x8 block of grey levels, 0..1, at or above
THRESHOLD), and otherwise reuse that run's outputs. Head movement does not
count (the crop follows the eye corners); blinks and large saccades change
the crop at once. This runs the model on every frame anyway and reports, for
the subject's right eye of each video, how many eye-frames the hold would
skip and how far the model's iris centre moved meanwhile: what the hold
would have frozen.

    python3 tools/iris_hold_check.py ../shared/data/videos [--frames 200] [--threshold 0.03]

Degrees are rough: a crop is 2.3 eye widths, an eye width about 30 mm, and
1 mm of iris travel about 4.8 degrees (a 12 mm eyeball radius).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dmask.config import load_config  # noqa: E402
from dmask.report_folder import cpu_model  # noqa: E402
from dmask.measure.inference import EYE_ROI_SCALE, IRIS_SIZE, eye_roi  # noqa: E402
from dmask.capture.media import VideoReader  # noqa: E402
from dmask.measure.mesh_index import RIGHT_EYE_INNER, RIGHT_EYE_OUTER  # noqa: E402
from dmask.models import InferenceModels  # noqa: E402

VIDEOS = ("lp_driving_d10.mp4", "lp_driving_d14.mp4", "lp_source_s32.mp4", "lp_driving_d6.mp4")
DEGREES_PER_PIXEL = EYE_ROI_SCALE / IRIS_SIZE * 30.0 / 12.0 * 180.0 / np.pi


def change(crop: np.ndarray, seen: np.ndarray) -> float:
    """The largest 8x8 block's mean absolute grey-level difference (0..1)."""
    grey = [cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in (crop, seen)]
    blocks = IRIS_SIZE // 8
    return float(np.abs(grey[0] - grey[1]).reshape(blocks, 8, blocks, 8).mean(axis=(1, 3)).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", type=Path)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--threshold", type=float, default=0.03)
    args = parser.parse_args()
    config = load_config(None)
    models = InferenceModels.load(config)
    print(f"CPU: {cpu_model()}; threshold {args.threshold}\n")
    print("| video | eye-frames | skipped | iris centre moved while held: p50 / p95 / max px (max degrees) |")
    print("|---|---|---|---|")
    for name in VIDEOS:
        tracker = models.tracker(config, still=False)
        seen, moved, frames = None, [], 0
        with VideoReader(args.videos / name) as reader:
            for frame, _ in zip(reader, range(args.frames)):
                tracker.observe(frame.image)
                if not tracker.tracks:
                    seen = None
                    continue
                landmarks = tracker.tracks[0].landmarks
                crop = eye_roi(landmarks[RIGHT_EYE_OUTER, :2], landmarks[RIGHT_EYE_INNER, :2], mirrored=False).warp(frame.image, IRIS_SIZE)
                outputs = {o.shape[1]: o for o in models.iris.run(crop[None])}
                centre = outputs[15][0, :2]
                frames += 1
                if seen is not None and change(crop, seen[0]) < args.threshold:
                    moved.append(float(np.linalg.norm(centre - seen[1])))
                else:
                    seen = (crop, centre)
        held = np.array(moved or [0.0])
        print(f"| {name} | {frames} | {len(moved)} | {np.median(held):.2f} / {np.percentile(held, 95):.2f} / {held.max():.2f} "
              f"({held.max() * DEGREES_PER_PIXEL:.1f}) |")


if __name__ == "__main__":
    main()
