"""Augmentation keeps hands on the pixels they label; the validation fit is the tracking resize."""
import numpy as np
import pytest
from omegaconf import OmegaConf

from heatmapnet.config import dataclass_from
from heatmapnet.data.augment import AugmentConfig, augment, fit
from heatmapnet.data.hands import OPEN, OTHER, Hand
from heatmapnet.errors import UserError
from heatmapnet.runtime.preprocess import FrameTransform

WIDTH, HEIGHT = 320, 240
GEOMETRY_ONLY = dict(brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0)
SOURCES = [(360, 640), (852, 480), (80, 100), (240, 320)]  # (height, width): wider, portrait, small, same


def spotted_frame(height, width, rng):
    """Black frame; hand i is an 8 x 8 box around a 5 x 5 spot of 255 in colour channel i."""
    image = np.zeros((height, width, 3), np.uint8)
    hands, spots = [], []
    while len(hands) < 3:
        x, y = int(rng.integers(8, width - 8)), int(rng.integers(8, height - 8))
        if all(np.hypot(x - sx, y - sy) > 0.3 * min(width, height) for sx, sy in spots):
            image[y - 2:y + 3, x - 2:x + 3, len(hands)] = 255
            hands.append(Hand(x + 0.5, y + 0.5, 8.0, 8.0))
            spots.append((x, y))
    return image, hands


def centroid(channel, x0, y0, x1, y1):
    """(mass, x, y) of a channel inside a pixel window, in continuous coordinates."""
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(int(np.ceil(x1)), channel.shape[1]), min(int(np.ceil(y1)), channel.shape[0])
    patch = channel[y0:y1, x0:x1].astype(np.float64)
    mass = patch.sum()
    if mass == 0:
        return 0.0, np.nan, np.nan
    ys, xs = np.mgrid[y0:y1, x0:x1] + 0.5
    return mass, (patch * xs).sum() / mass, (patch * ys).sum() / mass


@pytest.mark.parametrize("mode", ["letterbox", "stretch"])
@pytest.mark.parametrize("source", SOURCES)
def test_hands_follow_their_spots(source, mode):
    """Over many random views (zoom, crop/pad, rotation, flip, blur) every returned hand sits on its own
    spot, and every spot left whole in the view has its hand."""
    rng = np.random.default_rng(sum(source))
    config = AugmentConfig(rotation=15.0, blur_prob=0.5, **GEOMETRY_ONLY)
    errors, found = [], 0
    for _ in range(40):
        image, hands = spotted_frame(*source, rng)
        output, moved = augment(image, hands, WIDTH, HEIGHT, rng, config, mode=mode)
        assert output.shape == (HEIGHT, WIDTH, 3) and output.dtype == np.uint8
        for hand in moved:
            assert 0 <= hand.x <= WIDTH and 0 <= hand.y <= HEIGHT
            x0, y0, x1, y1 = hand.x - hand.w / 2, hand.y - hand.h / 2, hand.x + hand.w / 2, hand.y + hand.h / 2
            if x0 < 1 or y0 < 1 or x1 > WIDTH - 1 or y1 > HEIGHT - 1:
                continue  # clipped by the view: its box centre moved on purpose
            window = (x0 - 2, y0 - 2, x1 + 2, y1 + 2)
            masses = [centroid(output[..., c], *window) for c in range(3)]
            mass, x, y = max(masses, key=lambda m: m[0])
            assert mass > 0, "no spot under a returned hand"
            errors.append(np.hypot(x - hand.x, y - hand.y))
        for channel in range(3):
            mass, x, y = centroid(output[..., channel], 0, 0, WIDTH, HEIGHT)
            margin = 10 * max(WIDTH / source[1], HEIGHT / source[0])
            if mass and margin < x < WIDTH - margin and margin < y < HEIGHT - margin:
                found += 1
                assert any(hand.label == OPEN and np.hypot(hand.x - x, hand.y - y) < 0.5 for hand in moved)
    assert len(errors) > 40 and found > 40
    assert max(errors) < 0.35 and np.mean(errors) < 0.15, (max(errors), np.mean(errors))


def test_rotation_grows_the_box_as_a_rotated_ellipse():
    """A 40 x 10 hand on a frame the size of the input, zoom 1: w'^2 + h'^2 is kept, the box never shrinks."""
    rng = np.random.default_rng(1)
    config = AugmentConfig(scale=(1.0, 1.0), rotation=60.0, flip_prob=0.0, blur_prob=0.0, **GEOMETRY_ONLY)
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    widths = []
    for _ in range(50):
        _, (hand,) = augment(image, [Hand(160.0, 120.0, 40.0, 10.0)], WIDTH, HEIGHT, rng, config)
        assert hand.w**2 + hand.h**2 == pytest.approx(40.0**2 + 10.0**2)
        assert hand.w * hand.h >= 400.0 - 1e-6
        widths.append(hand.w)
    assert min(widths) < 30.0 < 39.0 < max(widths)


def test_a_quarter_turn_turns_the_picture_and_its_hands_together_either_way():
    """An upright 10 x 40 hand above the centre lies 40 x 10 beside it after a quarter turn, on the turned bar."""
    rng = np.random.default_rng(3)
    config = AugmentConfig(scale=(1.0, 1.0), rotation=0.0, quarter_turn_prob=1.0, flip_prob=0.0, blur_prob=0.0,
                           **GEOMETRY_ONLY)
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image[60:100, 155:165] = 255  # the bar under the hand's box
    sides = set()
    for _ in range(20):
        output, (hand,) = augment(image, [Hand(160.0, 80.0, 10.0, 40.0)], WIDTH, HEIGHT, rng, config)
        assert (hand.w, hand.h) == (pytest.approx(40.0), pytest.approx(10.0)) and hand.y == pytest.approx(120.0)
        assert abs(hand.x - 160.0) == pytest.approx(40.0)
        ys, xs = np.nonzero(output[..., 0] > 127)
        assert np.ptp(xs) > 3 * np.ptp(ys) and abs(xs.mean() + 0.5 - hand.x) < 1 and abs(ys.mean() + 0.5 - hand.y) < 1
        sides.add(hand.x > 160.0)
    assert sides == {True, False}
    _, (upright,) = augment(image, [Hand(160.0, 80.0, 10.0, 40.0)], WIDTH, HEIGHT, rng,
                            AugmentConfig(scale=(1.0, 1.0), rotation=0.0, flip_prob=0.0))
    assert (upright.w, upright.h) == (pytest.approx(10.0), pytest.approx(40.0))


def test_hands_cut_by_the_crop_become_other_or_go():
    """Zoom 2 shows a quarter of the frame: a frame-filling hand is always mostly cut (other); a hand near a
    corner is often out of view (dropped); small hands fully in view stay open."""
    rng = np.random.default_rng(2)
    config = AugmentConfig(scale=(2.0, 2.0), rotation=0.0, blur_prob=0.0, **GEOMETRY_ONLY)
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    whole, corner = Hand(160.0, 120.0, 320.0, 240.0), Hand(60.0, 60.0, 10.0, 10.0)
    counts = []
    for _ in range(40):
        _, moved = augment(image, [whole, corner], WIDTH, HEIGHT, rng, config)
        assert moved[0].label == OTHER
        assert all(h.label == OPEN for h in moved[1:] if h.w == pytest.approx(20.0))
        counts.append(len(moved))
    assert set(counts) == {1, 2}
    _, moved = augment(image, [whole], WIDTH, HEIGHT, rng, AugmentConfig(scale=(2.0, 2.0), rotation=0.0,
                                                                      min_visible=0.2))
    assert moved[0].label == OPEN


def test_augment_is_reproducible_and_jitters_colour():
    image, hands = spotted_frame(HEIGHT, WIDTH, np.random.default_rng(3))
    image[image == 0] = 90
    first = augment(image, hands, WIDTH, HEIGHT, np.random.default_rng(7), AugmentConfig())
    again = augment(image, hands, WIDTH, HEIGHT, np.random.default_rng(7), AugmentConfig())
    np.testing.assert_array_equal(first[0], again[0])
    assert first[1] == again[1]
    plain = AugmentConfig(scale=(1.0, 1.0), rotation=0.0, flip_prob=0.0, blur_prob=0.0)
    backgrounds = {int(augment(image, hands, WIDTH, HEIGHT, np.random.default_rng(seed), plain)[0][0, 0, 0])
                   for seed in range(10)}
    assert len(backgrounds) > 3


@pytest.mark.parametrize("mode", ["letterbox", "stretch"])
def test_fit_and_disabled_augmentation_are_the_tracking_resize(mode):
    rng = np.random.default_rng(4)
    image, hands = spotted_frame(360, 640, rng)
    fitted, moved = fit(image, hands, WIDTH, HEIGHT, mode)
    transform = FrameTransform(640, 360, WIDTH, HEIGHT, mode)
    np.testing.assert_array_equal(fitted, transform.apply(image))
    for hand, original in zip(moved, hands):
        np.testing.assert_allclose((hand.x, hand.y), transform.to_input([original.x, original.y]))
        assert hand.w == pytest.approx(8.0 * transform.scale[0]) and hand.h == pytest.approx(8.0 * transform.scale[1])
    disabled = augment(image, hands, WIDTH, HEIGHT, rng, AugmentConfig(enabled=False), mode=mode)
    np.testing.assert_array_equal(disabled[0], fitted)
    assert disabled[1] == moved


def test_augment_config_from_a_hydra_node_and_its_errors():
    node = OmegaConf.create({"scale": [0.5, 2.0], "hue": 0})
    config = dataclass_from(AugmentConfig, node, "augmentation")
    assert config.scale == (0.5, 2.0) and config.hue == 0
    assert dataclass_from(AugmentConfig, None, "augmentation") == AugmentConfig()
    with pytest.raises(UserError, match=r"unknown key\(s\) \['zoom'\] in `augmentation` config: valid keys are"):
        dataclass_from(AugmentConfig, {"zoom": [1, 2]}, "augmentation")
    with pytest.raises(UserError, match="scale .* low <= high.*flip_prob"):
        AugmentConfig(scale=(2.0, 1.0), flip_prob=1.5)
