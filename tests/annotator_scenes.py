"""Synthetic footage for the annotator tests: textured discs gliding over a textured background.

Each disc carries its own texture (it moves with the disc), so optical flow has something real to
follow, and the true centre of every disc in every frame is known exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class Disc:
    x: float  # centre in frame 0, continuous pixels
    y: float
    r: float
    vx: float = 0.0  # pixels per frame
    vy: float = 0.0

    def centre(self, frame: int) -> tuple[float, float]:
        return self.x + self.vx * frame, self.y + self.vy * frame


def _texture(rng, shape, blur, low, high) -> np.ndarray:
    noise = cv2.GaussianBlur(rng.uniform(0, 255, shape).astype(np.float32), (0, 0), blur)
    return cv2.normalize(noise, None, low, high, cv2.NORM_MINMAX)


class Scene:
    def __init__(self, discs, width: int = 320, height: int = 240, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.discs, self.width, self.height = list(discs), width, height
        self.background = _texture(rng, (height, width, 3), 4.0, 50, 120)
        self.textures = [_texture(rng, (2 * height, 2 * width, 3), 1.5, 90, 250) for _ in self.discs]
        self.ys, self.xs = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5  # pixel centres

    def frame(self, index: int, occluders=()) -> np.ndarray:
        """Frame `index` (BGR uint8); `occluders` are (x0, y0, x1, y1) grey boxes drawn on top."""
        image = self.background.copy()
        for disc, texture in zip(self.discs, self.textures):
            cx, cy = disc.centre(index)
            map_x = self.xs - np.float32(cx) + self.width - 0.5
            map_y = self.ys - np.float32(cy) + self.height - 0.5
            patch = cv2.remap(texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            coverage = np.clip(disc.r - np.hypot(self.xs - cx, self.ys - cy) + 0.5, 0, 1)[..., None]
            image = image * (1 - coverage) + patch * coverage
        for x0, y0, x1, y1 in occluders:
            image[y0:y1, x0:x1] = 128
        return np.clip(np.round(image), 0, 255).astype(np.uint8)

    def write(self, path: Path, frames: int, fps: float = 10.0, occluders=lambda frame: ()) -> Path:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (self.width, self.height))
        assert writer.isOpened(), "OpenCV cannot write mp4v here"
        for index in range(frames):
            writer.write(self.frame(index, occluders(index)))
        writer.release()
        return Path(path)


def two_disc_scene() -> Scene:
    """Two hands: one gliding right and down, one gliding left."""
    return Scene([Disc(90.0, 80.0, 28.0, 3.0, 1.5), Disc(230.0, 160.0, 24.0, -2.0, 0.0)])
