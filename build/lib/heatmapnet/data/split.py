"""Train/validation splits that keep near-duplicate frames together, and weights for mixing datasets.

Consecutive frames of one video are near duplicates, so a random frame split leaks the validation
set into training and flatters every number (the DESIGN notes' EgoHands anchor came from such a
split). The default keeps each video whole on one side; frames without a video are their own group,
which makes a video-less dataset a random split. Each dataset is split on its own, so every dataset
is represented in validation whatever their sizes.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from heatmapnet.data.hands import Sample
from heatmapnet.errors import UserError

SPLIT_BY = ("video", "random")


def split_samples(samples: list[Sample], val_fraction: float, seed: int, by: str = "video",
                  val_videos: list[str] | None = None) -> tuple[list[Sample], list[Sample]]:
    """(train, val). With `val_videos`, exactly the frames of those videos validate; otherwise about
    `val_fraction` of each dataset's frames do, chosen by `seed` (independent of the input order)."""
    if by not in SPLIT_BY:
        raise UserError(f"split by must be one of {', '.join(SPLIT_BY)}, got {by!r}")
    if val_videos:
        return _split_by_names(samples, set(val_videos))
    if not 0.0 <= val_fraction < 1.0:
        raise UserError(f"val_fraction must be in [0, 1), got {val_fraction}")
    groups: dict[tuple, list[Sample]] = defaultdict(list)
    for sample in samples:
        own = ("frame", sample.image_path, sample.synthetic_seed, sample.frame_index)
        key = ("video", sample.video) if by == "video" and sample.video is not None else own
        groups[(sample.dataset, *map(str, key))].append(sample)
    by_dataset: dict[str, list[tuple]] = defaultdict(list)
    for key in sorted(groups):
        by_dataset[key[0]].append(key)
    val_keys: set[tuple] = set()
    for dataset, keys in sorted(by_dataset.items()):
        rng = np.random.default_rng([seed, *dataset.encode()])
        val_keys |= _pick(keys, groups, val_fraction, rng)
    train = [s for key, members in groups.items() if key not in val_keys for s in members]
    val = [s for key, members in groups.items() if key in val_keys for s in members]
    return train, val


def _pick(keys: list[tuple], groups: dict[tuple, list[Sample]], val_fraction: float,
          rng: np.random.Generator) -> set[tuple]:
    """Groups in random order until their frames reach val_fraction of the dataset, leaving one for training."""
    total = sum(len(groups[key]) for key in keys)
    goal = val_fraction * total
    chosen, count = set(), 0
    for position in rng.permutation(len(keys)):
        if count >= goal or len(chosen) == len(keys) - 1:
            break
        size = len(groups[keys[position]])
        if count > 0 and abs(count + size - goal) > abs(count - goal):
            continue  # this group would overshoot more than stopping short: try a smaller one
        chosen.add(keys[position])
        count += size
    return chosen


def _split_by_names(samples: list[Sample], names: set[str]) -> tuple[list[Sample], list[Sample]]:
    known = {sample.video for sample in samples if sample.video is not None}
    unknown = names - known
    if unknown:
        raise UserError(f"validation video(s) {sorted(unknown)} not in the data; known videos: "
                        f"{', '.join(sorted(known)) or 'none'}")
    return ([s for s in samples if s.video not in names], [s for s in samples if s.video in names])


def mix_weights(groups: list[list[Sample]], weights: list[float]) -> np.ndarray:
    """Per-sample weights for a WeightedRandomSampler over the concatenated groups: group g is drawn
    with probability weights[g] / sum(weights), however many samples it has."""
    if len(groups) != len(weights):
        raise UserError(f"{len(groups)} datasets but {len(weights)} mixing weights; give one weight per dataset")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise UserError(f"mixing weights must be >= 0 with a positive sum, got {list(weights)}")
    empty = [g for g, (group, w) in enumerate(zip(groups, weights)) if w > 0 and not group]
    if empty:
        raise UserError(f"dataset(s) {empty} have a mixing weight but no samples")
    total = float(sum(weights))
    return np.concatenate([np.full(len(group), w / total / max(len(group), 1)) for group, w in zip(groups, weights)])
