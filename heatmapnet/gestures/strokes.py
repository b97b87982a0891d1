"""Cut each track's path into strokes: a stroke runs from when the hand starts moving to the next pause
(or to when the track ends or coasts for as long as a pause: the hand left or was lost). Resting and slow drift never start one; movements longer than
`max_duration` are dropped whole until the hand pauses again.

A pause has to last `pause` to end a stroke, because shapes are drawn with short stops at their corners.
Waiting that long for every gesture would be slow, so a stroke is also offered once, not final, after
`early_pause` of stillness (and `early_frames` frames): the recogniser ends it there (`end`) when it is surely
a whole gesture.

Speed is measured on the reported positions over the last SPEED_WINDOW seconds, not read from the Kalman
velocity: after an abrupt stop that velocity decays for half a second, the positions settle in a few frames.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from heatmapnet.gestures.config import GestureConfig
from heatmapnet.tracking.tracker import TrackedHand

SPEED_WINDOW = 0.1  # seconds of positions the speed is measured over
TIME_TOLERANCE = 1e-3  # frame times are rounded (records keep 0.1 ms): 3 frames at 30 fps count as 0.1 s


@dataclass
class Stroke:
    """One stroke of one track: times (s), positions (frame pixels) and the hand size (pixels)."""

    track_id: int
    t: np.ndarray
    xy: np.ndarray  # N x 2
    size: float
    final: bool = True  # False: the hand has only just stopped (early_pause) and may go on drawing

    @property
    def t_start(self) -> float:
        return float(self.t[0])

    @property
    def t_end(self) -> float:
        return float(self.t[-1])

    @property
    def duration(self) -> float:
        return self.t_end - self.t_start


@dataclass
class TrackState:
    points: list[tuple[float, float, float, float]] = field(default_factory=list)  # (t, x, y, size) of the stroke
    previous: tuple[float, float, float, float] | None = None  # the last point before it (where it started)
    still_since: float | None = None  # when the hand last dropped below move_speed
    still_index: int = 0  # the stroke's point at that moment
    dropping: bool = False  # a too-long movement: ignore it until the next pause
    offered: bool = False  # this pause's stroke was already offered as not final
    recent: deque = field(default_factory=deque)  # (t, x, y) of the last SPEED_WINDOW seconds

    def stillness(self, t: float, moving: bool) -> float:
        """Seconds the hand has been slower than move_speed (0 while it moves); marks where the stillness began."""
        if moving:
            self.still_since, self.offered = None, False
            return 0.0
        if self.still_since is None:
            self.still_since, self.still_index = t, len(self.points)
        return t - self.still_since

    def speed(self, t: float, x: float, y: float) -> float:
        """Pixels per second since the oldest position within SPEED_WINDOW (0 for a first position)."""
        self.recent.append((t, x, y))
        while len(self.recent) > 2 and t - self.recent[1][0] >= SPEED_WINDOW:
            self.recent.popleft()
        t0, x0, y0 = self.recent[0]
        return math.hypot(x - x0, y - y0) / (t - t0) if t > t0 else 0.0


class Segmenter:
    """Feed every frame's tracks; returns the strokes that ended in that frame."""

    def __init__(self, config: GestureConfig):
        self.config = config
        self.states: dict[int, TrackState] = {}

    def hand_size(self, hand: TrackedHand) -> float:
        size = math.sqrt(hand.w * hand.h)
        return size if math.isfinite(size) and size > 0 else self.config.fallback_size

    def update(self, t: float, hands: list[TrackedHand]) -> list[Stroke]:
        ended = []
        alive = {hand.id for hand in hands}
        for track_id in [i for i in self.states if i not in alive]:  # the hand left: its stroke ends
            ended.append(self.close(track_id, self.states.pop(track_id), None))
        for hand in hands:
            state = self.states.setdefault(hand.id, TrackState())
            if not hand.missed:
                ended.append(self.step(hand, t, state))
            elif state.points and t - state.points[-1][0] >= self.config.pause:
                # coasting on a prediction (no evidence where the hand is) for as long as a pause: the hand is lost
                ended.append(self.close(hand.id, state, None))
        return [stroke for stroke in ended if stroke is not None]

    def step(self, hand: TrackedHand, t: float, state: TrackState) -> Stroke | None:
        config = self.config
        size = self.hand_size(hand)
        point = (t, hand.x, hand.y, size)
        moving = state.speed(t, hand.x, hand.y) / size >= config.move_speed
        stroke = None
        if state.dropping:
            if state.stillness(t, moving) >= config.pause:
                state.dropping, state.still_since = False, None
        elif not state.points:
            if moving:
                state.points = [state.previous, point] if state.previous else [point]
                state.offered = False
        else:
            state.points.append(point)
            stillness = state.stillness(t, moving)
            if stillness >= config.pause:
                stroke = self.close(hand.id, state, state.still_index)
            elif (stillness >= config.early_pause - TIME_TOLERANCE and not state.offered
                  and len(state.points) - state.still_index >= config.early_frames):
                state.offered = True
                stroke = self.stroke(hand.id, state.points[:state.still_index], final=False)
            elif t - state.points[0][0] > config.max_duration:
                state.points, state.dropping, state.still_since = [], True, None
        state.previous = point
        return stroke

    def close(self, track_id: int, state: TrackState, end: int | None) -> Stroke | None:
        """The stroke in `state` up to point `end` (all of it: None), and the state back to resting."""
        points = state.points[:end]
        state.points, state.still_since = [], None
        return self.stroke(track_id, points)

    @staticmethod
    def stroke(track_id: int, points: list, final: bool = True) -> Stroke | None:
        if len(points) < 2:
            return None
        array = np.array(points, np.float64)
        return Stroke(track_id, array[:, 0], array[:, 1:3], float(np.median(array[:, 3])), final)

    def end(self, track_id: int) -> None:
        """The recogniser took the stroke offered as not final: the hand is resting again."""
        if track_id in self.states:
            self.close(track_id, self.states[track_id], 0)

    def finish(self) -> list[Stroke]:
        """The source ended: close every open stroke."""
        strokes = [self.close(track_id, state, None) for track_id, state in self.states.items()]
        self.states.clear()
        return [stroke for stroke in strokes if stroke is not None]

    def reset(self) -> None:
        self.states.clear()
