"""One report folder: Markdown, PNG figures and a JSON of every number.

Every command under `dmask eval`, `dmask bench` and `dmask report` writes the same shape of
folder, so that results can be read by a person and compared by a program:

    OUT/report.md      the readable report, figures linked relatively
    OUT/results.json   every number in the report, plus when, where and how
    OUT/*.png          the figures

Each file is written atomically (temp file, then rename), so a run that is
stopped leaves the previous report or none, never half of one.
"""

from __future__ import annotations

import datetime
import importlib
import io
import json
import math
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dmask.errors import EvaluationError, install_hint
from dmask.provenance import source_commit
from dmask.capture.media import AtomicFile, make_output_dir

RAW_FACES_WARNING = (
    "**This figure shows raw, identifiable faces.** It is written only by `dmask eval` on data you "
    "supplied, never by the daemon; keep this folder where the originals may be kept."
)
EXTRAS = {"eval": "the evaluation extra", "report": "the report extra"}  # what each names, for its install line


def require(module: str, package: str, extra: str = "eval") -> Any:
    """Import a module of an optional extra (EXTRAS), or fail with the one-line fix."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise EvaluationError(f"{package} is not installed ({error}); install {EXTRAS[extra]}: "
                              f"{install_hint(extra)}") from error


def require_plotting(extra: str = "eval") -> None:
    """Fail before any work starts, not after it, when the extra's scipy or matplotlib is missing. `dmask report`
    asks for the report extra (those two alone); the evaluations for the eval extra, which holds it."""
    require("scipy.signal", "scipy", extra)
    require("scipy.stats", "scipy", extra)
    require("matplotlib", "matplotlib", extra)


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display here)."""
    matplotlib = require("matplotlib", "matplotlib")
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def cpu_model() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (speeds differ 2-3x between machines)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_context() -> dict[str, Any]:
    """When, on what and from which commit the figures were measured."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["dmask", *sys.argv[1:]]) if sys.argv else "",
        "commit": source_commit(),
        "machine": f"{cpu_model()}, {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


SHEET_ROW_PX = 160


def thumbnail(image: np.ndarray) -> np.ndarray:
    """image at the contact sheet's row height (callers keep these, not full frames)."""
    width = max(1, round(image.shape[1] * SHEET_ROW_PX / image.shape[0]))
    return cv2.resize(image, (width, SHEET_ROW_PX), interpolation=cv2.INTER_AREA)


def cell(value: object, decimals: int = 3) -> str:
    """A table cell: a float to `decimals` places, NaN as n/a (report.md, and the PDF summary with 2)."""
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.{decimals}f}"
    return str(value)


def _jsonable(value: Any) -> Any:
    """NaN becomes null: JSON has no NaN, and a missing figure is not a number."""
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return value


class Report:
    """Collects the parts of one report and writes the folder in one go."""

    def __init__(self, directory: str | Path, title: str, context_in_appendix: bool = False) -> None:
        """context_in_appendix: where the run's machine and commit go for a reader they mean nothing to (a
        clinician): to an appendix at the end, not under the title."""
        self.directory = Path(directory)
        make_output_dir(self.directory)
        self.context = run_context()
        context = (f"Measured {self.context['date']} on {self.context['machine']}, commit {self.context['commit']}, "
                   f"with `{self.context['command']}`.")
        self._lines = [f"# {title}", ""] + ([] if context_in_appendix else [context, ""])
        self._appendix = ["## Appendix: how this was made", "", context, ""] if context_in_appendix else []
        self._figures: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self._lines += ["#" * level + " " + text, ""]

    def paragraph(self, text: str) -> None:
        self._lines += [text, ""]

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """A Markdown table; floats are shown to 3 decimals, NaN as n/a."""
        self._lines.append("| " + " | ".join(header) + " |")
        self._lines.append("|" + "---|" * len(header))
        self._lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
        self._lines.append("")

    def figure(self, name: str, figure: Any, caption: str) -> Path:
        """Save a matplotlib figure as NAME.png and link it with its caption."""
        path = self.directory / f"{name}.png"
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        pyplot().close(figure)
        with AtomicFile(path) as file:
            file.file.write(buffer.getvalue())
        self._lines += [f"![{caption}]({path.name})", "", f"*{caption}*", ""]
        self._figures.append(path.name)
        return path

    def contact_sheet(self, name: str, pairs: Sequence[tuple[np.ndarray, np.ndarray]], caption: str) -> Path:
        """Original and masked images side by side, one pair per row, as NAME.png.

        pairs: (original, masked) BGR uint8 images of any sizes. The sheet
        holds raw faces, so the report says so next to it.
        """
        rows = [np.hstack([thumbnail(original), thumbnail(masked)]) for original, masked in pairs]
        width = max(row.shape[1] for row in rows)
        sheet = np.vstack([np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows])
        ok, encoded = cv2.imencode(".png", sheet)
        if not ok:
            raise EvaluationError(f"{name}.png: OpenCV could not encode the contact sheet")
        path = self.directory / f"{name}.png"
        with AtomicFile(path) as file:
            file.file.write(encoded.tobytes())
        self._lines += [RAW_FACES_WARNING, "", f"![{caption}]({path.name})", "", f"*{caption}*", ""]
        self._figures.append(path.name)
        return path

    def write(self, numbers: dict[str, Any]) -> Path:
        """Write results.json (numbers plus run context) and report.md; return the report's path."""
        document = {"context": self.context, "figures": self._figures, **numbers}
        with AtomicFile(self.directory / "results.json", "w", encoding="utf-8") as file:
            json.dump(_jsonable(document), file.file, indent=2, sort_keys=False, allow_nan=False)
            file.file.write("\n")
        report = self.directory / "report.md"
        with AtomicFile(report, "w", encoding="utf-8") as file:
            file.file.write("\n".join(self._lines + self._appendix))
        return report
