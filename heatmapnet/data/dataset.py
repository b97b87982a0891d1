"""Samples -> training tensors: load, augment (or fit for validation), encode targets, normalise.

Also builds the train/validation sets from a data config (several datasets mixed by weight, plus hand-free
crops of their training frames as hard negatives where a dataset asks for them) and the sampler that draws
from them, identical on every DDP rank and sharded between ranks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from heatmapnet.config import plain
from heatmapnet.data.augment import AugmentConfig, augment, fit
from heatmapnet.data.hand_free import HandFreeConfig, hand_free_crops
from heatmapnet.data.hands import Sample
from heatmapnet.data.loading import load_rgb
from heatmapnet.data.registry import datasets_in, read_split
from heatmapnet.data.replay import ReplayConfig, replay_samples
from heatmapnet.data.split import mix_weights
from heatmapnet.errors import UserError
from heatmapnet.model.config import ModelConfig
from heatmapnet.train.targets import TargetConfig, encode


class HandDataset(Dataset):
    """Items are dicts of tensors (image, heatmap, mask, size, size_mask) plus the hands in input pixels.

    An unreadable image yields {"skipped": path}; `collate` drops it and reports it, so one bad file
    never stops a run.
    """

    def __init__(self, samples: list[Sample], model: ModelConfig, target: TargetConfig,
                 augmentation: AugmentConfig | None = None, seed: int = 0):
        self.samples = samples
        self.model = model
        self.target = target
        self.augmentation = augmentation
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        sample = self.samples[index]
        image = load_rgb(sample)
        if image is None:
            return {"skipped": sample.image_path or f"synthetic:{sample.synthetic_seed}"}
        width, height = self.model.input_width, self.model.input_height
        if self.augmentation is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            image, hands = augment(image, sample.hands, width, height, rng, self.augmentation)
        else:
            image, hands = fit(image, sample.hands, width, height, self.model.resize)
        targets = encode(hands, width, height, self.model.stride, self.target)
        item = {key: torch.from_numpy(value) for key, value in targets.items()}
        item["image"] = torch.from_numpy(self.model.normalization.apply(image))
        item["hands"] = hands
        return item


def collate(items: list[dict]) -> dict:
    """Stack tensors; keep hands as per-image lists; list the skipped files."""
    kept = [item for item in items if "skipped" not in item]
    batch: dict = {"skipped": [item["skipped"] for item in items if "skipped" in item], "hands": []}
    if kept:
        for key in ("image", "heatmap", "mask", "size", "size_mask"):
            batch[key] = torch.stack([item[key] for item in kept])
        batch["hands"] = [item["hands"] for item in kept]
    return batch


class MixSampler(Sampler[int]):
    """Each epoch draws `len` indices by weight (seeded by seed and epoch, so all ranks agree) and keeps
    this rank's share. With equal weights it is a plain shuffled pass over the data."""

    def __init__(self, weights: np.ndarray, seed: int = 0, rank: int = 0, world_size: int = 1):
        self.weights = np.asarray(weights, np.float64) / np.sum(weights)
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        self.per_rank = math.ceil(len(self.weights) / world_size)

    def __len__(self) -> int:
        return self.per_rank

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        total = self.per_rank * self.world_size
        if np.allclose(self.weights, self.weights[0]):
            order = np.resize(rng.permutation(len(self.weights)), total)
        else:
            order = rng.choice(len(self.weights), size=total, p=self.weights)
        return iter(order[self.rank::self.world_size].tolist())


@dataclass
class DataSplit:
    train: HandDataset
    val: HandDataset
    train_weights: np.ndarray
    summary: list[str]


def build_data(data_config, model: ModelConfig, target: TargetConfig, augmentation: AugmentConfig,
               seed: int, replay: ReplayConfig | None = None) -> DataSplit:
    """Read and split every dataset of a data config and mix the training parts; with `replay`, a sample of
    another data config's training frames joins them and of its validation frames joins validation."""
    config = plain(data_config)
    train_groups, val_samples, weights, summary, negatives = [], [], [], [], []
    for name, source in datasets_in(config).items():
        train, val = read_split(name, source, config, seed)
        train_groups.append(train)
        val_samples.extend(val)
        weights.append(float(source.get("weight", 1.0)))
        summary.append(f"{name}: {len(train)} train / {len(val)} val frames "
                       f"({sum(len(s.hands) for s in train + val)} hands)")
        if source.get("hand_free") is not None:
            negatives += hand_free_crops(train, HandFreeConfig(min_hands=int(source["hand_free"]), seed=seed))
    labelled = sum(len(group) for group in train_groups)
    if replay is not None and labelled:
        replayed = replay_samples(replay, labelled, sum(weights), seed)
        if replayed.train:
            train_groups.append(replayed.train)
            weights.append(replayed.weight)
        val_samples.extend(replayed.val)
        summary.extend(replayed.summary)
    if negatives:  # after replay: its weight matches the labelled frames, not these crops
        train_groups.append(negatives)
        weights.append(hand_free_weight(config))
        summary.append(f"hand-free crops of the training frames (hard negatives): {len(negatives)}, "
                       f"mixing weight {weights[-1]:g}")
    train_samples = [sample for group in train_groups for sample in group]
    if config.get("validate_on_train", False):  # overfitting checks: validate on the training frames themselves
        val_samples = list(train_samples)
    return DataSplit(HandDataset(train_samples, model, target, augmentation, seed),
                     HandDataset(val_samples, model, target, None, seed),
                     mix_weights(train_groups, weights), summary)


def hand_free_weight(config: dict) -> float:
    """Mixing weight of all hand-free training crops together (`hand_free_weight`, default 1: one dataset's)."""
    weight = float(config.get("hand_free_weight", 1.0))
    if weight <= 0:
        raise UserError(f"data.hand_free_weight must be > 0 (the hand-free crops' mixing weight), got {weight}")
    return weight
