"""Hands -> training targets at the model's stride (the "encode" half of the codec; decode.py is the other).

A blob per `open` hand (radius = radius_scale x hand size, at least `min_radius` cells), combined by max;
an ignore mask that is 0 around `other` hands so the loss neither rewards nor punishes them; and
hand width/height (in cells) at each open hand's centre cell for the size head.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heatmapnet.data.hands import OPEN, OTHER, Hand

SHAPES = ("gaussian", "disc")


@dataclass(frozen=True)
class TargetConfig:
    radius_scale: float = 0.15  # blob radius in hand sizes (sqrt(w*h)); Gaussian sigma, or disc radius
    shape: str = "gaussian"
    min_radius: float = 1.0  # cells
    ignore_margin: float = 1.0  # cells added around an `other` hand's blob extent

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"target shape must be one of {SHAPES}, got {self.shape!r}")


def blob_radius(hand: Hand, stride: int, config: TargetConfig) -> float:
    """Blob radius of a hand in cells."""
    return max(config.min_radius, config.radius_scale * hand.size / stride)


def ignore_extent(hand: Hand, stride: int, config: TargetConfig) -> float:
    """Radius in cells around an `other` hand where the loss supervises nothing."""
    radius = blob_radius(hand, stride, config)
    return radius * (2.0 if config.shape == "gaussian" else 1.0) + config.ignore_margin


def encode(hands: list[Hand], width: int, height: int, stride: int, config: TargetConfig) -> dict[str, np.ndarray]:
    """Targets for a width x height network input: heatmap, mask (1x h x w), size (2 x h x w), size_mask.

    Hands whose centre lies outside the input are dropped; partly visible hands keep their blob.
    """
    rows, cols = -(-height // stride), -(-width // stride)
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32)
    heatmap = np.zeros((rows, cols), np.float32)
    ignored = np.zeros((rows, cols), bool)
    size = np.zeros((2, rows, cols), np.float32)
    size_mask = np.zeros((rows, cols), np.float32)
    for hand in hands:
        if not (0 <= hand.x < width and 0 <= hand.y < height):
            continue
        cx, cy = hand.x / stride - 0.5, hand.y / stride - 0.5
        distance2 = (xs - cx) ** 2 + (ys - cy) ** 2
        if hand.label == OTHER:
            ignored |= distance2 <= ignore_extent(hand, stride, config) ** 2
            continue
        radius = blob_radius(hand, stride, config)
        if hand.label != OPEN:
            raise ValueError(f"hand label must be {OPEN!r} or {OTHER!r}, got {hand.label!r}")
        if config.shape == "gaussian":
            blob = np.exp(-distance2 / (2.0 * radius**2))
            blob[blob < 1e-3] = 0.0
        else:
            blob = (distance2 <= radius**2).astype(np.float32)
            blob[int(round(cy)), int(round(cx))] = 1.0  # a disc smaller than a cell still marks its centre
        np.maximum(heatmap, blob, out=heatmap)
        row, col = min(int(round(cy)), rows - 1), min(int(round(cx)), cols - 1)
        size[:, row, col] = hand.w / stride, hand.h / stride
        size_mask[row, col] = 1.0
    mask = (~ignored | (heatmap >= 0.5)).astype(np.float32)
    return {"heatmap": heatmap[None], "mask": mask[None], "size": size, "size_mask": size_mask[None]}
