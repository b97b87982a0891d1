"""COCO-format hand boxes -> Samples, with a configurable rule for which hands are `other`.

Every set in ../shared/data uses this reader. Expected file (paths relative to the dataset root):

    images:      [{id, file_name, width, height, video?, frame_index?, source?,
                   mediapipe_found? | labelled?}]
    annotations: [{image_id, bbox: [x, y, w, h], label? ("open" | "other"), ignore?, iscrowd?,
                   keypoints? (x, y, v) * n, landmarks_px? (x, y, z) * n}]

Images flagged `mediapipe_found: false` or `labelled: false` were not labelled by their (machine)
labeller; they usually do show hands it missed, so they are dropped by default rather than treated as
hand-free negatives (`unlabelled_images: keep` keeps them as negatives). Images without any box are
negatives by default (`empty_images: drop` is for labellers that miss hands, such as MediaPipe).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heatmapnet.config import dataclass_from
from heatmapnet.data.hands import LABELS, OPEN, OTHER, Hand, Sample
from heatmapnet.data.registry import register_reader
from heatmapnet.errors import UserError

UNLABELLED_FLAGS = ("labelled", "mediapipe_found")  # image keys whose `false` means "nobody labelled this"
KEEP_OR_DROP = ("keep", "drop")


@dataclass(frozen=True)
class OtherRule:
    """Which annotated hands the model is neither rewarded nor punished for (label `other`).

    A hand is `other` when any of these holds:
    - the annotation says so: `"label": "other"`, or a truthy value under one of `flags`;
    - it is small: sqrt(w*h) of its box < `min_size_px` (source-image pixels);
    - the image border cuts off more than `max_cut_fraction` of its full extent. The full extent is the
      box united with its keypoints/landmarks (machine labels keep points outside the image), or the
      box itself where it reaches past the border; a box clipped to the image without such points
      looks uncut, so this rule only sees cuts the annotation records.
    The defaults mark only explicitly flagged hands.
    """

    min_size_px: float = 0.0
    max_cut_fraction: float = 1.0
    flags: tuple[str, ...] = ("ignore", "iscrowd")

    def __post_init__(self):
        if self.min_size_px < 0 or not 0.0 <= self.max_cut_fraction <= 1.0:
            raise UserError(f"other rule needs min_size_px >= 0 and 0 <= max_cut_fraction <= 1, got "
                            f"min_size_px={self.min_size_px}, max_cut_fraction={self.max_cut_fraction}")
        object.__setattr__(self, "flags", tuple(self.flags))

    def label(self, extent: tuple[float, float, float, float], visible: tuple[float, float, float, float],
              width: int, height: int, flagged: bool) -> str:
        """`open` or `other` for a hand whose full extent and visible box are (x0, y0, x1, y1)."""
        size = max(visible[2] - visible[0], 0.0) * max(visible[3] - visible[1], 0.0)
        if flagged or size**0.5 < self.min_size_px:
            return OTHER
        return OTHER if cut_fraction(extent, width, height) > self.max_cut_fraction else OPEN


def cut_fraction(extent: tuple[float, float, float, float], width: int, height: int) -> float:
    """Fraction of the area of box (x0, y0, x1, y1) that lies outside a width x height image."""
    x0, y0, x1, y1 = extent
    area = (x1 - x0) * (y1 - y0)
    if area <= 0:
        return 0.0
    inside = max(0.0, min(x1, width) - max(x0, 0.0)) * max(0.0, min(y1, height) - max(y0, 0.0))
    return 1.0 - inside / area


def _keypoint_xy(annotation: dict) -> np.ndarray:
    """Labelled points of an annotation as (n, 2): raw landmarks if stored, else keypoints with v > 0."""
    if annotation.get("landmarks_px"):
        return np.asarray(annotation["landmarks_px"], np.float64).reshape(-1, 3)[:, :2]
    points = np.asarray(annotation.get("keypoints") or [], np.float64).reshape(-1, 3)
    return points[points[:, 2] > 0, :2]


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UserError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


@register_reader("coco")
class CocoReader:
    """Reads `annotations` (relative to the dataset root) and the images it names."""

    def __init__(self, annotations: str = "annotations.json", other=None, unlabelled_images: str = "drop",
                 empty_images: str = "keep", name: str | None = None, frame_step: int = 1):
        if not (isinstance(frame_step, int) and frame_step >= 1):
            raise UserError(f"frame_step must be a whole number >= 1 (keep every n-th frame of a video), "
                            f"got {frame_step!r}")
        self.annotations = annotations
        self.frame_step = frame_step
        self.other = dataclass_from(OtherRule, other, "other-rule")
        self.unlabelled_images = _choice("unlabelled_images", unlabelled_images, KEEP_OR_DROP)
        self.empty_images = _choice("empty_images", empty_images, KEEP_OR_DROP)
        self.name = name

    def read(self, root: Path) -> list[Sample]:
        root = Path(root).absolute()
        if not root.is_dir():
            raise UserError(f"no dataset folder at {root} (expected a folder with {self.annotations} and its images)")
        path = root / self.annotations
        document = _load_json(path)
        images = _records(document, "images", path)
        annotations = _records(document, "annotations", path)
        samples: dict[object, Sample] = {}
        for index, image in enumerate(images):
            _require(image, ("id", "file_name", "width", "height"), f"images[{index}]", path)
            if image["id"] in samples:
                raise UserError(f"{path}: images[{index}] repeats image id {image['id']!r}; ids must be unique")
            width, height = image["width"], image["height"]
            if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
                raise UserError(f"{path}: images[{index}] has width {width!r}, height {height!r}; "
                                "expected positive integers (pixels)")
            samples[image["id"]] = Sample(
                hands=[], image_path=str(root / image["file_name"]), width=width, height=height,
                video=image.get("video"), frame_index=image.get("frame_index"),
                dataset=self.name or root.name, meta={"image_id": image["id"], "source": image.get("source"),
                                      "gesture": image.get("gesture")})
        for index, annotation in enumerate(annotations):
            where = f"annotations[{index}]"
            _require(annotation, ("image_id", "bbox"), where, path)
            sample = samples.get(annotation["image_id"])
            if sample is None:
                raise UserError(f"{path}: {where} refers to image_id {annotation['image_id']!r}, "
                                "which is not in 'images'")
            sample.hands.append(self._hand(annotation, sample, where, path))
        unlabelled = {image["id"] for image in images if any(image.get(key) is False for key in UNLABELLED_FLAGS)}
        kept = [sample for image_id, sample in samples.items()
                if not (self.unlabelled_images == "drop" and image_id in unlabelled)
                and not (self.empty_images == "drop" and not sample.hands)]
        return _every_nth_of_each_video(kept, self.frame_step)

    def _hand(self, annotation: dict, sample: Sample, where: str, path: Path) -> Hand:
        """The hand of one annotation: its box clipped to the image (boxes mean visible extents), labelled."""
        bbox = annotation["bbox"]
        try:
            x, y, w, h = (float(v) for v in bbox)
        except (TypeError, ValueError):
            raise UserError(f"{path}: {where} has bbox {bbox!r}; expected [x, y, w, h] numbers") from None
        if not (w > 0 and h > 0):
            raise UserError(f"{path}: {where} has bbox {bbox!r} with zero or negative size; expected w, h > 0")
        x0, y0, x1, y1 = max(x, 0.0), max(y, 0.0), min(x + w, sample.width), min(y + h, sample.height)
        if x1 <= x0 or y1 <= y0:
            raise UserError(f"{path}: {where} has bbox {bbox!r} outside its {sample.width} x {sample.height} image")
        label = annotation.get("label", OPEN)
        if label not in LABELS:
            raise UserError(f"{path}: {where} has label {label!r}; expected one of {', '.join(LABELS)}")
        try:
            points = _keypoint_xy(annotation)
        except (TypeError, ValueError):
            raise UserError(f"{path}: {where} has malformed keypoints/landmarks_px; expected flat "
                            "[x, y, v] or [x, y, z] triples") from None
        extent = np.array([x, y, x + w, y + h])
        if len(points):
            extent[:2] = np.minimum(extent[:2], points.min(axis=0))
            extent[2:] = np.maximum(extent[2:], points.max(axis=0))
        flagged = label == OTHER or any(annotation.get(flag) for flag in self.other.flags)
        label = self.other.label(tuple(extent), (x0, y0, x1, y1), sample.width, sample.height, flagged)
        return Hand((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, label)


def _every_nth_of_each_video(samples: list[Sample], step: int) -> list[Sample]:
    """Every `step`-th frame of each video in file order (neighbouring frames are near duplicates: a
    thinner video costs less training time and teaches almost as much); frames without a video all stay."""
    if step == 1:
        return samples
    seen: dict[str, int] = {}
    kept = []
    for sample in samples:
        if sample.video is None:
            kept.append(sample)
            continue
        position = seen.get(sample.video, 0)
        seen[sample.video] = position + 1
        if position % step == 0:
            kept.append(sample)
    return kept


def _load_json(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"no annotation file at {path} (expected COCO JSON with 'images' and 'annotations')")
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except json.JSONDecodeError as error:
        raise UserError(f"{path} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read annotation file {path}: {error}") from None
    if not isinstance(document, dict):
        raise UserError(f"{path}: expected a JSON object with 'images' and 'annotations', "
                        f"got {type(document).__name__}")
    return document


def _records(document: dict, key: str, path: Path) -> list[dict]:
    records = document.get(key)
    if not isinstance(records, list) or not all(isinstance(record, Mapping) for record in records):
        raise UserError(f"{path}: expected '{key}' to be a list of objects (COCO format)")
    return records


def _require(record: Mapping, keys: tuple[str, ...], where: str, path: Path) -> None:
    missing = [key for key in keys if key not in record]
    if missing:
        raise UserError(f"{path}: {where} has no {', '.join(repr(k) for k in missing)} "
                        f"(expected keys {', '.join(keys)})")
