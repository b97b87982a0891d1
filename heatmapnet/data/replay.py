"""Replay: a sample of the data the starting model was trained on, mixed into a fine-tune.

Without it a fine-tune on 100 frames of one clip collapsed the shipped model's F1 on its own validation sets
(experiments/finetune/): the model learns the user's scene and forgets everyone else. Replayed frames come
only from the *training* splits of those datasets, split exactly as the starting model's run split them
(same settings, `split_seed`), so its validation frames stay unseen and the forgetting check (a sample of
those validation splits, scored beside the user's frames) stays honest. Datasets whose folders are absent
(a machine without ../shared) are skipped with a note: the fine-tune then runs on the user's labels alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heatmapnet.data.hands import Sample
from heatmapnet.data.registry import datasets_in, read_split
from heatmapnet.data.split import mix_weights

REPLAY_DATASET_PREFIX = "replay:"  # sample.dataset of a replayed frame: "replay:<dataset name>"


@dataclass
class ReplayConfig:
    data: dict | None = None  # a data config (configs/data/*.yaml) whose training splits are replayed; None: off
    frames: float = 1.0  # replayed training frames per labelled training frame
    val_frames: int = 60  # frames of those datasets' validation splits scored beside the user's (forgetting)
    split_seed: int = 0  # the seed the starting model's training run split its data with

    def __post_init__(self):
        if self.frames < 0 or self.val_frames < 0:
            raise ValueError(f"replay.frames and replay.val_frames must be >= 0, got {self.frames}, {self.val_frames}")


@dataclass
class Replay:
    train: list[Sample]
    val: list[Sample]
    weight: float  # the mixing weight that draws replayed and labelled frames equally often, frame for frame
    summary: list[str]


def is_replayed(sample: Sample) -> bool:
    return (sample.dataset or "").startswith(REPLAY_DATASET_PREFIX)


def drawn(groups: list[list[Sample]], weights: list[float], count: int, rng: np.random.Generator) -> list[Sample]:
    """`count` distinct frames of the groups, each group represented by its mixing weight."""
    pool = [sample for group in groups for sample in group]
    if not pool or count <= 0:
        return []
    chosen = rng.choice(len(pool), size=min(count, len(pool)), replace=False, p=mix_weights(groups, weights))
    return [pool[i] for i in sorted(chosen)]


def replay_samples(config: ReplayConfig, labelled: int, labelled_weight: float, seed: int) -> Replay:
    """The replayed training frames (about `frames` x `labelled`) and validation frames for a fine-tune whose
    own training frames number `labelled` with total mixing weight `labelled_weight`; each dataset is read
    and split exactly as training does (`read_split`)."""
    if not config.data or (config.frames == 0 and config.val_frames == 0):
        return Replay([], [], 0.0, [])
    trains, vals, weights, skipped = [], [], [], []
    for name, source in datasets_in(config.data).items():
        if source.get("root") and not Path(source["root"]).expanduser().exists():
            skipped.append(name)
            continue
        train, val = read_split(name, source, config.data, config.split_seed)
        trains.append(train)
        vals.append(val)
        weights.append(float(source.get("weight", 1.0)))
    summary = [f"replay: skipped {', '.join(skipped)} (folder not found): fine-tuning without those frames "
               f"can make the model forget other scenes"] if skipped else []
    if not trains:
        return Replay([], [], 0.0, summary)
    rng = np.random.default_rng([seed, 7])
    train = drawn(trains, weights, round(config.frames * labelled), rng)
    val = drawn(vals, weights, config.val_frames, rng)
    for sample in train + val:
        sample.dataset = REPLAY_DATASET_PREFIX + (sample.dataset or "")
    summary.append(f"replay: {len(train)} training / {len(val)} validation frames of "
                   f"{', '.join(name for name in datasets_in(config.data) if name not in skipped)} "
                   f"(the starting model's training data)")
    return Replay(train, val, labelled_weight * len(train) / max(labelled, 1), summary)
