"""Splits keep videos whole and are reproducible; mixing weights draw datasets by weight, not by size."""
import random

import numpy as np
import pytest
import torch
from conftest import shared_path

from heatmapnet.data.coco import CocoReader
from heatmapnet.data.hands import Sample
from heatmapnet.data.split import mix_weights, split_samples
from heatmapnet.errors import UserError


def frames(dataset, videos, per_video, loose=0):
    """`per_video` frames of each named video, plus `loose` frames without a video."""
    samples = [Sample(hands=[], image_path=f"/{dataset}/{video}/{i}.jpg", video=video, frame_index=i, dataset=dataset)
               for video in videos for i in range(per_video)]
    return samples + [Sample(hands=[], image_path=f"/{dataset}/loose/{i}.jpg", dataset=dataset) for i in range(loose)]


def paths(samples):
    return sorted(s.image_path for s in samples)


def test_split_by_video_never_shares_a_video_and_covers_every_dataset():
    samples = frames("a", [f"v{i}" for i in range(10)], 20) + frames("b", ["x", "y", "z", "w"], 5, loose=10)
    train, val = split_samples(samples, 0.2, seed=0)
    assert paths(train + val) == paths(samples) and not set(paths(train)) & set(paths(val))
    train_videos = {(s.dataset, s.video) for s in train if s.video}
    assert not train_videos & {(s.dataset, s.video) for s in val if s.video}
    for dataset, size in (("a", 200), ("b", 30)):
        share = sum(s.dataset == dataset for s in val) / size
        assert 0.1 <= share <= 0.3, (dataset, share)


def test_split_is_reproducible_order_independent_and_seeded():
    samples = frames("a", [f"v{i}" for i in range(12)], 10, loose=20)
    train, val = split_samples(samples, 0.25, seed=5)
    shuffled = samples[:]
    random.Random(1).shuffle(shuffled)
    assert paths(split_samples(shuffled, 0.25, seed=5)[1]) == paths(val)
    others = {tuple(paths(split_samples(samples, 0.25, seed=seed)[1])) for seed in range(6)}
    assert len(others) > 3


def test_frames_without_a_video_split_one_by_one_and_random_split_ignores_videos():
    loose = frames("a", [], 0, loose=100)
    train, val = split_samples(loose, 0.3, seed=0)
    assert len(val) == 30 and len(train) == 70
    videos = frames("a", ["v0", "v1"], 50)
    train, val = split_samples(videos, 0.3, seed=0, by="random")
    assert len(val) == 30 and {s.video for s in val} == {"v0", "v1"}


def test_explicit_validation_videos_and_edge_cases():
    samples = frames("a", ["v0", "v1", "v2"], 4)
    train, val = split_samples(samples, 0.5, seed=0, val_videos=["v2"])
    assert {s.video for s in val} == {"v2"} and {s.video for s in train} == {"v0", "v1"}
    with pytest.raises(UserError, match=r"validation video\(s\) \['v9'\] not in the data; known videos: v0, v1, v2"):
        split_samples(samples, 0.5, seed=0, val_videos=["v9"])
    assert split_samples(samples, 0.0, seed=0) == (samples, [])
    assert len(split_samples(samples, 0.9, seed=0)[0]) == 4  # one video always stays for training
    with pytest.raises(UserError, match="val_fraction must be in"):
        split_samples(samples, 1.0, seed=0)
    with pytest.raises(UserError, match="split by must be one of video, random"):
        split_samples(samples, 0.2, seed=0, by="person")


def test_mix_weights_draw_datasets_by_weight():
    big, small = frames("big", ["v"], 900), frames("small", ["w"], 100)
    weights = mix_weights([big, small], [1.0, 3.0])
    assert weights.shape == (1000,) and weights.sum() == pytest.approx(1.0)
    sampler = torch.utils.data.WeightedRandomSampler(torch.as_tensor(weights), 20000, replacement=True,
                                                     generator=torch.Generator().manual_seed(0))
    share_small = np.mean(np.asarray(list(sampler)) >= 900)
    assert share_small == pytest.approx(0.75, abs=0.02)
    with pytest.raises(UserError, match="2 datasets but 1 mixing weights"):
        mix_weights([big, small], [1.0])
    with pytest.raises(UserError, match="must be >= 0"):
        mix_weights([big, small], [1.0, -1.0])
    with pytest.raises(UserError, match=r"dataset\(s\) \[1\] have a mixing weight but no samples"):
        mix_weights([big, []], [1.0, 1.0])


def test_shared_egohands4_splits_into_whole_videos():
    samples = CocoReader().read(shared_path("data", "egohands4"))
    train, val = split_samples(samples, 0.25, seed=0)
    assert (len(train), len(val)) == (300, 100) and len({s.video for s in val}) == 1
    assert not {s.video for s in train} & {s.video for s in val}


def test_a_split_seed_holds_out_the_same_frames_whatever_the_runs_seed():
    from heatmapnet.data.registry import read_split

    config = {"name": "synthetic", "reader": "synthetic", "root": None, "options": {"count": 60, "seed": 2},
              "split": {"by": "random", "val_fraction": 0.25}}

    def held_out(run_seed: int, split_seed=None) -> list[int]:
        fixed = {**config, "split": {**config["split"], "seed": split_seed}}
        return sorted(s.synthetic_seed for s in read_split("synthetic", fixed, fixed, run_seed)[1])

    assert held_out(0) != held_out(1)  # by default the run's seed picks the held-out frames
    assert held_out(0) == held_out(1, split_seed=0) == held_out(7, split_seed=0)
    assert held_out(1, split_seed=1) == held_out(1)
