"""Heatmap -> hand detections: peak NMS, sub-pixel refinement, size lookup.

The one implementation used by validation metrics, evaluation, tracking and the exported runtimes.
Cell (i, j) of a stride-s map covers input pixels [j*s, (j+1)*s) x [i*s, (i+1)*s); its centre is
((j + 0.5) * s, (i + 0.5) * s). Detections are rows (x, y, score, w, h) in network-input pixels,
with w and h NaN when the model has no size head.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heatmapnet.errors import UserError

REFINEMENTS = ("weighted", "quadratic", "quarter", "argmax")


def checked_refine(name: str | None) -> str | None:
    """A refinement name given on a command line (None: keep the checkpoint's), or one UserError line."""
    if name is not None and name not in REFINEMENTS:
        raise UserError(f"refine must be one of {', '.join(REFINEMENTS)}, got {name!r}")
    return name
COLUMNS = ("x", "y", "score", "w", "h")


@dataclass(frozen=True)
class DecodeConfig:
    """Decode settings; the trained threshold travels in the checkpoint's "decode" entry."""

    threshold: float = 0.5
    top_k: int = 10
    nms_kernel: int = 3
    refine: str = "weighted"
    one_per_hand: float = 0.0  # drop a peak closer than this many hand sizes to a stronger one (0: off)

    def __post_init__(self):
        if not 0.0 <= self.threshold <= 1.0:  # a sigmoid score: outside [0, 1] every peak or none passes
            raise ValueError(f"threshold must be within [0, 1] (a score), got {self.threshold}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1 (hands reported per frame), got {self.top_k}")
        if self.refine not in REFINEMENTS:
            raise ValueError(f"refine must be one of {REFINEMENTS}, got {self.refine!r}")
        if self.nms_kernel < 1 or self.nms_kernel % 2 == 0:
            raise ValueError(f"nms_kernel must be an odd positive integer, got {self.nms_kernel}")
        if self.one_per_hand < 0:
            raise ValueError(f"one_per_hand is a distance in hand sizes (0: off), got {self.one_per_hand}")


def as_array(values) -> np.ndarray:
    """float32 numpy from numpy or a (CPU or GPU) torch tensor, without importing torch."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float32)


def peak_mask(scores: np.ndarray, kernel: int = 3) -> np.ndarray:
    """Cells that are the maximum of their kernel x kernel neighbourhood (Bx1xHxW bool).

    Run it on logits: a confident plateau saturates to exactly 1.0 after the sigmoid in float32,
    which would make every plateau cell a "peak"; logits keep the ordering and rarely tie. The maximum is
    taken along rows, then along columns, of the map padded with -inf (outside the map a border cell
    competes only with its neighbours inside): a handful of NumPy calls whatever the batch, which after a
    forward pass has flushed the caches costs about two thirds of one OpenCV dilation per map.
    """
    scores = np.asarray(scores, np.float32)
    reach = kernel // 2
    batch, _, rows, cols = scores.shape
    padded = np.full((batch, rows + 2 * reach, cols + 2 * reach), -np.inf, np.float32)
    padded[:, reach:reach + rows, reach:reach + cols] = scores[:, 0]
    along_rows = padded[:, :, :cols].copy()
    for shift in range(1, kernel):
        np.maximum(along_rows, padded[:, :, shift:shift + cols], out=along_rows)
    pooled = along_rows[:, :rows].copy()
    for shift in range(1, kernel):
        np.maximum(pooled, along_rows[:, shift:shift + rows], out=pooled)
    return scores == pooled[:, None]


def neighbourhoods(prob: np.ndarray, batch: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The 3x3 windows (N x 3 x 3) around peaks; cells outside the map read as NaN."""
    padded = np.full((prob.shape[0], prob.shape[2] + 2, prob.shape[3] + 2), np.nan, prob.dtype)
    padded[:, 1:-1, 1:-1] = prob[:, 0]  # np.pad does the same at several times the cost (this runs every frame)
    rows = ys[:, None] + np.arange(3)[None, :]
    cols = xs[:, None] + np.arange(3)[None, :]
    return padded[batch[:, None, None], rows[:, :, None], cols[:, None, :]]


def subpixel_offsets(windows: np.ndarray, method: str) -> np.ndarray:
    """Offsets (N x 2, as dx, dy in cells) of the true peak from each window's centre cell."""
    steps = np.array([-1.0, 0.0, 1.0])
    if method == "argmax":
        return np.zeros((windows.shape[0], 2))
    if method == "weighted":
        weights = np.nan_to_num(windows.astype(np.float64), nan=0.0)
        total = np.maximum(weights.sum(axis=(1, 2)), 1e-12)
        dx = (weights.sum(axis=1) * steps).sum(axis=1) / total
        dy = (weights.sum(axis=2) * steps).sum(axis=1) / total
        return np.stack([dx, dy], axis=1)
    if method == "quarter":
        dx = 0.25 * np.sign(np.nan_to_num(windows[:, 1, 2] - windows[:, 1, 0], nan=0.0))
        dy = 0.25 * np.sign(np.nan_to_num(windows[:, 2, 1] - windows[:, 0, 1], nan=0.0))
        return np.stack([dx, dy], axis=1)
    # quadratic: a parabola through the log of the three values along each axis (exact for Gaussians); both
    # axes at once, (left, centre, right) and (up, centre, down), as N x 2 x 3
    logs = np.log(np.maximum(np.stack([windows[:, 1, :], windows[:, :, 1]], axis=1).astype(np.float64), 1e-10))
    before, centre, after = logs[..., 0], logs[..., 1], logs[..., 2]
    curvature = before - 2 * centre + after
    offsets = 0.5 * (before - after) / np.where(curvature < -1e-9, curvature, -1e9)  # no vertex (or NaN): 0
    return np.clip(np.nan_to_num(offsets, nan=0.0), -0.5, 0.5)


def decode(heatmap_logits, size=None, stride: int = 8, config: DecodeConfig = DecodeConfig()) -> list[np.ndarray]:
    """Decode a batch of logit maps (Bx1xHxW, numpy or torch) into one (N x 5) array per image.

    Peaks are cells above `threshold` that are the maximum of their `nms_kernel` neighbourhood,
    best `top_k` kept, then moved by the sub-pixel refinement. `size` (Bx2xHxW, in cells) gives w, h.
    NumPy only: tracking runs without PyTorch.
    """
    logits = as_array(heatmap_logits)
    prob = 1.0 / (1.0 + np.exp(-logits))
    keep = peak_mask(logits, config.nms_kernel) & (prob >= config.threshold)
    batch, _, ys, xs = np.nonzero(keep)
    if len(batch) == 0:  # no hand in any frame (an empty room): nothing to refine or rank
        return [np.zeros((0, len(COLUMNS)), np.float32) for _ in range(prob.shape[0])]
    scores = prob[batch, 0, ys, xs]
    offsets = subpixel_offsets(neighbourhoods(prob, batch, ys, xs), config.refine)
    centres = (np.stack([xs, ys], axis=1) + offsets + 0.5) * stride
    if size is not None:
        sizes = np.maximum(as_array(size)[batch, :, ys, xs], 0) * stride
    else:
        sizes = np.full((len(batch), 2), np.nan)
    rows = np.concatenate([centres, scores[:, None], sizes], axis=1).astype(np.float32)
    results = []
    for b in range(prob.shape[0]):
        mine = rows[batch == b]
        ranked = mine[np.argsort(-mine[:, 2], kind="stable")]
        results.append(one_per_hand(ranked, config.one_per_hand)[: config.top_k])
    return results


def one_per_hand(ranked: np.ndarray, radius: float) -> np.ndarray:
    """Detections (rows by descending score) without those whose centre lies within `radius` hand sizes
    (sqrt(w*h)) of a stronger kept one: the second peaks a V-sign, a pointing finger or a large close hand
    leaves beside its centre. Detections without a size are kept (no size, no evidence)."""
    if radius <= 0 or len(ranked) < 2:
        return ranked
    reach = radius * np.sqrt(ranked[:, 3] * ranked[:, 4])
    kept: list[int] = []
    for i in range(len(ranked)):
        distances = np.hypot(ranked[kept, 0] - ranked[i, 0], ranked[kept, 1] - ranked[i, 1])
        if not (distances < reach[kept]).any():
            kept.append(i)
    return ranked[kept]
