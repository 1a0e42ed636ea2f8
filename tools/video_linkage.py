"""Do a recording's published signals link it to another recording of the same person?

The video half of issue 10's signal-stream attacker. Each video of
../shared/data/videos is fitted once by the product's chain, under the
product's resting policy and, as the baseline, with the person's own resting
levels (RestingPolicy.OWN). A recording is summarised as the attacker would
summarise a sidecar: the mean and the spread of every clinical field of the
signal schema over its frames (the first face of each frame). The summaries
are standardised over the recordings, and each recording whose person is in
another recording is matched to its nearest other recording.

Who is who is not in MANIFEST.tsv. The pairs are given here, checked by eye
and by dlib's ResNet on the originals (mean embedding distance 0.28; the
next nearest pairs, 0.42-0.53, are different people, which dlib's distance
alone does not tell): Barack Obama is the only person in more than one video.

    python tools/video_linkage.py [--frames N]

Prints, per probe, the rank of its own person's recording among the others
(1 = linked), under each policy, and the chance of rank 1.
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

import numpy as np

from dmask.config import Config
from dmask.evaluation.attackers import standardised
from dmask.evaluation.privacy import ATTACKED_FIELDS
from dmask.measure.fit import Fitter, RestingPolicy
from dmask.capture.media import VideoReader
from dmask.models import ModelSet
from dmask.signals import face_record

SAME_PERSON = (("3ddfa_obama.mp4", "fom_demo_old_00.mp4"),)
VIDEOS = Path(os.environ.get("DMASK_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "videos"


def summaries(video: Path, config: Config, models: ModelSet, frames: int) -> dict[RestingPolicy, np.ndarray] | None:
    """Per policy, the (2F,) mean and spread of each attacked field over the video's frames; None without a face."""
    tracker = models.inference.tracker(config, False)
    fitters = {policy: Fitter(models.avatar, config.fit, config.clinical, False, policy) for policy in RestingPolicy}
    rows: dict[RestingPolicy, list[list[float]]] = {policy: [] for policy in RestingPolicy}
    with VideoReader(video) as reader:
        for index, frame in enumerate(reader):
            if index >= frames:
                break
            faces = tracker.observe(frame.image).faces
            for policy, fitter in fitters.items():
                if faces:
                    record = face_record(fitter.fit(faces[0], frame.timestamp))
                    rows[policy].append([np.nan if record[name] is None else record[name] for name in ATTACKED_FIELDS])
    if not rows[RestingPolicy.OWN]:
        return None
    with warnings.catch_warnings():  # a field never measured in a video (no blink ended in it) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return {policy: np.concatenate([np.nanmean(r, 0), np.nanstd(r, 0)]) for policy, r in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames per video (default 300)")
    frames = parser.parse_args().frames
    config, models = Config(), ModelSet.load(Config())
    videos = sorted(VIDEOS.glob("*.mp4"))  # a video where no face is found (the eye close-ups) is left out
    found = {v.name: s for v in videos if (s := summaries(v, config, models, frames)) is not None}
    names = sorted(found)
    person = {name: index for index, name in enumerate(names)}
    for group in SAME_PERSON:
        for name in group:
            person[name] = person[group[0]]
    probes = [name for name in names if sum(person[n] == person[name] for n in names) > 1]
    chance = np.mean([(sum(person[n] == person[p] for n in names) - 1) / (len(names) - 1) for p in probes])
    print(f"{len(names)} videos, {len(probes)} probes, chance rank-1 {chance:.3f}, first {frames} frames each")
    for policy in RestingPolicy:
        scores = standardised(np.array([found[name][policy] for name in names]))
        for probe in probes:
            i = names.index(probe)
            distances = np.linalg.norm(scores - scores[i], axis=1)
            distances[i] = np.inf
            order = [names[j] for j in np.argsort(distances)]
            rank = 1 + next(k for k, name in enumerate(order) if person[name] == person[probe])
            print(f"{policy.value:10s} {probe}: own person's recording at rank {rank} of {len(names) - 1}")


if __name__ == "__main__":
    main()
