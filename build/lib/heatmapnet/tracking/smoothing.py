"""What a track reports as its position: the Kalman estimate, a one-euro filtered detection, or the raw detection.

The tracker always runs a Kalman filter, because association and coasting need a motion model;
the smoother only decides which position (x, y, w, h) a matched track reports. Keeping it
pluggable here, instead of a second tracker, lets the choices be compared on equal terms.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SMOOTHERS = ("kalman", "one_euro", "none")


@dataclass
class OneEuroConfig:
    """One-euro filter settings (Casiez et al., CHI 2012).

    `min_cutoff` (Hz) sets the smoothing of a still hand; `beta` (per hand size per second) raises the
    cutoff with speed so moving hands lag less; `d_cutoff` (Hz) smooths the speed estimate itself.
    """

    min_cutoff: float = 0.5
    beta: float = 2.0
    d_cutoff: float = 1.0

    def __post_init__(self):
        if self.min_cutoff <= 0 or self.d_cutoff <= 0 or self.beta < 0:
            raise ValueError(f"one_euro needs min_cutoff > 0, d_cutoff > 0 and beta >= 0, got {self}")


def smoothing_factor(dt: float, cutoff: np.ndarray | float) -> np.ndarray | float:
    """Weight of the new sample in an exponential low-pass with this cutoff (Hz) after `dt` seconds."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return dt / (dt + tau)


class OneEuroFilter:
    """An adaptive low-pass filter on a vector, element by element: strong smoothing when still,
    little lag when moving. `scale` divides the speed before `beta` so beta is in hand sizes."""

    def __init__(self, config: OneEuroConfig):
        self.config = config
        self.t: float | None = None
        self.value: np.ndarray | None = None
        self.speed: np.ndarray | None = None

    def __call__(self, t: float, value: np.ndarray, scale: float = 1.0) -> np.ndarray:
        value = np.asarray(value, np.float64)
        if self.t is None:
            self.t, self.value, self.speed = t, value.copy(), np.zeros_like(value)
            return self.value.copy()
        dt = max(t - self.t, 0.0)
        self.t = t
        if dt == 0.0:
            return self.value.copy()
        raw_speed = (value - self.value) / dt
        self.speed += smoothing_factor(dt, self.config.d_cutoff) * (raw_speed - self.speed)
        cutoff = self.config.min_cutoff + self.config.beta * np.abs(self.speed) / scale
        self.value += smoothing_factor(dt, cutoff) * (value - self.value)
        return self.value.copy()


class KalmanSmoothing:
    """Report the Kalman filter's estimate (the default)."""

    def __call__(self, t: float, measured: np.ndarray, estimate: np.ndarray, scale: float) -> np.ndarray:
        return estimate


class NoSmoothing:
    """Report the matched detection as it is (to see what the filters buy)."""

    def __call__(self, t: float, measured: np.ndarray, estimate: np.ndarray, scale: float) -> np.ndarray:
        return measured


class OneEuroSmoothing:
    """Report the one-euro filtered detection."""

    def __init__(self, config: OneEuroConfig):
        self.filter = OneEuroFilter(config)

    def __call__(self, t: float, measured: np.ndarray, estimate: np.ndarray, scale: float) -> np.ndarray:
        return self.filter(t, measured, scale)


def make_smoother(name: str, one_euro: OneEuroConfig | None = None):
    """A fresh smoother for one track: a callable (t, measured, estimate, scale) -> reported (x, y, w, h)."""
    if name == "kalman":
        return KalmanSmoothing()
    if name == "none":
        return NoSmoothing()
    if name == "one_euro":
        return OneEuroSmoothing(one_euro or OneEuroConfig())
    raise ValueError(f"smoother must be one of {SMOOTHERS}, got {name!r}")
