"""`dmask eval fidelity`: the trace maths on synthetic traces with known answers, then one real clip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from dmask.errors import EvaluationError, InputError
from dmask.evaluation.comparison import TARGETS
from dmask.evaluation.fidelity import evaluate_fidelity
from dmask.evaluation.readers import DlibReader, MediaPipeReader
from dmask.evaluation.traces import agreement, band_coherence, detect_blinks, fill_gaps, match_events

FPS = 30.0
BLINK_FRAMES = (30, 90, 150)


def blinking_aperture(frames: int = 200, blinks: tuple[int, ...] = BLINK_FRAMES, seed: int = 0) -> np.ndarray:
    """An open eye (0.30 of its width, a little landmark noise) closing over 3 frames at each blink frame."""
    trace = 0.30 + 0.005 * np.random.default_rng(seed).standard_normal(frames)
    for frame in blinks:
        trace[frame - 1 : frame + 2] = (0.12, 0.02, 0.12)
    return trace


ONSETS = [frame - 1 for frame in BLINK_FRAMES]  # the first closing frame


def test_blinks_are_found_at_their_onsets() -> None:
    assert detect_blinks(blinking_aperture()).tolist() == ONSETS


def test_a_nan_frame_counts_as_open() -> None:
    trace = blinking_aperture()
    trace[60] = np.nan
    assert detect_blinks(trace).tolist() == ONSETS


def test_a_lid_fluttering_around_the_threshold_is_one_blink() -> None:
    trace = blinking_aperture(blinks=())
    trace[100:112] = np.tile([0.14, 0.19], 6)  # 0.55 and 0.75 of the open 0.30 are 0.165 and 0.225
    assert detect_blinks(trace).tolist() == [100]


def test_identical_traces_match_every_blink() -> None:
    events = detect_blinks(blinking_aperture())
    match = match_events(events, events)
    assert (match.f1, match.precision, match.recall) == (1.0, 1.0, 1.0)


def test_a_one_frame_delay_is_within_tolerance() -> None:
    delayed = np.roll(blinking_aperture(), 1)
    assert match_events(detect_blinks(blinking_aperture()), detect_blinks(delayed)).f1 == 1.0


def test_a_four_frame_delay_matches_nothing() -> None:
    delayed = np.roll(blinking_aperture(), 4)
    match = match_events(detect_blinks(blinking_aperture()), detect_blinks(delayed))
    assert (match.true_positives, match.false_positives, match.false_negatives) == (0, 3, 3)
    assert match.f1 == 0.0


def test_a_missed_blink_lowers_recall_only() -> None:
    missed_one = blinking_aperture(blinks=BLINK_FRAMES[:2])
    match = match_events(detect_blinks(blinking_aperture()), detect_blinks(missed_one))
    assert match.recall == pytest.approx(2 / 3)
    assert match.precision == 1.0
    assert match.f1 == pytest.approx(0.8)


def test_no_blink_on_either_side_is_perfect_agreement() -> None:
    events = detect_blinks(blinking_aperture(blinks=()))
    match = match_events(events, events)
    assert len(events) == 0
    assert match.f1 == 1.0
    assert math.isnan(match.precision) and math.isnan(match.recall)


def test_matching_is_one_to_one_and_closest_first() -> None:
    match = match_events(np.array([10, 12]), np.array([11]))
    assert (match.true_positives, match.false_positives, match.false_negatives) == (1, 0, 1)


def test_matches_pool_by_summing_counts() -> None:
    pooled = match_events(np.array([10]), np.array([10])) + match_events(np.array([50]), np.array([]))
    assert (pooled.true_positives, pooled.false_negatives, pooled.f1) == (1, 1, pytest.approx(2 / 3))


def broadband(frames: int = 600, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(frames)


def test_a_trace_with_small_noise_is_coherent_in_band() -> None:
    original = broadband()
    read_back = original + 0.05 * broadband(seed=2) + 0.13  # a constant offset does not lower coherence
    read_back[[100, 300, 301]] = np.nan
    coherence = band_coherence(original, read_back, FPS)
    assert coherence.band_mean > 0.95
    assert coherence.weighted > 0.95


def test_independent_noise_is_not_coherent() -> None:
    coherence = band_coherence(broadband(), broadband(seed=3), FPS)
    assert coherence.band_mean < 0.3


def test_coherence_needs_sixteen_frames_a_second() -> None:
    coherence = band_coherence(broadband(), broadband(), 12.0)
    assert math.isnan(coherence.band_mean) and math.isnan(coherence.weighted)
    assert "12 Hz" in coherence.note


def test_gaps_are_filled_linearly() -> None:
    assert fill_gaps(np.array([np.nan, 1.0, np.nan, 3.0])).tolist() == [1.0, 1.0, 2.0, 3.0]


def test_agreement_ignores_frames_missing_on_either_side() -> None:
    original = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    read_back = np.array([1.5, np.nan, 3.5, 4.5, 5.0])
    result = agreement(original, read_back)
    assert result.frames == 3
    assert result.mae == pytest.approx(0.5)
    assert result.offset == pytest.approx(0.5)
    assert result.r == pytest.approx(1.0)


def test_agreement_is_nan_where_undefined() -> None:
    nothing = agreement(np.full(4, np.nan), np.ones(4))
    assert nothing.frames == 0 and math.isnan(nothing.mae) and math.isnan(nothing.r)
    assert math.isnan(agreement(np.ones(5), np.arange(5.0)).r)


@pytest.fixture(scope="module")
def real_clip(shared_data: Path, config, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("fidelity")
    result = evaluate_fidelity([shared_data / "videos/lp_driving_d14.mp4"], out, config, max_frames=90, progress=False)
    return out, result


def test_real_clip_writes_the_report(real_clip: tuple[Path, object]) -> None:
    out, _ = real_clip
    assert (out / "report.md").read_text().startswith("# Clinical fidelity evaluation")
    assert {"traces_lp_driving_d14.png", "contact_sheet.png"} <= {p.name for p in out.glob("*.png")}
    readers = json.loads((out / "results.json").read_text())["fidelity"]["readers"]
    assert list(readers) == ["mediapipe", "dlib"]
    for name, reader in zip(readers, (MediaPipeReader, DlibReader)):
        overall, video = readers[name]["overall"], readers[name]["videos"]["lp_driving_d14.mp4"]
        assert set(readers[name]["targets"]) == {t.key for t in TARGETS if t.key in overall}
        assert video["frames"] == 90 and video["fps"] == 30.0
        assert video["face_frames"] == 90  # the face is in every frame, blinks included
        assert set(video["signals"]) == {s.name for s in reader.signals}
        assert set(video["blinks"]["left"]) == {"f1", "precision", "recall", "original_events", "masked_events"}
    assert {"mae", "r", "offset", "coherence", "coherence_weighted"} <= set(
        readers["mediapipe"]["videos"]["lp_driving_d14.mp4"]["signals"]["right_gaze_yaw"])
    assert "right_gaze_yaw_r" not in readers["dlib"]["targets"]  # dlib has no iris


def test_real_clip_signals_survive_the_mask(real_clip: tuple[Path, object]) -> None:
    """Measured 2026-12-02 on 90 frames: MediaPipe detection 1.00, right gaze yaw r 0.995, head yaw MAE 1.3 deg;
    dlib detection 1.00, aperture r 0.70 / 0.75, mouth r 0.57, 8 blinks in the original."""
    _, result = real_clip
    mediapipe, dlib = (reader["overall"] for reader in result.numbers()["fidelity"]["readers"].values())
    assert mediapipe["masked_detection_rate"] > 0.9
    assert mediapipe["right_gaze_yaw_r"] > 0.85
    assert mediapipe["head_yaw_mae_deg"] < 4.0
    assert 0.0 < mediapipe["gaze_coherence"] <= 1.0
    assert dlib["masked_detection_rate"] > 0.9
    assert dlib["right_aperture_r"] > 0.4 and dlib["left_aperture_r"] > 0.4
    assert dlib["blink_original_events"] >= 4  # the independent reader sees this clip's blinks on the original


def test_a_missing_video_is_named_before_anything_is_written(config, tmp_path: Path) -> None:
    missing = tmp_path / "absent.mp4"
    with pytest.raises(InputError, match="absent.mp4: no such file"):
        evaluate_fidelity([missing], tmp_path / "out", config, progress=False)
    assert not (tmp_path / "out").exists()


def test_a_video_without_a_face_is_refused(config, tmp_path: Path) -> None:
    video = tmp_path / "wall.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (128, 96))
    for _ in range(10):
        writer.write(np.full((96, 128, 3), 90, np.uint8))
    writer.release()
    with pytest.raises(EvaluationError, match="wall.mp4: no face found in any frame"):
        evaluate_fidelity([video], tmp_path / "out", config, progress=False)
