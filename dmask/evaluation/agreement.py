"""`dmask eval clinical`: does a clinician reach the same diagnosis on the mask as on the face?

Protocol. Each DIR holds labelled photos named SET__sign__NAME or
SET__control__NAME, SET one of the static signs of
dmask.evaluation.sign_readers (strabismus, palsy). Every photo is masked
as `dmask mask` masks a photo (a fresh still-photo MaskPipeline, the
configured identity policy), and every reader of sign_readers (the
product's chain, and dlib with a model-free pupil finder, sharing no model)
places the sign's points on the original and, as if it were a photo, on
the mask. Each gives a score per photo (sign_readers.score).

Figures, per set and reader, over the photos the reader found a face in on
both sides:
- AUC on the originals and on the masks: how well the score separates the
  set's signs from its controls (Mann-Whitney; 0.5 is chance);
- Spearman r between each photo's original and mask score;
- Cohen's kappa between the decisions "sign present" on the original and on
  the mask, both at the threshold that best separates the originals
  (Youden's J): do the two views lead to the same diagnosis?
and per set, the AUC of the published signals' own score (|deviation beyond
the vergence of fixation| for strabismus; |mouth-corner height difference|
+ |brow height difference| in mm for palsy).

The report holds numbers and plots of scores only: no photo, mask or file
name of a patient is written (the sets are real patients' photos).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dmask.config import Config
from dmask.errors import EvaluationError, InputError
from dmask.evaluation.identification import probability_below
from dmask.report_folder import Report, pyplot, require, require_plotting
from dmask.evaluation.sign_readers import Sign, SignReader, score, sign_readers, sign_value
from dmask.capture.media import PHOTO_SUFFIXES, read_photo
from dmask.models import ModelSet
from dmask.pipeline import MaskPipeline
from dmask.records import Frame, MaskParams
from dmask.signals import face_values

LABELS = {"sign": True, "control": False}
NAME_HINT = "name labelled photos SET__sign__NAME or SET__control__NAME, SET one of: " + ", ".join(s.value for s in Sign)
KAPPA_TARGET = 0.85
AUC_MARGIN = 0.02  # the mask's AUC may fall short of the original's by this much


@dataclass(frozen=True)
class LabelledPhoto:
    path: Path
    sign: Sign
    positive: bool


def labelled_photos(roots: Sequence[Path]) -> list[LabelledPhoto]:
    """Every photo under roots, with its set and label from its name; one line for a name that has none."""
    photos = []
    for root in roots:
        if not root.is_dir():
            raise InputError(f"{root}: not a folder; dmask eval clinical takes folders of labelled photos")
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
            if path.suffix.lower() not in PHOTO_SUFFIXES:
                raise InputError(f"{path}: not a photo ({', '.join(PHOTO_SUFFIXES)}); labelled videos are not read yet")
            parts = path.stem.split("__")
            if len(parts) < 3 or parts[0] not in {s.value for s in Sign} or parts[1] not in LABELS:
                raise InputError(f"{path}: no label in the name; {NAME_HINT}")
            photos.append(LabelledPhoto(path, Sign(parts[0]), LABELS[parts[1]]))
    if not photos:
        raise InputError(f"{', '.join(map(str, roots))}: no photos; {NAME_HINT}")
    return photos


@dataclass(frozen=True)
class PhotoReading:
    """One photo: each reader's raw sign value on the original and on the mask (NaN: no face), and the published score."""

    sign: Sign
    positive: bool
    original: tuple[float, ...]
    masked: tuple[float, ...]
    published: float


def published_score(sign: Sign, face: MaskParams | None) -> float:
    """The sign's score from the published signals alone (NaN without a face or an eye)."""
    if face is None:
        return math.nan
    fields = face_values(face)
    if sign is Sign.STRABISMUS:
        return abs(fields["horizontal_deviation_pd"])
    return (abs(fields["right_mouth_corner_height_mm"] - fields["left_mouth_corner_height_mm"])
            + abs(fields["right_brow_height_mm"] - fields["left_brow_height_mm"]))


def read_photo_pair(photo: LabelledPhoto, readers: Sequence[SignReader], config: Config, models: ModelSet) -> PhotoReading:
    """Mask one photo as `dmask mask` would, and let every reader read both sides."""
    image = read_photo(photo.path)
    masked = MaskPipeline(config, still=True, models=models).process(Frame(image, 0, 0.0))

    def value(reader: SignReader, picture: np.ndarray) -> float:
        points = reader.points(picture)
        return math.nan if points is None else sign_value(photo.sign, points)

    return PhotoReading(
        photo.sign, photo.positive,
        tuple(value(r, image) for r in readers), tuple(value(r, masked.image) for r in readers),
        published_score(photo.sign, masked.faces[0] if masked.faces else None),
    )


def separation_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """P(a control scores below a sign), ties half; NaN where either class is empty."""
    keep = np.isfinite(scores)
    signs, controls = scores[keep & positive], scores[keep & ~positive]
    if len(signs) == 0 or len(controls) == 0:
        return math.nan
    return probability_below(controls, signs)


def best_threshold(scores: np.ndarray, positive: np.ndarray) -> float:
    """The score at or above which 'sign present' best separates (Youden's J; the lowest such score)."""
    best, threshold = -np.inf, math.nan
    for candidate in np.unique(scores):
        j = np.mean(scores[positive] >= candidate) - np.mean(scores[~positive] >= candidate)
        if j > best:
            best, threshold = j, float(candidate)
    return threshold


def cohen_kappa(first: np.ndarray, second: np.ndarray) -> float:
    """Agreement of two yes/no decisions beyond chance; 1 when they agree and neither is constant-and-equal."""
    if len(first) == 0:
        return math.nan
    observed = float(np.mean(first == second))
    p1, p2 = float(np.mean(first)), float(np.mean(second))
    chance = p1 * p2 + (1 - p1) * (1 - p2)
    return 1.0 if chance == 1.0 else (observed - chance) / (1.0 - chance)


@dataclass(frozen=True)
class Agreement:
    """One set read by one reader."""

    reader: str
    photos: int
    unread_original: int
    unread_mask: int
    auc_original: float
    auc_mask: float
    spearman_r: float
    kappa: float
    threshold: float

    def numbers(self) -> dict[str, float | int]:
        """Every figure, for results.json (the reader names its section)."""
        return {k: v for k, v in asdict(self).items() if k != "reader"}

    def targets_met(self) -> bool:
        return self.auc_mask >= self.auc_original - AUC_MARGIN and self.kappa >= KAPPA_TARGET


def reader_scores(sign: Sign, readings: Sequence[PhotoReading], index: int) -> tuple[np.ndarray, np.ndarray]:
    """One reader's scores on the originals and on the masks (NaN: no face), from the controls' reference."""
    original = np.array([r.original[index] for r in readings])
    masked = np.array([r.masked[index] for r in readings])
    controls = original[[not r.positive for r in readings]]
    reference = float(np.nanmedian(controls)) if np.isfinite(controls).any() else 0.0
    return score(sign, original, reference), score(sign, masked, reference)


def agreement(reader: str, original: np.ndarray, masked: np.ndarray, positive: np.ndarray) -> Agreement:
    """The figures of one reader on one set (module docstring), over the photos read on both sides."""
    both = np.isfinite(original) & np.isfinite(masked)
    o, m, p = original[both], masked[both], positive[both]
    threshold = best_threshold(o, p) if p.any() and (~p).any() else math.nan
    spearman = require("scipy.stats", "scipy").spearmanr(o, m).statistic if len(o) > 2 else math.nan
    return Agreement(
        reader, len(original), int((~np.isfinite(original)).sum()), int((np.isfinite(original) & ~np.isfinite(masked)).sum()),
        separation_auc(o, p), separation_auc(m, p), float(spearman),
        cohen_kappa(o >= threshold, m >= threshold) if math.isfinite(threshold) else math.nan, threshold,
    )


@dataclass(frozen=True)
class SetAgreement:
    sign: Sign
    signs: int
    controls: int
    readers: tuple[Agreement, ...]
    published_auc: float
    scores: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]  # per reader: original, mask, positive (plots)


@dataclass(frozen=True)
class AgreementResult:
    sets: tuple[SetAgreement, ...]
    report: Path
    seconds: float

    def numbers(self) -> dict:
        """Every figure of the report, for results.json and the CI ratchet."""
        return {"clinical": {"sets": {
            s.sign.value: {"signs": s.signs, "controls": s.controls, "published_auc": s.published_auc,
                           "readers": {a.reader: a.numbers() for a in s.readers}}
            for s in self.sets
        }, "seconds": self.seconds}}

    def lines(self) -> list[str]:
        lines = []
        for s in self.sets:
            lines.append(f"{s.sign.value}: {s.signs} signs, {s.controls} controls; published signals' AUC {s.published_auc:.3f}")
            lines += [
                f"  {a.reader}: AUC original {a.auc_original:.3f}, mask {a.auc_mask:.3f}; Spearman r {a.spearman_r:.3f}; "
                f"kappa {a.kappa:.3f} ({'targets met' if a.targets_met() else 'targets NOT met'})"
                for a in s.readers
            ]
        return lines


def evaluate_clinical(roots: Sequence[Path], out_dir: Path, config: Config, *, progress: bool = True) -> AgreementResult:
    """Mask every labelled photo, read both sides with both readers, and write the report folder."""
    started = time.perf_counter()
    photos = labelled_photos([Path(root) for root in roots])
    require_plotting()
    models = ModelSet.load(config)
    readers = sign_readers(config, models)
    report = Report(out_dir, "Clinical agreement evaluation")
    readings = [read_photo_pair(photo, readers, config, models)
                for photo in tqdm(photos, desc="photos", unit="photo", file=sys.stderr, disable=None if progress else True)]
    sets = tuple(_set_agreement(sign, [r for r in readings if r.sign is sign], readers)
                 for sign in Sign if any(r.sign is sign for r in readings))
    result = AgreementResult(sets, report.directory / "report.md", time.perf_counter() - started)
    _write_report(report, result)
    report.write(result.numbers())
    return result


def _set_agreement(sign: Sign, readings: list[PhotoReading], readers: Sequence[SignReader]) -> SetAgreement:
    positive = np.array([r.positive for r in readings])
    if positive.all() or not positive.any():
        raise EvaluationError(f"the {sign.value} set has only {'signs' if positive.all() else 'controls'}; "
                              "agreement needs both (SET__sign__NAME and SET__control__NAME)")
    scores = tuple((*reader_scores(sign, readings, k), positive) for k in range(len(readers)))
    figures = tuple(agreement(reader.name, *s) for reader, s in zip(readers, scores))
    published = separation_auc(np.array([r.published for r in readings]), positive)
    return SetAgreement(sign, int(positive.sum()), int((~positive).sum()), figures, published, scores)


def _write_report(report: Report, result: AgreementResult) -> None:
    report.paragraph(
        "Each labelled photo was masked with the configured identity policy; two readers that share no model "
        "(the product's MediaPipe chain; dlib's 68 points with a model-free pupil centroid) scored the sign on the "
        "original and on the mask. Kappa compares the decisions 'sign present' on both sides at the threshold that "
        f"best separates the originals. Targets: mask AUC within {AUC_MARGIN} of the original's, kappa at least "
        f"{KAPPA_TARGET}. No photo, mask or file name is written here."
    )
    header = ["reader", "photos", "unread (orig / mask)", "AUC original", "AUC mask", "Spearman r", "kappa", "targets"]
    for s in result.sets:
        report.heading(f"{s.sign.value}: {s.signs} signs, {s.controls} controls")
        report.table(header, [[a.reader, a.photos, f"{a.unread_original} / {a.unread_mask}", a.auc_original,
                               a.auc_mask, a.spearman_r, a.kappa, "met" if a.targets_met() else "NOT met"]
                              for a in s.readers])
        report.paragraph(f"Published signals' AUC: {s.published_auc:.3f}.")
        _scatter(report, s)


def _scatter(report: Report, s: SetAgreement) -> None:
    """Each reader's original score against its mask score, signs and controls apart."""
    plt = pyplot()
    figure, axes = plt.subplots(1, len(s.readers), figsize=(4.5 * len(s.readers), 4))
    for axis, agreement_, (original, masked, positive) in zip(np.atleast_1d(axes), s.readers, s.scores):
        for mask_, colour, label in ((positive, "tab:red", "sign"), (~positive, "tab:blue", "control")):
            axis.scatter(original[mask_], masked[mask_], s=14, c=colour, label=label)
        if math.isfinite(agreement_.threshold):
            axis.axvline(agreement_.threshold, color="grey", lw=0.8)
            axis.axhline(agreement_.threshold, color="grey", lw=0.8)
        axis.set_title(f"{agreement_.reader}: kappa {agreement_.kappa:.2f}")
        axis.set_xlabel("score on the original")
        axis.set_ylabel("score on the mask")
        axis.legend(fontsize=8)
    report.figure(f"{s.sign.value}_scores", figure, f"{s.sign.value}: each photo's score on the original and on the "
                  "mask; the lines are the threshold that best separates the originals")
