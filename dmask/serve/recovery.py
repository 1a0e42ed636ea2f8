"""What a recorder killed mid-file left behind, finished on the next start.

A recorder writes each video and its signals sidecar under hidden partial
names (dmask.capture.media.partial_path) and renames them when it stops cleanly. Killed
(SIGKILL, a power cut, an out-of-memory kill), it leaves them. The video is
fragmented MP4 (dmask.video_out), so it holds every fragment but the last;
the sidecar holds every line but the last. The next `dmask record` into the
same output finds the partial files of recorders that are no longer running,
copies what can be read into files under the final names (with `-recovered`
before the suffix where a final name is taken), removes the partial ones,
and says so. Nothing is re-encoded, and nothing raw was ever in them.

A recovered video is sealed (dmask.provenance) only where the folder is the
recorder's own: owned by this user and writable by no one else. Elsewhere
anyone could have left a file under a partial name, and sealing it would
vouch for frames the recorder never drew; such a copy is kept unsealed, and
`dmask export dicom` refuses it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

import av

from dmask.capture.media import VIDEO_SUFFIXES, AtomicFile, AtomicOutput, PARTIAL_NAME, signals_path, writer_running
from dmask.provenance import ProvenanceKey, seal_file
from dmask.video_out import is_masked, mark_masked


def recover_partials(output: Path, seal: ProvenanceKey | None) -> list[str]:
    """Finish the partial files of dead recorders of output (out.mp4, out-0001.mp4, ...); one line each.

    seal: the key to seal the recovered videos with, where the folder is the recorder's own (module docstring)."""
    private = _private(output.parent)
    found = [(m, path) for path in sorted(output.parent.glob(f".{output.stem}*.partial-*"))
             if (m := PARTIAL_NAME.fullmatch(path.name)) and _ours(m["stem"], output.stem) and not writer_running(int(m["pid"]))]
    lines, renamed = [], {}
    for m, path in found:
        if m["suffix"].lower() in VIDEO_SUFFIXES:
            target = _free(output.parent / f"{m['stem']}{m['suffix']}")
            frames = _remux(path, target, seal if private else None)
            renamed[m["stem"]] = target
            lines.append(f"recovered {target.name}: {frames} frames from a recorder that stopped without finishing "
                         f"(pid {m['pid']}){'' if private or seal is None else _UNSEALED}" if frames else
                         f"removed {path.name}: a recorder stopped (pid {m['pid']}) before any of it could be read")
    for m, path in found:
        if m["suffix"] == ".jsonl" and m["stem"].endswith(".signals"):
            video_stem = m["stem"][: -len(".signals")]
            video = renamed.get(video_stem)
            target = _free(output.parent / f"{m['stem']}.jsonl") if video is None else signals_path(video)
            kept = _complete_lines(path, target)
            lines.append(f"recovered {target.name}: {kept} signal lines")
    return lines


_UNSEALED = ("; left unsealed, so dmask export dicom refuses it: its folder is writable by others, "
             "who could have left it there")


def _private(directory: Path) -> bool:
    """Whether directory is this user's and writable by no one else (so a partial file in it is the recorder's)."""
    info = directory.stat()
    return info.st_uid == os.geteuid() and not info.st_mode & 0o022


def _ours(stem: str, output_stem: str) -> bool:
    """stem is the output's, a numbered segment's, or either one's signals."""
    return re.fullmatch(rf"{re.escape(output_stem)}(-\d{{4}})?(\.signals)?", stem) is not None


def _free(path: Path) -> Path:
    """path, or path with -recovered (then -recovered-2, ...) before its suffix when it is taken."""
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-recovered{'' if n == 1 else f'-{n}'}{path.suffix}")
        n += 1
    return candidate


class _Copy(AtomicOutput):
    """The remuxed video, atomically under its final name, sealed with seal where given."""

    def __init__(self, final_path: Path, seal: ProvenanceKey | None) -> None:
        super().__init__(final_path)
        self.seal = seal
        self.container = av.open(str(self.temp_path), "w", container_options={"movflags": "+faststart"})

    def _close(self) -> None:
        if self.container is not None:
            self._release()
            if self.seal is not None:
                seal_file(self.temp_path, self.seal)

    def _release(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None


def _remux(partial: Path, target: Path, seal: ProvenanceKey | None) -> int:
    """The video packets that can be read from partial, copied into target; 0 (and no target) if none.

    A partial file that cannot be read at all holds nothing to keep and is
    removed; a target that cannot be written raises, and the partial stays.
    """
    try:
        source = av.open(str(partial))
    except (av.FFmpegError, OSError):
        partial.unlink(missing_ok=True)
        return 0
    frames = 0
    with source:
        if source.streams.video:
            copy = _Copy(target, seal)
            if is_masked(source):
                mark_masked(copy.container)
            try:
                stream = copy.container.add_stream_from_template(source.streams.video[0])
                for packet in _whole_packets(source):
                    packet.stream = stream
                    copy.container.mux(packet)
                    frames += 1
            except BaseException:
                copy.abort()
                raise
            if frames:
                copy.commit()
            else:
                copy.abort()
    partial.unlink(missing_ok=True)
    return frames


def _whole_packets(source: av.container.InputContainer):
    """The video's packets as far as they are whole.

    Each group of pictures is handed on once the next keyframe shows it
    complete. The last one may end in a packet the stop cut short, which the
    demuxer gives at its cut length: it is decoded, and ends where decoding
    first fails (a cut packet copied on would be a damaged frame in the
    recovered file, and in a PACS).
    """
    group: list[av.Packet] = []
    with contextlib.suppress(av.FFmpegError):  # the fragment the stop cut short
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is None:
                continue
            if packet.is_keyframe:
                yield from group
                group = []
            group.append(packet)
    for packet in group:
        try:
            packet.decode()
        except av.FFmpegError:
            return
        yield packet


def _complete_lines(partial: Path, target: Path) -> int:
    """partial's whole JSON lines (a line cut short by the kill is dropped) into target."""
    kept = 0
    with AtomicFile(target, "w", encoding="utf-8") as out:
        for line in partial.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True):
            if not line.endswith("\n"):
                break
            with contextlib.suppress(ValueError):
                json.loads(line)
                out.file.write(line)
                kept += 1
    partial.unlink(missing_ok=True)
    return kept
