"""The privacy evaluation: its metrics, the blur/pixelate baselines, real recognisers and the report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from dmask.errors import EvaluationError, InputError
from dmask.evaluation import recognisers as recogniser_module
from dmask.evaluation.identification import rank1, roc_auc, roc_curve
from dmask.evaluation.obscure import blur_face, cover_box, pixelate_face
from dmask.evaluation.privacy import (
    PAIRINGS,
    evaluate_privacy,
    evaluation_sized,
    evenly_spaced,
    find_identities,
    session_of,
)
from dmask.evaluation.recognisers import FaceBox, FaceFinder, load_recognisers
from dmask.capture.media import read_photo

# Two photos of one person and one of another, per data set.
SAME_AND_OTHER = [
    ("identities/barack_obama/fr_obama.jpg", "identities/barack_obama/fr_obama1.jpg",
     "identities/joe_biden/fr_biden.jpg"),
    ("identities_orl/s1/1.pgm", "identities_orl/s1/2.pgm", "identities_orl/s2/1.pgm"),
]
# 4 identities x 2 photos, each pair from two sessions (two sources, or two pixel sizes).
TINY_SET = {
    "elon_musk": ["df_img18.jpg", "fr_test_unknown_elon_musk.jpg"],
    "eric_clapton": ["of_clapton-1.jpg", "of_clapton-2.jpg"],
    "sundar_pichai": ["df_img24.jpg", "df_img25.jpg"],
    "jeff_bezos": ["df_img20.jpg", "df_img21.jpg"],
}


def test_rank1_and_auc_when_every_probe_is_nearest_its_own_gallery() -> None:
    distances = np.array([[0.1, 0.9, 0.8], [0.7, 0.2, 0.9], [0.6, 0.8, 0.3]])
    truth = np.array([0, 1, 2])
    assert rank1(distances, truth) == 1.0
    assert roc_auc(distances, truth) == 1.0


def test_rank1_and_auc_when_every_probe_is_farthest_from_its_own_gallery() -> None:
    distances = np.array([[0.9, 0.1, 0.2], [0.1, 0.8, 0.2], [0.1, 0.2, 0.7]])
    truth = np.array([0, 1, 2])
    assert rank1(distances, truth) == 0.0
    assert roc_auc(distances, truth) == 0.0


def test_rank1_and_auc_of_a_hand_counted_case() -> None:
    # genuine 0.1 and 0.6; impostors 0.2, 0.3, 0.5, 0.4: 0.1 beats all 4, 0.6 none -> 4 of 8 pairs.
    distances = np.array([[0.1, 0.2, 0.3], [0.5, 0.4, 0.6]])
    truth = np.array([0, 2])
    assert rank1(distances, truth) == 0.5
    assert roc_auc(distances, truth) == pytest.approx(0.5)
    assert roc_auc(np.ones((2, 3)), truth) == pytest.approx(0.5)  # ties count half


def test_rank1_and_auc_of_random_distances_are_at_chance() -> None:
    generator = np.random.default_rng(7)
    distances = generator.random((4000, 10))
    truth = generator.integers(0, 10, 4000)
    assert rank1(distances, truth) == pytest.approx(0.1, abs=0.02)
    assert roc_auc(distances, truth) == pytest.approx(0.5, abs=0.02)


def test_metrics_without_probes_are_nan() -> None:
    distances, truth = np.zeros((0, 3)), np.zeros(0, int)
    assert math.isnan(rank1(distances, truth)) and math.isnan(roc_auc(distances, truth))
    assert len(roc_curve(distances, truth)[0]) == 0


def test_roc_curve_runs_from_origin_to_one_and_never_falls() -> None:
    generator = np.random.default_rng(1)
    false_positive_rate, true_positive_rate = roc_curve(generator.random((50, 6)), generator.integers(0, 6, 50))
    for rate in (false_positive_rate, true_positive_rate):
        assert rate[0] == 0.0 and rate[-1] == 1.0 and np.all(np.diff(rate) >= 0)


@pytest.mark.parametrize("obscure", [blur_face, pixelate_face])
def test_obscuring_changes_the_face_region_and_nothing_else(obscure) -> None:
    image = np.random.default_rng(3).integers(0, 256, (200, 240, 3), dtype=np.uint8)
    box = FaceBox(80, 60, 160, 150)
    region = cover_box(box, image.shape)
    changed = obscure(image, box)
    inside = np.zeros(image.shape[:2], bool)
    inside[region.top:region.bottom, region.left:region.right] = True
    assert np.array_equal(changed[~inside], image[~inside])
    assert np.mean(changed[inside] != image[inside]) > 0.9
    assert region.width > box.width and region.height > box.height  # forehead and chin covered too


def test_pixelation_has_ten_blocks_across_the_face() -> None:
    image = np.random.default_rng(4).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    region = cover_box(FaceBox(50, 50, 150, 150), image.shape)
    changed = pixelate_face(image, FaceBox(50, 50, 150, 150))
    row = changed[(region.top + region.bottom) // 2, region.left:region.right]
    assert len(np.unique(row, axis=0)) == 10


def test_a_session_is_a_source_and_a_pixel_size() -> None:
    orl = np.zeros((112, 92, 3), np.uint8)
    assert session_of(Path("s1/3.pgm"), orl) == session_of(Path("s1/7.pgm"), orl) == ":92x112"
    assert session_of(Path("elon_musk/fr_test_unknown_elon_musk.jpg"), orl) == "fr:92x112"
    assert session_of(Path("elon_musk/df_img18.jpg"), orl) != session_of(Path("elon_musk/fr_img18.jpg"), orl)
    assert session_of(Path("a/df_1.jpg"), orl) != session_of(Path("a/df_2.jpg"), np.zeros((100, 92, 3), np.uint8))


@pytest.fixture(scope="module")
def attacker():
    return FaceFinder(), load_recognisers()


@pytest.mark.parametrize("same, also_same, other", SAME_AND_OTHER)
def test_each_recogniser_puts_the_same_person_nearer(shared_data: Path, attacker, same, also_same, other) -> None:
    finder, recognisers = attacker
    images = [evaluation_sized(read_photo(shared_data / name)) for name in (same, also_same, other)]
    boxes = [finder.find(image) for image in images]
    assert all(box is not None for box in boxes)
    for recogniser in recognisers:
        anchor, genuine, impostor = (recogniser.embed(image, box) for image, box in zip(images, boxes))
        assert np.linalg.norm(anchor - genuine) < np.linalg.norm(anchor - impostor), recogniser.name


def test_a_changed_model_file_is_refused(monkeypatch) -> None:
    changed = {**recogniser_module.recorded_models()}
    changed["dlib_resnet"] = {**changed["dlib_resnet"], "sha256": "0" * 64}
    monkeypatch.setattr(recogniser_module, "recorded_models", lambda: changed)
    expected = r"dlib_face_recognition_resnet_model_v1\.dat: .*SHA-256.*pip install -c constraints\.txt -e '\.\[eval\]'"
    with pytest.raises(EvaluationError, match=expected):
        recogniser_module.DlibRecogniser()


@pytest.fixture()
def tiny_set(shared_data: Path, tmp_path: Path) -> Path:
    """4 identities x 2 photos linked from the shared data, plus one broken photo."""
    root = tmp_path / "identities"
    for identity, names in TINY_SET.items():
        (root / identity).mkdir(parents=True)
        for name in names:
            (root / identity / name).symlink_to(shared_data / "identities" / identity / name)
    (root / "jeff_bezos" / "zz_broken.jpg").write_bytes(b"not a photo")
    (root / "lonely").mkdir()
    (root / "lonely" / "only.jpg").symlink_to(shared_data / "identities" / "amy_adams" / "of_adams.jpg")
    return root


def test_evaluation_on_a_tiny_set_writes_the_report(tiny_set: Path, tmp_path: Path, config) -> None:
    result = evaluate_privacy([tiny_set], tmp_path / "out", config, progress=False)
    numbers = json.loads((tmp_path / "out" / "results.json").read_text())["privacy"]
    assert (numbers["identities"], numbers["photos"], numbers["unreadable"]) == (4, 8, 1)
    assert numbers["chance"] == pytest.approx(0.25)
    assert set(numbers["recognisers"]) == {"dlib", "facenet"}
    for figures in numbers["recognisers"].values():
        assert set(figures) == {pairing.key for pairing in PAIRINGS}
        assert figures["original_to_original"] == {"rank1": 1.0, "auc": 1.0, "probes": 4, "detector_misses": 0}
        assert figures["mask_to_mask_cross_session"]["probes"] == 4
    assert set(numbers["settings"]) >= {"blur_sigma_fraction", "pixel_blocks", "facenet_margin", "min_side", "max_side"}
    report = (tmp_path / "out" / "report.md").read_text()
    for name in ("roc_dlib.png", "roc_facenet.png", "originals_and_masks.png"):
        assert (tmp_path / "out" / name).stat().st_size > 1000 and name in report
    assert "Mask2Face" in report and "0.250" in report
    assert any(line.startswith("dlib: Mask2Face rank-1") for line in result.lines())
    attackers = numbers["attackers"]
    assert set(attackers) == {"signals_nearest"} | {
        f"{name}_half{half}" for name in ("adaptive_dlib", "adaptive_facenet", "signals_lda") for half in (1, 2)}
    assert attackers["signals_nearest"]["chance"] == pytest.approx(0.25) and attackers["signals_nearest"]["probes"] == 4
    assert attackers["adaptive_dlib_half1"]["chance"] == pytest.approx(0.5)
    assert "Attackers who know the mask" in report and "## Targets" in report
    targets = {t["label"]: t for t in numbers["targets"]}
    assert targets["dlib Mask2Face"]["bound"] == pytest.approx(0.27)
    assert targets["dlib Mask2Face"]["met"] == (numbers["recognisers"]["dlib"]["mask_to_face"]["rank1"] <= 0.27)
    # every probe of the tiny set is from another session than its gallery: nothing to measure within one
    assert numbers["recognisers"]["facenet"]["mask_to_mask_same_session"]["probes"] == 0
    within = targets["facenet Mask2Mask, same session"]
    assert (within["value"], within["bound"], within["met"]) == (None, None, False)
    assert result.lines()[-1].startswith("targets met: ")


def test_max_identities_keeps_the_first(tiny_set: Path) -> None:
    assert [identity.folder for identity in find_identities([tiny_set], 2)] == ["elon_musk", "eric_clapton"]


def test_a_missing_folder_is_named_with_what_is_expected(tmp_path: Path, config) -> None:
    expected = r"nowhere: no such folder.*one sub-folder per identity with at least 2 photos"
    with pytest.raises(InputError, match=expected):
        evaluate_privacy([tmp_path / "nowhere"], tmp_path / "out", config)


def test_a_folder_without_identities_is_named_with_what_is_expected(tmp_path: Path, config) -> None:
    (tmp_path / "flat" / "alone").mkdir(parents=True)
    (tmp_path / "flat" / "alone" / "one.jpg").write_bytes(b"x")
    with pytest.raises(InputError, match=r"flat: no identity with 2 or more photos.*one sub-folder per identity"):
        evaluate_privacy([tmp_path / "flat"], tmp_path / "out", config)


def test_the_contact_sheet_spreads_over_every_identity() -> None:
    assert evenly_spaced(list(range(45)), 8) == [0, 6, 13, 19, 25, 31, 38, 44]
    assert evenly_spaced([1, 2], 8) == [1, 2]


def test_lda_learns_the_directions_that_separate_people_and_ignores_the_rest() -> None:
    from dmask.evaluation.attackers import lda_projection

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), 5)
    people = rng.normal(size=(6, 1)) * 3.0
    # column 0 carries the person (with noise), columns 1-3 are loud noise
    vectors = np.column_stack([people[labels, 0] + 0.1 * rng.normal(size=30), 10.0 * rng.normal(size=(30, 3))])
    projected = vectors @ lda_projection(vectors, labels)[:, 0]
    assert abs(np.corrcoef(projected, people[labels, 0])[0, 1]) > 0.95
    assert abs(np.corrcoef(vectors[:, 1], people[labels, 0])[0, 1]) < 0.5


def test_a_split_restricted_to_some_identities_keeps_their_probes_and_renumbers_their_galleries() -> None:
    from dmask.evaluation.identification import GallerySplit

    identities = np.array([0, 1, 2, 0, 1, 2, 2])
    split = GallerySplit(np.array([0, 1, 2]), np.array([3, 4, 5, 6]), np.array([0, 1, 2, 2]), np.array([1, 0, 1, 0], bool))
    part = split.restricted(identities, np.array([False, True, True]))
    assert part.gallery.tolist() == [1, 2] and part.probes.tolist() == [4, 5, 6]
    assert part.truth.tolist() == [0, 1, 1] and part.cross_session.tolist() == [False, True, False]
