"""Strokes to gesture events: built-in swipes (straight strokes along an image axis), then drawn shapes by
template, then the lockouts that keep a hand from firing twice (per-gesture cooldown) or firing the way
back after a swipe (return lockout).

Event: {"type": "gesture", "name", "id" (track), "t_start", "t_end" (stroke), "score" (0-1)}, emitted in
the frame where the stroke is known to have ended: `early_pause` seconds after the hand stopped when the
stroke is a gesture (scoring at least `early_score`, 0 by default) and not also the beginning of another (a
swipe down is the first side of a square drawn downwards: the hand may go on drawing), else `pause` seconds
after, or when the track ended.
"""
from __future__ import annotations

import math

import numpy as np

from heatmapnet.gestures.config import GestureConfig
from heatmapnet.gestures.shapes import REJECT, Templates, normalise
from heatmapnet.gestures.strokes import Segmenter, Stroke
from heatmapnet.tracking.tracker import TrackedHand

SWIPES = {"right": 0.0, "down": 90.0, "left": 180.0, "up": -90.0}  # image directions (y grows downwards)
OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}


def path_length(xy: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(xy, axis=0), axis=1).sum())


def span(stroke: Stroke) -> float:
    """The larger side of the stroke's bounding box, in hand sizes."""
    return float(np.max(stroke.xy.max(axis=0) - stroke.xy.min(axis=0))) / stroke.size


class GestureRecognizer:
    """Per-frame tracks in, gesture events out (for every track at once)."""

    def __init__(self, config: GestureConfig | None = None, templates: Templates | None = None):
        self.config = config or GestureConfig()
        self.templates = templates or Templates()
        self.segmenter = Segmenter(self.config)
        self.beginning_names, self.beginning_points = self.templates.beginnings()
        self.last_fired: dict[int, dict[str, float]] = {}  # track id -> gesture -> t_end of its last event

    def update(self, t: float, hands: list[TrackedHand]) -> list[dict]:
        return self.events(self.segmenter.update(t, hands), {hand.id for hand in hands})

    def finish(self) -> list[dict]:
        """The source ended: strokes still open count as ended."""
        return self.events(self.segmenter.finish(), set())

    def reset(self) -> None:
        self.segmenter.reset()
        self.last_fired.clear()

    def events(self, strokes: list[Stroke], alive: set[int]) -> list[dict]:
        """Events of the strokes (the lockouts still apply to the last strokes of tracks that just ended)."""
        found = []
        for stroke in strokes:
            gesture = self.classify(stroke)
            if not stroke.final:
                if not gesture or gesture[1] < self.config.early_score or self.may_go_on(stroke, gesture[0]):
                    continue  # wait for the full pause
                self.segmenter.end(stroke.track_id)
            if gesture and self.allowed(stroke, gesture[0]):
                found.append({"type": "gesture", "name": gesture[0], "id": stroke.track_id,
                              "t_start": round(stroke.t_start, 4), "t_end": round(stroke.t_end, 4),
                              "score": round(gesture[1], 3)})
        self.last_fired = {i: fired for i, fired in self.last_fired.items() if i in alive}
        return found

    def allowed(self, stroke: Stroke, name: str) -> bool:
        """Not within `cooldown` of the same gesture, nor within `return_lockout` of the opposite swipe."""
        fired = self.last_fired.setdefault(stroke.track_id, {})
        blocked = stroke.t_start - fired.get(name, -math.inf) < self.config.cooldown
        if name in OPPOSITE:
            blocked |= stroke.t_start - fired.get(OPPOSITE[name], -math.inf) < self.config.return_lockout
        if not blocked:
            fired[name] = stroke.t_end
        return not blocked

    def may_go_on(self, stroke: Stroke, name: str) -> bool:
        """Whether the stroke, recognised as `name`, also looks like the beginning of another gesture."""
        return self.continued_as(stroke, name) is not None

    def continued_as(self, stroke: Stroke, name: str) -> str | None:
        """The other gesture whose beginning the stroke, recognised as `name`, lies within `prefix_distance` of
        (the nearest one), or None."""
        others = self.beginning_names != name
        normalised = normalise(self.as_seen(stroke))
        if normalised is None or not others.any():
            return None
        distances = np.linalg.norm(self.beginning_points[others] - normalised[None], axis=2).mean(axis=1)
        nearest = int(np.argmin(distances))
        return str(self.beginning_names[others][nearest]) if distances[nearest] <= self.config.prefix_distance else None

    def as_seen(self, stroke: Stroke) -> np.ndarray:
        """The stroke's points as the gestures are named (left and right swapped for a mirrored camera)."""
        return stroke.xy * [-1.0, 1.0] if self.config.mirror else stroke.xy

    def classify(self, stroke: Stroke) -> tuple[str, float] | None:
        """(gesture, score) for a stroke, or None when it is no gesture (too small, short, long, unlike any).

        A swipe must span `min_distance` hand sizes, a shape only `shape_min_distance`: people draw shapes with a
        fingertip, smaller than the box of a close hand, and everyday movements that happen to be straight along an
        axis are common, while a random movement rarely lies within `max_shape_distance` of a template."""
        config = self.config
        xy = self.as_seen(stroke)
        if not config.min_duration <= stroke.duration <= config.max_duration:
            return None
        extent = span(stroke)
        if extent >= config.min_distance:
            swipe = self.swipe(xy, stroke.size) or self.swipe_and_return(xy, stroke.size)
            if swipe:
                return swipe
        if extent < config.shape_min_distance:
            return None
        normalised = normalise(xy)
        if normalised is None:
            return None
        name, distance = self.templates.match(normalised)
        if name == REJECT or distance > config.max_shape_distance:
            return None
        return name, 1.0 - distance / config.max_shape_distance * 0.5

    def swipe(self, xy: np.ndarray, size: float) -> tuple[str, float] | None:
        """A straight stroke of at least `min_distance` hand sizes within `swipe_angle` of an image axis.

        Straight: no point further from the line between its ends than `swipe_deviation` of its length
        (overshoot along the line, which the tracker adds when a hand stops abruptly, does not count)."""
        chord = xy[-1] - xy[0]
        length = float(np.hypot(*chord))
        if length / size < self.config.min_distance:
            return None
        deviation = float(np.max(np.abs(np.cross(chord, xy - xy[0])))) / length ** 2
        if deviation > self.config.swipe_deviation:
            return None
        angle = math.degrees(math.atan2(chord[1], chord[0]))
        for name, axis in SWIPES.items():
            off = abs((angle - axis + 180.0) % 360.0 - 180.0)
            if off <= self.config.swipe_angle:
                return name, (1.0 - deviation) * math.cos(math.radians(off))
        return None

    def swipe_and_return(self, xy: np.ndarray, size: float) -> tuple[str, float] | None:
        """A swipe and its way back drawn without a pause between them count as the swipe alone."""
        turn = int(np.argmax(np.linalg.norm(xy - xy[0], axis=1)))
        out, back = xy[:turn + 1], xy[turn:]
        if len(out) < 2 or len(back) < 2:
            return None
        swipe, way_back = self.swipe(out, size), self.swipe(back, size)
        return swipe if swipe and way_back and way_back[0] == OPPOSITE[swipe[0]] else None
