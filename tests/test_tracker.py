"""The tracker on scripted trajectories: identities through crossings and gaps, confirmation, gating,
smoothing of a still hand, lag on a moving one, and time steps taken from timestamps."""
import numpy as np
import pytest

from heatmapnet.tracking.smoothing import OneEuroConfig, OneEuroFilter
from heatmapnet.tracking.tracker import MultiTracker, TrackerConfig

SIZE = 80.0  # hand size in pixels
FPS = 30.0


def detection(x, y, score=0.9, size=SIZE):
    return [x, y, score, size, size]


def run(tracker, frames, fps=FPS, times=None):
    """Feed per-frame detection lists; returns the tracks reported at every frame."""
    times = np.arange(len(frames)) / fps if times is None else times
    return [tracker.update(t, np.array(rows, np.float64).reshape(-1, 5)) for t, rows in zip(times, frames)]


def track_near(tracks, point, within=0.3 * SIZE):
    near = [t for t in tracks if np.hypot(t.x - point[0], t.y - point[1]) < within]
    assert len(near) == 1, f"expected one track near {point}, got {tracks}"
    return near[0]


def test_two_hands_crossing_keep_their_ids():
    """Hands crossing in an X; where they overlap the detector sees a single peak between them."""
    rng = np.random.default_rng(0)
    count = 60
    progress = np.linspace(0, 1, count)
    hand_a = np.stack([40 + 240 * progress, 100 + 40 * progress], axis=1)
    hand_b = np.stack([280 - 240 * progress, 100 + 40 * progress], axis=1)
    frames = []
    for a, b in zip(hand_a, hand_b):
        if np.hypot(*(a - b)) < 0.5 * SIZE:
            frames.append([detection(*((a + b) / 2))])
        else:
            frames.append([detection(*(a + rng.normal(0, 1, 2))), detection(*(b + rng.normal(0, 1, 2)))])
    assert sum(len(f) == 1 for f in frames) >= 4  # the crossing really hides one hand for a few frames
    history = run(MultiTracker(), frames)
    id_a, id_b = track_near(history[10], hand_a[10]).id, track_near(history[10], hand_b[10]).id
    assert id_a != id_b
    for index in range(45, count):
        assert track_near(history[index], hand_a[index]).id == id_a
        assert track_near(history[index], hand_b[index]).id == id_b
    assert {t.id for tracks in history for t in tracks} == {id_a, id_b}


@pytest.mark.parametrize("gap", ["max_age - 1", "max_age", "max_age + 1"])
def test_a_hand_keeps_its_id_through_gaps_up_to_max_age(gap):
    config = TrackerConfig()
    missing = eval(gap, {"max_age": config.max_age})
    speed = 1.5 * SIZE  # pixels per second, to the right
    positions = [(40 + speed * i / FPS, 120.0) for i in range(20 + missing + 10)]
    frames = [[] if 20 <= i < 20 + missing else [detection(*p)] for i, p in enumerate(positions)]
    history = run(MultiTracker(config), frames)
    first_id = history[19][0].id
    for index in range(20, 20 + missing):
        coasting = [t for t in history[index] if t.id == first_id]
        if coasting:  # coasts on the prediction, flagged as missed
            assert coasting[0].missed
            assert abs(coasting[0].x - positions[index][0]) < 0.1 * SIZE
    assert not history[-1][0].missed
    if missing <= config.max_age:
        assert [t.id for t in history[-1]] == [first_id]
        assert all(len(tracks) == 1 for tracks in history[20:20 + missing])
    else:
        assert [t.id for t in history[-1]] == [first_id + 1]
        assert history[20 + missing - 1] == []  # dropped at the miss that exceeded max_age


def test_tracks_wait_for_min_hits_and_spurious_detections_never_get_an_id():
    config = TrackerConfig(min_hits=3)
    frames = [[detection(100, 100)] for _ in range(8)]
    frames[2].append(detection(250, 60))  # a one-frame false positive
    frames[5].append(detection(250, 200))  # and a two-frame one
    frames[6].append(detection(250, 200))
    history = run(MultiTracker(config), frames)
    assert [len(tracks) for tracks in history] == [0, 0, 1, 1, 1, 1, 1, 1]
    assert {t.id for tracks in history for t in tracks} == {1}
    assert history[2][0].age == 3 and history[-1][0].age == 8


def test_confirmation_needs_consecutive_hits():
    hits = [[detection(100, 100)], [detection(100, 100)], [], [detection(100, 100)]]
    assert run(MultiTracker(TrackerConfig(min_hits=3)), hits)[-1] == []
    assert len(run(MultiTracker(TrackerConfig(min_hits=3)), hits + [[detection(100, 100)]] * 2)[-1]) == 1


def test_ids_count_up_in_order_of_confirmation():
    frames = [[detection(60, 60)]] * 3 + [[detection(60, 60), detection(250, 60), detection(250, 200)]] * 4
    final = run(MultiTracker(TrackerConfig(min_hits=2)), frames)[-1]
    assert [t.id for t in final] == [1, 2, 3]
    assert track_near(final, (60, 60)).id == 1


def test_each_track_names_the_detection_row_it_matched_and_none_while_coasting():
    """Two hands whose detections come in either order: the row follows the hand, not the list position."""
    left, right, far = detection(60, 100), detection(260, 100), detection(160, 220, size=30.0)
    frames = [[left, right], [right, far, left], [far, left, right], [right], [right, left]]
    reported = run(MultiTracker(TrackerConfig(min_hits=1)), frames)
    rows = [{(round(t.x), t.missed): t.detection for t in tracks if t.id in (1, 2)} for tracks in reported]
    assert rows == [{(60, False): 0, (260, False): 1}, {(60, False): 2, (260, False): 0},
                    {(60, False): 1, (260, False): 2}, {(60, True): None, (260, False): 0},
                    {(60, False): 1, (260, False): 0}]


def test_a_detection_beyond_the_gate_starts_a_new_track():
    config = TrackerConfig(min_hits=1, gate=1.0)
    frames = [[detection(100, 100)]] * 5 + [[detection(100 + 1.5 * SIZE, 100)]]
    last = run(MultiTracker(config), frames)[-1]
    assert {(t.id, t.missed) for t in last} == {(1, True), (2, False)}
    frames[-1] = [detection(100 + 0.8 * SIZE, 100)]  # within the gate: same hand, moved fast
    assert [(t.id, t.missed) for t in run(MultiTracker(config), frames)[-1]] == [(1, False)]


def jitter(points):
    """RMS frame-to-frame displacement."""
    return float(np.sqrt(np.mean(np.sum(np.diff(points, axis=0) ** 2, axis=1))))


@pytest.mark.parametrize("smoother, least_reduction", [("kalman", 5.0), ("one_euro", 5.0)])
def test_smoothing_reduces_the_jitter_of_a_still_hand_at_least_fivefold(smoother, least_reduction):
    rng = np.random.default_rng(1)
    raw = np.array([160.0, 120.0]) + rng.normal(0, 0.03 * SIZE, size=(300, 2))  # 2.4 px detector noise
    history = run(MultiTracker(TrackerConfig(smoother=smoother, min_hits=1)), [[detection(*p)] for p in raw])
    tracked = np.array([[tracks[0].x, tracks[0].y] for tracks in history])
    assert {tracks[0].id for tracks in history} == {1}
    settled = slice(30, None)  # after one second
    assert jitter(raw[settled]) / jitter(tracked[settled]) >= least_reduction
    assert np.hypot(*(tracked[settled].mean(axis=0) - [160, 120])) < 0.02 * SIZE  # no bias either


def test_no_smoothing_reports_the_detections_themselves():
    rng = np.random.default_rng(2)
    raw = np.array([160.0, 120.0]) + rng.normal(0, 2.0, size=(40, 2))
    history = run(MultiTracker(TrackerConfig(smoother="none", min_hits=1)), [[detection(*p)] for p in raw])
    np.testing.assert_allclose([[t[0].x, t[0].y] for t in history], raw)


@pytest.mark.parametrize("smoother", ["kalman", "one_euro"])
def test_a_waving_hand_is_followed_closely_under_one_id(smoother):
    """1 Hz side-to-side wave of one hand size amplitude (peak speed ~6 hand sizes per second)."""
    rng = np.random.default_rng(3)
    t = np.arange(150) / FPS
    truth = np.stack([160 + SIZE * np.sin(2 * np.pi * t), np.full_like(t, 120.0)], axis=1)
    raw = truth + rng.normal(0, 0.03 * SIZE, size=truth.shape)
    history = run(MultiTracker(TrackerConfig(smoother=smoother, min_hits=1)), [[detection(*p)] for p in raw])
    assert {t.id for tracks in history for t in tracks} == {1}
    tracked = np.array([[tracks[0].x, tracks[0].y] for tracks in history])
    error = np.sqrt(np.mean(np.sum((tracked[30:] - truth[30:]) ** 2, axis=1)))
    assert error < 0.2 * SIZE


def test_velocity_and_prediction_follow_timestamps_not_frame_counts():
    """Irregular frame intervals (a camera dropping frames): velocity in pixels per second stays right."""
    rng = np.random.default_rng(4)
    times = np.cumsum(rng.choice([1 / 60, 1 / 30, 1 / 10], size=120))
    velocity = np.array([90.0, -30.0])
    positions = np.array([100.0, 150.0]) + times[:, None] * velocity
    history = run(MultiTracker(TrackerConfig(min_hits=1)), [[detection(*p)] for p in positions], times=times)
    final = history[-1][0]
    np.testing.assert_allclose([final.vx, final.vy], velocity, atol=0.05 * np.abs(velocity).max())
    np.testing.assert_allclose([final.x, final.y], positions[-1], atol=0.02 * SIZE)


def test_tracks_without_a_size_head_report_no_size():
    config = TrackerConfig(min_hits=1)
    frames = [[[100 + 2 * i, 100, 0.8, np.nan, np.nan]] for i in range(10)]
    history = run(MultiTracker(config), frames)
    assert all(np.isnan(tracks[0].w) and np.isnan(tracks[0].h) for tracks in history)
    assert history[-1][0].x == pytest.approx(118, abs=1.0)
    # the gate is then measured in `fallback_size` pixels
    jump = run(MultiTracker(config), frames + [[[118 + 1.5 * config.fallback_size, 100, 0.8, np.nan, np.nan]]])
    assert {t.id for t in jump[-1]} == {1, 2}


def test_sizes_are_smoothed_and_reported():
    rng = np.random.default_rng(5)
    frames = [[[160, 120, 0.9, 60 + rng.normal(0, 3), 100 + rng.normal(0, 3)]] for _ in range(60)]
    final = run(MultiTracker(TrackerConfig(min_hits=1)), frames)[-1][0]
    assert final.w == pytest.approx(60, abs=2.5) and final.h == pytest.approx(100, abs=2.5)


def test_one_euro_filter_smooths_slow_changes_more_than_fast_ones():
    """The adaptive cutoff: the same filter lags little on a fast ramp and smooths noise when still."""
    config = OneEuroConfig(min_cutoff=0.5, beta=2.0)
    times = np.arange(90) / FPS
    still, ramp = OneEuroFilter(config), OneEuroFilter(config)
    noise = np.random.default_rng(6).normal(0, 1.0, size=90)
    still_out = np.array([still(t, np.array([v]), scale=SIZE)[0] for t, v in zip(times, noise)])
    ramp_in = 200.0 * times  # 200 px/s: 2.5 hand sizes per second with scale=SIZE
    ramp_out = np.array([ramp(t, np.array([v]), scale=SIZE)[0] for t, v in zip(times, ramp_in)])
    assert np.std(still_out[30:]) < 0.3 * np.std(noise[30:])
    assert abs(ramp_in[-1] - ramp_out[-1]) < 0.1 * SIZE


def test_bad_tracker_settings_are_rejected():
    with pytest.raises(ValueError, match="smoother"):
        TrackerConfig(smoother="median")
    with pytest.raises(ValueError, match="gate"):
        TrackerConfig(gate=0)
    with pytest.raises(ValueError, match="min_hits"):
        TrackerConfig(min_hits=0)


def test_a_track_does_not_jump_to_a_detection_of_another_size():
    """A face (or a nearer hand) inside the gate of a hand that just vanished starts its own track."""
    config = TrackerConfig(min_hits=1, max_size_ratio=1.5)
    face = detection(100 + 0.5 * SIZE, 100, size=2 * SIZE)
    last = run(MultiTracker(config), [[detection(100, 100)]] * 5 + [[face]])[-1]
    assert {(t.id, t.missed) for t in last} == {(1, True), (2, False)}
    same_size = detection(100 + 0.5 * SIZE, 100, size=1.2 * SIZE)  # the same hand, turned a little
    assert [(t.id, t.missed) for t in run(MultiTracker(config), [[detection(100, 100)]] * 5 + [[same_size]])[-1]] \
        == [(1, False)]


def test_a_coasting_track_that_leaves_the_frame_is_dropped():
    tracker = MultiTracker(TrackerConfig(min_hits=1, max_age=10))
    frames = [[detection(500 + 0.3 * SIZE * i, 200)] for i in range(6)] + [[]] * 4  # exits a 640-wide frame
    tracks = [tracker.update(i / FPS, np.array(rows).reshape(-1, 5), frame_size=(640, 480))
              for i, rows in enumerate(frames)]
    assert tracks[5] and not tracks[5][0].missed
    assert tracks[-1] == [], "a track predicted outside the frame must be dropped"
    assert all(0 <= t.x <= 640 for frame in tracks for t in frame)
    unbounded = run(MultiTracker(TrackerConfig(min_hits=1, max_age=10)), frames)
    assert unbounded[-1][0].missed and unbounded[-1][0].x > 640  # without the frame size it coasts on


def test_a_size_ratio_below_one_is_rejected():
    with pytest.raises(ValueError):
        TrackerConfig(max_size_ratio=0.9)


def test_a_coasting_track_cannot_take_the_detection_of_a_hand_still_followed():
    """Hand B vanishes next to hand A; a face appears near both. A keeps its detection; B must not steal it
    and push A onto the face (the 2hand.mp4 case, frames ~110-137)."""
    tracker = MultiTracker(TrackerConfig(min_hits=1, gate=1.0, max_size_ratio=1.5))
    a, b = detection(300, 300, size=SIZE), detection(300 - 0.8 * SIZE, 300, size=1.4 * SIZE)
    frames = [[a, b]] * 5 + [[a]] + [[a, detection(300 - 0.35 * SIZE, 300 - 0.6 * SIZE, size=0.8 * SIZE)]]
    history = [tracker.update(i / FPS, np.array(rows).reshape(-1, 5)) for i, rows in enumerate(frames)]
    id_a = track_near(history[4], (300, 300)).id
    assert track_near(history[-1], (300, 300)).id == id_a and not track_near(history[-1], (300, 300)).missed


def test_a_second_peak_beside_a_tracked_hand_never_becomes_a_track_of_its_own():
    """A V-sign's second peak 0.35 hand sizes from the hand's own, in every frame: one id with `spawn_gap`,
    a ghost second id without it; a real second hand a hand size away still gets its own."""
    frames = [[detection(100, 100), detection(100 + 0.35 * SIZE, 90, score=0.6)]] * 10
    ids = lambda config: {t.id for tracks in run(MultiTracker(config), frames) for t in tracks}  # noqa: E731
    assert ids(TrackerConfig()) == {1}
    assert ids(TrackerConfig(spawn_gap=0)) == {1, 2}
    apart = [[detection(100, 100), detection(100 + 1.2 * SIZE, 100)]] * 10
    assert {t.id for t in run(MultiTracker(), apart)[-1]} == {1, 2}
    with pytest.raises(ValueError, match="spawn_gap"):
        TrackerConfig(spawn_gap=-1)
