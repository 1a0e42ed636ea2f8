"""Identification figures from a probe-to-gallery distance matrix: the maths of `dmask eval privacy`.

distances: (P, G) float, probe p's distance to gallery g (smaller = more
alike); truth: (P,) int, each probe's own gallery. Pure numpy/scipy, so it can
be checked on hand-made matrices with known answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dmask.report_folder import require


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


def probability_below(lower: np.ndarray, higher: np.ndarray) -> float:
    """P(a value of lower < a value of higher), ties counting half (Mann-Whitney U); both non-empty."""
    ranks = require("scipy.stats", "scipy").rankdata(np.concatenate([lower, higher]))
    lower_above = ranks[: len(lower)].sum() - len(lower) * (len(lower) + 1) / 2
    return float(1.0 - lower_above / (len(lower) * len(higher)))


def roc_auc(distances: np.ndarray, truth: np.ndarray) -> float:
    """P(genuine distance < impostor distance), ties counting half; NaN without probes."""
    genuine, impostor = genuine_and_impostor(distances, truth)
    if len(genuine) == 0 or len(impostor) == 0:
        return math.nan
    return probability_below(genuine, impostor)


def roc_curve(distances: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate), each (K,), accepting pairs at or below every distance threshold."""
    genuine, impostor = genuine_and_impostor(distances, truth)
    if len(genuine) == 0 or len(impostor) == 0:
        return np.zeros(0), np.zeros(0)
    thresholds = np.unique(np.concatenate([genuine, impostor]))
    accepted = lambda values: np.searchsorted(np.sort(values), thresholds, side="right") / len(values)  # noqa: E731
    return np.concatenate([[0.0], accepted(impostor)]), np.concatenate([[0.0], accepted(genuine)])


@dataclass(frozen=True)
class GallerySplit:
    """Which photos are galleries and which probes.

    gallery: (G,) indices of the first photo of each identity.
    probes: (P,) indices of every other photo.
    truth: (P,) each probe's gallery, as an index into gallery.
    cross_session: (P,) bool, the probe's session differs from its gallery's.
    """

    gallery: np.ndarray
    probes: np.ndarray
    truth: np.ndarray
    cross_session: np.ndarray

    def restricted(self, identities: np.ndarray, keep: np.ndarray) -> "GallerySplit":
        """The split of only the identities marked in keep (bool per identity); identities: (N,) per photo."""
        in_gallery = keep[identities[self.gallery]]
        in_probes = in_gallery[self.truth]
        position = np.cumsum(in_gallery) - 1
        return GallerySplit(self.gallery[in_gallery], self.probes[in_probes], position[self.truth[in_probes]],
                            self.cross_session[in_probes])
