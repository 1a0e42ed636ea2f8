"""Identification figures from a probe-to-gallery distance matrix: the maths of `dmask eval privacy`.

distances: (P, G) float, probe p's distance to gallery g (smaller = more
alike); truth: (P,) int, each probe's own gallery. Pure numpy/scipy, so it can
be checked on hand-made matrices with known answers.
"""

from __future__ import annotations

import math

import numpy as np

from edge.evaluation.report import require


def distance_matrix(probes: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """(P, G) Euclidean distances between probes (P, D) and gallery (G, D)."""
    return np.linalg.norm(probes[:, None, :] - gallery[None, :, :], axis=2)


def rank1(distances: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of probes whose nearest gallery is their own; distances (P, G), truth (P,). NaN without probes."""
    if len(truth) == 0:
        return math.nan
    return float(np.mean(np.argmin(distances, axis=1) == truth))


def genuine_and_impostor(distances: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P,) distances of probes to their own gallery and (P * (G - 1),) to every other gallery."""
    own = np.zeros(distances.shape, bool)
    own[np.arange(len(truth)), truth] = True
    return distances[own], distances[~own]


def roc_auc(distances: np.ndarray, truth: np.ndarray) -> float:
    """P(genuine distance < impostor distance), ties counting half (Mann-Whitney U); NaN without probes."""
    genuine, impostor = genuine_and_impostor(distances, truth)
    if len(genuine) == 0 or len(impostor) == 0:
        return math.nan
    ranks = require("scipy.stats", "scipy").rankdata(np.concatenate([genuine, impostor]))
    genuine_above = ranks[: len(genuine)].sum() - len(genuine) * (len(genuine) + 1) / 2
    return float(1.0 - genuine_above / (len(genuine) * len(impostor)))


def roc_curve(distances: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate), each (K,), accepting pairs at or below every distance threshold."""
    genuine, impostor = genuine_and_impostor(distances, truth)
    if len(genuine) == 0 or len(impostor) == 0:
        return np.zeros(0), np.zeros(0)
    thresholds = np.unique(np.concatenate([genuine, impostor]))
    accepted = lambda values: np.searchsorted(np.sort(values), thresholds, side="right") / len(values)  # noqa: E731
    return np.concatenate([[0.0], accepted(impostor)]), np.concatenate([[0.0], accepted(genuine)])
