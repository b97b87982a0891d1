import numpy as np
import pytest

from heatmapnet.data.hands import OTHER, Hand
from heatmapnet.train.targets import TargetConfig, blob_radius, encode

STRIDE = 8


def peak_cell(heatmap):
    return np.unravel_index(np.argmax(heatmap[0]), heatmap[0].shape)


def test_blob_peaks_at_the_hand_centre_cell():
    hand = Hand(x=100.0, y=60.0, w=40, h=40)  # cell (7, 12) centre is (100, 60)
    targets = encode([hand], 320, 240, STRIDE, TargetConfig())
    assert targets["heatmap"].shape == (1, 30, 40)
    assert peak_cell(targets["heatmap"]) == (7, 12)
    assert targets["heatmap"][0, 7, 12] == pytest.approx(1.0)
    assert targets["size"][:, 7, 12] == pytest.approx([40 / STRIDE, 40 / STRIDE])
    assert targets["size_mask"].sum() == 1


def test_radius_scales_with_hand_size():
    config = TargetConfig(radius_scale=0.2, shape="disc")
    small = encode([Hand(160, 120, 40, 40)], 320, 240, STRIDE, config)["heatmap"].sum()
    large = encode([Hand(160, 120, 160, 160)], 320, 240, STRIDE, config)["heatmap"].sum()
    # disc area grows with the square of the radius: 4x the size -> about 16x the cells
    assert 10 < large / small < 22
    assert blob_radius(Hand(0, 0, 160, 160), STRIDE, config) == pytest.approx(4.0)


def test_tiny_hands_get_at_least_the_minimum_radius():
    assert blob_radius(Hand(0, 0, 2, 2), STRIDE, TargetConfig(min_radius=1.0)) == 1.0
    disc = encode([Hand(100, 60, 2, 2)], 320, 240, STRIDE, TargetConfig(shape="disc"))["heatmap"]
    assert disc[0, 7, 12] == 1.0


def test_overlapping_blobs_combine_by_max():
    a, b = Hand(100, 60, 80, 80), Hand(116, 60, 80, 80)
    config = TargetConfig(radius_scale=0.3)
    both = encode([a, b], 320, 240, STRIDE, config)["heatmap"]
    only_a = encode([a], 320, 240, STRIDE, config)["heatmap"]
    only_b = encode([b], 320, 240, STRIDE, config)["heatmap"]
    np.testing.assert_allclose(both, np.maximum(only_a, only_b))
    assert both.max() <= 1.0


def test_ignore_mask_covers_other_hands_and_nothing_else():
    config = TargetConfig(radius_scale=0.15, ignore_margin=1.0)
    other = Hand(200, 100, 48, 48, label=OTHER)
    targets = encode([Hand(60, 60, 48, 48), other], 320, 240, STRIDE, config)
    mask = targets["mask"][0]
    ys, xs = np.nonzero(mask == 0)
    distance = np.hypot(xs - (other.x / STRIDE - 0.5), ys - (other.y / STRIDE - 0.5))
    extent = 2 * blob_radius(other, STRIDE, config) + config.ignore_margin
    assert len(xs) > 0 and distance.max() <= extent
    yy, xx = np.mgrid[0:30, 0:40]
    inside = np.hypot(xx - (other.x / STRIDE - 0.5), yy - (other.y / STRIDE - 0.5)) <= extent
    assert np.all(mask[inside] == 0) and np.all(mask[~inside] == 1)
    # an `other` hand adds no positive target and no size target
    assert targets["heatmap"][0][inside].max() == 0
    assert targets["size_mask"].sum() == 1


def test_hands_whose_centre_leaves_the_crop_are_dropped_partial_hands_kept():
    outside = Hand(-5, 100, 60, 60)
    partial = Hand(4, 100, 60, 60)  # mostly out of the frame, centre inside
    assert encode([outside], 320, 240, STRIDE, TargetConfig())["heatmap"].max() == 0
    assert encode([partial], 320, 240, STRIDE, TargetConfig())["heatmap"].max() > 0.9
