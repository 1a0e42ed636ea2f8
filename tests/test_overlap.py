"""Decode-ahead and encode-behind threads: order kept, nothing dropped, errors raised in the caller."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from dmask.capture.media import VideoReader
from dmask.offline import OfflineMasker
from dmask.video_out import AtomicVideoWriter
from dmask.overlap import ReadAhead, WriteBehind
from dmask.pipeline import MaskPipeline


def test_read_ahead_yields_everything_in_order():
    with ReadAhead(range(100), depth=3) as items:
        assert list(items) == list(range(100))


def test_a_source_error_is_raised_after_the_items_before_it():
    def source():
        yield from (1, 2)
        raise ValueError("frame 3 is corrupt")

    seen = []
    with ReadAhead(source()) as items, pytest.raises(ValueError, match="frame 3 is corrupt"):
        for item in items:
            seen.append(item)
    assert seen == [1, 2]


def test_stopping_early_releases_the_reader_thread():
    with ReadAhead(iter(range(10**9)), depth=2) as items:
        assert next(iter(items)) == 0
    assert not any(t.name == "dmask-read-ahead" for t in threading.enumerate())


def test_write_behind_writes_everything_in_order():
    written = []
    with WriteBehind(lambda item: (time.sleep(0.001), written.append(item)), depth=2) as writer:
        for item in range(50):
            writer.put(item)
    assert written == list(range(50))


def test_a_write_error_is_raised_in_the_caller():
    def write(item):
        if item == 3:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with WriteBehind(write, depth=1) as writer:
            for item in range(100):
                writer.put(item)
                time.sleep(0.002)


def test_an_abandoned_writer_stops_without_writing_the_rest():
    written = []
    with pytest.raises(KeyboardInterrupt):
        with WriteBehind(lambda item: (time.sleep(0.05), written.append(item)), depth=8) as writer:
            for item in range(8):
                writer.put(item)
            raise KeyboardInterrupt
    assert len(written) < 8
    assert not any(t.name == "dmask-write-behind" for t in threading.enumerate())


def test_overlapped_masking_writes_the_same_video_as_one_thread(tmp_path, shared_data, config, models):
    video = shared_data / "videos/lp_driving_d1.mp4"
    masker = OfflineMasker(config, models, signals=None, progress=False)
    with VideoReader(video) as reader:
        masker.mask_video(reader, tmp_path / "overlapped.mp4", "d1")
    pipeline = MaskPipeline(config, models=masker.models)
    with VideoReader(video) as reader:
        with AtomicVideoWriter(tmp_path / "sequential.mp4", reader.fps, reader.width, reader.height, config.output.video_codec) as out:
            for frame in reader:
                out.write(pipeline.process(frame).image)
    with VideoReader(tmp_path / "overlapped.mp4") as a, VideoReader(tmp_path / "sequential.mp4") as b:
        pairs = list(zip(a, b, strict=True))
    assert len(pairs) == 16
    assert all(np.array_equal(x.image, y.image) for x, y in pairs)


def test_a_render_failure_on_the_drawing_thread_fails_that_frame_closed(tmp_path, shared_data, config, models, monkeypatch):
    """Drawing runs behind measuring: its failure still blanks exactly its own frame, in order."""
    render = MaskPipeline._render
    calls = []

    def fails_on_the_fifth(self, *args):
        calls.append(threading.current_thread().name)
        if len(calls) == 5:
            raise RuntimeError("rasteriser exploded")
        return render(self, *args)

    monkeypatch.setattr(MaskPipeline, "_render", fails_on_the_fifth)
    masker = OfflineMasker(config, models, signals=None, progress=False)
    with VideoReader(shared_data / "videos/lp_driving_d1.mp4") as reader:
        masker.mask_video(reader, tmp_path / "out.mp4", "d1")
    assert set(calls) == {"dmask-write-behind"}, "drawing ran on its own thread"
    assert masker.summary().failed_closed == 1
    with VideoReader(tmp_path / "out.mp4") as reader:
        frames = [frame.image for frame in reader]
    blank = [bool((np.abs(f.astype(int) - config.render.background).max(axis=2) < 12).all()) for f in frames]
    assert blank == [i == 4 for i in range(16)]
