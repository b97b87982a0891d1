"""Heatmap -> hand detections: peak NMS, sub-pixel refinement, size lookup.

The one implementation used by validation metrics, evaluation, tracking and the exported runtimes.
Cell (i, j) of a stride-s map covers input pixels [j*s, (j+1)*s) x [i*s, (i+1)*s); its centre is
((j + 0.5) * s, (i + 0.5) * s). Detections are rows (x, y, score, w, h) in network-input pixels,
with w and h NaN when the model has no size head.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .errors import UserError

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

    def __post_init__(self):
        if self.refine not in REFINEMENTS:
            raise ValueError(f"refine must be one of {REFINEMENTS}, got {self.refine!r}")
        if self.nms_kernel < 1 or self.nms_kernel % 2 == 0:
            raise ValueError(f"nms_kernel must be an odd positive integer, got {self.nms_kernel}")


def peak_mask(scores: torch.Tensor, kernel: int = 3) -> torch.Tensor:
    """Cells that are the maximum of their kernel x kernel neighbourhood (Bx1xHxW bool).

    Run it on logits: a confident plateau saturates to exactly 1.0 after the sigmoid in float32,
    which would make every plateau cell a "peak"; logits keep the ordering and rarely tie.
    """
    pooled = F.max_pool2d(scores, kernel, stride=1, padding=kernel // 2)
    return scores == pooled


def neighbourhoods(prob: torch.Tensor, batch: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """The 3x3 windows (N x 3 x 3) around peaks; cells outside the map read as NaN."""
    padded = F.pad(prob[:, 0], (1, 1, 1, 1), value=float("nan"))
    rows = ys[:, None] + torch.arange(3)[None, :]
    cols = xs[:, None] + torch.arange(3)[None, :]
    return padded[batch[:, None, None], rows[:, :, None], cols[:, None, :]]


def subpixel_offsets(windows: torch.Tensor, method: str) -> torch.Tensor:
    """Offsets (N x 2, as dx, dy in cells) of the true peak from each window's centre cell."""
    steps = torch.tensor([-1.0, 0.0, 1.0])
    if method == "argmax":
        return torch.zeros(windows.shape[0], 2)
    if method == "weighted":
        weights = torch.nan_to_num(windows, nan=0.0)
        total = weights.sum(dim=(1, 2)).clamp_min(1e-12)
        dx = (weights.sum(dim=1) * steps).sum(dim=1) / total
        dy = (weights.sum(dim=2) * steps).sum(dim=1) / total
        return torch.stack([dx, dy], dim=1)
    centre = windows[:, 1, 1]
    left, right, up, down = windows[:, 1, 0], windows[:, 1, 2], windows[:, 0, 1], windows[:, 2, 1]
    if method == "quarter":
        dx = 0.25 * torch.sign(torch.nan_to_num(right - left, nan=0.0))
        dy = 0.25 * torch.sign(torch.nan_to_num(down - up, nan=0.0))
        return torch.stack([dx, dy], dim=1)
    # quadratic: a parabola through the log of the three values along each axis (exact for Gaussians)
    logs = torch.log(torch.stack([left, centre, right, up, down], dim=1).clamp_min(1e-10))
    ll, lc, lr, lu, ld = logs.unbind(dim=1)

    def vertex(a, b, c):
        curvature = a - 2 * b + c
        offset = 0.5 * (a - c) / torch.where(curvature < -1e-9, curvature, torch.full_like(curvature, -1e9))
        return torch.nan_to_num(offset, nan=0.0).clamp(-0.5, 0.5)

    return torch.stack([vertex(ll, lc, lr), vertex(lu, lc, ld)], dim=1)


def decode(heatmap_logits, size=None, stride: int = 8, config: DecodeConfig = DecodeConfig()) -> list[np.ndarray]:
    """Decode a batch of logit maps (Bx1xHxW, torch or numpy) into one (N x 5) array per image.

    Peaks are cells above `threshold` that are the maximum of their `nms_kernel` neighbourhood,
    best `top_k` kept, then moved by the sub-pixel refinement. `size` (Bx2xHxW, in cells) gives w, h.
    """
    logits = torch.as_tensor(heatmap_logits).float()
    prob = torch.sigmoid(logits)
    keep = peak_mask(logits, config.nms_kernel) & (prob >= config.threshold)
    batch, _, ys, xs = keep.nonzero(as_tuple=True)
    scores = prob[batch, 0, ys, xs]
    offsets = subpixel_offsets(neighbourhoods(prob, batch, ys, xs), config.refine)
    centres = (torch.stack([xs, ys], dim=1).float() + offsets + 0.5) * stride
    if size is not None:
        sizes = torch.as_tensor(size).float()[batch, :, ys, xs].clamp_min(0) * stride
    else:
        sizes = torch.full((len(batch), 2), float("nan"))
    rows = torch.cat([centres, scores[:, None], sizes], dim=1).numpy()
    batch = batch.numpy()
    results = []
    for b in range(prob.shape[0]):
        mine = rows[batch == b]
        results.append(mine[np.argsort(-mine[:, 2], kind="stable")][: config.top_k])
    return results
