"""The oscillation check of issue 25: none in healthy faces, a synthetic nystagmus found at its size.

For each signals CSV (`dmask mask VIDEO --signals X.csv`): what `dmask report`
finds in the gaze as recorded (healthy faces: it should find nothing), and
what it finds once a 3 Hz horizontal sine of 2 and of 4 degrees peak to peak
is added to both eyes' yaw (dmask.clinical.oscillation). Prints a Markdown
table.

    python tools/oscillation_check.py signals/*.csv
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from dmask.errors import InputError
from dmask.clinical.oscillation import Oscillation, find_oscillation
from dmask.clinical.recording import load_recording

HZ = 3.0
PEAK_TO_PEAK_DEG = (2.0, 4.0)


def _cell(found: Oscillation, added: float | None = None) -> str:
    if not math.isfinite(found.prominence):
        return "too short"
    if not found.found:
        return f"none ({found.prominence:.0f} < {found.threshold:.0f})"
    text = f"{found.frequency_hz:.2f} Hz, {found.amplitude_deg:.2f} deg"
    if added is not None:
        text += f" ({found.amplitude_deg / added - 1:+.0%})"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csvs", nargs="+", type=Path)
    args = parser.parse_args()
    print("| clip | fps | horizontal | vertical | " + " | ".join(f"+{HZ:g} Hz {pp:g} deg p-p" for pp in PEAK_TO_PEAK_DEG) + " |")
    print("|---|---|---|---|" + "---|" * len(PEAK_TO_PEAK_DEG))
    for path in args.csvs:
        try:
            recording = load_recording(path)
        except InputError as error:
            print(f"| {path.stem} | | {error} | | " + "| " * len(PEAK_TO_PEAK_DEG))
            continue
        seconds, fps = recording.seconds, recording.fps
        traces = {axis: (recording[f"right_gaze_{axis}_deg"], recording[f"left_gaze_{axis}_deg"]) for axis in ("yaw", "pitch")}
        healthy = [_cell(find_oscillation(*traces[axis], fps)) for axis in ("yaw", "pitch")]
        added = []
        for pp in PEAK_TO_PEAK_DEG:
            sine = 0.5 * pp * np.sin(2 * math.pi * HZ * np.arange(len(seconds)) / fps)
            right, left = traces["yaw"]
            added.append(_cell(find_oscillation(right + sine, left + sine, fps), pp))
        print(f"| {path.stem} | {fps:.1f} | " + " | ".join(healthy + added) + " |")


if __name__ == "__main__":
    main()
