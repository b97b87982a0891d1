"""Agreement of predicted keypoints and handedness with labels: PCK per finger, handedness agreement.

PCK@a: a point agrees when its distance to the label is at most a x the larger side of the hand's box
(the issue's definition); points the label marks invisible are left out.
"""
from __future__ import annotations

import numpy as np

from heatmapnet.keypoints.layout import FINGERS


def pck_hits(predicted: np.ndarray, labelled: np.ndarray, visible: np.ndarray, box_side: np.ndarray,
             alpha: float = 0.2) -> np.ndarray:
    """N x 21 booleans (NaN where invisible) for points (N x 21 x 2) within alpha x box_side (N,)."""
    distance = np.linalg.norm(predicted[..., :2] - labelled[..., :2], axis=-1)
    hits = (distance <= alpha * np.asarray(box_side)[:, None]).astype(np.float64)
    return np.where(visible, hits, np.nan)


def agreement(hits: np.ndarray, predicted_right: np.ndarray, labelled_right: np.ndarray) -> dict:
    """PCK over all points and per finger, and the share of hands whose left/right agrees."""
    report = {"hands": int(len(hits)), "pck": float(np.nanmean(hits)) if len(hits) else None}
    for finger, indices in FINGERS.items():
        report[f"pck_{finger}"] = float(np.nanmean(hits[:, indices])) if len(hits) else None
    report["handedness"] = float(np.mean(np.asarray(predicted_right) == np.asarray(labelled_right))) \
        if len(hits) else None
    return report
