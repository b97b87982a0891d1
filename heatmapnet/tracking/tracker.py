"""Multi-hand tracker: one constant-velocity Kalman filter per hand, minimum-cost association.

Detections are rows (x, y, score, w, h) in frame pixels (w, h NaN without a size head). Every
distance and noise level is measured in *hand sizes* (sqrt(w*h) of the track), so the same
settings work for a 320x240 webcam and a 4K video. Time steps come from frame timestamps, so
dropped or irregular frames do not distort velocities.

A new track is tentative until it has been matched in `min_hits` consecutive frames; only then
does it get the next integer id. No track starts within `spawn_gap` hand sizes of another: there, an
unmatched detection is a second peak of that hand (V-signs, pointing fingers), not a new hand. A confirmed
track that finds no detection coasts on its prediction (reported with `missed=True`) for up to `max_age`
frames and is dropped after that.

A track continues only with a detection of a similar size (within `max_size_ratio` either way), so it
does not jump to a face or to another hand at a different distance that happens to fall inside the gate.
Given the frame size, a coasting track whose predicted centre leaves the frame is dropped: the hand has
left, and a prediction flying on outside would only catch whatever appears next near the border.

A constant-velocity filter quiet enough to steady a still hand lags a waving one. So the process
noise is boosted for one step whenever the last innovation was improbably large (its normalised
squared distance above `maneuver_threshold`): the filter stays smooth when the hand is still and
catches up within a frame or two when it accelerates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from heatmapnet.tracking.assignment import min_cost_pairs
from heatmapnet.tracking.kalman import POSITION, POSITION_AND_SIZE, ConstantVelocityKalman
from heatmapnet.tracking.smoothing import SMOOTHERS, OneEuroConfig, make_smoother


@dataclass
class TrackerConfig:
    """Tracker settings; distances and noise levels are in hand sizes (sqrt(w*h)), times in seconds."""

    min_hits: int = 3  # consecutive matched frames before a track is confirmed and gets an id
    max_age: int = 10  # frames a confirmed track may coast without a detection before it is dropped
    gate: float = 1.0  # largest detection-to-prediction distance that may be associated, in hand sizes
    max_size_ratio: float = 1.5  # a detection this much larger or smaller than the track cannot continue it
    spawn_gap: float = 0.5  # no new track starts within this many hand sizes of another (0: anywhere)
    measurement_noise: float = 0.05  # detector's position error (std), hand sizes
    acceleration_noise: float = 1.0  # unmodelled acceleration (std), hand sizes / s^2
    maneuver_threshold: float = 2.0  # innovation NIS above which that noise is boosted (2 = its mean)
    size_measurement_noise: float = 0.1  # detector's width/height error (std), hand sizes
    size_noise: float = 0.5  # how fast the true width/height may drift (std per sqrt(second)), hand sizes
    initial_speed: float = 2.0  # velocity uncertainty (std) of a new track, hand sizes / s
    fallback_size: float = 60.0  # hand size in pixels assumed when detections carry no size
    smoother: str = "kalman"  # what a matched track reports: kalman | one_euro | none
    one_euro: OneEuroConfig = field(default_factory=OneEuroConfig)

    def __post_init__(self):
        if self.min_hits < 1 or self.max_age < 0:
            raise ValueError(f"need min_hits >= 1 and max_age >= 0, got {self.min_hits} and {self.max_age}")
        if not self.max_size_ratio >= 1:
            raise ValueError(f"need max_size_ratio >= 1, got {self.max_size_ratio}")
        if self.spawn_gap < 0:
            raise ValueError(f"spawn_gap is a distance in hand sizes (0: off), got {self.spawn_gap}")
        positive = ("gate", "measurement_noise", "acceleration_noise", "maneuver_threshold",
                    "size_measurement_noise", "size_noise",
                    "initial_speed", "fallback_size")
        bad = [name for name in positive if not getattr(self, name) > 0]
        if bad:
            raise ValueError(f"tracker settings {bad} must be positive")
        if self.smoother not in SMOOTHERS:
            raise ValueError(f"smoother must be one of {SMOOTHERS}, got {self.smoother!r}")


@dataclass(frozen=True)
class TrackedHand:
    """A confirmed track in one frame, in frame pixels (velocities in pixels per second)."""

    id: int
    x: float
    y: float
    vx: float
    vy: float
    w: float  # NaN while the track has never seen a detection with a size
    h: float
    score: float  # score of the last matched detection
    age: int  # frames since the track was started
    missed: bool  # True while coasting on the prediction
    detection: int | None = None  # row of this frame's detections the track matched (None while coasting)


def hand_size(w: float, h: float) -> float:
    """sqrt(w*h) in pixels, at least 1 (the unit of gates and noise)."""
    return math.sqrt(max(float(w), 1.0) * max(float(h), 1.0))


def normalised_distance(offset: np.ndarray, covariance: np.ndarray) -> float:
    """offset' covariance^-1 offset for a 2-vector, in closed form (np.linalg.solve costs ten times as much on
    2x2, and this runs for every matched track in every frame)."""
    (a, b), (c, d) = covariance.tolist()
    x, y = offset.tolist()
    return (d * x * x - (b + c) * x * y + a * y * y) / (a * d - b * c)


class Track:
    """One hand's Kalman filter (state x, y, vx, vy, w, h) and bookkeeping."""

    def __init__(self, t: float, detection: np.ndarray, config: TrackerConfig):
        self.config = config
        x, y, score, w, h = detection
        self.has_size = bool(np.isfinite(w) and np.isfinite(h))
        if not self.has_size:
            w = h = config.fallback_size
        size = hand_size(w, h)
        self.kf = ConstantVelocityKalman(
            [x, y, 0.0, 0.0, w, h],
            np.diag(np.square([config.measurement_noise * size] * 2 + [config.initial_speed * size] * 2
                              + [config.size_measurement_noise * size] * 2)))
        self.smoother = make_smoother(config.smoother, config.one_euro)
        self.maneuver_boost = 1.0
        self.id: int | None = None
        self.hits = 1
        self.misses = 0
        self.age = 1
        self.score = float(score)
        self.detection: int | None = None  # row of the current frame's detections matched, if any
        self.reported = self.smoother(t, self.estimate, self.estimate, size)

    @property
    def size(self) -> float:
        """Current hand size estimate in pixels (the unit of gates and noise)."""
        return hand_size(self.kf.state[4], self.kf.state[5])

    @property
    def position(self) -> np.ndarray:
        return self.kf.state[:2]

    @property
    def estimate(self) -> np.ndarray:
        """The filter's (x, y, w, h)."""
        return self.kf.state[POSITION_AND_SIZE].copy()

    def predict(self, dt: float) -> None:
        self.age += 1
        if dt <= 0:
            return
        size = self.size
        acceleration_variance = self.maneuver_boost * (self.config.acceleration_noise * size) ** 2
        self.maneuver_boost = 1.0
        self.kf.predict(dt, acceleration_variance, (self.config.size_noise * size) ** 2)

    def update(self, t: float, detection: np.ndarray) -> None:
        """Correct the filter with a matched detection (position, and size when the detection has one)."""
        x, y, score, w, h = detection
        size = self.size
        position_noise = (self.config.measurement_noise * size) ** 2
        if np.isfinite(w) and np.isfinite(h):
            if not self.has_size:  # first size seen: take it rather than blend it with the fallback guess
                self.kf.state[4:6] = w, h
                self.has_size = True
            size_noise = (self.config.size_measurement_noise * size) ** 2
            innovation, covariance = self.kf.update([x, y, w, h], POSITION_AND_SIZE,
                                                    np.diag([position_noise] * 2 + [size_noise] * 2))
            measured = np.array([x, y, w, h], np.float64)
        else:
            innovation, covariance = self.kf.update([x, y], POSITION, np.eye(2) * position_noise)
            measured = np.array([x, y, *self.kf.state[4:6]], np.float64)
        surprise = normalised_distance(innovation[:2], covariance[:2, :2])
        self.maneuver_boost = max(1.0, surprise / self.config.maneuver_threshold) ** 2
        self.hits += 1
        self.misses = 0
        self.score = float(score)
        self.reported = self.smoother(t, measured, self.estimate, self.size)

    def mark_missed(self) -> None:
        """No detection this frame: coast on the prediction."""
        self.misses += 1
        self.reported = self.estimate

    def inside(self, frame_size: tuple[int, int]) -> bool:
        x, y = self.position
        return 0 <= x <= frame_size[0] and 0 <= y <= frame_size[1]

    def as_hand(self) -> TrackedHand:
        x, y, w, h = (float(v) for v in self.reported)
        if not self.has_size:
            w = h = float("nan")
        vx, vy = (float(v) for v in self.kf.state[2:4])
        return TrackedHand(self.id, x, y, vx, vy, w, h, self.score, self.age, self.misses > 0, self.detection)


class MultiTracker:
    """Feed it each frame's detections with the frame's timestamp; it returns the confirmed tracks."""

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self.t: float | None = None
        self.next_id = 1

    def update(self, t: float, detections: np.ndarray, frame_size: tuple[int, int] | None = None) -> list[TrackedHand]:
        """Advance to time `t` (seconds) with this frame's detections (N x 5: x, y, score, w, h) in a frame of
        `frame_size` (width, height) pixels; without it, coasting tracks are not checked against the frame."""
        detections = np.asarray(detections, np.float64).reshape(-1, 5)
        dt = 0.0 if self.t is None else max(t - self.t, 0.0)
        self.t = t
        for track in self.tracks:
            track.predict(dt)
        matches, unmatched = self.associate(detections)
        matched = dict(matches)
        for index, track in enumerate(self.tracks):
            track.detection = matched.get(index)
            if track.detection is None:
                track.mark_missed()
            else:
                track.update(t, detections[track.detection])
        self.tracks = [track for track in self.tracks
                       if track.misses == 0 or (track.id is not None and track.misses <= self.config.max_age
                                                and (frame_size is None or track.inside(frame_size)))]
        for index in unmatched:
            if self.beside_a_track(detections[index]):
                continue
            self.tracks.append(Track(t, detections[index], self.config))
            self.tracks[-1].detection = index
        for track in self.tracks:
            if track.id is None and track.hits >= self.config.min_hits:
                track.id = self.next_id
                self.next_id += 1
        return sorted((track.as_hand() for track in self.tracks if track.id is not None), key=lambda hand: hand.id)

    def beside_a_track(self, detection: np.ndarray) -> bool:
        """Whether an unmatched detection lies within `spawn_gap` hand sizes of a track (one just started by a
        stronger detection of this frame included): the second peak a V-sign, a pointing finger or a large
        close hand leaves beside its own, not a new hand (a hand that comes close to a tracked one already has
        its own track, and keeps it)."""
        return any(np.hypot(*(detection[:2] - track.position)) < self.config.spawn_gap * track.size
                   for track in self.tracks)

    def associate(self, detections: np.ndarray) -> tuple[list[tuple[int, int]], list[int]]:
        """Minimum-cost assignment on distance in hand sizes; pairs beyond the gate, or whose sizes differ by
        more than `max_size_ratio` (where both are known), are never matched. Tracks seen in the last frame
        are matched first, coasting ones to what is left (DeepSORT's matching cascade): a hand that vanished
        must not take the detection of a hand that is still being followed and push it onto a face.

        Returns (track index, detection index) pairs and the indices of unmatched detections.
        """
        matches: list[tuple[int, int]] = []
        free = list(range(len(detections)))
        for coasting in (False, True):
            rows = [i for i, track in enumerate(self.tracks) if (track.misses > 0) == coasting]
            if not rows or not free:
                continue
            tracks = [self.tracks[i] for i in rows]
            predicted = np.array([track.position for track in tracks])
            sizes = np.array([track.size for track in tracks])
            candidates = detections[free]
            cost = np.linalg.norm(predicted[:, None, :] - candidates[None, :, :2], axis=2) / sizes[:, None]
            allowed = (cost <= self.config.gate) & self.similar_sizes(tracks, candidates, sizes)
            infeasible = self.config.gate * 10 + 1.0
            pairs = [(r, c) for r, c in min_cost_pairs(np.where(allowed, cost, infeasible)) if allowed[r, c]]
            matches += [(rows[r], free[c]) for r, c in pairs]
            taken = {free[c] for _, c in pairs}
            free = [c for c in free if c not in taken]
        return matches, free

    def similar_sizes(self, tracks: list[Track], detections: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """Tracks x detections: True where the sizes agree within `max_size_ratio`, or either is unknown (a
        detection without a size head, or with a degenerate zero size, gives no evidence either way)."""
        with np.errstate(invalid="ignore"):
            detection_sizes = np.sqrt(detections[:, 3] * detections[:, 4])
        usable = np.isfinite(detection_sizes) & (detection_sizes > 0)
        known = np.array([track.has_size for track in tracks])[:, None] & usable[None, :]
        ratio = np.abs(np.log(np.where(known, detection_sizes[None, :], 1.0) / sizes[:, None]))
        return ~known | (ratio <= np.log(self.config.max_size_ratio))
