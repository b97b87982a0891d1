"""Synthetic data: reproducible from the seed, labels on the drawn hands, a mix of hands and distractors."""
from dataclasses import replace

import numpy as np
import pytest

from heatmapnet.data.hands import OPEN, OTHER
from heatmapnet.data.loading import load_rgb
from heatmapnet.data.registry import make_reader
from heatmapnet.data.synthetic import SyntheticReader, render
from heatmapnet.errors import UserError


@pytest.fixture(scope="module")
def samples():
    return SyntheticReader(count=48, seed=3).read(None)


def test_read_and_render_are_reproducible_from_the_seed(samples):
    again = make_reader("synthetic", count=48, seed=3).read("ignored")
    assert [(s.synthetic_seed, s.hands) for s in again] == [(s.synthetic_seed, s.hands) for s in samples]
    assert len({s.synthetic_seed for s in samples}) == 48
    other = SyntheticReader(count=48, seed=4).read(None)
    assert [s.hands for s in other] != [s.hands for s in samples]
    image = render(samples[0])
    assert image.shape == (240, 320, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, render(samples[0]))
    np.testing.assert_array_equal(image, load_rgb(samples[0]))
    assert not np.array_equal(image, render(samples[1]))


def test_boxes_enclose_exactly_the_drawn_hand(samples):
    """The frame drawn without its hands (same background and noise) differs from it only on the hands;
    each hand's box matches the changed pixels around it, which reach past it only by anti-aliasing and
    blur (up to 4 px)."""
    beyond = []
    for sample in samples:
        if not sample.hands:
            continue
        bare = render(replace(sample, meta={"max_hands": 0}))
        changed = np.abs(render(sample).astype(np.int16) - bare).max(axis=2) > 0
        boxes = [(h.x - h.w / 2, h.y - h.h / 2, h.x + h.w / 2, h.y + h.h / 2) for h in sample.hands]
        outside = changed.copy()
        for x0, y0, x1, y1 in boxes:
            left, top = max(int(x0) - 8, 0), max(int(y0) - 8, 0)
            rows, cols = np.nonzero(changed[top:int(np.ceil(y1)) + 8, left:int(np.ceil(x1)) + 8])
            beyond += [x0 - (cols.min() + left), y0 - (rows.min() + top),
                       cols.max() + 1 + left - x1, rows.max() + 1 + top - y1]
            outside[max(int(y0) - 5, 0):int(np.ceil(y1)) + 5, max(int(x0) - 5, 0):int(np.ceil(x1)) + 5] = False
        assert not outside.any(), "drawing the hands changed pixels outside every hand box"
    assert min(beyond) >= 0.0 and max(beyond) <= 4.0 and np.median(beyond) <= 1.0, beyond


def test_the_data_mixes_open_other_and_empty_frames_at_many_sizes(samples):
    hands = [h for s in samples for h in s.hands]
    open_sizes = [h.size for h in hands if h.label == OPEN]
    other_sizes = [h.size for h in hands if h.label == OTHER]
    assert len(open_sizes) > 2 * len(other_sizes) > 10
    assert max(open_sizes) > 3 * min(open_sizes) and min(open_sizes) >= 10.0
    assert min(other_sizes) < 15.0 < max(other_sizes)  # tiny hands and fists
    assert any(not s.hands for s in samples) and max(len(s.hands) for s in samples) == 3
    assert all(0 <= h.x <= 320 and 0 <= h.y <= 240 for h in hands)


def test_hands_are_not_the_only_skin_coloured_things(samples):
    """Distractors in skin tones: the model cannot find hands by colour alone."""
    skin_outside = 0
    for sample in samples[:16]:
        image = render(sample).astype(np.int16)
        r, g, b = image[..., 0], image[..., 1], image[..., 2]
        skin = (r > g) & (g > b) & (r - b > 30) & (r > 80)
        for h in sample.hands:
            top, left = max(int(h.y - h.h / 2), 0), max(int(h.x - h.w / 2), 0)
            skin[top:int(h.y + h.h / 2) + 1, left:int(h.x + h.w / 2) + 1] = False
        skin_outside += skin.sum() > 200
    assert skin_outside >= 3


def test_size_and_counts_follow_the_options():
    samples = SyntheticReader(count=5, width=128, height=96, max_hands=1).read(None)
    assert len(samples) == 5 and all(len(s.hands) <= 1 for s in samples)
    assert render(samples[0]).shape == (96, 128, 3)
    with pytest.raises(UserError, match="synthetic data needs count >= 1"):
        SyntheticReader(count=0)
