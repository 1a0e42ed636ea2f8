"""`dmask eval clinical`: its figures on hand-made scores, its sign formulas on hand-made points, its refusals.

The run on the real labelled photos of ../shared/data/clinical is the CI guard in test_eval_ratchet.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dmask.evaluation.agreement import agreement, best_threshold, cohen_kappa, separation_auc
from dmask.evaluation.sign_readers import Sign, SignPoints, deviation, score, side_difference
from support import assert_error, dmask


def test_auc_threshold_and_kappa_on_hand_made_scores():
    positive = np.array([True, True, True, False, False, False])
    original = np.array([3.0, 2.0, 0.05, 1.0, 0.2, 0.1])
    assert separation_auc(original, positive) == pytest.approx(6 / 9)
    assert separation_auc(np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]), positive) == 0.5  # ties count half
    assert math.isnan(separation_auc(original, np.ones(6, bool)))
    assert best_threshold(original, positive) == 2.0  # the two signs above every control
    assert cohen_kappa(original >= 2.0, original >= 2.0) == 1.0
    assert cohen_kappa(np.array([1, 1, 0, 0], bool), np.array([0, 0, 1, 1], bool)) == -1.0
    masked = np.array([3.0, 1.9, 0.05, 1.0, 0.2, np.nan])  # one sign slips under the threshold; one mask unread
    figures = agreement("reader", original, masked, positive)
    assert (figures.photos, figures.unread_original, figures.unread_mask) == (6, 0, 1)
    assert figures.threshold == 2.0 and figures.auc_mask == pytest.approx(4 / 6)
    # decisions over the five read: (T, T, F, F, F) against (T, F, F, F, F): observed 0.8, chance 0.56
    assert figures.kappa == pytest.approx((0.8 - 0.56) / (1 - 0.56))


def points(**changes) -> SignPoints:
    """A level, symmetric face 100 pixels between the outer eye corners, each iris 2 px nasal of its corners' middle."""
    base = dict(
        outer=np.array([[0.0, 0.0], [100.0, 0.0]]), inner=np.array([[30.0, 0.0], [70.0, 0.0]]),
        iris=np.array([[17.0, 0.0], [83.0, 0.0]]), mouth=np.array([[25.0, 80.0], [75.0, 80.0]]),
        brows=np.array([[15.0, -20.0], [85.0, -20.0]]),
    )
    return SignPoints(**{**base, **changes})


def test_the_deviation_sums_both_irises_offsets_towards_the_nose():
    assert deviation(points()) == pytest.approx(4 / 30)
    turned_in = points(iris=np.array([[20.0, 0.0], [83.0, 0.0]]))  # the right iris 3 px more towards the nose
    assert deviation(turned_in) - deviation(points()) == pytest.approx(3 / 30)
    both_left = points(iris=np.array([[20.0, 0.0], [86.0, 0.0]]))  # a glance to the side turns no eye against the other
    assert deviation(both_left) == pytest.approx(deviation(points()))
    assert score(Sign.STRABISMUS, np.array([deviation(turned_in)]), deviation(points())) == pytest.approx([0.1])


def test_the_side_difference_is_taken_along_the_face_not_the_image():
    assert side_difference(points()) == 0.0
    drooping = points(mouth=np.array([[25.0, 85.0], [75.0, 80.0]]), brows=np.array([[15.0, -18.0], [85.0, -20.0]]))
    assert side_difference(drooping) == pytest.approx((5 + 2) / 100)
    turn = np.radians(30)  # the same face rolled 30 degrees on screen reads the same
    rolled = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    fields = {name: getattr(drooping, name) @ rolled.T for name in ("outer", "inner", "iris", "mouth", "brows")}
    assert side_difference(SignPoints(**fields)) == pytest.approx(side_difference(drooping))


def test_unlabelled_or_unreadable_inputs_are_one_line_each(tmp_path):
    assert_error(dmask(tmp_path, "eval", "clinical", tmp_path / "none"),
                 f"{tmp_path / 'none'}: not a folder; dmask eval clinical takes folders of labelled photos")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "strabismus__maybe__a.jpg").write_bytes(b"")
    assert_error(dmask(tmp_path, "eval", "clinical", photos),
                 f"{photos / 'strabismus__maybe__a.jpg'}: no label in the name; name labelled photos "
                 "SET__sign__NAME or SET__control__NAME, SET one of: strabismus, palsy")
    (photos / "strabismus__maybe__a.jpg").rename(photos / "palsy__sign__a.mp4")
    assert_error(dmask(tmp_path, "eval", "clinical", photos),
                 f"{photos / 'palsy__sign__a.mp4'}: not a photo (.jpg, .jpeg, .png, .bmp, .pgm); labelled videos "
                 "are not read yet")
