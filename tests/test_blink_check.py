"""Blinks against an observer: `dmask eval blinks` on real blinks of ../shared/data/videos (docs/blinks.tsv)."""

from __future__ import annotations

import json
from pathlib import Path

from support import REPO_ROOT, assert_error, dmask


def test_both_readers_read_the_blinks_an_observer_saw_shut_as_complete(shared_data: Path, tmp_path: Path) -> None:
    """A talking head's 9 blinks, plainly shut frame by frame; the old 20 % rule called every one partial."""
    labels = [line for line in (REPO_ROOT / "docs" / "blinks.tsv").read_text().splitlines()
              if line.startswith(("video", "st_WDA"))]
    (tmp_path / "talking.tsv").write_text("\n".join(labels) + "\n")
    result = dmask(tmp_path, "eval", "blinks", "talking.tsv", shared_data / "videos", "-o", "out")
    assert result.returncode == 0, result.stderr
    readers = json.loads((tmp_path / "out" / "results.json").read_text())["blinks"]["readers"]
    for name, reader in readers.items():
        complete = reader["by_seen"]["complete"]
        assert complete["labels"] == 18, name
        assert complete["read_partial"] == 0 and complete["read_complete"] >= 16, (name, complete)
    assert "mediapipe: " in result.stdout and "dlib: " in result.stdout


def test_a_labels_file_with_an_unknown_class_is_one_line_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "labels.tsv").write_text("# a comment\nvideo\teye\tframe\tseen\nclip.mp4\tright\t12\thalf\n")
    result = dmask(tmp_path, "eval", "blinks", "labels.tsv", tmp_path)
    assert_error(result, "labels.tsv:3: not video, eye, frame, seen (tab-separated) with seen one of complete, partial, open")
