"""Detect or track, per frame: every face's landmarks and eyes.

As in MediaPipe, a face found once is followed from its previous landmarks,
so the detector runs only when a track is lost, when there are no tracks, and
every `detect_interval` frames to pick up newcomers. Large frames are worked
on at a bounded size (the models' crops are small anyway), and the results
are scaled back to the frame's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dmask.config import TrackingConfig
from dmask.measure.geometry import box_area, box_overlap_of_smaller
from dmask.measure.inference import (
    FACE_ROI_SCALE,
    Detection,
    FaceDetector,
    FaceMesh,
    IrisModel,
    MeshResult,
    Roi,
    roi_from_axis,
    shrunk,
)
from dmask.measure.mesh_index import LEFT_EYE_OUTER, RIGHT_EYE_OUTER
from dmask.records import EyeObservation, FaceObservation
from dmask.measure.refine import fissure_drop

WORKING_MAX_SIDE = 1280
# Two face boxes sharing more than this fraction of the smaller one are one face:
# real faces side by side in ../shared/data's group photos share nothing, while
# a ghost the mesh drew on a woman's hair shared 43 % of its box with her face.
DUPLICATE_OVERLAP = 0.25


@dataclass
class _Track:
    track_id: int
    landmarks: np.ndarray  # (468, 3) working-image pixels, last frame
    presence: float
    eye_seen: bool = False  # an eye of it has been seen (dmask.measure.occlusion): till then it is no face

    def roi(self) -> Roi:
        """The next frame's face crop, its x axis along the line through the outer eye corners."""
        lm = self.landmarks
        return roi_from_axis(lm[RIGHT_EYE_OUTER, :2], lm[LEFT_EYE_OUTER, :2], lm[:, :2], FACE_ROI_SCALE)

    def box(self) -> np.ndarray:
        xy = self.landmarks[:, :2]
        return np.concatenate([xy.min(0), xy.max(0)])


@dataclass(frozen=True)
class TrackResult:
    """faces: observations in frame pixels, of the tracks that have shown an eye; dropped: faces over
    max_faces; lost_tracks: the ids of last frame's tracks that ended this frame."""

    faces: list[FaceObservation]
    dropped: int
    lost_tracks: list[int]


class FaceTracker:
    def __init__(self, detector: FaceDetector, mesh: FaceMesh, iris: IrisModel, config: TrackingConfig, still: bool) -> None:
        self.detector = detector
        self.mesh = mesh
        self.iris = iris
        self.config = config
        self.still = still
        self.tracks: list[_Track] = []
        self.frames = 0
        self.next_id = 0

    def observe(self, image: np.ndarray) -> TrackResult:
        work, factor = shrunk(image, WORKING_MAX_SIDE)
        before = {track.track_id for track in self.tracks}
        if self.still:  # each photo is new: a face of the last one must not be followed onto it
            self.tracks = []
        kept, lost = self._follow_tracks(work)
        kept = _without_duplicates(kept + self._new_tracks(work, kept, self._detections(work, kept, lost)))
        self.frames += 1
        kept.sort(key=lambda t: -box_area(t.box()))
        dropped = max(0, len(kept) - self.config.max_faces)
        self.tracks = kept[: self.config.max_faces]
        faces = [self._observe(image, work, track, factor) for track in self.tracks]
        # Every track that ended: lost, merged into an older one, or beyond max_faces
        # (so whoever keeps per-track state can let it go; a long run meets many people).
        ended = sorted(before - {track.track_id for track in self.tracks})
        return TrackResult(_with_an_eye(self.tracks, faces), dropped, ended)

    def _follow_tracks(self, work: np.ndarray) -> tuple[list[_Track], list[int]]:
        kept, lost = [], []
        for track in self.tracks:
            result = self.mesh.run(work, track.roi())
            if result.presence >= self.config.presence_threshold:
                track.landmarks, track.presence = result.landmarks, result.presence
                kept.append(track)
            else:
                lost.append(track.track_id)
        return _without_duplicates(kept), lost

    def _detections(self, work: np.ndarray, kept: list[_Track], lost: list[int]) -> list[Detection]:
        """What the detector finds this frame.

        A photo: the whole frame and every tile. A video: one tile every other
        frame, in turn, so a face too small for the whole-frame pass (50
        pixels on a stage in 640x360) is found within 2 x 13 frames at the
        cost of one small detector run, with no frame paying for all 13; and
        the whole frame when a track is lost, when there is none, and every
        detect_interval frames for newcomers. Tiles take the odd frames and
        the periodic whole-frame pass the even ones (the default interval is
        even), so a tracked frame runs the detector once at most: the slowest
        frames set the daemon's 99th-percentile latency.
        """
        if self.still:
            return self.detector.detect_tiled(work)
        detections = self.detector.detect_tile(work, self.frames // 2) if self.frames % 2 == 1 else []
        if lost or not kept or self.frames % self.config.detect_interval == 0:
            detections += self.detector.detect(work)
        return detections

    def _new_tracks(self, work: np.ndarray, existing: list[_Track], detections: list[Detection]) -> list[_Track]:
        new: list[_Track] = []
        for detection in detections:
            if any(box_overlap_of_smaller(detection.box, t.box()) > DUPLICATE_OVERLAP for t in existing + new):
                continue
            result: MeshResult = self.mesh.run(work, detection.face_roi())
            if result.presence < self.config.presence_threshold:
                continue
            # A second pass from the landmarks' own crop, as tracking would do.
            track = _Track(self.next_id, result.landmarks, result.presence)
            refined = self.mesh.run(work, track.roi())
            if refined.presence >= self.config.presence_threshold:
                track.landmarks, track.presence = refined.landmarks, refined.presence
            self.next_id += 1
            new.append(track)
        return new

    def _observe(self, image: np.ndarray, work: np.ndarray, track: _Track, factor: float) -> FaceObservation:
        """The eyes from the working image; the lip line from the frame's own pixels."""
        right, left = self.iris.run(work, track.landmarks)
        scale = np.float32(1 / factor)
        landmarks = track.landmarks * scale
        return FaceObservation(
            landmarks=landmarks,
            right_eye=EyeObservation(right.lids * scale, right.iris * scale, right.evidence),
            left_eye=EyeObservation(left.lids * scale, left.iris * scale, left.evidence),
            confidence=track.presence,
            track_id=track.track_id,
            fissure_drop_px=fissure_drop(image, landmarks),
        )


def _with_an_eye(tracks: list[_Track], faces: list[FaceObservation]) -> list[FaceObservation]:
    """The faces whose track has shown a seen eye, this frame or before.

    A detection on a background object becomes a track whose eyes the
    occlusion test finds hidden (issue 25's ghost, drawn with both eyes
    covered): it is followed but is no face until an eye shows. A real face
    that arrives with both eyes hidden (hands over them) is drawn from the
    frame one eye shows; one whose eyes were seen stays a face under covers.
    """
    for track, face in zip(tracks, faces):
        track.eye_seen |= not (face.right_eye.occluded and face.left_eye.occluded)
    return [face for track, face in zip(tracks, faces) if track.eye_seen]


def _without_duplicates(tracks: list[_Track]) -> list[_Track]:
    """Two tracks on one face (converged, or one found inside the other) keep the older one."""
    kept: list[_Track] = []
    for track in sorted(tracks, key=lambda t: t.track_id):
        if all(box_overlap_of_smaller(track.box(), k.box()) < DUPLICATE_OVERLAP for k in kept):
            kept.append(track)
    return kept
