"""Gesture settings (configs/track.yaml `gestures:`); distances in hand sizes (sqrt(w*h)), times in seconds."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GestureConfig:
    templates: str | None = None  # template file of drawn shapes (JSON); null: the shipped heatmapnet/shipped/gestures.json
    mirror: bool = False  # the frames are a mirrored (selfie) view: swap left and right, mirror the shapes
    move_speed: float = 0.4  # a hand faster than this (hand sizes / s) is drawing a stroke
    pause: float = 0.4  # a stroke ends when the hand has been slower than move_speed for this long
    early_pause: float = 0.1  # a stroke surely one gesture (no other's beginning) ends after this (= pause: off)
    early_frames: int = 3  # ... and at least this many frames (at low frame rates one still frame is noise)
    early_score: float = 0.0  # ... and scores at least this (0-1; 0: any gesture, experiments/README.md)
    min_distance: float = 1.0  # a swipe must span at least this many hand sizes
    shape_min_distance: float = 0.6  # a drawn shape must span this many: less, as it must also match a template
    min_duration: float = 0.15  # shorter strokes are twitches
    max_duration: float = 8.0  # longer movements are not gestures (and are dropped until the next pause)
    swipe_deviation: float = 0.15  # a swipe strays at most this far (in its lengths) from the line between its ends
    swipe_angle: float = 25.0  # largest angle (degrees) between a swipe and its image axis
    max_shape_distance: float = 0.17  # largest mean point distance (in stroke extents) to a template
    prefix_distance: float = 0.04  # a stroke this close to another template's beginning waits the full pause
    cooldown: float = 0.5  # seconds after a gesture before the same gesture of the same hand can fire again
    return_lockout: float = 1.0  # seconds after a swipe during which the opposite swipe (the way back) is ignored
    fallback_size: float = 60.0  # hand size (pixels) for tracks without a size

    def __post_init__(self):
        positive = ("move_speed", "pause", "early_pause", "min_distance", "shape_min_distance", "max_duration",
                    "swipe_deviation", "swipe_angle", "max_shape_distance", "prefix_distance", "fallback_size")
        bad = [name for name in positive if not getattr(self, name) > 0]
        if bad:
            raise ValueError(f"gesture settings {bad} must be positive")
        if not 0 <= self.min_duration < self.max_duration:
            raise ValueError(f"need 0 <= min_duration < max_duration, got {self.min_duration} and {self.max_duration}")
        if not (isinstance(self.early_frames, int) and self.early_frames >= 1):
            raise ValueError(f"early_frames must be a whole number of frames >= 1, got {self.early_frames}")
        if not 0 <= self.early_score <= 1:
            raise ValueError(f"early_score must be between 0 and 1, got {self.early_score}")
        if self.early_pause > self.pause:
            raise ValueError(f"early_pause ({self.early_pause}) must be at most pause ({self.pause})")
        if self.cooldown < 0 or self.return_lockout < 0:
            raise ValueError("cooldown and return_lockout must be >= 0")
        if not self.swipe_angle <= 45:
            raise ValueError(f"swipe_angle must be at most 45 degrees, got {self.swipe_angle}")
