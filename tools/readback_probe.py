#!/usr/bin/env python3
"""Do the clinical signals survive the drawing? A quick read-back probe.

Masks each video, then runs the same detector, landmarks and fit on the
masked frames, and compares the two signal series per frame: Pearson r and
mean absolute difference of each eye's gaze yaw and aperture, the right
eye's gaze pitch and the mouth opening, plus how often a face is found on
the masked frames. Not the evaluation command (`dmask eval fidelity`, a
later issue): a measurement to steer the avatar's design with.

Usage: python tools/readback_probe.py ../shared/data/videos/lp_driving_d14.mp4 ...
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.config import load_config  # noqa: E402
from edge.media import VideoReader  # noqa: E402
from edge.pipeline import MaskPipeline, ModelSet  # noqa: E402
from edge.records import Frame, MaskParams  # noqa: E402

SIGNALS = ("right gaze yaw", "left gaze yaw", "right aperture", "left aperture", "right gaze pitch", "mouth open")


def signals(face: MaskParams) -> list[float]:
    right, left = face.right_eye, face.left_eye
    return [right.gaze_yaw, left.gaze_yaw, right.aperture, left.aperture, right.gaze_pitch, face.mouth_open]


def main() -> None:
    config = load_config(None)
    models = ModelSet.load(config)
    for video in map(Path, sys.argv[1:]):
        masker, reader_back = MaskPipeline(config, models=models), MaskPipeline(config, models=models)
        original, read_back, faces = [], [], 0
        with VideoReader(video) as reader:
            for frame in reader:
                masked = masker.process(frame)
                if not masked.faces:
                    continue
                faces += 1
                again = reader_back.process(Frame(masked.image, frame.seq, frame.timestamp))
                if again.faces:
                    original.append(signals(masked.faces[0]))
                    read_back.append(signals(again.faces[0]))
        a, b = np.array(original), np.array(read_back)
        print(f"{video.name}: face found on {len(a)}/{faces} masked frames")
        for i, name in enumerate(SIGNALS):
            print(f"  {name:<18} r {np.corrcoef(a[:, i], b[:, i])[0, 1]:.2f}   MAE {np.abs(a[:, i] - b[:, i]).mean():.3f}")


if __name__ == "__main__":
    main()
