"""How the cost of a frame grows with the faces in it: `dmask bench` on 1, 2 and 4 faces.

../shared/data has one clip with more than one face (fr_short_hamilton_clip,
640x360, one or two people on a stage), so the grid clips are made: N copies
of one face video (default lp_driving_d10, 512x512), each started PHASE
frames after the one before so that the faces move differently, side by side
in a 1280x720 frame (one row for 1 or 2 faces, 2 x 2 for 4). Each clip is
masked as `dmask bench` does (tracking.max_faces 4), and the table gives
fps, inference and render per frame and per face.

    python tools/bench_faces.py ../shared/data/videos [--frames 150]

Prints a Markdown table, with the machine's CPU model.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dmask.bench import BenchReport, bench_video  # noqa: E402
from dmask.config import load_config  # noqa: E402
from dmask.report_folder import cpu_model  # noqa: E402
from dmask.capture.media import VideoReader  # noqa: E402
from dmask.models import ModelSet  # noqa: E402

SIZE = (1280, 720)
GRIDS = {1: (1, 1), 2: (2, 1), 4: (2, 2)}  # faces: (columns, rows)
PHASE = 37  # frames between copies


def grid_clip(source: Path, faces: int, frames: int, out: Path) -> Path:
    """A SIZE clip of `faces` copies of source in a grid, each PHASE frames on from the last."""
    with VideoReader(source) as reader:
        images = [frame.image for frame, _ in zip(reader, range(frames + PHASE * (faces - 1)))]
        fps = reader.fps
    columns, rows = GRIDS[faces]
    cell = min(SIZE[0] // columns, SIZE[1] // rows)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    for t in range(frames):
        canvas = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
        for k, (row, column) in enumerate(itertools.islice(itertools.product(range(rows), range(columns)), faces)):
            x0 = (SIZE[0] - columns * cell) // 2 + column * cell
            y0 = (SIZE[1] - rows * cell) // 2 + row * cell
            canvas[y0 : y0 + cell, x0 : x0 + cell] = cv2.resize(images[(t + PHASE * k) % len(images)], (cell, cell), interpolation=cv2.INTER_AREA)
        writer.write(canvas)
    writer.release()
    return out


def row(label: str, bench: BenchReport) -> str:
    inference, render = (bench.stage(name).milliseconds[0] for name in ("inference", "render"))
    faces = max(bench.faces_per_frame, 1e-9)
    return (
        f"| {label} | {bench.faces_per_frame:.2f} | {bench.fps:.1f} | {inference:.2f} | {inference / faces:.2f} | "
        f"{render:.2f} | {render / faces:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", type=Path, help="the folder of ../shared/data's videos")
    parser.add_argument("--source", default="lp_driving_d10.mp4", help="the one-face video the grids are made of")
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args()
    base = load_config(None)
    config = dataclasses.replace(base, tracking=dataclasses.replace(base.tracking, max_faces=4))
    models = ModelSet.load(config)
    print(f"CPU: {cpu_model()}; {args.frames} frames each, p50 ms, one thread as in `dmask bench`\n")
    print("| clip | faces per frame | fps | inference | per face | render | per face |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for faces in GRIDS:
            clip = grid_clip(args.videos / args.source, faces, args.frames, Path(scratch) / f"grid{faces}.mp4")
            print(row(f"{faces} x {args.source} in {SIZE[0]}x{SIZE[1]}", bench_video(clip, config, models, args.frames)), flush=True)
    hamilton = args.videos / "fr_short_hamilton_clip.mp4"
    print(row(f"{hamilton.name} (640x360)", bench_video(hamilton, config, models, args.frames)))


if __name__ == "__main__":
    main()
