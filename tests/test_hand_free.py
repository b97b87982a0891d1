"""Hand-free crops: clear of every labelled hand, shaped like the input, only from frames whose hands were
all found, and loaded as exactly that part of the frame."""
import cv2
import numpy as np
import pytest
from conftest import shared_path

from heatmapnet.data.coco import CocoReader
from heatmapnet.data.hand_free import HandFreeConfig, hand_free_crops
from heatmapnet.data.hands import Hand, Sample
from heatmapnet.data.loading import load_rgb
from heatmapnet.errors import UserError


def frame_with_hands(tmp_path, hands, width=640, height=480, name="frame.png"):
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    path = tmp_path / name
    cv2.imwrite(str(path), pixels)
    return Sample(hands=hands, image_path=str(path), width=width, height=height), cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def test_crops_keep_the_margin_from_every_hand_and_load_as_that_region(tmp_path):
    hands = [Hand(500, 120, 60, 80), Hand(560, 400, 40, 40, label="other")]
    sample, pixels = frame_with_hands(tmp_path, hands)
    config = HandFreeConfig(margin=1.0, per_frame=3)
    crops = hand_free_crops([sample], config)
    assert 1 <= len(crops) <= 3
    for crop in crops:
        x0, y0, x1, y1 = crop.crop
        assert crop.hands == [] and (crop.width, crop.height) == (x1 - x0, y1 - y0)
        assert crop.width / crop.height == pytest.approx(4 / 3, abs=0.01)
        for hand in hands:  # the hand's box grown by one hand size on every side stays outside
            grown = hand.size * config.margin
            assert (x1 <= hand.x - hand.w / 2 - grown or x0 >= hand.x + hand.w / 2 + grown
                    or y1 <= hand.y - hand.h / 2 - grown or y0 >= hand.y + hand.h / 2 + grown)
        np.testing.assert_array_equal(load_rgb(crop), pixels[y0:y1, x0:x1])


def test_crops_of_one_frame_overlap_by_less_than_half_and_are_reproducible(tmp_path):
    sample, _ = frame_with_hands(tmp_path, [Hand(600, 60, 30, 30)])
    crops = hand_free_crops([sample], HandFreeConfig(per_frame=4, seed=1))
    assert len(crops) >= 2
    for i, a in enumerate(crops):
        for b in crops[i + 1:]:
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a.crop, b.crop
            inter = max(0, min(ax1, bx1) - max(ax0, bx0)) * max(0, min(ay1, by1) - max(ay0, by0))
            assert inter < 0.5 * min(a.width * a.height, b.width * b.height)
    assert [c.crop for c in hand_free_crops([sample], HandFreeConfig(per_frame=4, seed=1))] == [c.crop for c in crops]


def test_frames_with_fewer_labelled_hands_than_required_give_no_crops(tmp_path):
    one_hand, _ = frame_with_hands(tmp_path, [Hand(600, 60, 30, 30)])
    assert hand_free_crops([one_hand], HandFreeConfig(min_hands=2)) == []
    assert hand_free_crops([one_hand], HandFreeConfig(min_hands=1))
    hand_everywhere, _ = frame_with_hands(tmp_path, [Hand(320, 240, 400, 400)], name="big.png")
    assert hand_free_crops([hand_everywhere]) == []  # nowhere is clear of it
    with pytest.raises(UserError):
        HandFreeConfig(scales=(1.5,))


def test_shared_hagrid_two_hand_frames_give_face_and_body_crops():
    samples = CocoReader(empty_images="drop").read(shared_path("data", "hagrid1336"))
    crops = hand_free_crops(samples, HandFreeConfig(min_hands=2))
    assert len(crops) >= 30
    for crop in crops[::10]:
        assert load_rgb(crop).shape == (crop.height, crop.width, 3)


def test_training_mixes_in_crops_of_the_training_frames_only_as_background():
    """`hand_free: N` on a dataset of a data config adds crops of its *training* frames, weighted together by
    `hand_free_weight`, whose targets are background everywhere and counted by the loss (mask 1)."""
    from heatmapnet.data.augment import AugmentConfig
    from heatmapnet.data.dataset import build_data
    from heatmapnet.model.config import ModelConfig
    from heatmapnet.train.targets import TargetConfig

    config = {"reader": "coco", "root": str(shared_path("data", "egohands4")), "options": {"other": {"min_size_px": 24}},
              "split": {"by": "video", "val_fraction": 0.25}, "hand_free": 1, "hand_free_weight": 0.5}
    model = ModelConfig(input_width=160, input_height=120)
    data = build_data(config, model, TargetConfig(), AugmentConfig(), seed=0)
    crops = [i for i, s in enumerate(data.train.samples) if s.crop is not None]
    frames = {(s.image_path, s.frame_index) for s in data.train.samples if s.crop is None}
    assert crops and len(frames) == 300 and any("hand-free crops" in line for line in data.summary)
    assert {(data.train.samples[i].image_path, data.train.samples[i].frame_index) for i in crops} <= frames
    assert data.train_weights[crops].sum() == pytest.approx(0.5 / 1.5)
    item = data.train[crops[0]]
    assert item["hands"] == [] and float(item["heatmap"].max()) == 0.0 and bool((item["mask"] == 1).all())
    with pytest.raises(UserError, match="hand_free_weight must be > 0"):
        build_data({**config, "hand_free_weight": 0}, model, TargetConfig(), AugmentConfig(), seed=0)
