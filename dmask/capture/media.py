"""Photo and video files in and out, with OpenCV.

Every output is written atomically: into a hidden temp file beside the final
one, renamed into place only when complete. An interrupted or failed run never
leaves a half-written file under the name a user or a downstream tool expects.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import hashlib
import logging
import math
import os
import re
import threading
import warnings
from collections import Counter
from pathlib import Path
from typing import Sequence

import av
import cv2
import numpy as np

from dmask.errors import InputError, OutputError
from dmask.records import Frame

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".pgm")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
FALLBACK_FPS = 30.0  # where a file or source states no believable frame rate
MAX_FPS = 1000.0  # above this a stated rate is a container's placeholder, not a camera's
SIGNALS_SUFFIX = ".signals.jsonl"
DEFAULT_MAX_MEGAPIXELS = 50.0  # config input.max_photo_megapixels
DEFAULT_MAX_VIDEO_MEGAPIXELS = 8.9  # config input.max_video_megapixels: 4096 x 2160
_UNDECODABLE = "{path}: cannot be decoded as a photo; check the file is a complete image"


class MediaKind(str, enum.Enum):
    PHOTO = "photo"
    VIDEO = "video"


SUFFIXES = {MediaKind.PHOTO: PHOTO_SUFFIXES, MediaKind.VIDEO: VIDEO_SUFFIXES}


def kind_of_suffix(path: Path) -> MediaKind | None:
    """PHOTO or VIDEO by the (case-insensitive) suffix, None if unsupported."""
    suffix = path.suffix.lower()
    return next((kind for kind, suffixes in SUFFIXES.items() if suffix in suffixes), None)


def _why_missing(path: Path) -> str:
    """Why a path that does not exist does not: no file, a link whose target is gone, or a loop of links."""
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a link that loops back on itself; give the file itself"
    return "a link whose target is gone; give the file itself" if path.is_symlink() else "no such file"


def input_kind(path: str | Path) -> MediaKind:
    """What an input file is; InputError if it cannot be an input at all."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give the photo and video files inside it")
    if not path.exists():
        raise InputError(f"{path}: {_why_missing(path)}")
    kind = kind_of_suffix(path)
    if kind is None:
        raise InputError(
            f"{path}: unsupported file type; supported are photos "
            f"({' '.join(PHOTO_SUFFIXES)}) and videos ({' '.join(VIDEO_SUFFIXES)})"
        )
    return kind


def require_video(path: str | Path) -> None:
    """InputError unless path is a supported video file."""
    if input_kind(path) is not MediaKind.VIDEO:
        raise InputError(f"{path}: not a video; give a video file ({' '.join(VIDEO_SUFFIXES)})")


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (model files run to 100 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_photo(path: str | Path, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> np.ndarray:
    """(H, W, 3) uint8 BGR; grey and 16-bit photos are converted.

    The size the file's header claims is checked against max_megapixels
    before anything is decoded (a 20000x20000 PNG would take 5.5 GB, and a
    header may lie), and Pillow checks the file's structure and decodes it
    once, so a corrupt file is refused with one line instead of the
    decoder's own message on the terminal; OpenCV then decodes it as before
    (16-bit scaling, EXIF orientation).
    """
    path = Path(path)
    _check_photo(path, max_megapixels, decode=True)
    try:
        data = np.fromfile(path, np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except OSError as error:
        raise InputError(f"{path}: cannot read the file ({error.strerror})") from error
    except cv2.error:
        image = None
    if image is None:
        raise InputError(_UNDECODABLE.format(path=path))
    return image


def _check_photo(path: Path, max_megapixels: float, decode: bool = False) -> None:
    """InputError unless the header parses, the size is within the limit, the
    structure verifies and (decode) Pillow decodes the pixels: a file that
    OpenCV's decoders would complain about on stderr (libpng's "Not enough
    image data") is refused here first, in one line."""
    from PIL import Image, UnidentifiedImageError

    too_big = (f"{path}: {{size}} is over the limit of {max_megapixels:g} megapixels; shrink it, "
               "or raise input.max_photo_megapixels")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_megapixels * 1e6:
                    raise InputError(too_big.format(size=f"{width}x{height}"))
                image.verify()
            if decode:
                with Image.open(path) as image:
                    image.load()
    except Image.DecompressionBombError as error:
        claimed = f"a size over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels"
        raise InputError(too_big.format(size=claimed)) from error
    except FileNotFoundError as error:
        raise InputError(f"{path}: no such file") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputError(_UNDECODABLE.format(path=path)) from error


class VideoReader:
    """The frames of a video file, in order, timed by their presentation time.

    Decoded with PyAV, packet by packet: a damaged packet is skipped and
    decoding goes on after it (OpenCV's reader stopped at the first one, and
    a file with 20 kB damaged in its middle came out half as long, in
    silence). A frame's timestamp is its presentation time from the first
    frame's, so frames lost to damage leave a gap in time, not a shorter
    clip. Opening decodes the first frame, so that a file that is not a
    usable video fails before any output is started. width and height are
    those of the decoded frames; frame_count is the container's claim (0 if
    unknown); after the last frame, `shortfall` says how many it promised
    that were not decoded.
    """

    def __init__(self, path: str | Path, max_megapixels: float = DEFAULT_MAX_VIDEO_MEGAPIXELS) -> None:
        """max_megapixels: frames larger than this are refused from the container's header, before any is
        decoded (a 12-frame 8192x8192 video took 4.4 GB)."""
        self.path = Path(path)
        self.decoded = self.damaged_packets = self._trimmed = 0
        self._container = None
        try:
            self._container = av.open(str(self.path))
            stream = self._container.streams.video[0]
            self._check_size(stream.codec_context.width, stream.codec_context.height, max_megapixels)
            stream.thread_type = "AUTO"
            self._frames = self._decode(stream)
            self._first = next(self._frames, None)
        except (av.FFmpegError, IndexError, OSError):
            self._first = None
        if self._first is None:
            self.close()
            raise InputError(f"{self.path}: no frames could be decoded; check the file is a complete video")
        self.height, self.width = self._first.height, self._first.width
        self.fps = believable_fps(float(stream.average_rate or stream.guessed_rate or 0))
        self.frame_count = int(stream.frames or 0)
        self._time_base = float(stream.time_base or 0)
        self._start = self._first.pts
        self._next_seq = 0

    def _check_size(self, width: int, height: int, max_megapixels: float) -> None:
        if width * height > max_megapixels * 1e6:
            self.close()
            raise InputError(f"{self.path}: its frames are {width}x{height}, over the limit of {max_megapixels:g} "
                             "megapixels; scale it down, or raise input.max_video_megapixels")

    def _decode(self, stream):
        """Each decodable frame of the stream; a damaged packet is counted and skipped.

        A packet the container's edit list trims (is_discard) is decoded, as
        later frames may refer to it, but yields no frame: it is counted, so
        that a trimmed clip is not taken for a short one.
        """
        for packet in self._container.demux(stream):
            self._trimmed += bool(packet.size and packet.is_discard)
            try:
                yield from packet.decode()
            except av.error.InvalidDataError:
                self.damaged_packets += 1

    @property
    def shortfall(self) -> int:
        """Frames the container lists, less those its edit list trims, that were not (yet) decoded: final
        after the last frame; 0 where it lists none."""
        return max(self.frame_count - self._trimmed - self.decoded, 0)

    def __iter__(self) -> VideoReader:
        return self

    def __next__(self) -> Frame:
        frame = self._first if self._first is not None else next(self._frames, None)
        self._first = None
        if frame is None:
            raise StopIteration
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        self.decoded += 1
        timed = frame.pts is not None and self._start is not None and self._time_base > 0
        timestamp = (frame.pts - self._start) * self._time_base if timed else seq / self.fps
        return Frame(image=frame.to_ndarray(format="bgr24"), seq=seq, timestamp=timestamp, source_id=self.path.name)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def check_decodable(source: str | Path, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
                    max_video_megapixels: float = DEFAULT_MAX_VIDEO_MEGAPIXELS) -> None:
    """Check source (a photo's header and structure, a video's frame size and first frame), so
    that a bad file fails a run before any work rather than after the inputs before it."""
    if kind_of_suffix(Path(source)) is MediaKind.PHOTO:
        _check_photo(Path(source), max_megapixels)
    else:
        VideoReader(source, max_video_megapixels).close()


def believable_fps(stated: float) -> float:
    """A file's or a source's stated frame rate, or FALLBACK_FPS where it is none, not positive, or over MAX_FPS:
    the one rule for every reader of a rate."""
    return stated if math.isfinite(stated) and 0 < stated <= MAX_FPS else FALLBACK_FPS


def signals_path(video: Path) -> Path:
    """The signals sidecar of a recorded video: `<stem>.signals.jsonl` beside it."""
    return video.with_name(video.stem + SIGNALS_SUFFIX)


# partial_path's names: the final stem, the writer's pid and the suffix.
PARTIAL_NAME = re.compile(r"\.(?P<stem>.+)\.partial-(?P<pid>\d+)(?P<suffix>\.[^.]+)")


def os_error_line(error: OSError) -> str:
    """An OSError in words for the one error line: a partial file's error names the file it was to become
    (a full disk named a hidden .NAME.partial-PID file, already removed)."""
    name = Path(error.filename) if isinstance(error.filename, str) else None
    match = PARTIAL_NAME.fullmatch(name.name) if name else None
    if match is None:
        return str(error)
    return f"{name.with_name(match['stem'] + match['suffix'])}: cannot be written ({error.strerror}); nothing of it was kept"


def partial_path(final_path: Path) -> Path:
    """Where final_path is written until complete: hidden, same directory
    (so the rename is atomic) and same suffix (which picks the container)."""
    return final_path.with_name(f".{final_path.stem}.partial-{os.getpid()}{final_path.suffix}")


def writer_running(pid: int) -> bool:
    """Is the writer of a partial file (its pid in the name, see partial_path) still at it? This process, or a live dmask process of that pid."""
    if pid == os.getpid():
        return True
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"dmask" in command or b"dmask.cli" in command


def drop_dead_partials(paths, all_dead: bool = False) -> int:
    """Remove the partial files (partial_path's names) among paths whose writer is no longer running
    (all of them with all_dead: the caller knows, by a lock, that no writer is): a killed writer's output
    was never whole, and is made again. How many were removed."""
    removed = 0
    for path in paths:
        match = PARTIAL_NAME.fullmatch(path.name)
        if match and (all_dead or not writer_running(int(match["pid"]))):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def ensure_writable_dir(directory: Path) -> None:
    """OutputError unless outputs can be created in directory."""
    if not directory.exists():
        raise OutputError(f"{directory}: output directory does not exist; create it first")
    if not directory.is_dir():
        raise OutputError(f"{directory}: is a file, not a directory; choose another output")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"{directory}: output directory is not writable; choose another output")


def refuse_existing(found: list[Path], what: str, overwrite: bool) -> None:
    """The one overwrite rule: what an earlier run left (`found`: it already `what`) is refused, naming the first,
    unless overwrite is set. Callers check before any work starts."""
    if found and not overwrite:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise OutputError(f"{found[0]}{more}: already {what}; pass --overwrite to replace it, or choose another name")


def make_output_dir(directory: Path) -> None:
    """Create directory (and its parents) if missing; OutputError unless
    outputs can then be created in it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(
            f"{directory}: cannot create the output directory ({error.strerror})"
        ) from error
    ensure_writable_dir(directory)


class AtomicOutput:
    """A file that appears under its final name only when complete.

    Subclasses write to temp_path and release it in _close(). As a context
    manager it commits on success and aborts on any exception, including
    KeyboardInterrupt.
    """

    def __init__(self, final_path: str | Path) -> None:
        self.final_path = Path(final_path)
        ensure_writable_dir(self.final_path.parent)
        self.temp_path = partial_path(self.final_path)

    def _close(self) -> None:
        raise NotImplementedError

    def commit(self, keep_on_failure: bool = False) -> None:
        """Close the temp file, flush it to disk and rename it into place.

        On failure the temp file is deleted, or with keep_on_failure kept
        under its partial name for dmask.serve.recovery (a recording).
        """
        try:
            self._close()
            fsync_path(self.temp_path)
            os.replace(self.temp_path, self.final_path)
        except Exception as error:  # a full disk, or an encoder failing at its flush
            self.keep() if keep_on_failure else self.abort()
            reason = getattr(error, "strerror", None) or error
            raise OutputError(f"{self.final_path}: cannot be written ({reason})") from error

    def flush(self) -> None:
        """Hand what is written so far to the kernel (subclasses that buffer), the file
        still open and unnamed; fsync_path(temp_path), from any thread, then makes it durable."""

    def _release(self) -> None:
        """Close the temp file without finishing it (subclasses whose close writes more)."""
        self._close()

    def abort(self) -> None:
        """Close and delete the temp file; the final name is left untouched."""
        self._release()
        self.temp_path.unlink(missing_ok=True)

    def keep(self) -> None:
        """Close the temp file as far as it got and leave it under its partial name, for dmask.serve.recovery
        (a full disk: what was written is worth more than a clean name)."""
        with contextlib.suppress(OSError):
            self._release()

    def __enter__(self) -> AtomicOutput:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def fsync_path(path: Path) -> None:
    """Make a file's data durable (before a rename, so a power cut cannot leave
    an empty file under the final name; or as a recording goes)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BackgroundSync:
    """fsync of files by path on a helper thread, so the thread that writes them
    never waits for the disk (an SD card can take a second or more to sync).

    `request(paths)` returns at once. A request made while a sync runs waits
    for it, and replaces any request waiting before it: the later fsync makes
    durable everything the earlier would have. A file renamed or removed in the
    meantime is skipped (its writer syncs it before the rename anyway).
    """

    def __init__(self) -> None:
        self._waiting: tuple[Path, ...] | None = None
        self._stopped = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="dmask-fsync", daemon=True)
        self._thread.start()

    def request(self, paths: tuple[Path, ...]) -> None:
        with self._changed:
            self._waiting = paths
            self._changed.notify()

    def close(self) -> None:
        """Finish the sync under way and any waiting one, then stop."""
        with self._changed:
            self._stopped = True
            self._changed.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._waiting is None and not self._stopped:
                    self._changed.wait()
                paths, self._waiting = self._waiting, None
                if paths is None:
                    return
            for path in paths:
                try:
                    fsync_path(path)
                except FileNotFoundError:
                    continue
                except OSError as error:  # the writer's commit will meet it too, and say so
                    log.warning("%s: cannot sync to disk (%s)", path.name, error.strerror or error)


class AtomicFile(AtomicOutput):
    """An ordinary file object (attribute `file`) written atomically."""

    def __init__(self, final_path: str | Path, mode: str = "wb", **open_args: object) -> None:
        super().__init__(final_path)
        try:
            self.file = open(self.temp_path, mode, **open_args)
        except OSError as error:
            raise OutputError(f"{self.final_path}: cannot be written ({error.strerror})") from error

    def flush(self) -> None:
        self.file.flush()

    def _close(self) -> None:
        self.file.close()


def write_photo_atomic(path: str | Path, image: np.ndarray, jpeg_quality: int) -> None:
    """Encode image by the suffix of path and write it atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pgm":  # the format holds grey only
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if suffix in (".jpg", ".jpeg") else []
    ok, encoded = cv2.imencode(suffix, image, params)
    if not ok:
        raise OutputError(f"{path}: cannot encode a {suffix} photo; choose another suffix")
    with AtomicFile(path) as out:
        out.file.write(encoded.tobytes())


def plan_outputs(inputs: Sequence[str | Path], output: str | Path) -> list[tuple[Path, Path]]:
    """(input, output path) for each input; checks every input and the output
    before any work starts.

    One input goes to output itself when that is a file name of the same kind
    (photo or video suffix), or into output when it is a directory (a name
    without a suffix that does not exist yet is made a directory). Several
    inputs always go into a directory, keeping their names.
    """
    sources = [Path(p) for p in inputs]
    output = Path(output)
    kinds = [input_kind(p) for p in sources]
    names_directory = output.is_dir() or (not output.exists() and output.suffix == "")
    if len(sources) == 1 and not names_directory:
        plan = [(sources[0], _file_output(kinds[0], output))]
    else:
        plan = _directory_plan(sources, output)
    _refuse_overwriting_inputs(sources, plan)
    return plan


def _file_output(kind: MediaKind, output: Path) -> Path:
    if kind_of_suffix(output) is not kind:
        raise OutputError(
            f"{output}: a {kind.value} input needs a {kind.value} output "
            f"({' '.join(SUFFIXES[kind])}) or a directory"
        )
    ensure_writable_dir(output.parent)
    return output


def _directory_plan(sources: list[Path], output: Path) -> list[tuple[Path, Path]]:
    if output.exists() and not output.is_dir():
        raise OutputError(f"{output}: is a file; several inputs need an output directory")
    if not output.exists() and kind_of_suffix(output) is not None:
        raise OutputError(f"{output}: several inputs need an output directory, not a file name")
    clash = next((name for name, n in Counter(p.name for p in sources).items() if n > 1), None)
    if clash is not None:
        raise InputError(
            f"several inputs are named {clash} and would overwrite each other in {output}; "
            "mask them in separate runs"
        )
    make_output_dir(output)
    return [(source, output / source.name) for source in sources]


def _refuse_overwriting_inputs(sources: list[Path], plan: list[tuple[Path, Path]]) -> None:
    resolved_sources = {source.resolve() for source in sources}
    for _, destination in plan:
        if destination.resolve() in resolved_sources:
            raise OutputError(f"{destination}: would overwrite an input; choose another output")
