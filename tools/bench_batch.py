"""Throughput of `dmask batch` on a set of clips: 1 and 2 local workers, a local Dask cluster of 2 worker
processes, and a plain loop of `dmask mask` (one process per clip), one after another in the same run.

    python tools/bench_batch.py ../shared/data/videos [--clips 20]

Takes the --clips shortest videos of the folder (by frame count), copies them
into a scratch tree, and prints frames per second of wall time for each way,
model loading and start-up included (that is the overhead a batch saves),
with the machine's CPU model. Needs the batch extra (dask[distributed]).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dmask.report_folder import cpu_model  # noqa: E402

DMASK = [sys.executable, "-m", "dmask.cli"]


def frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", type=Path)
    parser.add_argument("--clips", type=int, default=20)
    args = parser.parse_args()
    from dask.distributed import LocalCluster

    clips = sorted(args.videos.glob("*.mp4"), key=frames)[: args.clips]
    total = sum(frames(clip) for clip in clips)
    with tempfile.TemporaryDirectory() as scratch:
        src = Path(scratch) / "src"
        src.mkdir()
        for clip in clips:
            shutil.copy(clip, src / clip.name)
        results = {}
        loop_out = Path(scratch) / "loop"
        loop_out.mkdir()
        results["plain loop of dmask mask"] = sum(
            timed([*DMASK, "mask", str(clip), "-o", str(loop_out / clip.name), "--no-progress"]) for clip in clips)
        for workers in (1, 2):
            results[f"dmask batch, {workers} local worker{'s' if workers > 1 else ''}"] = timed(
                [*DMASK, "batch", str(src), "-o", str(Path(scratch) / f"local{workers}"), "--workers", str(workers),
                 "--no-progress"])
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            results["dmask batch, local Dask cluster of 2 workers"] = timed(
                [*DMASK, "batch", str(src), "-o", str(Path(scratch) / "dask"), "--scheduler",
                 cluster.scheduler_address, "--no-progress"])
    print(f"{len(clips)} clips, {total} frames; {cpu_model()}")
    for name, seconds in results.items():
        print(f"{name}: {seconds:.1f} s, {total / seconds:.1f} frames/s")


if __name__ == "__main__":
    main()
