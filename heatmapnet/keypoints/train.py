"""`train(cfg)` for `python train.py experiment=keypoints` (task: keypoints): the keypoint network on hand crops.

Reads the `keypoints:` section of the composed config (configs/experiment/keypoints.yaml): the model
(KeypointConfig), the datasets (MediaPipe keypoints and handedness, split by video), augmentation and a
step budget. Validation reports PCK@0.2 per finger and handedness agreement on the held-out videos; the
checkpoint goes to `out_dir/checkpoints/last.pt` (export it with heatmapnet.keypoints.export).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from tqdm import tqdm

from heatmapnet.config import dataclass_from, plain
from heatmapnet.keypoints import codec
from heatmapnet.keypoints.config import KeypointConfig
from heatmapnet.keypoints.data import CropCache, KeypointAugment, cache_crops, read_hands, split_hands, training_crop
from heatmapnet.keypoints.metrics import agreement, pck_hits
from heatmapnet.keypoints.network import KeypointNet
from heatmapnet.keypoints.torch_model import save_keypoints
from heatmapnet.train.loop import seed_everything, warmup_cosine

HANDEDNESS_WEIGHT = 0.5
REPORT_EVERY = 100


def batch_of(cache: CropCache, indices, config: KeypointConfig, augment: KeypointAugment, rng) -> dict:
    """Normalised crops, targets, visibility and handedness for `indices` as tensors."""
    crops, targets, visible, right, points = [], [], [], [], []
    for index in indices:
        image, xy, seen, is_right = training_crop(cache, int(index), config.crop_size, augment, rng)
        crops.append(config.normalization.apply(image))
        targets.append(codec.encode(config, xy))
        visible.append(seen)
        right.append(is_right)
        points.append(xy)
    batch = {name: torch.from_numpy(np.stack([t[name] for t in targets])) for name in targets[0]}
    batch.update(crops=torch.from_numpy(np.stack(crops)), visible=torch.from_numpy(np.stack(visible)).float(),
                 right=torch.tensor(right, dtype=torch.float32), xy=np.stack(points))
    return batch


def keypoint_loss(config: KeypointConfig, outputs: dict, batch: dict) -> torch.Tensor:
    """The codec's point loss over visible points, plus the left/right BCE."""
    visible = batch["visible"]
    weight, extra = visible / visible.sum().clamp(min=1.0), 0.0
    if config.codec == "simcc":
        per_point = sum(-(F.normalize(batch[name], p=1, dim=-1) * F.log_softmax(outputs[name], -1)).sum(-1)
                        for name in codec.OUTPUTS["simcc"])
    elif config.codec == "heatmap":
        per_point = ((outputs["heatmaps"] - batch["heatmaps"]) ** 2).sum((-1, -2))
    else:
        raw = outputs["points"]
        per_point = 10 * (raw[..., :2] - batch["points"]).abs().sum(-1)  # L1 in tenths of the crop
        extra = F.binary_cross_entropy_with_logits(raw[..., 2], visible)  # its per-point score
    hand = F.binary_cross_entropy_with_logits(outputs[codec.HANDEDNESS][:, 0], batch["right"])
    return (per_point * weight).sum() + extra + HANDEDNESS_WEIGHT * hand


@torch.no_grad()
def evaluate(model: KeypointNet, cache: CropCache, batch_size: int = 256) -> dict:
    """PCK@0.2 (per finger) and handedness agreement on the run-time crops of `cache`, overall and per dataset."""
    model.eval()
    config = model.config
    predicted, right, labelled, visible = [], [], [], []
    for start in range(0, len(cache), batch_size):
        batch = batch_of(cache, range(start, min(start + batch_size, len(cache))), config, KeypointAugment(), None)
        outputs = {name: value.numpy() for name, value in model(batch["crops"]).items()}
        predicted.append(codec.decode(config, outputs))
        right.append(codec.right_probability(outputs) >= 0.5)
        labelled.append(batch["xy"])
        visible.append(batch["visible"].numpy() > 0)
    predicted, right = np.concatenate(predicted), np.concatenate(right)
    labelled, visible = np.concatenate(labelled), np.concatenate(visible)
    hits = pck_hits(predicted, labelled, visible, np.full(len(cache), config.crop_size / config.crop_scale))
    report = agreement(hits, right, cache.right)
    report["per_dataset"] = {name: agreement(hits[cache.dataset == name], right[cache.dataset == name],
                                             cache.right[cache.dataset == name])
                             for name in sorted(set(cache.dataset))}
    model.train()
    return report


def prepare(cfg, training: bool = True) -> tuple[KeypointConfig, CropCache | None, CropCache, list[str]]:
    """Config, training (unless `training` is false) and validation crop caches, and the validation videos,
    from the `keypoints` section."""
    section = cfg.keypoints
    config = KeypointConfig.from_dict(plain(section.model))
    samples = read_hands(OmegaConf.to_container(section.data, resolve=True))
    train_samples, val_samples = split_hands(samples, float(section.val_fraction), int(cfg.seed))
    val_videos = sorted({f"{s.dataset}:{s.video}" for s in val_samples if s.video is not None})
    train_cache = cache_crops(train_samples, config, "training crops") if training else None
    return config, train_cache, cache_crops(val_samples, config, "validation crops"), val_videos


def fit(config: KeypointConfig, train_cache: CropCache, val_cache: CropCache, schedule: dict,
        augment: KeypointAugment, seed: int, label: str = "", save=None) -> tuple[KeypointNet, dict, float]:
    """Train one network for `schedule["steps"]` steps; returns it, its validation report and seconds taken.
    `stop_after` ends it early on the same learning-rate schedule (runs cut short by a CPU budget stay comparable
    step for step). A line every `REPORT_EVERY` steps (background runs show progress), and `save(model, step)` then."""
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    model = KeypointNet(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=schedule["lr"], weight_decay=schedule["weight_decay"])
    steps = int(schedule["steps"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps, int(schedule["warmup_steps"])))
    started, running = time.perf_counter(), None
    stop_after = min(int(schedule.get("stop_after") or steps), steps)  # a time-boxed part of the schedule
    with tqdm(range(stop_after), desc=f"training {label or config.codec}", unit="step", disable=None) as bar:
        for step in bar:
            batch = batch_of(train_cache, rng.integers(0, len(train_cache), schedule["batch_size"]), config, augment, rng)
            loss = keypoint_loss(config, model(batch["crops"]), batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            bar.set_postfix(loss=f"{running:.3f}", refresh=False)
            if (step + 1) % REPORT_EVERY == 0:
                print(f"{label or config.codec}: step {step + 1}/{steps}, loss {running:.3f}, "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
                if save:
                    save(model, step + 1)
    seconds = time.perf_counter() - started
    return model, evaluate(model, val_cache), seconds


def save_snapshot(out: Path, model: KeypointNet, meta: dict, step: int) -> None:
    """`last.pt` and `step_N.pt` (for comparing runs at the same step)."""
    for name in ("last.pt", f"step_{step}.pt"):
        save_keypoints(out / "checkpoints" / name, model, {**meta, "step": step})


def train(cfg) -> dict:
    """The `task: keypoints` entry of train.py."""
    torch.set_num_threads(int(cfg.threads))
    config, train_cache, val_cache, val_videos = prepare(cfg)
    section = cfg.keypoints
    augment = dataclass_from(KeypointAugment, section.augment, "keypoints.augment")
    print(f"training a {config.codec} keypoint network on {len(train_cache)} hands, validating on {len(val_cache)} "
          f"({len(val_videos)} held-out videos + random images of video-less sets); output in {cfg.out_dir}")
    out = Path(cfg.out_dir)
    meta = {"val_videos": val_videos, "train_hands": len(train_cache), "seed": int(cfg.seed),
            "data": OmegaConf.to_container(section.data, resolve=True), "train": plain(section.train)}
    model, report, seconds = fit(config, train_cache, val_cache, plain(section.train), augment, int(cfg.seed),
                                 save=lambda partial, step: save_snapshot(out, partial, meta, step))
    meta.update(val=report, train_seconds=round(seconds, 1))
    save_keypoints(out / "checkpoints" / "last.pt", model, meta)
    (out / "report.json").write_text(json.dumps(meta, indent=2))
    print(f"PCK@0.2 {report['pck']:.3f}, handedness agreement {report['handedness']:.3f} on {report['hands']} "
          f"held-out hands after {seconds / 60:.1f} min; saved {out / 'checkpoints' / 'last.pt'}")
    return {"metrics": report, "last": out / "checkpoints" / "last.pt"}
