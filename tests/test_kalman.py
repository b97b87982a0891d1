"""The tracker's NumPy Kalman filter against filterpy's, which it replaced: the same model, noise and
measurement sequences (irregular time steps, missed frames, detections with and without a size) must give
the same states and covariances; and the assignment solver against SciPy's on random costs."""
import numpy as np
import pytest
from filterpy.common import Q_discrete_white_noise
from filterpy.kalman import KalmanFilter
from scipy.optimize import linear_sum_assignment

from heatmapnet.tracking.assignment import min_cost_pairs
from heatmapnet.tracking.kalman import POSITION, POSITION_AND_SIZE, ConstantVelocityKalman, process_noise, transition


def filterpy_filter(state, covariance):
    """The filter as the tracker set filterpy up before."""
    kf = KalmanFilter(dim_x=6, dim_z=4)
    kf.x = np.array(state, np.float64)
    kf.H = np.eye(6)[POSITION_AND_SIZE]
    kf.P = np.array(covariance, np.float64)
    return kf


def filterpy_predict(kf, dt, acceleration_variance, size_variance_rate):
    q = np.zeros((6, 6))
    q[:4, :4] = Q_discrete_white_noise(dim=2, dt=dt, var=acceleration_variance, block_size=2, order_by_dim=False)
    q[4, 4] = q[5, 5] = size_variance_rate * dt
    transition = np.eye(6)
    transition[0, 2] = transition[1, 3] = dt
    kf.predict(F=transition, Q=q)


@pytest.mark.parametrize("seed", range(5))
def test_states_and_covariances_equal_filterpy_over_a_sequence_with_missed_frames(seed):
    rng = np.random.default_rng(seed)
    start = [*rng.uniform(0, 640, 2), 0.0, 0.0, *rng.uniform(40, 120, 2)]
    covariance = np.diag(rng.uniform(1, 400, 6))
    ours, theirs = ConstantVelocityKalman(start, covariance), filterpy_filter(start, covariance)
    kinds = {"missed": 0, "position": 0, "position and size": 0}
    for _ in range(120):
        dt = rng.uniform(0.01, 0.1)
        acceleration_variance, size_variance_rate = rng.uniform(10, 1e4), rng.uniform(1, 100)
        ours.predict(dt, acceleration_variance, size_variance_rate)
        filterpy_predict(theirs, dt, acceleration_variance, size_variance_rate)
        kind = rng.choice(list(kinds))
        kinds[kind] += 1
        truth = theirs.x + rng.normal(0, 5, 6)
        if kind == "position and size":
            noise = np.diag(rng.uniform(1, 50, 4))
            innovation, innovation_covariance = ours.update(truth[POSITION_AND_SIZE], POSITION_AND_SIZE, noise)
            theirs.update(truth[POSITION_AND_SIZE], R=noise)
        elif kind == "position":
            noise = np.eye(2) * rng.uniform(1, 50)
            innovation, innovation_covariance = ours.update(truth[POSITION], POSITION, noise)
            theirs.update(truth[POSITION], R=noise, H=np.eye(6)[POSITION])
        if kind != "missed":
            np.testing.assert_array_equal(innovation, theirs.y)
            np.testing.assert_array_equal(innovation_covariance, theirs.S)
        np.testing.assert_array_equal(ours.state, theirs.x)
        np.testing.assert_array_equal(ours.covariance, theirs.P)
    assert min(kinds.values()) >= 20  # every kind of step was exercised many times
    assert np.abs(ours.state[2:4]).max() > 1  # the velocities really moved away from the start


@pytest.mark.parametrize("dt", [0.001, 1 / 30, 0.5, 2.0])
def test_process_noise_is_filterpys_discrete_white_noise(dt):
    expected = np.zeros((6, 6))
    expected[:4, :4] = Q_discrete_white_noise(dim=2, dt=dt, var=3.5, block_size=2, order_by_dim=False)
    expected[4, 4] = expected[5, 5] = 0.7 * dt
    np.testing.assert_array_equal(process_noise(dt, 3.5, 0.7), expected)


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (4, 1), (3, 3), (2, 5), (5, 2), (6, 6)])
def test_assignment_costs_as_little_as_scipys(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(50):
        cost = rng.uniform(0, 10, shape)
        cost[rng.random(shape) < 0.3] = 101.0  # the tracker's "infeasible" entries
        pairs = min_cost_pairs(cost)
        rows, cols = linear_sum_assignment(cost)
        assert len(pairs) == len(rows) == min(shape)
        assert len({r for r, _ in pairs}) == len({c for _, c in pairs}) == len(pairs)
        assert sum(cost[r, c] for r, c in pairs) == pytest.approx(cost[rows, cols].sum(), rel=1e-12)


def test_assignment_of_nothing_is_empty():
    assert min_cost_pairs(np.zeros((0, 3))) == []


@pytest.mark.parametrize("dt", [1 / 30, 0.1, 0.0371])
def test_prediction_with_the_cached_motion_model_is_bit_identical_to_the_explicit_one(dt):
    rng = np.random.default_rng(7)
    for _ in range(20):
        root = rng.normal(size=(6, 6))
        start, covariance = rng.normal(size=6) * 50, root @ root.T
        acceleration, size_rate = rng.uniform(1, 5000), rng.uniform(1, 500)
        filter_ = ConstantVelocityKalman(start, covariance)
        filter_.predict(dt, acceleration, size_rate)
        motion = transition(dt)
        np.testing.assert_array_equal(filter_.state, motion @ start)
        np.testing.assert_array_equal(filter_.covariance,
                                      motion @ covariance @ motion.T + process_noise(dt, acceleration, size_rate))
