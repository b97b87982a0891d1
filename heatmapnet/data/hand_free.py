"""Hand-free crops of labelled frames: hard negatives (faces, ears, arms, furniture, logos) for the
"false alarms per hand-free image" metric, built from data that has hand labels but no negatives.

A region of a frame is trusted to be hand-free only when it keeps clear of every labelled hand and the
labeller found every hand in that frame. Machine labellers (MediaPipe) miss hands, so `min_hands` picks
the frames to crop: 1 for manually labelled sets, 2 (both of one person's hands found) for MediaPipe's.
Each crop has the network input's aspect ratio and covers `scales` of the frame's height, so the detector
sees faces and bodies somewhat closer than in the whole frame: the near-camera case where it fires most.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from heatmapnet.data.hands import Sample
from heatmapnet.errors import UserError


@dataclass(frozen=True)
class HandFreeConfig:
    min_hands: int = 1  # crop only frames with at least this many labelled hands (any label)
    margin: float = 1.0  # hand sizes kept clear around every labelled box (fingers and wrists beyond the box)
    scales: tuple[float, ...] = (0.6, 0.45)  # crop height as a fraction of the frame's height
    aspect: float = 4 / 3  # crop width / height: the default 320x240 input's
    per_frame: int = 2  # at most this many crops per frame, overlapping each other by under half
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))
        if self.min_hands < 0 or self.margin < 0 or self.per_frame < 1 or self.aspect <= 0 or \
                not all(0 < s <= 1 for s in self.scales):
            raise UserError(f"hand-free crops need min_hands >= 0, margin >= 0, per_frame >= 1, aspect > 0 and "
                            f"scales in (0, 1], got {self}")


def hand_free_crops(samples: list[Sample], config: HandFreeConfig = HandFreeConfig()) -> list[Sample]:
    """Samples without hands, each a crop (`Sample.crop`) of one of `samples` clear of all its hands."""
    crops = []
    for index, sample in enumerate(samples):
        if len(sample.hands) < config.min_hands or not sample.width or not sample.height:
            continue
        rng = np.random.default_rng([config.seed, index])
        chosen: list[np.ndarray] = []
        for box in rng.permutation(_clear_windows(sample, config)):
            if all(_overlap(box, other) < 0.5 for other in chosen):
                chosen.append(box)
            if len(chosen) == config.per_frame:
                break
        crops += [replace(sample, hands=[], width=int(box[2] - box[0]), height=int(box[3] - box[1]),
                          crop=tuple(int(v) for v in box), meta={**sample.meta, "crop_of": sample.image_path})
                  for box in chosen]
    return crops


def _clear_windows(sample: Sample, config: HandFreeConfig) -> np.ndarray:
    """Every window on a quarter-window grid, at every scale, that no hand's box plus margin touches (N x 4)."""
    width, height = sample.width, sample.height
    keep_out = np.array([(h.x - h.w / 2 - config.margin * h.size, h.y - h.h / 2 - config.margin * h.size,
                          h.x + h.w / 2 + config.margin * h.size, h.y + h.h / 2 + config.margin * h.size)
                         for h in sample.hands]).reshape(-1, 4)
    windows = []
    for scale in config.scales:
        crop_h = round(scale * height)
        crop_w = min(round(crop_h * config.aspect), width)
        for y0 in np.unique(np.linspace(0, height - crop_h, 5).round()):
            for x0 in np.unique(np.linspace(0, width - crop_w, 5).round()):
                box = np.array([x0, y0, x0 + crop_w, y0 + crop_h])
                if not np.any((keep_out[:, 0] < box[2]) & (keep_out[:, 2] > box[0]) &
                              (keep_out[:, 1] < box[3]) & (keep_out[:, 3] > box[1])):
                    windows.append(box)
    return np.array(windows).reshape(-1, 4)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller window's area."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
