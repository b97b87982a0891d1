"""Decode on synthetic maps with known sub-pixel peaks: refinement accuracy, NMS, threshold, top-k, sizes."""
import numpy as np
import pytest
import torch
from scipy.ndimage import maximum_filter

from heatmapnet.runtime.decode import DecodeConfig, decode, peak_mask

ROWS, COLS = 15, 20


def logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def gaussian_logits(peaks, sigma, rows=ROWS, cols=COLS):
    """A 1x1xHxW logit map whose sigmoid is the max of Gaussian blobs (x, y, amplitude) in cell units,
    with cell (i, j) centred at (j, i): the decoded input-pixel position is (x + 0.5) * stride."""
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float64)
    prob = np.zeros((rows, cols))
    for x, y, amplitude in peaks:
        prob = np.maximum(prob, amplitude * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)))
    return logit(prob)[None, None].astype(np.float32)


def offsets(count, seed=0):
    """Sub-cell offsets of the true peak from its nearest cell centre, covering the whole cell."""
    return np.random.default_rng(seed).uniform(-0.49, 0.49, size=(count, 2))


def refinement_errors(refine, sigma, stride=8, count=60):
    """Distance (in cells) between decoded and true peak over many sub-pixel positions."""
    errors = []
    for dx, dy in offsets(count):
        x, y = 9 + dx, 7 + dy
        found = decode(gaussian_logits([(x, y, 0.95)], sigma), stride=stride,
                       config=DecodeConfig(threshold=0.3, refine=refine))[0]
        assert len(found) == 1
        errors.append(np.hypot(found[0, 0] / stride - 0.5 - x, found[0, 1] / stride - 0.5 - y))
    return np.array(errors)


@pytest.mark.parametrize("sigma", [0.5, 0.6])
def test_weighted_mean_is_within_a_tenth_of_a_cell_for_sharp_peaks(sigma):
    weighted = refinement_errors("weighted", sigma)
    argmax = refinement_errors("argmax", sigma)
    assert weighted.max() < 0.1
    assert weighted.mean() < argmax.mean() / 4


def test_weighted_mean_is_biased_towards_the_centre_cell_for_broad_peaks():
    # The 3x3 window cuts off a broad peak's tails asymmetrically: the estimate falls short of the
    # true offset. This is why "quadratic" exists; the bias is kept here as a documented fact.
    for dx in (0.2, 0.4):
        found = decode(gaussian_logits([(9 + dx, 7, 0.95)], sigma=1.5), config=DecodeConfig(threshold=0.3))[0]
        estimated = found[0, 0] / 8 - 0.5 - 9
        assert 0 < estimated < dx - 0.1


@pytest.mark.parametrize("sigma", [0.7, 1.0, 2.0])
def test_quadratic_refinement_is_exact_for_gaussian_peaks(sigma):
    assert refinement_errors("quadratic", sigma).max() < 1e-3


def test_quarter_offset_beats_argmax_and_stays_within_its_step():
    quarter, argmax = refinement_errors("quarter", 1.0), refinement_errors("argmax", 1.0)
    assert quarter.mean() < 0.7 * argmax.mean()
    assert quarter.max() <= np.hypot(0.25, 0.25) + 1e-6  # never more than a quarter cell off per axis


def test_peak_on_a_cell_centre_decodes_to_that_cell_centre_in_input_pixels():
    for refine in ("weighted", "quadratic", "quarter", "argmax"):
        found = decode(gaussian_logits([(4, 11, 0.9)], sigma=1.0), stride=16,
                       config=DecodeConfig(threshold=0.5, refine=refine))[0]
        np.testing.assert_allclose(found[0, :2], [(4 + 0.5) * 16, (11 + 0.5) * 16], atol=1e-3)
        assert found[0, 2] == pytest.approx(0.9, abs=1e-4)


@pytest.mark.parametrize("refine", ["weighted", "quadratic", "quarter"])
def test_peak_on_the_border_stays_finite_and_in_its_cell(refine):
    # Outside the map there is no evidence: quadratic and quarter then leave that axis unrefined,
    # the weighted mean loses the outside tail and is pulled inwards (~0.2 cell here). Neither may
    # produce NaN or leave the peak's cell.
    found = decode(gaussian_logits([(0.2, 0.0, 0.9)], sigma=0.6), stride=8,
                   config=DecodeConfig(threshold=0.5, refine=refine))[0]
    assert len(found) == 1 and np.isfinite(found[0, :2]).all()
    x, y = found[0, :2] / 8 - 0.5
    assert abs(x - 0.2) <= 0.25 and abs(y) <= 0.25


def test_nms_separates_two_close_peaks_only_when_the_kernel_allows():
    # Two peaks two cells apart with a dip between them: a 3x3 max-pool keeps both, a 5x5 only the higher.
    logits = gaussian_logits([(8, 7, 0.9), (10, 7, 0.8)], sigma=0.6)
    both = decode(logits, config=DecodeConfig(threshold=0.5, nms_kernel=3))[0]
    np.testing.assert_allclose(both[:, 0] / 8 - 0.5, [8, 10], atol=0.05)
    one = decode(logits, config=DecodeConfig(threshold=0.5, nms_kernel=5))[0]
    assert len(one) == 1 and one[0, 2] == pytest.approx(0.9, abs=1e-4)


def test_a_saturated_peak_is_reported_once():
    # Logits 20 and 24 both become probability 1.0 in float32: still one hand, at the higher logit.
    logits = np.full((1, 1, ROWS, COLS), -10.0, np.float32)
    logits[0, 0, 7, 9], logits[0, 0, 7, 10] = 20.0, 24.0
    found = decode(logits, config=DecodeConfig(threshold=0.5, refine="argmax"))[0]
    assert len(found) == 1 and found[0, 0] == (10 + 0.5) * 8


def test_threshold_and_top_k_keep_the_best_peaks_in_score_order():
    peaks = [(3, 3, 0.95), (10, 3, 0.6), (16, 3, 0.8), (3, 11, 0.4), (10, 11, 0.7), (16, 11, 0.9)]
    logits = gaussian_logits(peaks, sigma=0.7)
    above = decode(logits, config=DecodeConfig(threshold=0.5))[0]
    np.testing.assert_allclose(above[:, 2], [0.95, 0.9, 0.8, 0.7, 0.6], atol=1e-4)
    best = decode(logits, config=DecodeConfig(threshold=0.5, top_k=2))[0]
    np.testing.assert_allclose(best[:, :2] / 8 - 0.5, [[3, 3], [16, 11]], atol=0.05)
    assert len(decode(logits, config=DecodeConfig(threshold=0.99))[0]) == 0


def test_size_head_gives_box_size_in_input_pixels_and_nan_without_it():
    logits = gaussian_logits([(5, 6, 0.9)], sigma=0.8)
    size = np.zeros((1, 2, ROWS, COLS), np.float32)
    size[0, :, 6, 5] = 4.5, 3.0  # cells, read at the peak cell
    with_size = decode(logits, size, stride=8)[0]
    np.testing.assert_allclose(with_size[0, 3:], [36.0, 24.0])
    assert np.isnan(decode(logits, None, stride=8)[0][0, 3:]).all()


def test_maps_without_a_peak_above_the_threshold_give_empty_rows_of_the_usual_shape():
    logits = np.concatenate([gaussian_logits([(2, 2, 0.2)], 0.7), gaussian_logits([], 0.7)])
    for found in (decode(logits, config=DecodeConfig(threshold=0.5)), decode(logits[:1], config=DecodeConfig(0.1))):
        assert all(rows.shape[1] == 5 and rows.dtype == np.float32 for rows in found)
    assert [len(rows) for rows in decode(logits, config=DecodeConfig(threshold=0.5))] == [0, 0]
    assert [len(rows) for rows in decode(logits, config=DecodeConfig(threshold=0.1))] == [1, 0]


def test_a_batch_decodes_each_image_separately():
    logits = np.concatenate([gaussian_logits([(2, 2, 0.9)], 0.7), gaussian_logits([], 0.7),
                             gaussian_logits([(5, 9, 0.8), (15, 3, 0.7)], 0.7)])
    found = decode(torch.from_numpy(logits), config=DecodeConfig(threshold=0.5))
    assert [len(rows) for rows in found] == [1, 0, 2]
    np.testing.assert_allclose(found[2][:, :2] / 8 - 0.5, [[5, 9], [15, 3]], atol=0.05)


@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
def test_peak_nms_equals_scipys_maximum_filter_including_borders_and_ties(kernel):
    """The NMS moved from scipy.ndimage (which left the tracking install) to OpenCV's dilation, then to NumPy: the
    same peaks on maps of every size down to one cell, with maxima on the borders and plateaus of equal cells."""
    rng = np.random.default_rng(kernel)
    for trial in range(200):
        shape = (rng.integers(1, 4), 1, rng.integers(1, ROWS + 1), rng.integers(1, COLS + 1))
        logits = rng.normal(0, 3, shape).astype(np.float32)
        if trial % 2:
            logits = np.round(logits)  # ties between neighbours
        edges = [(..., 0, slice(None)), (..., -1, slice(None)), (..., 0), (..., -1)]  # top, bottom, left, right
        logits[edges[trial % 4]] = logits.max() + 1  # a whole border row or column above everything inside
        expected = logits == maximum_filter(logits, size=(1, 1, kernel, kernel), mode="constant", cval=-np.inf)
        np.testing.assert_array_equal(peak_mask(logits, kernel), expected)


def test_bad_decode_settings_are_rejected():
    with pytest.raises(ValueError, match="refine"):
        DecodeConfig(refine="centroid")
    with pytest.raises(ValueError, match="odd"):
        DecodeConfig(nms_kernel=4)


def test_one_per_hand_drops_a_second_peak_inside_a_stronger_hand_only():
    """A large hand with a second peak 3 cells from its centre (a V-sign's fingers) gives one detection;
    a hand 8 cells away stays; without sizes nothing is dropped."""
    logits = gaussian_logits([(5, 7, 0.95), (8, 7, 0.7), (16, 7, 0.9)], sigma=0.8)
    size = np.full((1, 2, ROWS, COLS), 6.0, np.float32)  # hands 6 cells across

    def found(radius, with_size=True):
        return decode(logits, size if with_size else None, stride=16,
                      config=DecodeConfig(threshold=0.3, one_per_hand=radius))[0]
    assert len(found(0.0)) == 3  # off: the 3x3 NMS keeps all three peaks
    kept = found(0.6)  # 3 cells = 0.5 hand sizes from the strongest: dropped; 11 cells: kept
    assert len(kept) == 2 and np.allclose(sorted(kept[:, 0] / 16 - 0.5), [5, 16], atol=0.05)
    assert len(found(0.4)) == 3  # 0.5 hand sizes lie beyond a 0.4 reach
    assert len(found(2.0)) == 1  # a reach wider than the gap between hands merges them: why it is kept small
    assert len(found(0.6, with_size=False)) == 3
    with pytest.raises(ValueError, match="one_per_hand"):
        DecodeConfig(one_per_hand=-0.1)
