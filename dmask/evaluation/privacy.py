"""`dmask eval privacy`: can a face recogniser tell who is behind the mask?

Protocol. Each DIR holds one sub-folder per identity; identities with fewer
than two photos are skipped. Every photo is scaled to a longer side of at most
MAX_SIDE pixels (faces in large photos are large; dlib's detector would spend
seconds on each) and a shorter side of at least MIN_SIDE (its detector misses
small faces), then dlib's detector looks for the face; photos where it finds none in the
original are excluded and counted. The first remaining photo (sorted by
name) of each identity is its gallery photo, the others are probes.

Every photo is embedded under four conditions by two recognisers
(dmask.evaluation.recognisers): the original, the mask (a fresh still-photo
MaskPipeline), and the two methods a user would otherwise choose, a Gaussian
blur and a pixelation of the face (dmask.evaluation.obscure). Where the
detector finds no face in a changed photo, the original's face box is used,
as an attacker who knows where the face is would, and the miss is counted.

Each comparison (PAIRINGS) embeds probes under one condition against
galleries under another and reports rank-1 identification (is the nearest
gallery the probe's own identity?) and ROC AUC (genuine distances, probe to
its own gallery, against impostor distances, probe to every other gallery;
Mann-Whitney). Chance rank-1 is 1 / number of galleries, chance AUC 0.5.
No verification threshold is used: on avatars every face falls within
dlib's usual 0.6 of every other, so a threshold would call everyone the
same person and say nothing about re-identification.

Photos of one person from one session share pose, expression, light and
camera, which makes linking them easy for reasons the mask cannot remove.
Two photos count as one session when they share the file-name prefix before
the first '_' (fr_, df_, of_: the public repositories the photos came from)
and their pixel size as stored: the ORL set's photos of a person (all
92x112) are one session, each press photo of a public figure its own. This
errs on the side of calling a pair cross-session, which can only raise the
cross-session figures. The cross-session comparisons keep only probes from a
session other than their gallery's.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from dmask.config import Config
from dmask.errors import EvaluationError, InputError
from dmask.evaluation.attackers import SplitRank, attack
from dmask.evaluation.identification import (
    GallerySplit,
    distance_matrix,
    rank1,
    roc_auc,
    roc_curve,
)
from dmask.evaluation.obscure import (
    BLUR_SIGMA_FRACTION,
    COVER_SCALE,
    PIXEL_BLOCKS,
    blur_face,
    pixelate_face,
)
from dmask.evaluation.recognisers import (
    FACENET_MARGIN,
    FaceFinder,
    Recogniser,
    load_recognisers,
)
from dmask.report_folder import Report, pyplot, require_plotting, thumbnail
from dmask.capture.media import PHOTO_SUFFIXES, read_photo
from dmask.models import ModelSet
from dmask.pipeline import MaskPipeline
from dmask.records import Frame, MaskedFrame
from dmask.draw import make_renderer
from dmask.draw.mesh import RenderMesh
from dmask.signals import FACE_FIELDS, Role, face_values

MIN_SIDE = 256
MAX_SIDE = 1280
SHEET_PAIRS = 8
# pose_gaze: the mask with everything but head pose and gaze at the population's level (the floor that
# pose and gaze alone give, which a clinical recording must keep)
CONDITIONS = ("original", "mask", "blur", "pixelate", "pose_gaze")
ORIGINAL = CONDITIONS.index("original")
DATASET_HINT = "needs one sub-folder per identity with at least 2 photos each"
# What the signal-stream attacker reads: every clinical field a subscriber receives.
ATTACKED_FIELDS = tuple(f.name for f in FACE_FIELDS if f.role is Role.CLINICAL and f.name != "track_id")


@dataclass(frozen=True)
class PrivacySettings:
    """The parameters of the conditions, written into results.json."""

    blur_sigma_fraction: float = BLUR_SIGMA_FRACTION
    pixel_blocks: int = PIXEL_BLOCKS
    cover_scale: float = COVER_SCALE
    facenet_margin: float = FACENET_MARGIN
    min_side: int = MIN_SIDE
    max_side: int = MAX_SIDE


SETTINGS = PrivacySettings()


@dataclass(frozen=True)
class Identity:
    """One person: photos (sorted paths, at least 2) in root/folder."""

    root: Path
    folder: str
    photos: tuple[Path, ...]


class Sessions(enum.Enum):
    """Which probes a comparison keeps: all, or only those from another / the same session as their gallery."""

    ALL = "all"
    OTHER = "other"
    SAME = "same"


@dataclass(frozen=True)
class Pairing:
    """One comparison: probes under one condition against galleries under another."""

    key: str
    label: str
    probe: str
    gallery: str
    sessions: Sessions = Sessions.ALL


PAIRINGS = (
    Pairing("original_to_original", "Original → original (sanity)", "original", "original"),
    Pairing("original_to_original_cross_session", "Original → original, other session", "original", "original", Sessions.OTHER),
    Pairing("mask_to_face", "Mask2Face (mask → original)", "mask", "original"),
    Pairing("mask_to_mask", "Mask2Mask (mask → mask)", "mask", "mask"),
    Pairing("mask_to_mask_cross_session", "Mask2Mask, other session", "mask", "mask", Sessions.OTHER),
    Pairing("mask_to_mask_same_session", "Mask2Mask, same session", "mask", "mask", Sessions.SAME),
    Pairing("floor_to_floor", "Pose-and-gaze floor (floor → floor)", "pose_gaze", "pose_gaze"),
    Pairing("floor_to_floor_cross_session", "Pose-and-gaze floor, other session", "pose_gaze", "pose_gaze", Sessions.OTHER),
    Pairing("floor_to_floor_same_session", "Pose-and-gaze floor, same session", "pose_gaze", "pose_gaze", Sessions.SAME),
    Pairing("blur_to_face", "Blur → original", "blur", "original"),
    Pairing("blur_to_blur", "Blur → blur", "blur", "blur"),
    Pairing("blur_to_blur_cross_session", "Blur → blur, other session", "blur", "blur", Sessions.OTHER),
    Pairing("pixelate_to_face", "Pixelate → original", "pixelate", "original"),
    Pairing("pixelate_to_pixelate", "Pixelate → pixelate", "pixelate", "pixelate"),
    Pairing("pixelate_to_pixelate_cross_session", "Pixelate → pixelate, other session", "pixelate", "pixelate", Sessions.OTHER),
)


@dataclass(frozen=True)
class EmbeddedPhoto:
    """One photo under every condition.

    identity: index of its Identity; session: see session_of.
    misses: (C,) bool per condition of CONDITIONS: the detector found no face
        there and the original's box was used (always False for the original).
    vectors: per recogniser, a (C, D) float32 array, one embedding per condition.
    signals: (F,) float64 the mask's published clinical fields (ATTACKED_FIELDS), NaN without a face.
    """

    identity: int
    session: str
    misses: np.ndarray
    vectors: tuple[np.ndarray, ...]
    signals: np.ndarray


@dataclass(frozen=True)
class PairingResult:
    """The figures of one Pairing for one recogniser.

    detector_misses: photos of this comparison (probes and galleries under
        their conditions) where the original's face box stood in.
    false_positive_rate, true_positive_rate: (K,) the ROC curve, from (0, 0) to (1, 1).
    """

    pairing: Pairing
    rank1: float
    auc: float
    probes: int
    detector_misses: int
    false_positive_rate: np.ndarray
    true_positive_rate: np.ndarray

    def numbers(self) -> dict[str, Any]:
        return {"rank1": self.rank1, "auc": self.auc, "probes": self.probes, "detector_misses": self.detector_misses}


TARGET_MARGIN = 0.02


@dataclass(frozen=True)
class TargetCheck:
    """A rank-1 and the most it may be; NaN (nothing to measure, e.g. no other-session probe) meets nothing."""

    label: str
    value: float
    bound: float

    @property
    def met(self) -> bool:
        return bool(self.value <= self.bound)


@dataclass(frozen=True)
class RecogniserResult:
    name: str
    pairings: tuple[PairingResult, ...]

    def __getitem__(self, key: str) -> PairingResult:
        return next(result for result in self.pairings if result.pairing.key == key)


@dataclass(frozen=True)
class PrivacyResult:
    """Everything `dmask eval privacy` measured.

    identities: galleries (identities with a face found in at least one photo).
    photos: photos evaluated (a face found in the original).
    excluded_no_face: photos dropped because dlib found no face in the original.
    unreadable: photos that could not be decoded, skipped.
    condition_misses: per condition of CONDITIONS, photos where the detector
        found no face and the original's box was used.
    """

    identities: int
    photos: int
    excluded_no_face: int
    unreadable: int
    condition_misses: tuple[int, ...]
    recognisers: tuple[RecogniserResult, ...]
    attackers: tuple[SplitRank, ...]
    settings: PrivacySettings
    report: Path

    @property
    def chance(self) -> float:
        return 1.0 / self.identities

    def targets(self) -> list[TargetCheck]:
        """The privacy targets: linking masks to faces, or masks to masks across sessions, at chance (+2 pp);
        within a session, no better than pose and gaze alone give (+2 pp)."""
        checks = []
        for r in self.recognisers:
            checks += [
                TargetCheck(f"{r.name} Mask2Face", r["mask_to_face"].rank1, self.chance + TARGET_MARGIN),
                TargetCheck(f"{r.name} Mask2Mask, other session", r["mask_to_mask_cross_session"].rank1,
                            self.chance + TARGET_MARGIN),
                TargetCheck(f"{r.name} Mask2Mask, same session", r["mask_to_mask_same_session"].rank1,
                            r["floor_to_floor_same_session"].rank1 + TARGET_MARGIN),
            ]
        checks += [TargetCheck(f"{a.name}, other session", a.cross_session_rank1, a.chance + TARGET_MARGIN)
                   for a in self.attackers]
        return checks

    def numbers(self) -> dict[str, Any]:
        return {
            "privacy": {
                "identities": self.identities,
                "photos": self.photos,
                "excluded_no_face": self.excluded_no_face,
                "unreadable": self.unreadable,
                "chance": self.chance,
                "detector_misses": dict(zip(CONDITIONS, self.condition_misses)),
                "recognisers": {
                    recogniser.name: {result.pairing.key: result.numbers() for result in recogniser.pairings}
                    for recogniser in self.recognisers
                },
                "attackers": {attack.name: attack.numbers() for attack in self.attackers},
                "targets": [asdict(check) | {"met": check.met} for check in self.targets()],
                "settings": asdict(self.settings),
            }
        }

    def lines(self) -> list[str]:
        summary = (
            f"{self.identities} identities, {self.photos} photos ({self.excluded_no_face} without a face in the "
            f"original excluded, {self.unreadable} unreadable); chance rank-1 {self.chance:.3f}"
        )
        recognisers = [self._recogniser_line(recogniser) for recogniser in self.recognisers]
        attackers = [
            f"{a.name}: rank-1 {a.rank1:.3f}, other session {a.cross_session_rank1:.3f} (chance {a.chance:.3f})"
            for a in self.attackers
        ]
        checks = self.targets()
        measured = [c for c in checks if math.isfinite(c.value)]
        met = f"targets met: {sum(c.met for c in measured)} of {len(measured)} measurable"
        return [summary, *recognisers, *attackers, met]

    def _recogniser_line(self, recogniser: RecogniserResult) -> str:
        rank1 = {result.pairing.key: result.rank1 for result in recogniser.pairings}
        return (
            f"{recogniser.name}: Mask2Face rank-1 {rank1['mask_to_face']:.3f}, Mask2Mask {rank1['mask_to_mask']:.3f}, "
            f"blur {rank1['blur_to_face']:.3f}, pixelate {rank1['pixelate_to_face']:.3f} "
            f"(original {rank1['original_to_original']:.3f}, chance {self.chance:.3f})"
        )


def evaluate_privacy(
    roots: Sequence[Path],
    out_dir: Path,
    config: Config,
    *,
    max_identities: int | None = None,
    progress: bool = True,
) -> PrivacyResult:
    """Embed every photo of roots under every condition, compare, and write the report to out_dir."""
    identities = find_identities([Path(root) for root in roots], max_identities)
    require_plotting()
    embedder = PhotoEmbedder(config)
    report = Report(out_dir, "Privacy evaluation")
    embedded, sheet = embedder.embed_all(identities, progress)
    split = split_gallery(embedded)
    results = tuple(
        RecogniserResult(recogniser.name, tuple(evaluate_pairing(embedded, split, index, p) for p in PAIRINGS))
        for index, recogniser in enumerate(embedder.recognisers)
    )
    result = PrivacyResult(
        identities=len(split.gallery),
        photos=len(embedded),
        excluded_no_face=embedder.excluded_no_face,
        unreadable=embedder.unreadable,
        condition_misses=tuple(int(n) for n in np.sum([photo.misses for photo in embedded], axis=0)),
        recognisers=results,
        attackers=attack(
            np.array([photo.identity for photo in embedded]),
            np.array([photo.signals for photo in embedded]),
            {r.name: condition_vectors(embedded, np.arange(len(embedded)), k, CONDITIONS.index("mask"))
             for k, r in enumerate(embedder.recognisers)},
            split,
        ),
        settings=SETTINGS,
        report=report.directory / "report.md",
    )
    write_report(report, result, sheet)
    return result


def find_identities(roots: Sequence[Path], max_identities: int | None = None) -> tuple[Identity, ...]:
    """The identities with at least 2 photos, root by root in order, folders sorted; the first max_identities."""
    found = [identity for root in roots for identity in identities_in(root)]
    return tuple(found[:max_identities] if max_identities is not None else found)


def identities_in(root: Path) -> list[Identity]:
    """InputError unless root is a folder with at least one identity of 2 or more photos."""
    if not root.is_dir():
        raise InputError(f"{root}: no such folder; it {DATASET_HINT}")
    identities = []
    for folder in sorted(path for path in root.iterdir() if path.is_dir()):
        photos = tuple(sorted(path for path in folder.iterdir() if path.suffix.lower() in PHOTO_SUFFIXES))
        if len(photos) >= 2:
            identities.append(Identity(root, folder.name, photos))
    if not identities:
        raise InputError(f"{root}: no identity with 2 or more photos; it {DATASET_HINT}")
    return identities


def session_of(path: Path, image: np.ndarray) -> str:
    """The photo's session: its file-name prefix before the first '_' (or none) and its stored pixel size."""
    prefix, underscore, _ = path.name.partition("_")
    return f"{prefix if underscore else ''}:{image.shape[1]}x{image.shape[0]}"


def evaluation_sized(image: np.ndarray) -> np.ndarray:
    """image with its longer side at most MAX_SIDE, then its shorter side at least MIN_SIDE."""
    factor = min(1.0, MAX_SIDE / max(image.shape[:2]))
    factor = max(factor, MIN_SIDE / min(image.shape[:2]))
    if factor == 1.0:
        return image
    interpolation = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_CUBIC
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=interpolation)


def evenly_spaced(items: list[Any], count: int) -> list[Any]:
    """At most count items, spread from the first to the last (so every data set shows)."""
    if len(items) <= count:
        return items
    return [items[round(position)] for position in np.linspace(0, len(items) - 1, count)]


class PhotoEmbedder:
    """Makes the four conditions of a photo and embeds each with every recogniser.

    Models are loaded once; each photo gets a fresh still-photo MaskPipeline,
    so no state passes from one person to the next. Counts the photos it
    could not read and those without a face in the original.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.finder = FaceFinder()
        self.recognisers: tuple[Recogniser, ...] = load_recognisers(SETTINGS.facenet_margin)
        self.models = ModelSet.load(config)
        self.renderer = make_renderer(config.render)
        self.unreadable = 0
        self.excluded_no_face = 0

    def embed_all(
        self, identities: Sequence[Identity], progress: bool
    ) -> tuple[list[EmbeddedPhoto], list[tuple[np.ndarray, np.ndarray]]]:
        """Every photo with a face, and (original, masked) thumbnails of SHEET_PAIRS identities spread over all."""
        embedded: list[EmbeddedPhoto] = []
        first_pairs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for index, path in self._photos(identities, progress):
            stored = self._read(path)
            photo = evaluation_sized(stored) if stored is not None else None
            found = self.embed(photo, index, session_of(path, stored)) if photo is not None else None
            if found is not None:
                embedded.append(found[0])
                first_pairs.setdefault(index, (thumbnail(photo), thumbnail(found[1])))
        return embedded, evenly_spaced(list(first_pairs.values()), SHEET_PAIRS)

    def embed(self, image: np.ndarray, identity: int, session: str) -> tuple[EmbeddedPhoto, np.ndarray] | None:
        """The photo embedded under every condition, and its masked image; None if the original has no face."""
        box = self.finder.find(image)
        if box is None:
            self.excluded_no_face += 1
            return None
        masked = self.mask(image)
        variants = (image, masked.image, blur_face(image, box), pixelate_face(image, box), self.floor(masked))
        # the original's box is already found; the detector is most of the evaluation's time
        found = [box] + [self.finder.find(variant) for variant in variants[1:]]
        boxes = [variant_box or box for variant_box in found]
        vectors = tuple(
            np.stack([recogniser.embed(variant, face) for variant, face in zip(variants, boxes)])
            for recogniser in self.recognisers
        )
        misses = np.array([variant_box is None for variant_box in found])
        signals = np.full(len(ATTACKED_FIELDS), np.nan)
        if masked.faces:
            values = face_values(masked.faces[0])
            signals = np.array([values[name] for name in ATTACKED_FIELDS])
        return EmbeddedPhoto(identity, session, misses, vectors, signals), masked.image

    def mask(self, image: np.ndarray) -> MaskedFrame:
        """The appliance's output for this photo."""
        return MaskPipeline(self.config, still=True, models=self.models).process(Frame(image, 0, 0.0))

    def floor(self, masked: MaskedFrame) -> np.ndarray:
        """The mask redrawn with only its head pose and gaze: everything else at the population's level."""
        avatar, rig = self.models.avatar, self.models.rig
        faces = []
        for face in masked.faces:
            rest = avatar.at_rest(face)
            faces.append(replace(
                rest,
                right_eye=replace(rest.right_eye, gaze_yaw=face.right_eye.gaze_yaw, gaze_pitch=face.right_eye.gaze_pitch,
                                  occluded=face.right_eye.occluded),
                left_eye=replace(rest.left_eye, gaze_yaw=face.left_eye.gaze_yaw, gaze_pitch=face.left_eye.gaze_pitch,
                                 occluded=face.left_eye.occluded),
            ))
        height, width = masked.image.shape[:2]
        return self.renderer.render(RenderMesh.concatenate([rig.mesh(f) for f in faces]), height, width)

    def _read(self, path: Path) -> np.ndarray | None:
        try:
            return read_photo(path)
        except InputError:
            self.unreadable += 1
            return None

    @staticmethod
    def _photos(identities: Sequence[Identity], progress: bool) -> Iterable[tuple[int, Path]]:
        """(identity index, path) of every photo, behind a progress bar on stderr."""
        photos = [(index, path) for index, identity in enumerate(identities) for path in identity.photos]
        return tqdm(photos, desc="privacy", unit="photo", leave=False, disable=None if progress else True)


def split_gallery(embedded: Sequence[EmbeddedPhoto]) -> GallerySplit:
    """The first photo of each identity is its gallery; the rest are probes. Needs 2 or more galleries."""
    first: dict[int, int] = {}
    for index, photo in enumerate(embedded):
        first.setdefault(photo.identity, index)
    if len(first) < 2:
        raise EvaluationError(f"dlib found faces for {len(first)} identity(ies); the evaluation {DATASET_HINT}")
    gallery = np.array(sorted(first.values()), dtype=int)
    gallery_of = {embedded[index].identity: position for position, index in enumerate(gallery)}
    probes = np.array([index for index in range(len(embedded)) if index not in first.values()], dtype=int)
    truth = np.array([gallery_of[embedded[index].identity] for index in probes], dtype=int)
    cross = np.array([embedded[i].session != embedded[gallery[t]].session for i, t in zip(probes, truth)], dtype=bool)
    return GallerySplit(gallery, probes, truth, cross)


def evaluate_pairing(
    embedded: Sequence[EmbeddedPhoto], split: GallerySplit, recogniser: int, pairing: Pairing
) -> PairingResult:
    """Rank-1, AUC and ROC of one pairing for the recogniser at index `recogniser`."""
    probe_condition, gallery_condition = CONDITIONS.index(pairing.probe), CONDITIONS.index(pairing.gallery)
    keep = {Sessions.ALL: np.ones(len(split.probes), bool), Sessions.OTHER: split.cross_session,
            Sessions.SAME: ~split.cross_session}[pairing.sessions]
    probes, truth = split.probes[keep], split.truth[keep]
    distances = distance_matrix(
        condition_vectors(embedded, probes, recogniser, probe_condition),
        condition_vectors(embedded, split.gallery, recogniser, gallery_condition),
    )
    misses = sum(int(embedded[i].misses[probe_condition]) for i in probes) + sum(
        int(embedded[i].misses[gallery_condition]) for i in split.gallery
    )
    false_positive_rate, true_positive_rate = roc_curve(distances, truth)
    return PairingResult(
        pairing, rank1(distances, truth), roc_auc(distances, truth), len(probes), misses,
        false_positive_rate, true_positive_rate,
    )


def condition_vectors(
    embedded: Sequence[EmbeddedPhoto], indices: np.ndarray, recogniser: int, condition: int
) -> np.ndarray:
    """(N, D) embeddings of the photos at indices (N,) under one condition by one recogniser."""
    dimensions = embedded[0].vectors[recogniser].shape[1]
    rows = [embedded[index].vectors[recogniser][condition] for index in indices]
    return np.array(rows, np.float32).reshape(len(rows), dimensions)


def write_report(report: Report, result: PrivacyResult, sheet: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
    """report.md with the protocol, one table and ROC figure per recogniser, and the contact sheet."""
    report.heading("Protocol")
    for paragraph in protocol_text(result):
        report.paragraph(paragraph)
    for recogniser in result.recognisers:
        report.heading(f"{recogniser.name}")
        report.table(
            ["comparison", "rank-1", "ROC AUC", "probes", "detector misses"],
            [[r.pairing.label, r.rank1, r.auc, r.probes, r.detector_misses] for r in recogniser.pairings],
        )
        report.figure(f"roc_{recogniser.name}", roc_figure(recogniser), f"{recogniser.name}: ROC of every comparison")
    report.heading("Targets")
    report.table(["figure (rank-1)", "measured", "at most", "met"],
                 [[c.label, c.value, c.bound, "yes" if c.met else "no"] for c in result.targets()])
    report.heading("Attackers who know the mask")
    report.paragraph(ATTACKERS_TEXT)
    report.table(
        ["attacker", "rank-1", "rank-1, other session", "chance", "probes"],
        [[a.name, a.rank1, a.cross_session_rank1, a.chance, a.probes] for a in result.attackers],
    )
    if sheet:
        report.heading("Original and mask")
        report.contact_sheet("originals_and_masks", sheet, "Original (left) and the appliance's mask (right)")
    report.write(result.numbers())


ATTACKERS_TEXT = (
    "Each attacker has our code. adaptive_<recogniser>: a Fisher discriminant (LDA) of that recogniser's embeddings "
    "of masks, learnt on half the identities (alternate ones) and scored on the other half (half1, then the roles "
    "swapped: half2), so chance is 1 / that half's galleries. signals_nearest: each probe's published clinical "
    "signals (every clinical field of the signal schema, z-scored over all photos) matched to the nearest gallery's. "
    "signals_lda: the same signals through an LDA learnt on the other half. The pose-and-gaze floor (floor → floor "
    "above) redraws each mask with only its head pose and gaze: what a recording must keep, and what Mask2Mask "
    "within a session cannot go below."
)


def protocol_text(result: PrivacyResult) -> list[str]:
    settings = result.settings
    misses = ", ".join(f"{name} {count}" for name, count in zip(CONDITIONS[1:], result.condition_misses[1:]))
    return [
        f"{result.identities} identities, {result.photos} photos; {result.excluded_no_face} photos without a face "
        f"found by dlib in the original were excluded, {result.unreadable} could not be read. Photos are scaled to "
        f"a longer side of at most {settings.max_side} px, then a shorter side of at least {settings.min_side} px. "
        "The first photo of each identity (by name) is its "
        "gallery, every other photo a probe.",
        "Each probe is compared with every gallery. Rank-1: the nearest gallery is the probe's own identity; "
        f"chance is 1 / {result.identities} = {result.chance:.3f}. ROC AUC: how often a probe is nearer its own "
        "gallery than another identity's (0.5 = chance, 1 = always). No verification threshold is used: on "
        "avatars every face falls within dlib's usual 0.6 of every other, so a threshold says nothing here.",
        "Mask2Face: masked probes against original galleries (can the mask be traced to a known face?). "
        "Mask2Mask: masked probes against masked galleries (does the mask still carry a person's identity?). "
        "\"Other session\" keeps only probes from another session than their gallery: another source "
        "(file-name prefix before '_') or another stored pixel size. The ORL photos of a person (all 92x112, one "
        "lab) are one session; each press photo is its own. Same-session photos share pose, light and camera, "
        "which a clinical recording must keep, so Mask2Mask over all pairs overstates what links masks from "
        "different visits.",
        f"Where dlib finds no face in a changed photo, the original's face box is used, as an attacker who knows "
        f"where the face is would. Photos where that happened: {misses}. Both recognisers use dlib's detector.",
        f"Blur and pixelate are applied to dlib's face box grown {settings.cover_scale:g}x about its centre "
        f"(as deface does): a Gaussian with sigma = {settings.blur_sigma_fraction:g} of that box's width, and "
        f"{settings.pixel_blocks} blocks across it. FaceNet's crop is dlib's box grown by "
        f"{settings.facenet_margin:g} of its side, chosen on the original-to-original baseline only.",
    ]


def roc_figure(recogniser: RecogniserResult) -> Any:
    """All comparisons but the cross-session ones on one ROC plot, with the chance diagonal."""
    figure, axes = pyplot().subplots(figsize=(6, 6))
    for result in recogniser.pairings:
        if result.pairing.sessions is Sessions.ALL and len(result.false_positive_rate):
            label = f"{result.pairing.label} (AUC {result.auc:.3f})"
            axes.plot(result.false_positive_rate, result.true_positive_rate, label=label)
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance")
    axes.set(
        xlabel="false positive rate (impostor pairs accepted)",
        ylabel="true positive rate (genuine pairs accepted)",
        title=f"{recogniser.name}: probe-to-gallery ROC",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    axes.legend(loc="lower right", fontsize=8)
    return figure
