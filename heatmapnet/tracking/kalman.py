"""The tracker's Kalman filter in NumPy: state (x, y, vx, vy, w, h), constant velocity, measured x, y (and w, h).

The position moves with constant velocity under white-noise acceleration (the discrete model of Bar-Shalom,
"Estimation with Applications to Tracking and Navigation", p. 274); the size follows a random walk. The update
uses the Joseph form of the covariance, which stays symmetric and positive definite.

Written here rather than taken from filterpy, whose `KalmanFilter` and `Q_discrete_white_noise` it replaces with
the same equations, noise and results (tests/test_kalman.py runs both side by side): importing `filterpy.kalman`
took 0.9 s of track.py's 2.3 s start-up because it imports scipy.stats, and filterpy requires matplotlib
(97 MB of the tracking install with fonttools and pillow) for plotting the tracker never does.
"""
from __future__ import annotations

import functools

import numpy as np

POSITION = [0, 1]  # rows of the state a detection measures without a size head
POSITION_AND_SIZE = [0, 1, 4, 5]  # ... and with one


def constant(array: np.ndarray) -> np.ndarray:
    """`array`, read-only: matrices built once and shared by every track must not be changed by one of them."""
    array.setflags(write=False)
    return array


OBSERVATIONS = {tuple(rows): constant(np.eye(6)[rows]) for rows in (POSITION, POSITION_AND_SIZE)}  # one per update kind
IDENTITY = constant(np.eye(6))


def transition(dt: float) -> np.ndarray:
    """State transition over `dt` seconds: position += velocity * dt; velocity and size carry over."""
    matrix = np.eye(6)
    matrix[0, 2] = matrix[1, 3] = dt
    return matrix


def process_noise(dt: float, acceleration_variance: float, size_variance_rate: float) -> np.ndarray:
    """Noise added over `dt` seconds: a piecewise-constant white acceleration of the given variance (px^2/s^4)
    on x, y and their velocities, and a random walk of `size_variance_rate` (px^2/s) on w and h."""
    position, cross, velocity = (0.25 * dt**4 * acceleration_variance, 0.5 * dt**3 * acceleration_variance,
                                 dt**2 * acceleration_variance)
    noise = np.zeros((6, 6))
    for axis in (0, 1):  # x with vx, y with vy (state order x, y, vx, vy): the same block on each axis
        noise[axis, axis], noise[axis + 2, axis + 2] = position, velocity
        noise[axis, axis + 2] = noise[axis + 2, axis] = cross
    noise[4, 4] = noise[5, 5] = size_variance_rate * dt
    return noise


@functools.lru_cache(maxsize=16)
def motion_model(dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """transition(dt) and the process noise of unit acceleration and unit size variance, built once per time step:
    the frames of a video file share one dt (a camera's, a few). Every track scales the two noises by its own size;
    each entry of the noise comes from one of them, so the sum equals process_noise's to the last bit."""
    return constant(transition(dt)), constant(process_noise(dt, 1.0, 0.0)), constant(process_noise(dt, 0.0, 1.0))


class ConstantVelocityKalman:
    """Mean `state` and `covariance` of one hand; `predict` over a time step, `update` with a detection."""

    def __init__(self, state: np.ndarray, covariance: np.ndarray):
        self.state = np.asarray(state, np.float64).copy()
        self.covariance = np.asarray(covariance, np.float64).copy()

    def predict(self, dt: float, acceleration_variance: float, size_variance_rate: float) -> None:
        motion, acceleration_noise, size_noise = motion_model(dt)
        self.state = motion @ self.state
        self.covariance = motion @ self.covariance @ motion.T + (acceleration_variance * acceleration_noise
                                                                 + size_variance_rate * size_noise)

    def update(self, measured: np.ndarray, rows: list[int], noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Correct with a measurement of the state `rows` (POSITION or POSITION_AND_SIZE) whose error covariance
        is `noise`.

        Returns the innovation (measured - predicted) and its covariance, from which a caller judges how
        surprising the measurement was.
        """
        observe = OBSERVATIONS[tuple(rows)]
        innovation = np.asarray(measured, np.float64) - observe @ self.state
        projected = self.covariance @ observe.T
        innovation_covariance = observe @ projected + noise
        gain = projected @ np.linalg.inv(innovation_covariance)
        self.state = self.state + gain @ innovation
        keep = IDENTITY - gain @ observe
        self.covariance = keep @ self.covariance @ keep.T + gain @ noise @ gain.T
        return innovation, innovation_covariance
