"""Static signs pass the mask in clinical units and read back from it; their controls do not.

Three signs of issue 10, each on the avatar posed as a real face in a real
video and as an asymmetric edit of a real photo: one mouth corner drooping
4 mm, one ptotic upper lid (MRD1 about 1 mm), a constant 15 prism-dioptre
esotropia. Each input is masked with the product's policy as a photo (so all
of it is resting level, and only clinical criteria let it through); the
sign must be in the published signals, in mm or prism dioptres, and must
read back when the whole chain is run again on the rendered mask (resting
levels as read, as a clinician looking at the mask would). The control is
the same face without the sign.

The targets are issue 24's: a 4 mm mouth droop reads at least 3 mm, as
published and as read back; a 15 PD esotropia reads 12-18 PD beyond its
control; a lid drawn at MRD1 1 mm reads within 0.5 mm of it. Where the chain
cannot yet reach one, the test is marked xfail (strict, so it fails the day
it passes) with what was measured. The mouth reads at its size since the
droop is read from the lip line at full resolution (dmask.measure.refine) instead of
the face mesh, which symmetrises it (it moved the fitted corner of a 5 mm
edit by 0.8 mm). The iris's offset is taken from the iris model's eye
corners, which follow the iris part of the way: a 15 PD turn still reads at
about half its size. Since issue 11's texture the
chain reads the drawn avatar's lids about 0.05 eye widths more open
(tests/test_eye_legibility.py), so a ptotic lid drawn on the avatar no
longer reads as one.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from dmask.measure.action_units import CHANNEL_NAMES
from dmask.measure.avatar import EYEBALL_RADIUS_FRACTION
from dmask.measure.clinical import IRIS_DIAMETER_MM, degrees_of_prism
from dmask.evaluation.readers import DlibLandmarks
from dmask.evaluation.sign_readers import DLIB_PHOTO_UPSAMPLE, DlibSignReader
from dmask.measure.fit import Fitter, RestingPolicy
from dmask.measure.geometry import face_axes, iris_diameter
from dmask.capture.media import VideoReader, read_photo
from dmask.measure.mesh_index import RIGHT_MOUTH_CORNER
from dmask.pipeline import MaskPipeline
from dmask.records import Frame, FrameStatus, MaskParams
from dmask.draw.cpu import CpuRenderer
from dmask.signals import face_record
from support import local_shift

ESOTROPIA_PD = 15.0
PHOTO = "identities/angelina_jolie/df_img7.jpg"


def mask_and_read_back(image: np.ndarray, config, models) -> tuple[dict, dict]:
    """The published fields of the photo's mask, and those read from the rendered mask."""
    masked = MaskPipeline(config, still=True, models=models).process(Frame(image, 0, 0.0))
    assert masked.status is FrameStatus.OK and masked.faces
    reader = MaskPipeline(config, still=True, models=models, resting=RestingPolicy.OWN)
    seen = reader.process(Frame(masked.image, 0, 0.0))
    assert seen.status is FrameStatus.OK and seen.faces
    return face_record(masked.faces[0]), face_record(seen.faces[0])


@pytest.fixture(scope="module")
def posed(shared_data, config, models) -> tuple[MaskParams, tuple[int, int]]:
    """A real face's pose (lp_driving_d14, frame 5) with the population's resting face."""
    pipeline = MaskPipeline(config, models=models)
    with VideoReader(shared_data / "videos" / "lp_driving_d14.mp4") as reader:
        for index, frame in enumerate(reader):
            masked = pipeline.process(frame)
            if index == 5:
                return masked.faces[0], frame.image.shape[:2]
    pytest.fail("lp_driving_d14.mp4 is shorter than 6 frames")


def draw(posed, models, **changes) -> np.ndarray:
    params, (height, width) = posed
    rest = models.avatar.resting_eye()
    params = dataclasses.replace(params, right_eye=rest, left_eye=rest, action_units=models.avatar.action_unit_rest)
    params = dataclasses.replace(params, **changes)
    return CpuRenderer().render(models.rig.mesh(params), height, width)


def ptotic_eye(models, mrd1_mm: float):
    """The resting eye with its upper lid lowered to this MRD1 (published scale)."""
    avatar = models.avatar
    rest = avatar.resting_eye()
    upper = (mrd1_mm - float(avatar.mrd_offset_mm[0])) / avatar.eye_width_mm - float(avatar.iris_rest[:, 1].mean())
    return dataclasses.replace(rest, upper_aperture=upper, mrd1_mm=mrd1_mm)


@pytest.fixture(scope="module")
def avatar_control(posed, config, models):
    return mask_and_read_back(draw(posed, models), config, models)


CORNERS_FOLLOW_THE_IRIS = pytest.mark.xfail(strict=True, reason=(
    "a 15 PD turn reads 10.0 PD published and 7.1 PD read back on the posed avatar, 8.6 and 3.7 PD on the photo: "
    "the iris model's eye corners follow the turned iris part of the way, more for small turns than "
    "dmask.measure.fit.IRIS_MODEL_YAW_GAIN (measured over 10 to 20 degrees) makes up"))


def mouth_drop(fields: dict) -> float:
    """How far the right mouth corner sits below the left, published, mm."""
    return fields["left_mouth_corner_height_mm"] - fields["right_mouth_corner_height_mm"]


def test_a_drooping_mouth_corner_on_the_posed_avatar(posed, config, models, avatar_control):
    """The avatar's own droop (its corner anchor about 4 mm down) reads at least 3 mm, published and read back."""
    units = models.avatar.action_unit_rest.copy()
    units[CHANNEL_NAMES.index("right_lip_corner_depress")] = 1.0
    published, read = mask_and_read_back(draw(posed, models, action_units=units), config, models)
    assert mouth_drop(published) > 3.0 and mouth_drop(read) > 3.0
    for control in avatar_control:
        assert abs(mouth_drop(control)) < 1.0


def test_a_drawn_droop_reads_at_its_size_to_a_reader_that_shares_no_model(posed, config, models):
    """A 4 mm droop drawn as the fit draws it reads at least 3 mm from dlib's mouth corners (issue 24's target).

    Drawn with a 10 mm pull for lip_corner_depress it read 2.7 mm on this
    pose: only the corner moved. The 16 mm field sags that side of the mouth
    with it, and it reads 4.6 mm.
    """
    params, (height, width) = posed
    units = Fitter(models.avatar, config.fit, config.clinical, still=True).droop.drawn(
        models.avatar.action_unit_rest.astype(np.float64), 4.0)
    reader = DlibSignReader(DlibLandmarks(DLIB_PHOTO_UPSAMPLE, max_side=None))
    drops = []
    for drawn in (models.avatar.action_unit_rest, units.astype(np.float32)):
        points = reader.points(draw(posed, models, action_units=drawn))
        _, down, _ = face_axes(*points.outer)
        drops.append(float((points.mouth[0] - points.mouth[1]) @ down) * models.avatar.mm_per_unit / params.scale)
    assert drops[1] - drops[0] >= 3.0


@pytest.mark.xfail(strict=True, reason=(
    "the landmark chain reads the textured avatar's lid drawn at MRD1 1 mm at 5.1 mm (so no ptosis is "
    "published); it read it under 2 mm on the flat avatar before issue 11's texture"))
def test_a_ptotic_lid_on_the_posed_avatar(posed, config, models, avatar_control):
    published, read = mask_and_read_back(draw(posed, models, right_eye=ptotic_eye(models, 1.0)), config, models)
    for fields in (published, read):
        assert fields["right_mrd1_mm"] < 2.0 and fields["left_mrd1_mm"] > 3.5
    for control in avatar_control:  # read back, the drawn eyes differ by up to 1.6 mm: under the 2 mm criterion
        assert control["right_mrd1_mm"] > 3.5 and abs(control["right_mrd1_mm"] - control["left_mrd1_mm"]) < 2.0


def test_a_drawn_gaze_reads_back_at_its_size(posed, config, models):
    """Known truth for dmask.measure.fit.IRIS_MODEL_YAW_GAIN: both eyes drawn 20 degrees either way read back at 0.8-1.2 of
    the 40 degrees between (the iris model's own offsets: about two thirds of it)."""
    rest = models.avatar.resting_eye()
    read = []
    for degrees in (-20.0, 20.0):
        eye = dataclasses.replace(rest, gaze_yaw=math.radians(degrees))
        seen = MaskPipeline(config, still=True, models=models, resting=RestingPolicy.OWN).process(
            Frame(draw(posed, models, right_eye=eye, left_eye=eye), 0, 0.0))
        read.append([math.degrees(e.gaze_yaw) for e in (seen.faces[0].right_eye, seen.faces[0].left_eye)])
    for span in np.subtract(*read[::-1]):
        assert 0.8 * 40.0 <= span <= 1.2 * 40.0


@CORNERS_FOLLOW_THE_IRIS
def test_an_esotropia_on_the_posed_avatar(posed, config, models, avatar_control):
    rest = models.avatar.resting_eye()
    turned = dataclasses.replace(rest, gaze_yaw=math.radians(degrees_of_prism(ESOTROPIA_PD)))
    published, read = mask_and_read_back(draw(posed, models, right_eye=turned), config, models)
    for fields, control in zip((published, read), avatar_control):
        assert 12.0 <= fields["horizontal_deviation_pd"] - control["horizontal_deviation_pd"] <= 18.0


@pytest.fixture(scope="module")
def photo(shared_data, config, models):
    """A frontal press photo, its face as the tracker sees it, and its pixels per mm (iris-scaled)."""
    image = read_photo(shared_data / PHOTO)
    face = models.inference.tracker(config, still=True).observe(image).faces[0]
    iris = face.right_eye.iris
    px_per_mm = iris_diameter(iris) / IRIS_DIAMETER_MM
    return image, face, px_per_mm


@pytest.fixture(scope="module")
def photo_control(photo, config, models):
    return mask_and_read_back(photo[0], config, models)


def test_a_drooping_mouth_corner_edited_into_a_photo(photo, config, models, photo_control):
    """The right mouth corner moved 4 mm down (fading over 6 mm): at least 3 mm, published and read back."""
    image, face, px_per_mm = photo
    corner = face.landmarks[RIGHT_MOUTH_CORNER, :2]
    edited = local_shift(image, tuple(corner), (0.0, 4.0 * px_per_mm), 6.0 * px_per_mm)
    published, read = mask_and_read_back(edited, config, models)
    for control in photo_control:
        assert abs(mouth_drop(control)) < 1.0
    assert mouth_drop(published) > 3.0 and mouth_drop(read) > 3.0


@pytest.mark.xfail(strict=True, reason=(
    "the iris model follows a lid drawn 3.4 mm down over the iris by 1.2 mm; this photo's resting MRD1 (6.2 mm) "
    "also reads as a retraction"))
def test_a_ptotic_lid_edited_into_a_photo(photo, config, models, photo_control):
    image, face, px_per_mm = photo
    lid = face.right_eye.lids[11:14].mean(0)
    iris = face.right_eye.iris[0]
    drop = (lid[1] - iris[1]) * -1.0 - 1.0 * px_per_mm  # lid margin 1 mm above the iris centre
    edited = local_shift(image, tuple(lid), (0.0, float(drop)), 4.0 * px_per_mm, above=float(lid[1]))
    published, read = mask_and_read_back(edited, config, models)
    for control in photo_control:
        assert control["right_mrd1_mm"] > 3.0 and abs(control["right_mrd1_mm"] - control["left_mrd1_mm"]) < 1.5
    assert published["right_mrd1_mm"] < 2.5 and published["left_mrd1_mm"] > 3.0
    assert read["right_mrd1_mm"] < read["left_mrd1_mm"] - 1.5


@CORNERS_FOLLOW_THE_IRIS
def test_an_esotropia_edited_into_a_photo(photo, config, models, photo_control):
    image, face, px_per_mm = photo
    lids = face.right_eye.lids
    width = float(np.linalg.norm(lids[8] - lids[0]))
    nasal = np.sign(lids[8, 0] - lids[0, 0])  # the right eye's inner corner is on the image right
    turn = EYEBALL_RADIUS_FRACTION * width * math.sin(math.radians(degrees_of_prism(ESOTROPIA_PD)))
    iris = face.right_eye.iris[0]
    edited = local_shift(image, tuple(iris), (float(nasal * turn), 0.0), 0.35 * width)
    published, read = mask_and_read_back(edited, config, models)
    for fields, control in zip((published, read), photo_control):
        assert 12.0 <= fields["horizontal_deviation_pd"] - control["horizontal_deviation_pd"] <= 18.0
