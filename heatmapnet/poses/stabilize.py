"""Pose labels that hold still: per-track averaging of class probabilities, with hysteresis.

A single frame's classification flickers between neighbouring poses (peace / two fingers of `one`) and
towards `none` when the hand blurs. Each track keeps the probabilities of its last `window` classified
frames; a pose is reported once its mean reaches `enter`, and kept until its mean falls below `exit`
(hysteresis: a close neighbour hovering near the reported pose's level cannot make it flip). Otherwise the
track's pose is the garbage class: unsure means `none`, never a forced guess, so a change of pose may pass
through `none` for a frame or two while the window fills with the new pose.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass
class StabilizerConfig:
    window: int = 8  # classified frames averaged per track
    enter: float = 0.6  # mean probability a pose needs to be reported
    exit: float = 0.4  # a reported pose is kept while its mean stays at or above this (hysteresis)

    def __post_init__(self):
        if self.window < 1 or not 0 < self.exit <= self.enter <= 1:
            raise ValueError(f"need window >= 1 and 0 < exit <= enter <= 1, got window={self.window}, "
                             f"enter={self.enter}, exit={self.exit}")


class PoseStabilizer:
    """Per-track label state; `none_index` is the garbage class's column."""

    def __init__(self, config: StabilizerConfig, none_index: int):
        self.config = config
        self.none_index = none_index
        self.history: dict[int, deque] = {}
        self.labels: dict[int, int] = {}

    def update(self, track_id: int, probabilities: np.ndarray) -> tuple[int, float]:
        """Add one frame's probabilities for a track; returns its (class index, mean probability)."""
        history = self.history.setdefault(track_id, deque(maxlen=self.config.window))
        history.append(probabilities)
        mean = np.mean(history, axis=0)
        current = self.labels.get(track_id, self.none_index)
        best = int(np.argmax(mean))
        if current != self.none_index and mean[current] >= self.config.exit:
            label = current
        else:
            label = best if mean[best] >= self.config.enter else self.none_index
        self.labels[track_id] = label
        return label, float(mean[label])

    def single_frame(self, probabilities: np.ndarray) -> tuple[int, float]:
        """A label with no history (a raw detection): the best class if it reaches `enter`, else the garbage
        class; returns (class index, its probability)."""
        best = int(np.argmax(probabilities))
        label = best if probabilities[best] >= self.config.enter else self.none_index
        return label, float(probabilities[label])

    def last(self, track_id: int) -> tuple[int, float]:
        """The label reported last for a track (e.g. while it coasts), or the garbage class."""
        label = self.labels.get(track_id, self.none_index)
        history = self.history.get(track_id)
        return label, float(np.mean(history, axis=0)[label]) if history else 0.0

    def keep_only(self, track_ids) -> None:
        """Forget tracks that ended."""
        alive = set(track_ids)
        for state in (self.history, self.labels):
            for track_id in [i for i in state if i not in alive]:
                del state[track_id]
