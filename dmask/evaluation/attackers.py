"""Attackers who know the mask (Kerckhoffs): they have our code and learn on our output.

Two, both scored with the privacy evaluation's gallery/probe split
(dmask.evaluation.privacy) so their rank-1 compares with the recognisers':

- the adaptive recogniser: a Fisher linear discriminant (LDA) of a face
  recogniser's embeddings of *masks*, learnt on one half of the identities and
  used on the other half, so what it learns is how masks differ between
  people, not who these people are. Both halves take each role in turn.
- the signal-stream attacker: the published signals of each photo's mask
  (every clinical field of dmask.signals, standardised), matched by nearest
  neighbour, and also through an LDA learnt the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dmask.evaluation.identification import GallerySplit, distance_matrix, rank1
from dmask.report_folder import require

# Shrinkage of the within-class scatter towards its diagonal (each feature's own
# spread): the classes (identities) have few samples each, so the scatter is singular.
SHRINK = 0.1


def lda_projection(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(D, K) Fisher discriminant directions of (N, D) vectors with (N,) class labels, K <= classes - 1."""
    classes = np.unique(labels)
    mean = vectors.mean(0)
    within = np.zeros((vectors.shape[1],) * 2)
    between = np.zeros_like(within)
    for label in classes:
        members = vectors[labels == label]
        centred = members - members.mean(0)
        within += centred.T @ centred
        offset = (members.mean(0) - mean)[:, None]
        between += len(members) * offset @ offset.T
    within = (1.0 - SHRINK) * within + SHRINK * np.diag(np.diag(within) + 1e-9 * np.trace(within) / len(within))
    values, directions = require("scipy.linalg", "scipy").eigh(between, within)
    keep = min(len(classes) - 1, len(values))
    return directions[:, np.argsort(values)[::-1][:keep]]


def standardised(features: np.ndarray) -> np.ndarray:
    """(N, F) features as z-scores over the rows, constant or unmeasured columns dropped, NaN as 0."""
    features = features[:, np.isfinite(features).sum(0) >= 2]
    mean, spread = np.nanmean(features, 0), np.nanstd(features, 0)
    keep = spread > 1e-9
    return np.nan_to_num((features[:, keep] - mean[keep]) / spread[keep])


@dataclass(frozen=True)
class SplitRank:
    """Rank-1 of one attacker on one set of identities (a learnt attacker: the ones it did not learn on)."""

    name: str
    rank1: float
    cross_session_rank1: float
    chance: float
    probes: int

    def numbers(self) -> dict[str, float]:
        return {"rank1": self.rank1, "cross_session_rank1": self.cross_session_rank1, "chance": self.chance,
                "probes": self.probes}


def gallery_rank1(vectors: np.ndarray, split: GallerySplit, name: str) -> SplitRank:
    """Rank-1 of the split's probes against its galleries (rows of vectors), all and cross-session only."""
    distances = distance_matrix(vectors[split.probes], vectors[split.gallery])
    cross = split.cross_session
    return SplitRank(name, rank1(distances, split.truth), rank1(distances[cross], split.truth[cross]),
                     1.0 / len(split.gallery), len(split.probes))


def attack(identities: np.ndarray, signals: np.ndarray, embeddings: dict[str, np.ndarray],
           split: GallerySplit) -> tuple[SplitRank, ...]:
    """Every attacker's rank-1.

    identities: (N,) each photo's identity; signals: (N, F) each mask's
    published clinical fields (NaN where unmeasured); embeddings: per
    recogniser, (N, D) its embeddings of the masks.
    """
    odd = np.arange(identities.max() + 1) % 2 == 1
    scores = standardised(signals)
    results = [gallery_rank1(scores, split, "signals_nearest")]
    learnt = [(f"adaptive_{name}", vectors) for name, vectors in embeddings.items()] + [("signals_lda", scores)]
    for name, vectors in learnt:
        for half, (train, test) in enumerate(((~odd, odd), (odd, ~odd))):
            learn = train[identities]
            projected = vectors @ lda_projection(vectors[learn], identities[learn])
            results.append(gallery_rank1(projected, split.restricted(identities, test), f"{name}_half{half + 1}"))
    return tuple(results)
