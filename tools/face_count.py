"""The false-face count of issue 25: how many faces the mask draws on each photo and video.

Every photo under the given folders is masked as `dmask mask` masks a photo
(a fresh still pipeline each), every video as a stream; prints, per folder of
photos, how many photos got 0, 1, 2, ... faces, and per video its frames, the
frames with a face, the face-frames in all, the frames with more than one and
the tracks. What is a false face is then read against what the files hold
(ORL's crops hold one face each; ../shared/data/MANIFEST.tsv says how many
people each video shows); no pixel or name of a patient is printed.

    python tools/face_count.py ../shared/data/identities_orl ../shared/data/videos
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from dmask.config import load_config
from dmask.capture.media import PHOTO_SUFFIXES, VIDEO_SUFFIXES, VideoReader, read_photo
from dmask.models import ModelSet
from dmask.pipeline import MaskPipeline
from dmask.records import Frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path)
    args = parser.parse_args()
    config = load_config(None)
    models = ModelSet.load(config)
    for root in args.roots:
        files = sorted(p for p in root.rglob("*") if p.is_file())
        photos = [p for p in files if p.suffix.lower() in PHOTO_SUFFIXES]
        if photos:
            faces = Counter(len(MaskPipeline(config, still=True, models=models).process(
                Frame(read_photo(p, config.input.max_photo_megapixels), 0, 0.0)).faces) for p in photos)
            print(f"{root.name}: {len(photos)} photos; faces per photo: "
                  + ", ".join(f"{n}: {count}" for n, count in sorted(faces.items())))
        for video in (p for p in files if p.suffix.lower() in VIDEO_SUFFIXES):
            pipeline = MaskPipeline(config, models=models)
            frames = seen = face_frames = crowded = 0
            tracks: set[int] = set()
            with VideoReader(video) as reader:
                for frame in reader:
                    faces = pipeline.process(frame).faces
                    frames, seen = frames + 1, seen + bool(faces)
                    face_frames, crowded = face_frames + len(faces), crowded + (len(faces) > 1)
                    tracks |= {face.track_id for face in faces}
            print(f"{video.name}: {frames} frames, {seen} with a face, {face_frames} face-frames, "
                  f"{crowded} with more than one, {len(tracks)} tracks")


if __name__ == "__main__":
    main()
