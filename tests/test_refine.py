"""Full-resolution refinement (dmask.measure.refine) against known truth: the avatar's own droop read back through the lip line."""

from __future__ import annotations

import dataclasses
import math

import pytest

from dmask.measure.action_units import CHANNEL_NAMES
from dmask.measure.fit import Fitter
from dmask.capture.media import read_photo
from dmask.pipeline import MaskPipeline
from dmask.records import Frame
from dmask.measure.refine import fissure_drop
from dmask.draw.cpu import CpuRenderer

PHOTO = "identities/angelina_jolie/df_img7.jpg"  # frontal, a closed mouth


@pytest.fixture(scope="module")
def photo(shared_data, config, models):
    """The photo and its face as the tracker sees it."""
    image = read_photo(shared_data / PHOTO)
    return image, models.inference.tracker(config, still=True).observe(image).faces[0]


def test_the_lip_line_reads_the_avatars_own_droop_at_its_drawn_height(photo, config, models):
    """What MouthDroop relies on: the droop drawn with lip_corner_depress reads back through the lip line as drawn."""
    image = photo[0]
    params = MaskPipeline(config, still=True, models=models).process(Frame(image, 0, 0.0)).faces[0]
    drawn = Fitter(models.avatar, config.fit, config.clinical, still=True).droop.lowers_right
    depress = CHANNEL_NAMES.index("right_lip_corner_depress")
    read = []
    for intensity in (0.0, 1.0):
        units = models.avatar.action_unit_rest.copy()
        units[depress] += intensity
        mask = CpuRenderer().render(models.rig.mesh(dataclasses.replace(params, action_units=units)), *image.shape[:2])
        face = models.inference.tracker(config, still=True).observe(mask).faces[0]
        read.append(fissure_drop(mask, face.landmarks) * models.avatar.mm_per_unit / params.scale)
    assert read[1] - read[0] == pytest.approx(drawn[depress], rel=0.15)


def test_a_face_without_a_mouth_in_the_frame_has_no_lip_line(photo):
    image, face = photo
    assert math.isnan(fissure_drop(image[: int(face.landmarks[:, 1].min())], face.landmarks))
