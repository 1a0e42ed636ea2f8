#!/usr/bin/env python3
"""Does any contributor stand out in the avatar's texture? Two face recognisers say.

The texture (tools/avatar_texture.py) is a per-texel median over the
identities whose colour photos it was built from. For each recogniser of the
privacy evaluation (dlib's ResNet, FaceNet), the avatar is drawn looking
ahead at rest and embedded, and each contributor is represented by the mean
embedding of their own photos. Printed:

- the avatar's distance to every contributor: nearest, median, farthest,
  against the distances between contributors (what "a different person"
  measures) and dlib's usual same-person threshold (0.6);
- leave one out: the texture rebuilt without each contributor in turn and
  drawn again; how much nearer the avatar is to that person with their photos
  in than without (their pull). A contributor who stood out would pull the
  avatar towards themselves by much more than the others do.

Usage: python tools/texture_check.py ../shared/data/identities  (needs the eval extra)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from build_avatar import colour_faces, eye_openings_and_mouth  # noqa: E402  (tools/)

from avatar_texture import FaceUnwrapper, atlas, average_face  # noqa: E402
from dmask.config import load_config  # noqa: E402
from dmask.evaluation.recognisers import FaceBox, FaceFinder, load_recognisers  # noqa: E402
from dmask.models import ModelSet  # noqa: E402
from dmask.draw.cpu import CpuRenderer  # noqa: E402
from dmask.draw.scene import AvatarRig  # noqa: E402
from dmask.records import MaskParams  # noqa: E402

SIDE = 512


def drawn(avatar) -> np.ndarray:
    """The avatar looking ahead at rest, frontal, filling the middle of a SIDE x SIDE frame."""
    rest = avatar.at_rest(MaskParams(
        track_id=0, rotation=np.eye(3, dtype=np.float32), translation=np.array([SIDE / 2, SIDE / 2 - 20, 0], np.float32),
        scale=SIDE * 0.42, right_eye=avatar.resting_eye(), left_eye=avatar.resting_eye(),
        action_units=avatar.action_unit_rest, brow_height_mm=np.zeros(2, np.float32),
        mouth_corner_height_mm=np.zeros(2, np.float32), confidence=1.0))
    return CpuRenderer().render(AvatarRig(avatar).mesh(rest), SIDE, SIDE)


def embed(recognisers, finder: FaceFinder, image: np.ndarray) -> list[np.ndarray]:
    box = finder.find(image) or FaceBox(SIDE // 4, SIDE // 5, 3 * SIDE // 4, 4 * SIDE // 5)
    return [recogniser.embed(image, box) for recogniser in recognisers]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path)
    args = parser.parse_args()
    config = load_config(None)
    models = ModelSet.load(config)
    avatar = models.avatar
    tracker = models.inference.tracker(config, still=True)
    recognisers, finder = load_recognisers(), FaceFinder()
    unwrapper = FaceUnwrapper(avatar.uv, avatar.triangles)
    names, contributions, people = [], [], []
    for name, seen in colour_faces(tracker, args.roots):
        names.append(name)
        contributions.append([unwrapper.unwrap(image, face.landmarks) for image, face in seen])
        vectors = [embed(recognisers, finder, image) for image, _ in seen]
        people.append([np.mean([v[k] for v in vectors], 0) for k in range(len(recognisers))])
    holes = eye_openings_and_mouth(avatar.uv)
    full = embed(recognisers, finder, drawn(avatar))
    without = []
    for i in range(len(names)):
        texture = atlas(average_face(contributions[:i] + contributions[i + 1 :], holes))
        without.append(embed(recognisers, finder, drawn(replace(avatar, texture=texture))))
    print(f"{len(names)} contributors")
    for k, recogniser in enumerate(recognisers):
        to_avatar = np.array([np.linalg.norm(full[k] - person[k]) for person in people])
        between = [np.linalg.norm(a[k] - b[k]) for i, a in enumerate(people) for b in people[i + 1 :]]
        pull = np.array([np.linalg.norm(without[i][k] - people[i][k]) for i in range(len(names))]) - to_avatar
        nearest = int(np.argmin(to_avatar))
        print(f"{recogniser.name}: avatar to contributors {to_avatar.min():.3f} (nearest, {names[nearest]}) / "
              f"{np.median(to_avatar):.3f} median / {to_avatar.max():.3f}; between contributors median "
              f"{np.median(between):.3f}, least {np.min(between):.3f}")
        strongest = int(np.argmax(pull))
        print(f"{recogniser.name}: pull of a contributor's own photos, median {np.median(pull):+.3f}, largest "
              f"{pull.max():+.3f} ({names[strongest]}), smallest {pull.min():+.3f}")


if __name__ == "__main__":
    main()
