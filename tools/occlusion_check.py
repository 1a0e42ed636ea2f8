"""How well the tracker tells a hidden eye from a seen one (dmask.measure.occlusion), on ../shared/data.

Two figures, both per eye-frame:
- false covers: eyes flagged hidden in the videos as they are (no cover in
  any of them), over every face video;
- caught covers: for each kind of occluder (dmask.evaluation.cover)
  composited over one eye of a video for COVER frames, the share of those
  frames flagged, the frames it took to flag the cover and to release it,
  and how far the other, uncovered eye's gaze moved from its reading without
  the cover (mean absolute difference of yaw and pitch, degrees).

    python tools/occlusion_check.py ../shared/data/videos [--frames 150]

Prints a Markdown table, with the machine's CPU model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dmask.config import load_config  # noqa: E402
from dmask.evaluation.cover import Occluder, covered  # noqa: E402
from dmask.report_folder import cpu_model  # noqa: E402
from dmask.capture.media import VideoReader  # noqa: E402
from dmask.models import ModelSet  # noqa: E402
from dmask.pipeline import MaskPipeline  # noqa: E402

COVER = (30, 60)  # frames first..end-1 under the cover, over the subject's right eye
COVERED_VIDEOS = ("lp_driving_d10.mp4", "lp_driving_d14.mp4", "lp_driving_d7.mp4", "lp_source_s20.mp4",
                  "lp_source_s29.mp4", "3ddfa_obama.mp4")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", type=Path)
    parser.add_argument("--frames", type=int, default=150, help="frames read from each video")
    args = parser.parse_args()
    config = load_config(None)
    models = ModelSet.load(config)
    print(f"CPU: {cpu_model()}\n")
    print("| video | eye-frames | false covers | " + " | ".join(f"{o.value}: caught, on, off, other eye (deg)" for o in Occluder) + " |")
    print("|---|---|---|" + "---|" * len(Occluder))
    totals = np.zeros(2, int)
    for path in sorted(args.videos.glob("*.mp4")):
        row = check(path, config, models, args.frames, path.name in COVERED_VIDEOS)
        if row is None:
            continue
        eyes, false, caught = row
        totals += (eyes, false)
        print(f"| {path.name} | {eyes} | {false} | " + " | ".join(caught) + " |")
    print(f"| all | {totals[0]} | {totals[1]} ({totals[1] / max(totals[0], 1):.2%}) |" + " |" * len(Occluder))


def check(path: Path, config, models, frames: int, cover: bool):
    """(eye-frames, false covers, per occluder 'caught, frames to flag, frames to release'), or None without a face."""
    reference = MaskPipeline(config, models=models)
    covering = {o: MaskPipeline(config, models=models) for o in Occluder} if cover else {}
    eyes = false = 0
    flags: dict[Occluder, list[bool]] = {o: [] for o in covering}
    moved: dict[Occluder, list[float]] = {o: [] for o in covering}
    with VideoReader(path) as reader:
        for index, frame in zip(range(frames), reader):
            faces = reference.tracker.observe(frame.image).faces
            if not faces:
                for o in covering:
                    flags[o].append(False)
                continue
            face = largest(faces)
            eyes += 2
            false += face.right_eye.occluded + face.left_eye.occluded
            left = reference.fitter.fit(face, frame.timestamp).left_eye
            for occluder, pipeline in covering.items():
                cover = COVER[0] <= index < COVER[1]
                found = pipeline.tracker.observe(covered(frame.image, face.landmarks, "right", occluder) if cover else frame.image).faces
                flags[occluder].append(bool(found) and largest(found).right_eye.occluded)
                if found:
                    seen = pipeline.fitter.fit(largest(found), frame.timestamp).left_eye
                    if cover:
                        moved[occluder].append(np.degrees(abs(seen.gaze_yaw - left.gaze_yaw) + abs(seen.gaze_pitch - left.gaze_pitch)) / 2)
    if not eyes:
        return None
    return eyes, false, [summary(flags[o], moved[o]) if o in flags else "" for o in Occluder]


def largest(faces):
    return max(faces, key=lambda f: np.ptp(f.landmarks[:, 0]))


def summary(flags: list[bool], moved: list[float]) -> str:
    first, end = COVER
    on = next((k for k in range(first, end) if flags[k]), None)
    off = next((k for k in range(end, len(flags)) if not flags[k]), None)
    caught = np.mean(flags[first:end])
    return f"{caught:.0%}, {'-' if on is None else on - first}, {'-' if off is None else off - end}, {np.nanmean(moved):.2f}"


if __name__ == "__main__":
    main()
