"""Frame -> network input, and network-input coordinates -> frame coordinates.

Training, tracking, evaluation and export all go through `FrameTransform`, so a peak found on the
network input maps back to source pixels through exactly the resize that produced the input.
Coordinates are continuous: pixel k covers [k, k+1).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

RESIZE_MODES = ("letterbox", "stretch")


@dataclass(frozen=True)
class Normalization:
    """How pixel values are fed to the network; stored in every checkpoint."""

    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    color: str = "rgb"  # channel order the network expects

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 HxWx3 RGB -> float32 3xHxW normalised, in the network's channel order.

        Reordered to planes while still uint8, then scaled in place: half the time of doing the
        arithmetic on the interleaved image (this runs on every tracked frame).
        """
        image = rgb if self.color == "rgb" else rgb[..., ::-1]
        planes = np.ascontiguousarray(image.transpose(2, 0, 1)).astype(np.float32)
        scale = 1.0 / (np.asarray(self.std, np.float32) * 255.0)
        planes *= scale[:, None, None]
        planes -= (np.asarray(self.mean, np.float32) * 255.0 * scale)[:, None, None]
        return planes


@dataclass(frozen=True)
class FrameTransform:
    """An axis-aligned scale + offset from a source frame to the network input.

    `letterbox` keeps the aspect ratio and pads (centred); `stretch` scales each axis on its own.
    """

    src_width: int
    src_height: int
    dst_width: int
    dst_height: int
    mode: str = "letterbox"

    def __post_init__(self):
        if self.mode not in RESIZE_MODES:
            raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {self.mode!r}")

    @property
    def resized_size(self) -> tuple[int, int]:
        """Size of the resized frame before padding (equal to the input size for `stretch`)."""
        if self.mode == "stretch":
            return self.dst_width, self.dst_height
        s = min(self.dst_width / self.src_width, self.dst_height / self.src_height)
        return (min(self.dst_width, max(1, round(self.src_width * s))),
                min(self.dst_height, max(1, round(self.src_height * s))))

    @property
    def scale(self) -> tuple[float, float]:
        width, height = self.resized_size
        return width / self.src_width, height / self.src_height

    @property
    def offset(self) -> tuple[int, int]:
        width, height = self.resized_size
        return (self.dst_width - width) // 2, (self.dst_height - height) // 2

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Resize (and pad with black, centred) a frame to the network input size."""
        width, height = self.resized_size
        if (image.shape[1], image.shape[0]) != (width, height):
            shrinking = width < image.shape[1]
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        left, top = self.offset
        right, bottom = self.dst_width - width - left, self.dst_height - height - top
        if left or top or right or bottom:
            image = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0)
        return image

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        """Source-frame points (..., 2) -> network-input points."""
        sx, sy = self.scale
        ox, oy = self.offset
        return np.asarray(xy, np.float64) * (sx, sy) + (ox, oy)

    def to_source(self, xy: np.ndarray) -> np.ndarray:
        """Network-input points (..., 2) -> source-frame points."""
        sx, sy = self.scale
        ox, oy = self.offset
        return (np.asarray(xy, np.float64) - (ox, oy)) / (sx, sy)
