#!/usr/bin/env python3
"""Do the newest versions pyproject.toml's ranges allow mask as the pinned, tested install does?

pyproject.toml keeps version ranges for people who install dmask into an
environment of their own; constraints.txt pins what is tested. This makes a
virtualenv from the ranges alone (the newest versions they allow today),
masks the same photos and video frames there and in the install that runs it
(the pinned one), and compares every output pixel and every published number.
It prints the versions that differ and exits 1 where the masks or the signals
differ beyond the tolerances below. tests/test_version_ranges.py runs it in CI.

Usage: python tools/newest_check.py [--work DIR] [--shared DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
PHOTOS = ("identities/angelina_jolie/df_img7.jpg", "identities_orl/s1/1.pgm", "multi_face/df_couple.jpg")
VIDEO = "videos/lp_driving_d1.mp4"  # 16 frames
# A pixel off by more than PIXEL_STEP grey levels is a changed pixel; at most CHANGED_SHARE of a mask's may be.
PIXEL_STEP, CHANGED_SHARE = 8, 0.002
# A published number may move by this much (its own unit: deg, mm, PD, 0..1) between the two installs.
SIGNAL_TOLERANCE = 0.05
NO_INDEX = 3  # exit status where the newest versions could not be installed
PACKAGES = ("numpy", "opencv-python-headless", "onnxruntime", "numba", "av", "pillow", "ai-edge-litert", "pyzmq")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder for the virtualenv and the masks (default: a temporary one)")
    parser.add_argument("--shared", type=Path, default=Path(os.environ.get("DMASK_SHARED_DATA", REPO.parent / "shared" / "data")))
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="dmask-newest-"))
    newest = work / "venv"
    if not (newest / "bin" / "dmask").exists():
        subprocess.run([sys.executable, "-m", "venv", str(newest)], check=True)
        made = subprocess.run([str(newest / "bin" / "pip"), "install", "--quiet", "-e", str(REPO)], capture_output=True, text=True)
        if made.returncode != 0:
            print(f"could not install the newest versions (no package index?): {made.stderr.strip().splitlines()[-1:]}")
            return NO_INDEX
    pinned_bin = Path(sys.executable).parent
    versions = {name: (_version(pinned_bin, name), _version(newest / "bin", name)) for name in PACKAGES}
    for name, (pinned, latest) in versions.items():
        print(f"  {name:<24} pinned {pinned:<12} newest allowed {latest}" + ("" if pinned == latest else "   <- differs"))
    outputs = {label: _mask(bin_dir, args.shared, work / label) for label, bin_dir in (("pinned", pinned_bin), ("newest", newest / "bin"))}
    problems = _compare_photos(*outputs.values()) + _compare_signals(*outputs.values())
    for problem in problems:
        print(f"  DIFFERS: {problem}")
    print("the newest versions the ranges allow mask as the pinned ones do" if not problems else
          "the newest versions the ranges allow mask differently: bound the ranges in pyproject.toml, or fix the code")
    return 1 if problems else 0


def _version(bin_dir: Path, name: str) -> str:
    code = f"from importlib.metadata import version\ntry: print(version({name!r}))\nexcept Exception: print('-')"
    return subprocess.run([str(bin_dir / "python"), "-c", code], capture_output=True, text=True).stdout.strip()


def _mask(bin_dir: Path, shared: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    inputs = [str(shared / p) for p in PHOTOS] + [str(shared / VIDEO)]
    env = {**os.environ, "XDG_STATE_HOME": str(out / "state")}
    subprocess.run([str(bin_dir / "dmask"), "mask", *inputs, "-o", str(out / "masks"), "--signals", str(out / "signals.csv"),
                    "--overwrite", "--no-progress"], check=True, env=env, capture_output=True)
    return out


def _compare_photos(pinned: Path, newest: Path) -> list[str]:
    problems = []
    for photo in PHOTOS:
        name = Path(photo).name
        a, b = (cv2.imread(str(side / "masks" / name)) for side in (pinned, newest))
        if a is None or b is None or a.shape != b.shape:
            problems.append(f"{name}: no mask, or masks of different sizes")
            continue
        changed = float(np.mean(np.abs(a.astype(int) - b.astype(int)).max(2) > PIXEL_STEP))
        if changed > CHANGED_SHARE:
            problems.append(f"{name}: {changed:.2%} of the mask's pixels changed by more than {PIXEL_STEP} grey levels")
    return problems


def _compare_signals(pinned: Path, newest: Path) -> list[str]:
    rows = [list(csv.DictReader((side / "signals.csv").open())) for side in (pinned, newest)]
    if len(rows[0]) != len(rows[1]):
        return [f"signals: {len(rows[0])} rows pinned, {len(rows[1])} newest"]
    worst: dict[str, float] = {}
    for a, b in zip(*rows):
        for key, value in a.items():
            x, y = _number(value), _number(b.get(key, ""))
            if math.isnan(x) and math.isnan(y):
                if value != b.get(key, ""):  # a word (the file, the frame's status)
                    worst[key] = math.inf
                continue
            gap = math.inf if math.isnan(x) != math.isnan(y) else abs(x - y)
            worst[key] = max(worst.get(key, 0.0), gap)
    moved = {k: v for k, v in worst.items() if v > SIGNAL_TOLERANCE and not k.startswith(("timestamp", "head_x", "head_y", "head_scale"))}
    return [f"signals: {json.dumps({k: round(v, 4) for k, v in sorted(moved.items(), key=lambda kv: -kv[1])[:8]})}"] if moved else []


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


if __name__ == "__main__":
    sys.exit(main())
