"""Pose training data: hand crops with a class and a split group, from five kinds of source.

- a folder of class folders of tight hand crops (HaGRID style, `hagrid_crops/<class>/<uuid>[_N].jpg`): the
  group is the photo's uuid, so crops of one photo never straddle the split;
- false alarms of the shipped detector on COCO folders (detections far from every labelled hand): the
  garbage class's non-hands (faces, furniture, skin-coloured blobs), grouped by image;
- photos of a COCO folder whose images carry a gesture (hagrid1336) and show one labelled hand: that hand,
  cut from the whole photo as the tracker would, small and far ones included;
- clips, one per pose (clips.py): the tracker cuts the crops;
- annotator files with a pose on each hand (labelled.py): the markers give the crops.

Every sample is a small image with the hand's box in it; training cuts the crop from it with jitter
(`crops.crop_matrix`), so a sample with context (clips, false alarms) keeps its real surroundings.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from heatmapnet.errors import UserError
from heatmapnet.poses.crops import crop_matrix, cut, hand_crop, hand_side

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
CONTEXT = 2.0  # a sample cut from a frame keeps this many box sides around the hand, for jitter


@dataclass
class CropSample:
    image: np.ndarray  # BGR uint8
    box: tuple[float, float, float, float]  # hand centre x, y and w, h in `image` pixels
    label: str
    group: str  # samples of one group (photo, clip segment) land on the same side of the split
    split: str | None = None  # "train" / "val" where the source fixes it (clips, label files: by time), else by group
    repeat: int = 1  # times a training epoch draws it (photos cut as the tracker cuts: pose.photo_repeat)


def context_sample(frame: np.ndarray, x: float, y: float, w: float, h: float, label: str, group: str,
                   size: int, split: str | None = None, fallback: float = 60.0) -> CropSample:
    """A sample cut from a frame: the hand with `CONTEXT` sides of surroundings, about `2 * size` pixels."""
    side = hand_side(w, h, fallback)
    pixels = int(round(CONTEXT * size))
    scale = pixels / (CONTEXT * side)
    w, h = (w, h) if np.isfinite(w) and np.isfinite(h) else (side, side)
    image = cut(frame, crop_matrix(x, y, CONTEXT * side, pixels), pixels)
    return CropSample(image, (pixels / 2, pixels / 2, w * scale, h * scale), label, group, split)


def photo_id(path: Path) -> str:
    """HaGRID crop names are `<uuid>.jpg` or `<uuid>_<n>.jpg`; the uuid is the photo."""
    return re.sub(r"_\d+$", "", path.stem)


def read_crop_folders(root, size: int, limit_per_class: int | None = None, box_scale: float = 1.0) -> list[CropSample]:
    """Every image under `root/<class>/`, shrunk to at most `2 * size` pixels to save memory. Each image is
    one tight hand box, taken as `box_scale` times smaller than the tracker's box of the same hand."""
    root = Path(str(root)).expanduser()
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not folders:
        raise UserError(f"no class folders in {root}: expected {root}/<class>/<image>.jpg (pose.crops)")
    files = [(folder.name, path) for folder in folders
             for path in sorted(folder.iterdir())[:limit_per_class] if path.suffix.lower() in IMAGE_SUFFIXES]
    samples = []
    for label, path in tqdm(files, desc=f"reading {root.name}", unit="crop", disable=None, leave=False):
        image = cv2.imread(str(path))
        if image is None:
            print(f"skipping unreadable image {path}")
            continue
        shrink = min(1.0, 2 * size / max(image.shape[:2]))
        if shrink < 1.0:
            image = cv2.resize(image, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        height, width = image.shape[:2]
        samples.append(CropSample(image, (width / 2, height / 2, box_scale * width, box_scale * height), label, f"{root.name}/{photo_id(path)}"))
    return samples


def far_from_hands(detection, hands, distance: float) -> bool:
    """True when a detection is more than `distance` hand sizes from every labelled hand."""
    x, y = detection[:2]
    return all(np.hypot(x - hand.x, y - hand.y) > distance * max(hand.size, 1.0) for hand in hands)


def background_patches(root, none_class: str, size: int, per_image: int = 2, distance: float = 1.5,
                       limit: int | None = None, seed: int = 0) -> list[CropSample]:
    """Hand-sized patches of a COCO folder's images away from every labelled hand: plain non-hands
    (walls, tables, faces, clothes) for the garbage class. Use folders whose labels list every hand."""
    from heatmapnet.data.coco import CocoReader

    root = Path(str(root)).expanduser()
    rng = np.random.default_rng(seed)
    found = []
    for sample in CocoReader().read(root)[:limit]:
        frame = cv2.imread(sample.image_path)
        if frame is None or not sample.hands:
            continue
        sizes = [hand.size for hand in sample.hands]
        height, width = frame.shape[:2]
        for _ in range(per_image * 5):  # a few tries per patch to land away from the hands
            side = min(float(rng.choice(sizes)) * rng.uniform(0.8, 1.5), 0.5 * min(width, height))
            x, y = rng.uniform(side / 2, width - side / 2), rng.uniform(side / 2, height - side / 2)
            if far_from_hands((x, y), sample.hands, distance):
                found.append(context_sample(frame, x, y, side, side, none_class, f"{root.name}/{sample.image_path}",
                                            size))
                if len(found) % per_image == 0:
                    break
    return found


def mine_false_alarms(root, none_class: str, size: int, threshold: float = 0.2, distance: float = 1.5,
                      limit: int | None = None, detector=None) -> list[CropSample]:
    """Crops of the detector's detections (`detector`: a hand model; None: the shipped one) on a COCO folder
    that are far from every labelled hand.

    Only images whose labels are trusted to list every hand should be used (manual labels, or MediaPipe
    frames where it found hands; `unlabelled` frames are dropped by the reader).
    """
    from heatmapnet.data.coco import CocoReader
    from heatmapnet.pipeline import HandTracker

    root = Path(str(root)).expanduser()
    detector = HandTracker(detector, threads=1, decode={"threshold": threshold}).detector
    samples = CocoReader().read(root)[:limit]
    found = []
    for sample in tqdm(samples, desc=f"false alarms in {root.name}", unit="image", disable=None, leave=False):
        frame = cv2.imread(sample.image_path)
        if frame is None:
            continue
        for x, y, score, w, h in detector(frame):
            if far_from_hands((x, y), sample.hands, distance):
                found.append(context_sample(frame, x, y, w, h, none_class, f"{root.name}/{sample.image_path}", size))
    return found


def photo_gesture_samples(samples, size: int, classes: set[str] | None = None, judge=None,
                          none_class: str = "none", per_gesture: int | None = None) -> list[CropSample]:
    """The one labelled hand of each photo whose image carries a `gesture` (COCO `images[].gesture`, as in
    hagrid1336), cut with its surroundings and labelled with that gesture. With `classes`, only those gestures;
    with `per_gesture`, the first that many photos of each (how accuracy grows with photos: experiments/poses).

    In a photo with two hands the gesture is one hand's and the other is relaxed, and the labels do not say
    which: without a `judge` (a poses.classifier.PoseClassifier) such photos are skipped; with one, the hand it
    finds more like the photo's gesture takes the gesture and the other becomes `none_class`, where the judge is
    sure (the one above 0.5 for the gesture, the other below), far relaxed hands being the garbage class's hardest
    examples."""
    found, taken = [], Counter()
    for sample in tqdm(samples, desc="gesture photos", unit="photo", disable=None, leave=False):
        gesture = sample.meta.get("gesture")
        if not gesture or (classes is not None and gesture not in classes):
            continue
        if len(sample.hands) != 1 and not (judge is not None and len(sample.hands) == 2 and gesture in judge.classes):
            continue
        if per_gesture is not None and taken[gesture] >= per_gesture:
            continue
        taken[gesture] += 1
        frame = cv2.imread(sample.image_path)
        if frame is None:
            continue
        labels = [gesture] if len(sample.hands) == 1 else judged_labels(frame, sample.hands, gesture, judge, none_class)
        found += [context_sample(frame, hand.x, hand.y, hand.w, hand.h, label, f"{sample.dataset}/{sample.image_path}",
                                 size) for hand, label in zip(sample.hands, labels)]
    return found


def judged_labels(frame: np.ndarray, hands, gesture: str, judge, none_class: str) -> list[str]:
    """[gesture or none_class per hand] of a two-hand photo by the judge's probability of `gesture`; [] if unsure."""
    info = judge.info
    crops = np.stack([hand_crop(frame, hand.x, hand.y, hand.w, hand.h, info.crop_size, info.crop_scale)
                      for hand in hands])
    likeness = judge(crops)[:, judge.classes.index(gesture)]
    if likeness.max() < 0.5 or likeness.min() >= 0.5:
        return []
    return [gesture if value == likeness.max() else none_class for value in likeness]
