#!/usr/bin/env python3
"""A quick re-identification probe for choosing the identity policy.

Not the evaluation command (that is `dmask eval privacy`, a later issue): a
small, honest measurement to choose `fit.deadzone_sigmas` with. For every
identity with at least two photos, the first photo is the gallery and the
others are probes; dlib's ResNet face recogniser (PyPI: dlib-bin,
face_recognition_models) embeds the originals and the masks, and rank-1
identification is reported for original->original, mask->original
("Mask2Face") and mask->mask ("Mask2Mask"), at several dead-zone widths.
Where dlib finds no face on a mask, the original's face box is used.

With --carry, the avatar is also drawn from part of the parameters only
(`pose`: no expression, eyes at rest; `pose+eyes`: no expression), to see
which signals carry identity.

Usage: python tools/privacy_probe.py ../shared/data/identities ../shared/data/identities_orl --sigmas 0 2 3 --carry pose pose+eyes
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.config import load_config  # noqa: E402
from edge.media import PHOTO_SUFFIXES, read_photo  # noqa: E402
from edge.pipeline import MaskPipeline, ModelSet  # noqa: E402
from edge.records import EyeParams, Frame, MaskParams  # noqa: E402
from edge.render.mesh import RenderMesh  # noqa: E402

MIN_SIDE = 256


class Recogniser:
    def __init__(self) -> None:
        import dlib
        import face_recognition_models as frm

        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(frm.pose_predictor_model_location())
        self.net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        self.rectangle = dlib.rectangle

    def box(self, image: np.ndarray):
        boxes = self.detector(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), 1)
        return max(boxes, key=lambda b: b.area()) if boxes else None

    def embed(self, image: np.ndarray, box) -> np.ndarray:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return np.array(self.net.compute_face_descriptor(rgb, self.shape(rgb, box)))


def rank1(gallery: np.ndarray, probes: np.ndarray, probe_ids: np.ndarray) -> float:
    distances = np.linalg.norm(probes[:, None] - gallery[None], axis=2)
    return float((distances.argmin(1) == probe_ids).mean())


def only(part: str, params: MaskParams, rest: EyeParams) -> MaskParams:
    """The parameters with everything but `part` at the avatar's rest."""
    kept = dataclasses.replace(params, expression=np.zeros_like(params.expression))
    return kept if part == "pose+eyes" else dataclasses.replace(kept, right_eye=rest, left_eye=rest)


def masked_photo(image: np.ndarray, config, models: ModelSet, part: str) -> np.ndarray:
    pipeline = MaskPipeline(config, still=True, models=models)
    masked = pipeline.process(Frame(image, 0, 0.0))
    if part == "all":
        return masked.image
    rest = models.avatar.resting_eye()
    mesh = RenderMesh.concatenate([models.rig.mesh(only(part, p, rest)) for p in masked.faces])
    return pipeline.renderer.render(mesh, *image.shape[:2])


def load_photos(roots: list[Path]) -> list[tuple[int, np.ndarray]]:
    photos, identity = [], 0
    for root in roots:
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
            if len(files) < 2:
                continue
            for path in files:
                image = read_photo(path)
                factor = max(1.0, MIN_SIDE / min(image.shape[:2]))
                photos.append((identity, cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)))
            identity += 1
    return photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--sigmas", nargs="+", type=float, default=[0.0, 3.0])
    parser.add_argument("--carry", nargs="+", choices=["all", "pose", "pose+eyes"], default=["all"])
    args = parser.parse_args()
    recogniser = Recogniser()
    photos = load_photos(args.roots)
    ids = np.array([i for i, _ in photos])
    boxes = [recogniser.box(image) for _, image in photos]
    keep = [k for k, b in enumerate(boxes) if b is not None]
    print(f"{len(set(ids))} identities, {len(photos)} photos, dlib found {len(keep)} original faces")
    first = {}
    for k in keep:
        first.setdefault(ids[k], k)
    gallery_idx = np.array(sorted(first.values()))
    probe_idx = np.array([k for k in keep if k not in first.values()])
    gallery_ids = ids[gallery_idx]
    to_gallery = {identity: n for n, identity in enumerate(gallery_ids)}
    probe_ids = np.array([to_gallery[ids[k]] for k in probe_idx])
    originals = {k: recogniser.embed(photos[k][1], boxes[k]) for k in keep}
    stack = lambda table, index: np.array([table[k] for k in index])  # noqa: E731
    print(f"chance {1 / len(gallery_idx):.3f}; original->original rank-1 {rank1(stack(originals, gallery_idx), stack(originals, probe_idx), probe_ids):.3f}")
    base = load_config(None)
    models = ModelSet.load(base)
    for part in args.carry:
        for sigmas in args.sigmas if part == "all" else args.sigmas[-1:]:
            config = dataclasses.replace(base, fit=dataclasses.replace(base.fit, deadzone_sigmas=sigmas))
            masks, fallback = {}, 0
            for k in keep:
                masked = masked_photo(photos[k][1], config, models, part)
                box = recogniser.box(masked)
                fallback += box is None
                masks[k] = recogniser.embed(masked, box or boxes[k])
            m2f = rank1(stack(originals, gallery_idx), stack(masks, probe_idx), probe_ids)
            m2m = rank1(stack(masks, gallery_idx), stack(masks, probe_idx), probe_ids)
            print(
                f"carry {part}, dead zone {sigmas:g} SD: Mask2Face rank-1 {m2f:.3f}, Mask2Mask rank-1 {m2m:.3f} "
                f"(dlib missed {fallback} masks; original box used)"
            )

if __name__ == "__main__":
    main()
