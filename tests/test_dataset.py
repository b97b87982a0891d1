import numpy as np
import torch
from conftest import shared_path

from heatmapnet.data.augment import AugmentConfig
from heatmapnet.data.coco import CocoReader
from heatmapnet.data.dataset import HandDataset, MixSampler, collate
from heatmapnet.data.hands import Hand, Sample
from heatmapnet.data.synthetic import SyntheticReader
from heatmapnet.model.config import ModelConfig
from heatmapnet.train.targets import TargetConfig

MODEL = ModelConfig(input_width=160, input_height=120)


def test_items_hold_normalised_images_targets_and_hands_in_input_pixels():
    samples = SyntheticReader(count=3, width=320, height=240).read(None)
    item = HandDataset(samples, MODEL, TargetConfig())[0]
    assert item["image"].shape == (3, 120, 160) and item["image"].dtype == torch.float32
    assert item["heatmap"].shape == item["mask"].shape == (1, 15, 20) and item["size"].shape == (2, 15, 20)
    expected = [hand.scaled(0.5, 0.5) for hand in samples[0].hands]  # 320x240 -> 160x120 letterbox
    assert [(round(h.x, 3), round(h.y, 3)) for h in item["hands"]] == [(round(h.x, 3), round(h.y, 3)) for h in expected]


def test_an_unreadable_image_is_reported_and_skipped_not_fatal(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    samples = SyntheticReader(count=2, width=160, height=120).read(None) + [Sample([Hand(5, 5, 4, 4)], str(broken))]
    dataset = HandDataset(samples, MODEL, TargetConfig(), AugmentConfig())
    batch = collate([dataset[i] for i in range(3)])
    assert batch["skipped"] == [str(broken)]
    assert batch["image"].shape[0] == 2 and len(batch["hands"]) == 2


def test_mix_sampler_follows_weights_and_shards_ranks_without_overlap():
    weights = np.array([3.0] * 10 + [1.0] * 10)
    drawn = list(MixSampler(weights, seed=1))
    assert len(drawn) == 20 and sum(i < 10 for i in drawn) > 10
    ranks = [list(MixSampler(np.ones(9), seed=2, rank=r, world_size=2)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 5
    assert set(ranks[0]) | set(ranks[1]) == set(range(9))


def test_targets_for_every_egohands4_frame():
    root = shared_path("data", "egohands4")
    samples = CocoReader().read(root)
    dataset = HandDataset(samples, ModelConfig(), TargetConfig())
    centres = 0
    for index in range(len(dataset)):
        item = dataset[index]
        assert "skipped" not in item, item
        assert torch.isfinite(item["image"]).all()
        centres += int(item["size_mask"].sum())
        assert item["heatmap"].max() <= 1.0
    assert len(dataset) == 400 and centres >= 1100  # 1148 hands; a few share a cell or sit outside the crop


def test_the_default_mix_splits_hagrid_at_random_and_the_video_sets_by_video():
    from test_train import compose_train

    from heatmapnet.config import plain
    from heatmapnet.data.registry import datasets_in, split_of, split_settings

    data = plain(compose_train("experiment=generalise").data)
    sources = datasets_in(data)
    assert list(sources) == ["egohands4", "webcam10", "webcam4", "hagrid1336"]
    assert {**split_settings(data, sources["hagrid1336"]), "val_videos": None} == \
        {**data["split"], "by": "random", "val_fraction": 0.2}
    assert split_settings(data, sources["webcam4"]) == data["split"] and data["split"]["by"] == "video"
    root = shared_path("data", "hagrid1336")
    samples = CocoReader(**sources["hagrid1336"]["options"]).read(root)
    train, val = split_of(samples, data, sources["hagrid1336"], seed=0)
    assert len(val) == round(0.2 * len(samples)) and not {s.image_path for s in train} & {s.image_path for s in val}
    assert all(s.hands for s in samples)  # photos MediaPipe found no hand in are unlabelled: dropped
