"""Hands with MediaPipe keypoints and handedness from COCO files, split by video, as a cache of crops.

Reading every frame for every training step would cost more than the tiny network, so each labelled hand is
cut out once, with `CONTEXT` times the run-time crop's side around it (room for the augmentation's zoom,
shift and rotation), and training crops are warped out of that cache. Handedness is stored anatomically
(layout.py): these sets are unmirrored, so MediaPipe's labels are swapped on reading.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from heatmapnet.data.augment import AugmentConfig, _jitter_colour
from heatmapnet.data.coco import _load_json, _records
from heatmapnet.data.hands import Sample
from heatmapnet.data.split import split_samples
from heatmapnet.errors import UserError
from heatmapnet.keypoints import crops
from heatmapnet.keypoints.config import KeypointConfig
from heatmapnet.keypoints.layout import COUNT, anatomical_right

CONTEXT = 1.6  # cached side / run-time crop side
CACHE_SIZE = 96  # cached crop pixels (the run-time crop is CACHE_SIZE / CONTEXT = 60 of them)


@dataclass(frozen=True)
class KeypointAugment:
    """Random crop geometry around the labelled box (tracked boxes are never exact), flips, colour."""

    enabled: bool = True
    shift: float = 0.1  # of the crop side, uniform in [-shift, shift] per axis
    scale: tuple[float, float] = (0.8, 1.25)  # crop side factor, log-uniform
    rotation: float = 30.0  # degrees
    flip_prob: float = 0.5  # a mirrored hand is the other hand: handedness swaps, point order stays
    brightness: float = 0.2
    contrast: float = 0.25
    saturation: float = 0.3
    hue: float = 6.0


def read_hands(datasets: list[dict]) -> list[Sample]:
    """One Sample per labelled image; `meta["hands"]` = [(box cx, cy, w, h), points 21 x 2, visible 21, right]."""
    samples = []
    for entry in datasets:
        root = Path(entry["root"])
        path = root / entry.get("annotations", "annotations.json")
        document = _load_json(path)
        by_image = defaultdict(list)
        for annotation in _records(document, "annotations", path):
            points = np.asarray(annotation.get("keypoints") or [], np.float64).reshape(-1, 3)
            if len(points) != COUNT or "handedness" not in annotation:
                continue
            x, y, w, h = (float(v) for v in annotation["bbox"])
            by_image[annotation["image_id"]].append(
                ((x + w / 2, y + h / 2, w, h), points[:, :2], points[:, 2] > 0,
                 anatomical_right(annotation["handedness"])))
        for image in _records(document, "images", path):
            if by_image.get(image["id"]):
                samples.append(Sample(hands=[], image_path=str(root / image["file_name"]), width=image["width"],
                                      height=image["height"], video=image.get("video"),
                                      frame_index=image.get("frame_index"), dataset=entry["name"],
                                      meta={"hands": by_image[image["id"]]}))
    if not samples:
        raise UserError(f"no hands with 21 keypoints and handedness in {[d['root'] for d in datasets]}")
    return samples


@dataclass
class CropCache:
    """Cached crops (N x CACHE_SIZE^2 x 3 RGB) with points in cache pixels, visibility, handedness, dataset."""

    images: np.ndarray
    points: np.ndarray
    visible: np.ndarray
    right: np.ndarray
    dataset: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def cache_crops(samples: list[Sample], config: KeypointConfig, what: str = "crops") -> CropCache:
    """Cut every hand out of its frame once (progress bar: this reads every image)."""
    images, points, visible, right, dataset = [], [], [], [], []
    for sample in tqdm(samples, desc=f"caching {what}", unit="image", disable=None, leave=False):
        frame = cv2.imread(sample.image_path, cv2.IMREAD_COLOR)
        if frame is None:
            raise UserError(f"cannot read image {sample.image_path}")
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        for box, xy, seen, is_right in sample.meta["hands"]:
            matrix = crops.box_crop_matrix(box, CACHE_SIZE, config.crop_scale * CONTEXT)
            images.append(crops.warp(frame, matrix, CACHE_SIZE))
            points.append(crops.apply(matrix, xy))
            visible.append(seen)
            right.append(is_right)
            dataset.append(sample.dataset)
    return CropCache(np.stack(images), np.stack(points).astype(np.float32), np.stack(visible),
                     np.array(right), np.array(dataset))


def split_hands(samples: list[Sample], val_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """By video where a set has videos (frames of one video are near duplicates), else by image."""
    return split_samples(samples, val_fraction, seed, by="video")


def training_crop(cache: CropCache, index: int, size: int, augment: KeypointAugment,
                  rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(crop RGB size^2 x 3, points 21 x 2 in crop pixels, visible 21, right) for one cached hand: the
    run-time crop, or with `rng` a randomly moved, zoomed, turned, mirrored and recoloured one."""
    centre, side = CACHE_SIZE / 2, CACHE_SIZE / CONTEXT
    flip = False
    if rng is not None and augment.enabled:
        side *= float(np.exp(rng.uniform(*np.log(augment.scale))))
        dx, dy = rng.uniform(-augment.shift, augment.shift, 2) * side
        angle = rng.uniform(-augment.rotation, augment.rotation)
        flip = bool(rng.random() < augment.flip_prob)
        matrix = crops.crop_matrix(centre + dx, centre + dy, side, size, angle, flip)
    else:
        matrix = crops.crop_matrix(centre, centre, side, size)
    image = crops.warp(cache.images[index], matrix, size)
    if rng is not None and augment.enabled:
        image = _jitter_colour(image, rng, AugmentConfig(brightness=augment.brightness, contrast=augment.contrast,
                                                         saturation=augment.saturation, hue=augment.hue))
    points = crops.apply(matrix, cache.points[index])
    inside = np.all((points >= 0) & (points < size), axis=1)
    return image, points.astype(np.float32), cache.visible[index] & inside, bool(cache.right[index]) != flip
