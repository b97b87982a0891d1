"""Frame <-> network-input coordinates: round trips, agreement with the pixels `apply` produces, and the
detector mapping decoded peaks back to source pixels through the same transform."""
import numpy as np
import pytest
from helpers_video import write_random_checkpoint

from heatmapnet.errors import UserError
from heatmapnet.model.config import ModelConfig
from heatmapnet.runtime.detector import HandDetector
from heatmapnet.runtime.preprocess import FrameTransform, Normalization
from heatmapnet.runtime.runtimes import open_runtime

SIZES = [(640, 480), (480, 852), (1280, 720), (300, 300), (161, 97)]


@pytest.mark.parametrize("mode", ["letterbox", "stretch"])
@pytest.mark.parametrize("width, height", SIZES)
def test_to_input_and_to_source_are_inverse(mode, width, height):
    transform = FrameTransform(width, height, 320, 240, mode)
    points = np.random.default_rng(0).uniform([0, 0], [width, height], size=(50, 2))
    np.testing.assert_allclose(transform.to_source(transform.to_input(points)), points, atol=1e-9)


@pytest.mark.parametrize("mode", ["letterbox", "stretch"])
@pytest.mark.parametrize("width, height", SIZES)
def test_frame_corners_map_onto_the_resized_area(mode, width, height):
    transform = FrameTransform(width, height, 320, 240, mode)
    left, top = transform.offset
    resized_width, resized_height = transform.resized_size
    np.testing.assert_allclose(transform.to_input([[0, 0], [width, height]]),
                               [[left, top], [left + resized_width, top + resized_height]])
    if mode == "stretch":
        assert (left, top, resized_width, resized_height) == (0, 0, 320, 240)
    else:  # aspect ratio kept (to rounding), padding centred
        scale_x, scale_y = transform.scale
        assert abs(scale_x - scale_y) <= 0.5 / width + 0.5 / height
        assert abs(2 * left + resized_width - 320) <= 1 and abs(2 * top + resized_height - 240) <= 1


@pytest.mark.parametrize("mode", ["letterbox", "stretch"])
@pytest.mark.parametrize("width, height", [(640, 480), (480, 852), (200, 100)])
def test_a_bright_spot_lands_where_to_input_says(mode, width, height):
    frame = np.zeros((height, width, 3), np.uint8)
    spot = np.array([width * 0.3, height * 0.7])
    x0, y0 = (spot - 0.08 * min(width, height)).astype(int)
    x1, y1 = (spot + 0.08 * min(width, height)).astype(int)
    frame[y0:y1, x0:x1] = 255
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])  # continuous coordinates of the square's centre
    transform = FrameTransform(width, height, 320, 240, mode)
    image = transform.apply(frame)[..., 0].astype(np.float64)
    assert image.shape == (240, 320)
    ys, xs = np.mgrid[0:240, 0:320] + 0.5  # pixel k covers [k, k+1)
    found = np.array([(xs * image).sum(), (ys * image).sum()]) / image.sum()
    np.testing.assert_allclose(found, transform.to_input(centre), atol=0.3)


def test_letterbox_pads_with_black_outside_the_resized_area():
    transform = FrameTransform(480, 852, 320, 240, "letterbox")
    image = transform.apply(np.full((852, 480, 3), 200, np.uint8))
    left, _ = transform.offset
    width, _ = transform.resized_size
    assert left > 0
    assert (image[:, :left] == 0).all() and (image[:, left + width:] == 0).all()
    assert (image[:, left:left + width] == 200).all()


def test_normalization_uses_the_network_channel_order():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    norm = Normalization(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    np.testing.assert_allclose(norm.apply(rgb)[:, 0, 0], [1.0, 0.0, 0.0])
    bgr_net = Normalization(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), color="bgr")
    np.testing.assert_allclose(bgr_net.apply(rgb)[:, 0, 0], [0.0, 0.0, 1.0])


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    path = write_random_checkpoint(tmp_path_factory.mktemp("model") / "random.pt")
    return HandDetector(open_runtime("torch", path, threads=2))


@pytest.mark.parametrize("width, height", [(480, 852), (1280, 720)])
def test_detector_maps_peaks_and_sizes_back_to_source_pixels(detector, width, height):
    """A peak decoded on the network's map comes back at the source point it was placed under."""
    frame = np.zeros((height, width, 3), np.uint8)
    transform = detector.transform_for(frame)
    logits, size = detector.infer(detector.prepare(frame))
    target = np.array([width * 0.62, height * 0.35])
    column, row = (transform.to_input(target) / detector.runtime.stride - 0.5).round().astype(int)
    logits = np.full_like(logits, -10.0)
    logits[0, 0, row, column] = 5.0
    size = np.zeros_like(size)
    size[0, :, row, column] = 6.0, 3.0  # cells
    found = detector.decode(logits, size, transform)
    assert len(found) == 1
    cell_centre = (np.array([column, row]) + 0.5) * detector.runtime.stride
    np.testing.assert_allclose(found[0, :2], transform.to_source(cell_centre), atol=1e-3)
    assert np.abs(found[0, :2] - target).max() <= detector.runtime.stride / min(transform.scale)
    np.testing.assert_allclose(found[0, 3:], np.array([6.0, 3.0]) * detector.runtime.stride / transform.scale)


@pytest.mark.parametrize("orientation, frame, expected_input, expected_scale", [
    ("follow", (480, 640), (240, 320), 0.5),     # portrait photo: portrait input, no padding
    ("fixed", (480, 640), (320, 240), 0.375),    # letterboxed into landscape: hands 3/4 the size
    ("follow", (640, 480), (320, 240), 0.5),     # landscape camera: unchanged
    ("follow", (300, 300), (320, 240), 0.8),     # square: the model's own input
])
def test_input_follows_the_frame_orientation_at_the_same_cost(orientation, frame, expected_input, expected_scale):
    config = ModelConfig(input_width=320, input_height=240, orientation=orientation)
    transform = config.transform_for(*frame)
    assert (transform.dst_width, transform.dst_height) == expected_input
    assert transform.dst_width * transform.dst_height == 320 * 240
    assert min(transform.scale) == pytest.approx(expected_scale, abs=1e-3)
    image = transform.apply(np.full((frame[1], frame[0], 3), 200, np.uint8))
    assert image.shape == (expected_input[1], expected_input[0], 3)


def test_a_portrait_model_input_turns_landscape_for_landscape_frames():
    config = ModelConfig(input_width=240, input_height=320)
    assert config.input_size_for(1280, 720) == (320, 240) and config.input_size_for(720, 1280) == (240, 320)


def test_orientation_is_checked_in_model_files_and_settings(detector):
    with pytest.raises(UserError, match="model orientation must be one of follow, fixed"):
        ModelConfig(orientation="sideways")
    with pytest.raises(UserError, match="input_orientation must be one of follow, fixed"):
        detector.runtime.set_input(orientation="upright")
