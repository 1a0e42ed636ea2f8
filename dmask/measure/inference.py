"""Model runners and the models' pre- and post-processing.

Three MediaPipe models converted to ONNX (see models/MODELS.md): BlazeFace
short-range detection, the 468-point face mesh, and the iris/eye-contour model.
Everything here is geometry in image pixels (pixel centres at integers); crops
are taken with one affine warp per region, so nothing is resized twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from dmask.errors import ModelError
from dmask.measure.geometry import box_iou
from dmask.measure.mesh_index import LEFT_EYE_INNER, LEFT_EYE_OUTER, LEFT_LIDS, RIGHT_EYE_INNER, RIGHT_EYE_OUTER, RIGHT_LIDS
from dmask.measure.occlusion import eye_evidence
from dmask.records import EyeObservation

DETECTOR_FILE = "face_detection_short_range.onnx"
LANDMARK_FILE = "face_landmark.onnx"
IRIS_FILE = "iris_landmark.onnx"

DETECTOR_SIZE = 128
LANDMARK_SIZE = 192
IRIS_SIZE = 64
FACE_ROI_SCALE = 1.5
EYE_ROI_SCALE = 2.3


class Network(Protocol):
    """What the pre- and post-processing below need of a model runner."""

    def run(self, images: np.ndarray) -> list[np.ndarray]: ...


class OnnxModel:
    """One onnxruntime session with an explicit provider list.

    Fails at construction, naming what is missing, rather than falling back
    silently to a provider the operator did not ask for.
    """

    def __init__(self, path: Path, providers: list[str], threads: int) -> None:
        import onnxruntime as ort

        available = ort.get_available_providers()
        missing = [p for p in providers if p not in available]
        if missing:
            raise ModelError(
                f"execution provider(s) {', '.join(missing)} not available in this "
                f"onnxruntime; available: {', '.join(available)}; fix inference.providers"
            )
        require_model_file(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.channels_first = inp.shape[1] == 3
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, images: np.ndarray) -> list[np.ndarray]:
        """images: (B, H, W, 3) float32 RGB; returns outputs flattened per batch item."""
        x = np.ascontiguousarray(images.transpose(0, 3, 1, 2) if self.channels_first else images)
        outputs = self.session.run(self.output_names, {self.input_name: x})
        return [o.reshape(len(images), -1) for o in outputs]


def require_model_file(path: Path) -> None:
    """ModelError naming the fix, before a runtime fails on the file with its own words."""
    if not path.is_file():
        raise ModelError(f"model file {path} is missing; restore models/ from the repository or rebuild it with tools/build_models.py")


@dataclass(frozen=True)
class Roi:
    """A rotated square region of the image.

    centre: (2,) image pixels; size: side in pixels; axis_x, axis_y: (2,)
    unit vectors of the crop's x and y axes in the image. A mirrored crop has
    axes of opposite handedness, which is how the left eye is fed to the iris
    model (it only knows right eyes).
    """

    centre: np.ndarray
    size: float
    axis_x: np.ndarray
    axis_y: np.ndarray

    def crop_to_image(self, points: np.ndarray, crop_size: int) -> np.ndarray:
        """Model output coordinates (0..crop_size, pixel corners) to image pixels."""
        u = points[:, 0:1] / crop_size - 0.5
        v = points[:, 1:2] / crop_size - 0.5
        return self.centre + self.size * (u * self.axis_x + v * self.axis_y)

    def warp(self, image: np.ndarray, crop_size: int) -> np.ndarray:
        """The crop as float32 RGB in [0, 1], (crop_size, crop_size, 3)."""
        step = self.size / crop_size
        origin = self.centre + self.size * (-0.5 * self.axis_x - 0.5 * self.axis_y)
        origin = origin + 0.5 * step * (self.axis_x + self.axis_y)
        dst_to_src = np.array(
            [
                [step * self.axis_x[0], step * self.axis_y[0], origin[0]],
                [step * self.axis_x[1], step * self.axis_y[1], origin[1]],
            ],
            np.float64,
        )
        crop = cv2.warpAffine(
            image,
            dst_to_src,
            (crop_size, crop_size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
        )
        return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) * np.float32(1 / 255)


def _axes(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit x axis along start -> end and the y axis 90 degrees clockwise on screen."""
    axis_x = (end - start) / max(float(np.linalg.norm(end - start)), 1e-6)
    return axis_x, np.array([-axis_x[1], axis_x[0]])


def roi_from_axis(start: np.ndarray, end: np.ndarray, points: np.ndarray, scale: float) -> Roi:
    """Square ROI around `points`, rotated so `start -> end` is the crop's x axis."""
    axis_x, axis_y = _axes(start, end)
    u = points @ axis_x
    v = points @ axis_y
    centre = 0.5 * (u.min() + u.max()) * axis_x + 0.5 * (v.min() + v.max()) * axis_y
    size = max(u.max() - u.min(), v.max() - v.min()) * scale
    return Roi(centre, float(size), axis_x, axis_y)


def eye_roi(outer: np.ndarray, inner: np.ndarray, mirrored: bool) -> Roi:
    """The iris model's crop: outer corner on the crop's left, lids up."""
    axis_x, axis_y = _axes(outer, inner)
    if mirrored:
        axis_y = -axis_y
    size = float(np.linalg.norm(inner - outer)) * EYE_ROI_SCALE
    return Roi(0.5 * (outer + inner), size, axis_x, axis_y)


@dataclass(frozen=True)
class Detection:
    """One BlazeFace detection in image pixels.

    box: (4,) x0, y0, x1, y1; keypoints: (6, 2) right eye, left eye, nose,
    mouth, right ear, left ear (the subject's sides); score: 0..1.
    """

    box: np.ndarray
    keypoints: np.ndarray
    score: float

    def face_roi(self) -> Roi:
        """The landmark model's crop, as MediaPipe derives it from a detection."""
        axis_x, axis_y = _axes(self.keypoints[0], self.keypoints[1])
        centre = 0.5 * (self.box[:2] + self.box[2:])
        size = float(max(self.box[2] - self.box[0], self.box[3] - self.box[1])) * FACE_ROI_SCALE
        return Roi(centre, size, axis_x, axis_y)


def _blazeface_anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0, 1]: 16x16 cells x 2, then 8x8 cells x 6."""
    anchors = []
    for grid, per_cell in ((16, 2), (8, 6)):
        ys, xs = np.mgrid[0:grid, 0:grid]
        centres = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], -1).reshape(-1, 1, 2)
        anchors.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(anchors).astype(np.float32)


class FaceDetector:
    """BlazeFace short range on a letterboxed square of the whole image."""

    def __init__(self, model: Network, threshold: float) -> None:
        self.model = model
        self.threshold = threshold
        self.anchors = _blazeface_anchors()

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in the whole frame (the short-range model: faces of a fair size)."""
        return _weighted_nms(*self._raw(image))

    def detect_tiled(self, image: np.ndarray) -> list[Detection]:
        """Also look in every tile (tiles), for small faces; all detections merged by one NMS."""
        found = [self._raw(image)] + [self._raw_tile(image, tile) for tile in tiles(image.shape)]
        return _weighted_nms(*(np.concatenate(parts) for parts in zip(*found)))

    def detect_tile(self, image: np.ndarray, index: int) -> list[Detection]:
        """Faces wholly inside one tile (index taken modulo their number), in image pixels.

        The tiles are cut from the image shrunk to TILE_SOURCE_SIDE: a tile
        of it still magnifies a 50-pixel face of 640x360 to 20 detector
        pixels, and shrinking one large tile per frame would cost more than
        the detector itself.

        A face cut by the tile's edge is left to the tile that holds it whole
        (they overlap by half): cut, its box would not match the face's track
        and would cost two face-mesh runs to find out.
        """
        small, factor = shrunk(image, TILE_SOURCE_SIDE)
        every = tiles(small.shape)
        if not every:
            return []
        x, y, width, height = tile = every[index % len(every)]
        boxes, points, scores = self._raw_tile(small, tile)
        inside = (boxes[:, 0] >= x) & (boxes[:, 1] >= y) & (boxes[:, 2] <= x + width - 1) & (boxes[:, 3] <= y + height - 1)
        return _weighted_nms(boxes[inside] / factor, points[inside] / factor, scores[inside])

    def _raw_tile(self, image: np.ndarray, tile: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, y, width, height = tile
        boxes, points, scores = self._raw(image[y : y + height, x : x + width])
        return boxes + [x, y, x, y], points + [x, y], scores

    def _raw(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (K, 4), keypoints (K, 6, 2) in image pixels and scores (K,) above threshold."""
        square, scale, pad = _letterbox(image, DETECTOR_SIZE)
        rgb = cv2.cvtColor(square, cv2.COLOR_BGR2RGB).astype(np.float32) * np.float32(2 / 255) - 1
        regressors, logits = self._split(self.model.run(rgb[None]))
        scores = 1 / (1 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))
        keep = np.nonzero(scores >= self.threshold)[0]
        raw = regressors[keep].reshape(-1, 8, 2) / DETECTOR_SIZE
        centres = raw[:, 0] + self.anchors[keep]
        half = raw[:, 1] / 2
        points = raw[:, 2:] + self.anchors[keep][:, None]
        to_image = lambda p: (p * DETECTOR_SIZE - pad) / scale - 0.5  # noqa: E731
        boxes = np.concatenate([to_image(centres - half), to_image(centres + half)], 1)
        return boxes.reshape(-1, 4), to_image(points).reshape(-1, 6, 2), scores[keep]

    @staticmethod
    def _split(outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        by_width = {o.shape[1]: o for o in outputs}
        return by_width[896 * 16].reshape(896, 16), by_width[896].reshape(896)


TILE_GRIDS = (2, 3)
TILE_SOURCE_SIDE = 640
MIN_TILE = 32  # pixels; smaller tiles are not searched


def tiles(shape: tuple[int, ...], grids: tuple[int, ...] = TILE_GRIDS) -> list[tuple[int, int, int, int]]:
    """Overlapping tiles (x, y, width, height) of an image of shape (H, W, ...).

    Each grid of n x n tiles, each tile 1.5 / n of the frame, magnifies the
    detector's view n / 1.5 times, so faces too small for the whole-frame
    pass are found in them.
    """
    h, w = shape[:2]
    found = []
    for n in grids:
        tw, th = min(w, round(1.5 * w / n)), min(h, round(1.5 * h / n))
        if min(tw, th) < MIN_TILE:  # a tiny frame: nothing in it a tile could magnify
            continue
        for y in np.linspace(0, h - th, n).round().astype(int):
            for x in np.linspace(0, w - tw, n).round().astype(int):
                found.append((int(x), int(y), tw, th))
    return found


def shrunk(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The image at most max_side pixels long (area filter), and the scale applied (1.0: the image itself)."""
    h, w = image.shape[:2]
    factor = min(1.0, max_side / max(h, w))
    if factor == 1.0:
        return image, 1.0
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), size[0] / w


def _letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image scaled (area filter) and centred into a black size x size square.

    Returns the square, the (x, y) scale and the (x, y) padding in square pixels.
    """
    h, w = image.shape[:2]
    new_w, new_h = max(1, round(w * size / max(h, w))), max(1, round(h * size / max(h, w)))
    interpolation = cv2.INTER_AREA if new_w < w else cv2.INTER_LINEAR
    scaled = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    left, top = (size - new_w) // 2, (size - new_h) // 2
    square = cv2.copyMakeBorder(scaled, top, size - new_h - top, left, size - new_w - left, cv2.BORDER_CONSTANT)
    return square, np.array([new_w / w, new_h / h]), np.array([left, top], np.float64)


def _weighted_nms(boxes: np.ndarray, points: np.ndarray, scores: np.ndarray, iou: float = 0.3) -> list[Detection]:
    """MediaPipe's blending NMS: overlapping boxes are averaged by score."""
    order = np.argsort(-scores)
    detections = []
    while order.size:
        overlap = box_iou(boxes[order[0]], boxes[order]) > iou
        group = order[overlap]
        weights = scores[group][:, None]
        box = (boxes[group] * weights).sum(0) / weights.sum()
        kps = (points[group] * weights[:, :, None]).sum(0) / weights.sum()
        detections.append(Detection(box, kps, float(scores[order[0]])))
        order = order[~overlap]
    return detections


@dataclass(frozen=True)
class MeshResult:
    """landmarks: (468, 3) image pixels (z in the same scale); presence 0..1."""

    landmarks: np.ndarray
    presence: float


class FaceMesh:
    """The 468-point face mesh on a rotated, 1.5x face crop."""

    def __init__(self, model: Network) -> None:
        self.model = model

    def run(self, image: np.ndarray, roi: Roi) -> MeshResult:
        crop = roi.warp(image, LANDMARK_SIZE)
        outputs = self.model.run(crop[None])
        by_width = {o.shape[1]: o for o in outputs}
        raw = by_width[1404].reshape(468, 3)
        presence = float(1 / (1 + np.exp(-np.clip(by_width[1][0, 0], -100, 100))))
        xy = roi.crop_to_image(raw[:, :2], LANDMARK_SIZE)
        z = raw[:, 2:3] * (roi.size / LANDMARK_SIZE)
        return MeshResult(np.concatenate([xy, z], 1).astype(np.float32), presence)


class IrisModel:
    """Eye contour and iris of both eyes in one batched call, and whether each is seen (dmask.measure.occlusion)."""

    def __init__(self, model: Network) -> None:
        self.model = model

    def run(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[EyeObservation, EyeObservation]:
        """Returns (right eye, left eye) of the subject."""
        rois = [
            eye_roi(landmarks[RIGHT_EYE_OUTER, :2], landmarks[RIGHT_EYE_INNER, :2], mirrored=False),
            eye_roi(landmarks[LEFT_EYE_OUTER, :2], landmarks[LEFT_EYE_INNER, :2], mirrored=True),
        ]
        crops = np.stack([roi.warp(image, IRIS_SIZE) for roi in rois])
        outputs = self.model.run(crops)
        by_width = {o.shape[1]: o for o in outputs}
        contours, irises = by_width[213], by_width[15]
        eyes = []
        for i, (roi, mesh_lids) in enumerate(zip(rois, (RIGHT_LIDS, LEFT_LIDS))):
            contour = contours[i].reshape(71, 3)[:16, :2]
            lids = roi.crop_to_image(contour, IRIS_SIZE)
            iris = roi.crop_to_image(irises[i].reshape(5, 3)[:, :2], IRIS_SIZE)
            # The model's coordinates count from pixel corners; the crop's pixels sit at integers.
            evidence = eye_evidence(crops[i], contour - 0.5, lids, landmarks[mesh_lids, :2])
            eyes.append(EyeObservation(lids.astype(np.float32), iris.astype(np.float32), evidence))
        return eyes[0], eyes[1]
