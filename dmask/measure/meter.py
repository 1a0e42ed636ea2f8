"""Track, forget the tracks that ended, fit each face: the one measuring unit.

`dmask mask` and the daemon (through dmask.pipeline) and the evaluation's
reader of the product's chain (dmask.evaluation.readers) all measure a
stream with it, so what the readers compare is what the product publishes.
Its two steps are apart so a caller can time them apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dmask.config import Config
from dmask.measure.clinical import focal_length_px
from dmask.measure.fit import Fitter, RestingPolicy
from dmask.measure.tracking import TrackResult
from dmask.records import FaceObservation, MaskParams


class FaceMeter:
    """One stream's tracker and fit (or one photo's, with still=True); resting: RestingPolicy.OWN only for
    measuring instruments (dmask.measure.fit)."""

    def __init__(self, config: Config, models, still: bool = False, resting: RestingPolicy = RestingPolicy.POPULATION) -> None:
        self.config = config
        self.tracker = models.inference.tracker(config, still)
        self.fitter = Fitter(models.avatar, config.fit, config.clinical, still, resting)

    def observe(self, image: np.ndarray) -> TrackResult:
        """The faces in image (H, W, 3) uint8 BGR; the tracks that ended here lose their resting baselines."""
        result = self.tracker.observe(image)
        for track_id in result.lost_tracks:
            self.fitter.forget(track_id)
        return result

    def fit(self, faces: Sequence[FaceObservation], timestamp: float, width: int) -> tuple[MaskParams, ...]:
        """Each face's parameters at timestamp (s), in a frame width pixels wide (its focal length, from
        config clinical.camera_fov_deg, places a video's fixation)."""
        focal = focal_length_px(width, self.config.clinical.camera_fov_deg)
        return tuple(self.fitter.fit(face, timestamp, focal) for face in faces)
