"""Point and box metrics on small cases computed by hand."""
import numpy as np
import pytest

from heatmapnet.data.hands import OTHER, Hand
from heatmapnet.evaluate.metrics import FALSE_ALARM, IGNORED, PointMetrics

NAN = float("nan")


def hand(x, y, size=20.0, label="open"):
    return Hand(x, y, size, size, label)


def det(x, y, score, w=NAN, h=NAN):
    return [x, y, score, w, h]


def test_perfect_detections_give_ap_f1_and_box_ap_of_one():
    metrics = PointMetrics()
    metrics.update(np.array([det(50, 60, 0.9, 20, 20), det(150, 60, 0.8, 20, 20)]), [hand(50, 60), hand(150, 60)])
    metrics.update(np.array([det(30, 40, 0.7, 20, 20)]), [hand(30, 40)])
    s = metrics.summary(0.5)
    assert (s["point_ap"], s["precision"], s["recall"], s["f1"]) == (1.0, 1.0, 1.0, 1.0)
    assert (s["tp"], s["fp"], s["fn"], s["hands"], s["images"]) == (3, 0, 0, 3, 2)
    assert s["median_error_px"] == 0.0 and s["median_error_size"] == 0.0
    assert s["box_ap50"] == pytest.approx(1.0) and s["box_ap"] == pytest.approx(1.0)


def test_false_alarm_ranked_first_halves_the_ap():
    metrics = PointMetrics()
    metrics.update(np.array([det(200, 200, 0.9), det(50, 50, 0.8)]), [hand(50, 50)])
    # ranking FP, TP: precision 0 then 1/2 at recall 1, so every recall point sees precision 1/2
    everything = metrics.summary(0.05)
    assert everything["point_ap"] == pytest.approx(0.5)
    assert (everything["precision"], everything["recall"], everything["f1"]) == (0.5, 1.0, pytest.approx(2 / 3))
    strict = metrics.summary(0.85)  # only the false alarm is kept
    assert (strict["tp"], strict["fp"], strict["fn"], strict["f1"]) == (0, 1, 1, 0.0)
    assert strict["point_ap"] == everything["point_ap"]  # AP never depends on the operating threshold


def test_ap_interpolates_precision_over_101_recall_points():
    metrics = PointMetrics()
    metrics.update(np.array([det(10, 10, 0.9), det(300, 300, 0.8), det(100, 100, 0.7)]),
                   [hand(10, 10), hand(100, 100)])
    # hit, miss, hit: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> envelope 1 up to recall 0.5 (51 points),
    # then 2/3 for the 50 points above it
    assert metrics.summary(0.5)["point_ap"] == pytest.approx((51 + 50 * 2 / 3) / 101)


def test_a_detection_exactly_at_the_match_radius_still_matches():
    # hand 20 x 20: radius 0.5 * sqrt(20 * 20) = 10 px; (6, 8) away is exactly 10 px
    at_radius, beyond = PointMetrics(), PointMetrics()
    assert at_radius.update(np.array([det(56, 58, 0.9)]), [hand(50, 50)]).outcome.tolist() == [0]
    assert beyond.update(np.array([det(56, 58.01, 0.9)]), [hand(50, 50)]).outcome.tolist() == [FALSE_ALARM]
    # the radius follows the geometric mean of a non-square box: 4 x 16 -> radius 4
    thin = PointMetrics()
    match = thin.update(np.array([det(14, 0, 0.9), det(0, 4.01, 0.8)]), [Hand(10, 0, 4, 16)])
    assert match.outcome.tolist() == [0, FALSE_ALARM]


def test_other_hands_absorb_detections_and_are_never_missed():
    metrics = PointMetrics()
    hands = [hand(50, 50), hand(150, 50, label=OTHER), hand(250, 50, label=OTHER)]
    # the best-scored detection sits on an `other` hand; the open hand comes second
    match = metrics.update(np.array([det(150, 52, 0.9), det(151, 49, 0.85), det(50, 50, 0.8)]), hands)
    assert match.outcome.tolist() == [IGNORED, IGNORED, 0]
    s = metrics.summary(0.5)
    assert (s["tp"], s["fp"], s["fn"], s["ignored"], s["hands"]) == (1, 0, 0, 2, 1)
    assert s["point_ap"] == 1.0 and s["f1"] == 1.0
    assert match.misses(0.5) == [] and match.misses(0.95) == [0]


def test_an_open_hand_takes_precedence_over_an_overlapping_other_hand():
    metrics = PointMetrics()
    match = metrics.update(np.array([det(100, 100, 0.9), det(101, 100, 0.8)]),
                           [hand(100, 100, label=OTHER), hand(102, 100)])
    # first detection takes the open hand; the duplicate falls back on the `other` hand and is ignored
    assert match.outcome.tolist() == [1, IGNORED]


def test_one_detection_cannot_match_two_hands_nor_two_detections_one_hand():
    metrics = PointMetrics()
    # two hands 8 px apart: one detection between them lies within both radii
    match = metrics.update(np.array([det(104, 100, 0.9)]), [hand(100, 100), hand(108, 100)])
    assert match.outcome.tolist() in ([0], [1])
    assert metrics.summary(0.5)["tp"] == 1 and metrics.summary(0.5)["fn"] == 1

    duplicate = PointMetrics()
    match = duplicate.update(np.array([det(100, 100, 0.9), det(101, 101, 0.8)]), [hand(100, 100)])
    assert match.outcome.tolist() == [0, FALSE_ALARM]
    assert (duplicate.summary(0.5)["tp"], duplicate.summary(0.5)["fp"]) == (1, 1)


def test_higher_score_claims_its_closest_hand_first():
    metrics = PointMetrics()
    # the lower-scored detection is listed first: matching must follow score, not input order
    match = metrics.update(np.array([det(107, 100, 0.6), det(102, 100, 0.9)]), [hand(100, 100), hand(108, 100)])
    assert match.detections[:, 2].tolist() == [0.9, 0.6]
    assert match.outcome.tolist() == [0, 1]
    assert metrics.summary(0.5)["median_error_px"] == pytest.approx(1.5)  # errors 2 and 1


def test_median_centre_error_in_pixels_and_hand_sizes_uses_kept_matches_only():
    metrics = PointMetrics()
    metrics.update(np.array([det(53, 50, 0.9), det(400, 400, 0.9)]), [hand(50, 50, size=10)])  # 3 px = 0.3 sizes
    metrics.update(np.array([det(100, 102, 0.8)]), [hand(100, 100, size=20)])  # 2 px = 0.1 sizes
    metrics.update(np.array([det(205, 200, 0.7)]), [hand(200, 200, size=25)])  # 5 px = 0.2 sizes
    metrics.update(np.array([det(309, 300, 0.2)]), [hand(300, 300, size=20)])  # 9 px, below the threshold
    s = metrics.summary(0.5)
    assert s["median_error_px"] == pytest.approx(3.0)
    assert s["median_error_size"] == pytest.approx(0.2)
    low = metrics.summary(0.1)
    assert low["median_error_px"] == pytest.approx(4.0)  # median of 2, 3, 5, 9
    assert low["median_error_size"] == pytest.approx(0.25)  # median of 0.1, 0.2, 0.3, 0.45


def test_box_ap_follows_iou_of_the_size_head_boxes():
    metrics = PointMetrics()
    metrics.update(np.array([det(50, 50, 0.9, 20, 20)]), [hand(50, 50)])  # IoU 1
    metrics.update(np.array([det(50, 50, 0.8, 20, 10)]), [hand(50, 50)])  # IoU 200 / 400 = 0.5 exactly
    s = metrics.summary(0.5)
    assert s["point_ap"] == 1.0
    assert s["box_ap50"] == pytest.approx(1.0)
    # IoU 0.55 .. 0.95: only the first box hits; recall 1/2 reached at precision 1 -> 51 of 101 points
    assert s["box_ap"] == pytest.approx((1 + 9 * 51 / 101) / 10)


def test_box_ap_is_none_without_sizes():
    metrics = PointMetrics()
    metrics.update(np.array([det(50, 50, 0.9, 20, 20)]), [hand(50, 50)])
    metrics.update(np.array([det(50, 50, 0.9)]), [hand(50, 50)])
    s = metrics.summary(0.5)
    assert s["point_ap"] == 1.0 and s["box_ap50"] is None and s["box_ap"] is None


def test_undefined_ratios_are_none_and_missed_hands_count():
    empty = PointMetrics()
    empty.update(np.zeros((0, 5)), [])
    s = empty.summary(0.5)
    assert (s["point_ap"], s["precision"], s["recall"], s["f1"], s["median_error_px"]) == (None,) * 5
    assert s["images"] == 1

    blind = PointMetrics()
    blind.update(np.zeros((0, 5)), [hand(10, 10), hand(40, 10)])
    s = blind.summary(0.5)
    assert (s["point_ap"], s["recall"], s["f1"], s["precision"], s["fn"]) == (0.0, 0.0, 0.0, None, 2)


def test_best_threshold_maximises_f1_between_scores():
    metrics = PointMetrics()
    metrics.update(np.array([det(10, 10, 0.9), det(200, 200, 0.8)]), [hand(10, 10), hand(60, 10)])
    metrics.update(np.array([det(100, 100, 0.7), det(300, 300, 0.3)]), [hand(100, 100)])
    # cuts after 0.9, 0.8, 0.7, 0.3 give F1 2/4, 2/5, 4/6, 4/7 with 3 hands: keep down to 0.7
    threshold = metrics.best_threshold()
    assert threshold == pytest.approx(0.5)
    assert metrics.summary(threshold)["f1"] == pytest.approx(2 / 3)
    assert all(metrics.summary(t)["f1"] <= 2 / 3 + 1e-12 for t in (0.95, 0.85, 0.75, 0.2, 0.0))


def test_a_tolerance_moves_the_threshold_to_the_top_of_a_flat_f1_plateau():
    metrics = PointMetrics()
    # 10 hands; hits at 0.9..0.5, a false alarm at 0.3, one more hit at 0.2: F1 peaks low, but barely
    scores_hits = [(0.9, True), (0.8, True), (0.7, True), (0.6, True), (0.5, True), (0.3, False), (0.2, True)]
    hands = [hand(50 * k, 10) for k in range(10)]
    detections = [det(50 * k if hit else 50 * k + 25, 10 if hit else 200, score) for k, (score, hit)
                  in enumerate(scores_hits)]
    metrics.update(np.array(detections), hands)
    best, f1 = metrics.best_threshold(), metrics.summary(metrics.best_threshold())["f1"]
    assert best == pytest.approx(0.2) and f1 == pytest.approx(12 / 17)  # tp 6, fp 1, fn 4
    plateau = metrics.best_threshold(tolerance=0.05)
    assert plateau == pytest.approx(0.4) and metrics.summary(plateau)["f1"] == pytest.approx(10 / 15)  # 2/3
    assert metrics.best_threshold(tolerance=0.0) == best


def test_best_threshold_keeps_tied_scores_together_and_needs_a_hit():
    metrics = PointMetrics()
    # a hit and a false alarm tied at 0.6, then a hit at 0.4: cutting inside the tie is impossible
    metrics.update(np.array([det(10, 10, 0.6), det(300, 300, 0.6), det(100, 100, 0.4)]),
                   [hand(10, 10), hand(100, 100)])
    assert metrics.best_threshold() == pytest.approx(0.4)  # F1 0.5 at 0.6, 0.8 keeping everything

    nothing = PointMetrics()
    nothing.update(np.array([det(300, 300, 0.9)]), [hand(10, 10)])
    assert nothing.best_threshold() is None


def test_counts_at_a_threshold_equal_matching_only_the_kept_detections():
    """Greedy-by-score matching is prefix-consistent: dropping low scores never changes other matches."""
    rng = np.random.default_rng(3)
    everything, kept_only = PointMetrics(), PointMetrics()
    threshold = 0.5
    for _ in range(30):
        hands = [Hand(*rng.uniform(0, 200, 2), *rng.uniform(10, 60, 2), label=rng.choice(["open", OTHER], p=[0.8, 0.2]))
                 for _ in range(rng.integers(0, 5))]
        rows = [det(h.x + rng.normal(0, 8), h.y + rng.normal(0, 8), rng.uniform()) for h in hands for _ in range(2)]
        rows += [det(*rng.uniform(0, 200, 2), rng.uniform()) for _ in range(3)]
        rows = np.array(rows).reshape(-1, 5)
        everything.update(rows, hands)
        kept_only.update(rows[rows[:, 2] >= threshold], hands)
    a, b = everything.summary(threshold), kept_only.summary(threshold)
    keys = ("tp", "fp", "fn", "ignored", "precision", "recall", "f1", "median_error_px", "median_error_size")
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    assert a["tp"] > 0 and a["fp"] > 0 and a["ignored"] > 0


def test_other_hands_absorb_detections_out_to_the_ignore_radius():
    hands = [Hand(50, 50, 10, 10, label=OTHER)]
    near = np.array([[58.0, 50.0, 0.9, np.nan, np.nan]])  # 8 px away: beyond the 5 px match radius
    plain = PointMetrics()
    plain.update(near, hands)
    assert plain.summary(0.5)["fp"] == 1
    wide = PointMetrics(ignore_radius=lambda hand: 12.0)
    wide.update(near, hands)
    assert wide.summary(0.5)["fp"] == 0 and wide.summary(0.5)["ignored"] == 1
    open_hand = PointMetrics(ignore_radius=lambda hand: 12.0)  # the wider radius never applies to open hands
    open_hand.update(near, [Hand(50, 50, 10, 10)])
    assert open_hand.summary(0.5)["tp"] == 0 and open_hand.summary(0.5)["fp"] == 1


def test_recall_by_size_buckets_hands_by_their_size_at_the_network_input():
    from heatmapnet.evaluate.metrics import false_alarms_per_image, recall_by_size, size_bucket_names

    metrics = PointMetrics()
    hands = [hand(20, 20, 20), hand(100, 20, 40), hand(200, 20, 80), hand(300, 100, 160), hand(300, 300, 30, OTHER)]
    found = np.array([det(20, 20, 0.9), det(200, 20, 0.4), det(300, 100, 0.8), det(50, 200, 0.7)])
    match = metrics.update(found, hands)
    assert size_bucket_names() == ["<24", "24-48", "48-96", ">=96"]
    at_full = recall_by_size([(match, 1.0)], threshold=0.5)
    assert {k: (v["hands"], v["found"]) for k, v in at_full.items()} == \
        {"<24": (1, 1), "24-48": (1, 0), "48-96": (1, 0), ">=96": (1, 1)}  # the 80 px hand scored under 0.5
    assert at_full["24-48"]["recall"] == 0.0 and at_full["<24"]["recall"] == 1.0
    halved = recall_by_size([(match, 0.5)], threshold=0.3)  # a frame shrunk to half at the input
    assert {k: (v["hands"], v["found"]) for k, v in halved.items()} == \
        {"<24": (2, 1), "24-48": (1, 1), "48-96": (1, 1), ">=96": (0, 0)}
    assert halved[">=96"]["recall"] is None
    empty = metrics.update(np.array([det(10, 10, 0.9), det(80, 80, 0.2)]), [])
    assert false_alarms_per_image([match, empty], threshold=0.5) == 1.0  # (1 + 1) / 2
    assert false_alarms_per_image([], threshold=0.5) is None
