"""Square hand crops and the way back: the one definition shared by training, the run-time stage and figures.

A crop is the square of side `crop_scale` x max(w, h) centred on a hand's box (optionally rotated), resampled
to `size` x `size` pixels. `crop_matrix` is the continuous-coordinate affine frame -> crop (pixel k covers
[k, k+1)), so points map both ways exactly and augmentation can compose further warps onto it.
"""
from __future__ import annotations

import cv2
import numpy as np

from heatmapnet.data.augment import _pixel_index_matrix


def crop_matrix(cx: float, cy: float, side: float, size: int, angle_deg: float = 0.0,
                flip: bool = False) -> np.ndarray:
    """3x3 affine taking frame coordinates to crop coordinates: the square of `side` frame pixels centred at
    (cx, cy), turned by `angle_deg` (counter-clockwise in the image) and optionally mirrored, onto size x size."""
    scale = size / max(side, 1e-6)
    angle = np.radians(angle_deg)
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    linear = np.array([[c, s], [-s, c]])
    if flip:
        linear = np.diag([-1.0, 1.0]) @ linear
    offset = np.array([size / 2, size / 2]) - linear @ (cx, cy)
    return np.vstack([np.hstack([linear, offset[:, None]]), [0, 0, 1]])


def box_crop_matrix(box: tuple[float, float, float, float], size: int, crop_scale: float) -> np.ndarray:
    """The run-time crop of a hand box (cx, cy, w, h)."""
    cx, cy, w, h = box
    return crop_matrix(cx, cy, crop_scale * max(w, h), size)


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The crop's pixels (bilinear; outside the image reads black)."""
    return cv2.warpAffine(image, _pixel_index_matrix(matrix), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (..., 2) through a 3x3 affine."""
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def to_frame(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Crop points (..., 2) back to frame coordinates."""
    return apply(np.linalg.inv(matrix), points)
