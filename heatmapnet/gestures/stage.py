"""The gesture recogniser as a pipeline stage, and how track.py's `gestures` setting opens it."""
from __future__ import annotations

import numpy as np
from omegaconf import DictConfig

from heatmapnet.config import typed
from heatmapnet.gestures.config import GestureConfig
from heatmapnet.gestures.recognizer import GestureRecognizer
from heatmapnet.gestures.shapes import Templates
from heatmapnet.pipeline import SHIPPED, FrameResult, Stage

SHIPPED_TEMPLATES = SHIPPED / "gestures.json"


class GestureStage(Stage):
    """Appends gesture events to `result.events` in the frame where each gesture ends."""

    name = "gestures"

    def __init__(self, config: GestureConfig | None = None, templates: Templates | None = None):
        self.recognizer = GestureRecognizer(config, templates)

    def __call__(self, frame_bgr: np.ndarray, result: FrameResult) -> None:
        result.events.extend(self.recognizer.update(result.t, result.tracks))

    def reset(self) -> None:
        self.recognizer.reset()

    def finish(self) -> list[dict]:
        return self.recognizer.finish()


def gesture_stage(settings) -> GestureStage | None:
    """track.py's `gestures`: null (off), a template file path (default settings), or the settings section
    (`templates: null` there means the shipped templates)."""
    if settings is None:
        return None
    if isinstance(settings, str):
        settings = {"templates": settings}
    config = typed(GestureConfig, settings if isinstance(settings, DictConfig) else dict(settings), "gestures")
    return GestureStage(config, Templates.load(config.templates or SHIPPED_TEMPLATES))
