"""The jobs of a batch: every photo and video under SRC_DIR (or in a manifest), each with its output under DST_DIR.

Outputs keep the tree's layout and the input's name: photos keep their
suffix, videos become `.mp4` (H.264). A manifest lists one path per line,
relative to SRC_DIR (blank lines and `#` comments ignored). Paths are only
ever recorded relative to SRC_DIR and DST_DIR.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dmask.errors import InputError
from dmask.capture.media import MediaKind, kind_of_suffix

AUDIT_NAME = "dmask-audit.jsonl"


# A file that leads out of SRC_DIR through a link (its own, or a folder's on its way) is not masked: the
# tree, or the manifest, names what may be read, and a link must not widen it (issue 26).
OUTSIDE = "a link that leads outside SRC_DIR; copy the file into it to mask it"


@dataclass(frozen=True)
class Job:
    """One input file: paths relative to SRC_DIR and DST_DIR (POSIX form), its kind, and why it is refused
    ("" when it is not)."""

    source: str
    output: str
    kind: MediaKind
    refused: str = ""


def output_name(source: str, kind: MediaKind) -> str:
    return source if kind is MediaKind.PHOTO else str(Path(source).with_suffix(".mp4").as_posix())


def plan_jobs(src: Path, dst: Path, manifest: Path | None = None) -> list[Job]:
    """The jobs, in a stable order; an output inside SRC_DIR, or two inputs with one output name, is refused."""
    if not src.is_dir():
        raise InputError(f"{src}: not a directory; give the folder of recordings to mask")
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise InputError(f"{dst}: inside the source folder {src}; give an output folder outside it")
    sources = _manifest(src, manifest) if manifest else sorted(
        path.relative_to(src).as_posix() for path in src.rglob("*")
        if path.is_file() and kind_of_suffix(path) is not None and not path.name.startswith("."))
    jobs, outputs = [], {}
    for source in sources:
        kind = kind_of_suffix(Path(source))
        if kind is None:
            raise InputError(f"{manifest}: {source} is not a photo or video dmask masks")
        output = output_name(source, kind)
        if output in outputs:
            raise InputError(f"{src / source} and {src / outputs[output]} would both be written to {dst / output}; "
                             "rename one")
        outputs[output] = source
        jobs.append(Job(source, output, kind, OUTSIDE if _outside(src, source) else ""))
    return jobs


def _outside(src: Path, source: str) -> bool:
    """source, relative to src, resolves (links followed) to somewhere not under src."""
    return src.resolve() not in (src / source).resolve().parents


def _manifest(src: Path, manifest: Path) -> list[str]:
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{manifest}: cannot read the manifest ({error})") from error
    sources = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = Path(line)
        if path.is_absolute() or ".." in path.parts:
            raise InputError(f"{manifest}:{number}: {line} must be a path inside {src}, relative to it")
        sources.append(path.as_posix())
    return sources
