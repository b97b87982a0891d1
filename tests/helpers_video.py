"""Test inputs made on the fly: a video of a moving textured blob, and an untrained checkpoint.

Random weights are enough for pipeline tests (shapes, timing, files, errors), not for accuracy.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from heatmapnet.model.checkpoint import save_checkpoint
from heatmapnet.model.config import ModelConfig
from heatmapnet.model.network import HeatmapNet


def blob_position(index: int, count: int, width: int, height: int) -> tuple[float, float]:
    """Where the blob is in frame `index`: left to right along a shallow diagonal."""
    progress = index / max(count - 1, 1)
    return width * (0.2 + 0.6 * progress), height * (0.4 + 0.2 * progress)


def blob_frames(count: int, width: int = 320, height: int = 240, seed: int = 0):
    """BGR frames: a fixed noisy background and a textured, skin-coloured disc moving across it."""
    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (7, 7), 0)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (height, width), dtype=np.uint8), (5, 5), 0)
    skin = np.array([120, 160, 220], np.float32)
    radius = max(4, min(width, height) // 8)
    for index in range(count):
        frame = background.copy()
        x, y = blob_position(index, count, width, height)
        mask = np.zeros((height, width), np.uint8)
        cv2.circle(mask, (round(x), round(y)), radius, 255, -1)
        shade = skin[None, None, :] * (0.6 + 0.4 * texture[..., None] / 255.0)
        frame[mask > 0] = shade[mask > 0].astype(np.uint8)
        yield frame


def write_video(path: Path, frames, fps: float = 30.0) -> Path:
    """Write BGR frames as an mp4v .mp4 (or MJPG .avi) video."""
    frames = iter(frames)
    first = next(frames)
    codec = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), codec, fps, (first.shape[1], first.shape[0]))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    writer.write(first)
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def write_blob_video(path: Path, count: int = 30, width: int = 320, height: int = 240, fps: float = 30.0) -> Path:
    return write_video(path, blob_frames(count, width, height), fps)


def write_random_checkpoint(path: Path, size_head: bool = True, threshold: float = 0.5, seed: int = 0) -> Path:
    """An untrained mobilenet_v2 stride-8 HeatmapNet checkpoint with the given decode threshold. Its weights come
    from `seed`, not from whatever the tests before it drew: with PyTorch's global state, whether a random model
    finds anything above a low threshold depended on which tests ran first."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = HeatmapNet(ModelConfig(backbone="mobilenet_v2", pretrained=None, size_head=size_head))
    save_checkpoint(path, model, decode={"threshold": threshold})
    return path
