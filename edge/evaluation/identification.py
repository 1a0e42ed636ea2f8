"""Identification figures from a probe-to-gallery distance matrix: the maths of `dmask eval privacy`.

distances: (P, G) float, probe p's distance to gallery g (smaller = more
alike); truth: (P,) int, each probe's own gallery. Pure numpy/scipy, so it can
be checked on hand-made matrices with known answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
