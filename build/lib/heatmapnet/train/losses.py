"""Training criterion: a heatmap loss chosen by name, plus L1 on the size head at hand centres.

Every heatmap loss takes the ignore mask explicitly (1 = supervise, 0 = skip); `bce` is the one that
ignores it on purpose, as the unmasked baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from heatmapnet.errors import UserError

NORMALIZATIONS = ("mean", "positives")


def _normalise(per_pixel: torch.Tensor, mask: torch.Tensor, target: torch.Tensor, how: str) -> torch.Tensor:
    """Sum of a per-pixel loss divided by the supervised pixel count (`mean`) or the positive mass (`positives`)."""
    if how == "mean":
        return per_pixel.sum() / mask.sum().clamp_min(1.0)
    return per_pixel.sum() / (target * mask).sum().clamp_min(1.0)


def masked_bce(logits, target, mask, pos_weight: float | None = None, normalize: str = "positives"):
    """BCE-with-logits on supervised pixels only; positives optionally up-weighted by `pos_weight`."""
    weight = mask if pos_weight is None else mask * (1.0 + (pos_weight - 1.0) * target)
    per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none") * weight
    return _normalise(per_pixel, mask, target, normalize)


def bce(logits, target, mask, pos_weight: float | None = None, normalize: str = "positives"):
    """Unmasked baseline: every pixel counts, `other` hands included (as background)."""
    return masked_bce(logits, target, torch.ones_like(mask), pos_weight, normalize)


def mse(logits, target, mask, normalize: str = "mean"):
    """Squared error on the sigmoid, as in the original heatmap-regression recipes."""
    per_pixel = (torch.sigmoid(logits) - target) ** 2 * mask
    return _normalise(per_pixel, mask, target, normalize)


def focal(logits, target, mask, centres, alpha: float = 2.0, beta: float = 4.0):
    """CenterNet's penalty-reduced focal loss; positives are the hand-centre cells, ignored pixels skipped."""
    prob = torch.sigmoid(logits).clamp(1e-6, 1 - 1e-6)
    positive = centres * mask
    negative = (1.0 - centres) * mask
    pos_term = -((1 - prob) ** alpha) * torch.log(prob) * positive
    neg_term = -((1 - target) ** beta) * (prob**alpha) * torch.log(1 - prob) * negative
    return (pos_term.sum() + neg_term.sum()) / positive.sum().clamp_min(1.0)


def size_l1(predicted, target, centres):
    """L1 on hand width/height (cells) at open-hand centre cells only."""
    per_cell = (predicted - target).abs() * centres
    return per_cell.sum() / (2.0 * centres.sum()).clamp_min(1.0)


HEATMAP_LOSSES = ("masked_bce", "bce", "mse", "focal")


@dataclass(frozen=True)
class LossConfig:
    name: str = "masked_bce"
    pos_weight: float | None = None
    normalize: str = "positives"
    use_mask: bool = True  # mse and focal: false teaches `other` hands as background (the ablation)
    alpha: float = 2.0  # focal only
    beta: float = 4.0  # focal only
    size_weight: float = 0.1

    def __post_init__(self):
        if self.name not in HEATMAP_LOSSES:
            raise UserError(f"unknown loss {self.name!r}: choose one of {', '.join(HEATMAP_LOSSES)}")
        if self.normalize not in NORMALIZATIONS:
            raise UserError(f"loss.normalize must be one of {NORMALIZATIONS}, got {self.normalize!r}")


class Criterion(torch.nn.Module):
    """Loss terms by name (one method each, as in DETR) and their weighted total under "loss"."""

    def __init__(self, config: LossConfig):
        super().__init__()
        self.config = config

    def heatmap_term(self, logits, targets) -> torch.Tensor:
        c = self.config
        target, mask = targets["heatmap"], targets["mask"]
        if not c.use_mask and c.name in ("mse", "focal"):
            mask = torch.ones_like(mask)
        if c.name == "masked_bce":
            return masked_bce(logits, target, mask, c.pos_weight, c.normalize)
        if c.name == "bce":
            return bce(logits, target, mask, c.pos_weight, c.normalize)
        if c.name == "mse":
            return mse(logits, target, mask, c.normalize)
        return focal(logits, target, mask, targets["size_mask"], c.alpha, c.beta)

    def forward(self, outputs: dict, targets: dict) -> dict[str, torch.Tensor]:
        terms = {"heatmap": self.heatmap_term(outputs["heatmap"], targets)}
        total = terms["heatmap"]
        if "size" in outputs and self.config.size_weight > 0:
            terms["size"] = size_l1(outputs["size"], targets["size"], targets["size_mask"])
            total = total + self.config.size_weight * terms["size"]
        terms["loss"] = total
        return terms
