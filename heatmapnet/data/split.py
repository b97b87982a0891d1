"""Train/validation splits that keep near-duplicate frames together, and weights for mixing datasets.

Consecutive frames of one video are near duplicates, so a random frame split leaks the validation
set into training and flatters every number (the DESIGN notes' EgoHands anchor came from such a
split). The default keeps each video whole on one side; frames without a video are their own group,
which makes a video-less dataset a random split. Each dataset is split on its own, so every dataset
is represented in validation whatever their sizes.

`by: time` is for one clip (or a few): each video validates on its last frames, and the `gap_frames`
frames before them are used for neither side, so validation frames are not near duplicates of
training frames. It is how a fine-tune on a single labelled clip gets a validation set at all.
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from heatmapnet.data.hands import Sample
from heatmapnet.errors import UserError

SPLIT_BY = ("video", "random", "time")


def split_samples(samples: list[Sample], val_fraction: float, seed: int, by: str = "video",
                  val_videos: list[str] | None = None, gap_frames: int = 0) -> tuple[list[Sample], list[Sample]]:
    """(train, val). With `val_videos`, exactly the frames of those videos validate; otherwise about
    `val_fraction` of each dataset's frames do: whole videos chosen by `seed` (independent of the input
    order), or with `by="time"` the last frames of every video, `gap_frames` frame numbers after the
    last training frame."""
    if by not in SPLIT_BY:
        raise UserError(f"split by must be one of {', '.join(SPLIT_BY)}, got {by!r}")
    if val_videos:
        return _split_by_names(samples, set(val_videos))
    if not 0.0 <= val_fraction < 1.0:
        raise UserError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if by == "time":
        return _split_by_time(samples, val_fraction, int(gap_frames))
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


def _split_by_time(samples: list[Sample], val_fraction: float, gap_frames: int) -> tuple[list[Sample], list[Sample]]:
    """Per video (frames without one: per dataset, in file order), the last `val_fraction` of its frames
    validate and the frames within `gap_frames` frame numbers before the first of them are left out."""
    if gap_frames < 0:
        raise UserError(f"gap_frames must be >= 0, got {gap_frames}")
    videos: dict[tuple, list[Sample]] = defaultdict(list)
    for sample in samples:
        videos[(sample.dataset, sample.video or "")].append(sample)
    train, val = [], []
    for (dataset, video), members in sorted(videos.items()):
        members.sort(key=lambda s: (s.frame_index if s.frame_index is not None else -1, s.image_path or ""))
        count = math.ceil(val_fraction * len(members))
        if count == 0:
            train += members
            continue
        first_val = members[-count]
        cut = first_val.frame_index if first_val.frame_index is not None else None
        kept = [s for s in members[:-count] if cut is None or s.frame_index is None or s.frame_index < cut - gap_frames]
        if not kept:
            name = f"video {video!r}" if video else "the frames without a video"
            raise UserError(f"cannot split {name} of {dataset or 'the data'} by time: its {len(members)} labelled "
                            f"frame(s) all fall in the validation part or the {gap_frames}-frame gap before it; label "
                            f"more frames, or lower data.split.val_fraction / data.split.gap_frames")
        train += kept
        val += members[-count:]
    return train, val


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
