"""Cutting a hand crop out of a frame: one square, axis-aligned (or jittered, for training) warp.

Run time and training use the same function, so the classifier sees at run time exactly the kind of crop
it was trained on. A crop is the square of side `scale * max(w, h)` centred on the hand, resized to
`size` x `size`; whatever falls outside the frame is filled with grey. HaGRID's crops are tight manual
boxes, the tracker's boxes are a little larger (MediaPipe extents + 10 % per side), so training jitters the
scale around the run-time value.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

FILL = (114, 114, 114)  # outside the frame


def crop_matrix(x: float, y: float, side: float, size: int, angle: float = 0.0, flip: bool = False) -> np.ndarray:
    """The 2x3 affine map from frame pixels to a `size` x `size` crop of the square (x, y, side), rotated by
    `angle` degrees about its centre and mirrored left-right when `flip`."""
    scale = size / max(side, 1e-6)
    cos, sin = math.cos(math.radians(angle)) * scale, math.sin(math.radians(angle)) * scale
    matrix = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]])
    if flip:
        matrix[0] *= -1
    matrix[:, 2] = size / 2 - matrix[:, :2] @ np.array([x, y])
    return matrix


def cut(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The crop `crop_matrix` describes, bilinear, grey outside the frame."""
    return cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=FILL)


def hand_side(w: float, h: float, fallback: float) -> float:
    """The longer side of a hand's box, or `fallback` pixels where the detector gives no size."""
    side = max(w, h)
    return side if math.isfinite(side) and side > 1 else fallback


def hand_crop(frame: np.ndarray, x: float, y: float, w: float, h: float, size: int, scale: float,
              fallback: float = 60.0) -> np.ndarray:
    """The run-time crop of one hand: square of side `scale` times the box's longer side, `size` pixels."""
    return cut(frame, crop_matrix(x, y, scale * hand_side(w, h, fallback), size), size)
