"""The original EgoHands release (Bambach et al. 2015) -> Samples.

Layout: `_LABELLED_SAMPLES/<video>/frame_XXXX.jpg` and one `polygons.mat` per video folder, whose
`polygons` struct has one entry per frame (the frames in sorted file-name order) with the polygon
fields `myleft, myright, yourleft, yourright` (n x 2 point arrays, empty when that hand is absent).
A hand's box is the extent of its polygon. The points are MATLAB pixel coordinates (pixel k's centre
at k, 1-based), so they are shifted by -0.5 into this project's continuous coordinates.
"""
from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from heatmapnet.config import dataclass_from
from heatmapnet.data.coco import OtherRule
from heatmapnet.data.hands import Hand, Sample
from heatmapnet.data.registry import register_reader
from heatmapnet.errors import UserError

POLYGON_FIELDS = ("myleft", "myright", "yourleft", "yourright")
SAMPLES_FOLDER = "_LABELLED_SAMPLES"


@register_reader("egohands")
class EgoHandsReader:
    """Reads every video folder under `<root>/_LABELLED_SAMPLES` (or under root itself)."""

    def __init__(self, other=None, name: str = "egohands"):
        self.other = dataclass_from(OtherRule, other, "other-rule")
        self.name = name

    def read(self, root: Path) -> list[Sample]:
        root = Path(root).absolute()
        base = root / SAMPLES_FOLDER if (root / SAMPLES_FOLDER).is_dir() else root
        videos = sorted(folder for folder in base.glob("*/") if any(folder.glob("frame_*.jpg")))
        if not videos:
            raise UserError(f"no EgoHands videos under {root} (expected {SAMPLES_FOLDER}/<video>/frame_XXXX.jpg "
                            "with a polygons.mat per video folder)")
        return [sample for folder in videos for sample in self._video(folder)]

    def _video(self, folder: Path) -> list[Sample]:
        frames = sorted(folder.glob("frame_*.jpg"))
        polygons = _polygons(folder / "polygons.mat")
        if len(polygons) != len(frames):
            raise UserError(f"{folder / 'polygons.mat'} has {len(polygons)} frame entries but the folder has "
                            f"{len(frames)} frame_*.jpg files; expected one entry per frame")
        width, height = _frame_size(frames, folder)
        samples = []
        for frame, entry in zip(frames, polygons):
            hands = [hand for field in POLYGON_FIELDS
                     if (hand := self._hand(entry[field], width, height)) is not None]
            number = re.search(r"\d+", frame.stem)
            samples.append(Sample(hands=hands, image_path=str(frame), width=width, height=height, video=folder.name,
                                  frame_index=int(number.group()) if number else None, dataset=self.name))
        return samples

    def _hand(self, polygon, width: int, height: int) -> Hand | None:
        """The hand outlined by a polygon, or None where the polygon is missing or degenerate."""
        points = np.asarray(polygon, np.float64)
        if points.size < 6:
            return None
        points = points.reshape(-1, 2) - 0.5
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        visible = (max(x0, 0.0), max(y0, 0.0), min(x1, width), min(y1, height))
        if visible[2] <= visible[0] or visible[3] <= visible[1]:
            return None
        label = self.other.label((x0, y0, x1, y1), visible, width, height, flagged=False)
        return Hand.from_bbox((visible[0], visible[1], visible[2] - visible[0], visible[3] - visible[1]), label)


def _polygons(path: Path) -> np.ndarray:
    """The per-frame polygon records of one video, flattened to one entry per frame."""
    if not path.is_file():
        raise UserError(f"no polygons.mat at {path} (expected one per EgoHands video folder)")
    try:  # here, not at the top: SciPy is in the training install only, and the annotator imports every reader
        import scipy.io
    except ImportError:
        raise UserError("reading EgoHands' polygons.mat needs SciPy: pip install -r requirements-train.txt") from None
    try:
        polygons = scipy.io.loadmat(str(path)).get("polygons")
    except (ValueError, TypeError, OSError, NotImplementedError) as error:
        raise UserError(f"cannot read {path} as a MATLAB file: {error}") from None
    if polygons is None or polygons.dtype.names is None or not set(POLYGON_FIELDS) <= set(polygons.dtype.names):
        raise UserError(f"{path} has no 'polygons' struct with fields {', '.join(POLYGON_FIELDS)}")
    return polygons.ravel()


def _frame_size(frames: list[Path], folder: Path) -> tuple[int, int]:
    """Width and height of a video's frames, from its first readable frame (EgoHands videos keep one size)."""
    for frame in frames:
        image = cv2.imread(str(frame))
        if image is not None:
            return image.shape[1], image.shape[0]
    raise UserError(f"no readable frame_*.jpg in {folder}")
