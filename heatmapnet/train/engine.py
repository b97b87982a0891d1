"""One training epoch and one validation pass; nothing about configs, files or logging."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from tqdm import tqdm

from heatmapnet.evaluate.metrics import PointMetrics, recall_by_size
from heatmapnet.runtime.decode import DecodeConfig, decode
from heatmapnet.train.targets import TargetConfig, ignore_extent

OPERATING_F1_TOLERANCE = 0.01  # the shipped threshold: the highest one within this of the best validation F1
RANKING_THRESHOLD = 0.05  # validation decodes low so AP sees the whole ranking; P/R/F1 use the real threshold


class NonFiniteLoss(Exception):
    """The loss or the gradients became NaN or infinite: one more optimiser step would ruin the weights."""


@dataclass
class EpochStats:
    losses: dict[str, float] = field(default_factory=dict)
    images: int = 0
    skipped: list[str] = field(default_factory=list)
    last_batch: dict | None = None
    last_outputs: dict | None = None


def to_device(batch: dict, device) -> dict:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def train_one_epoch(model, criterion, loader, optimizer, scheduler, device, epoch: int, show_progress: bool,
                    grad_clip: float | None = None) -> EpochStats:
    model.train()
    stats = EpochStats()
    totals: dict[str, float] = {}
    steps = 0
    progress = tqdm(loader, desc=f"epoch {epoch}", unit="batch", disable=not show_progress, leave=False)
    for batch in progress:
        stats.skipped += batch["skipped"]
        if "image" not in batch:
            continue
        batch = to_device(batch, device)
        outputs = model(batch["image"])
        terms = criterion(outputs, batch)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip or float("inf"))  # inf: measure only
        # checked after backward: under DDP the gradients are all-reduced, so every process stops together
        if not (torch.isfinite(terms["loss"]) and torch.isfinite(norm)):
            raise NonFiniteLoss(f"the training loss became {float(terms['loss'].detach())} (gradient norm "
                                f"{float(norm)}) at epoch {epoch + 1}, batch {steps + 1}")
        optimizer.step()
        scheduler.step()
        for name, value in terms.items():
            totals[name] = totals.get(name, 0.0) + float(value.detach())
        steps += 1
        stats.images += len(batch["image"])
        progress.set_postfix(loss=f"{totals['loss'] / steps:.4f}")
        stats.last_batch, stats.last_outputs = batch, outputs
    stats.losses = {name: value / max(steps, 1) for name, value in totals.items()}
    return stats


@torch.no_grad()
def validate(model, criterion, loader, device, stride: int, decode_config: DecodeConfig, target: TargetConfig,
             show_progress: bool = False) -> tuple[dict, EpochStats]:
    """Validation losses and point metrics (detections and hands both in network-input pixels).

    Detections inside an `other` hand's ignore region count neither way, as in the loss. Recall is also
    reported per hand-size bucket at the operating threshold (hands are already in input pixels).
    """
    model.eval()
    metrics = PointMetrics(ignore_radius=lambda hand: ignore_extent(hand, stride, target) * stride)
    stats = EpochStats()
    totals: dict[str, float] = {}
    steps = 0
    matches = []
    ranking = replace(decode_config, threshold=min(RANKING_THRESHOLD, decode_config.threshold))
    for batch in tqdm(loader, desc="validate", unit="batch", disable=not show_progress, leave=False):
        stats.skipped += batch["skipped"]
        if "image" not in batch:
            continue
        batch = to_device(batch, device)
        outputs = model(batch["image"])
        for name, value in criterion(outputs, batch).items():
            totals[name] = totals.get(name, 0.0) + float(value)
        steps += 1
        size = outputs.get("size")
        detections = decode(outputs["heatmap"].cpu(), None if size is None else size.cpu(), stride, ranking)
        for found, hands in zip(detections, batch["hands"]):
            matches.append(metrics.update(found, hands))
        stats.images += len(batch["image"])
        stats.last_batch, stats.last_outputs = batch, outputs
    stats.losses = {name: value / max(steps, 1) for name, value in totals.items()}
    summary = metrics.summary(decode_config.threshold) if stats.images else {}
    if stats.images:
        summary["best_threshold"] = metrics.best_threshold()
        summary["operating_threshold"] = metrics.best_threshold(OPERATING_F1_TOLERANCE)
        operating = summary["operating_threshold"] or decode_config.threshold
        summary["recall_by_size"] = recall_by_size(((match, 1.0) for match in matches), operating)
        negatives = [match for match in matches if not match.hands]  # frames labelled "no hands here"
        summary["empty_frames"] = len(negatives)
        summary["empty_frame_false_alarms"] = sum(len(m.false_alarms(decode_config.threshold)) for m in negatives)
    return summary, stats
