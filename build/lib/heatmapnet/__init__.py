"""HeatmapNet: real-time hand tracking on an ordinary CPU. `from heatmapnet import HandTracker`."""
from __future__ import annotations


def __getattr__(name: str):
    # Lazy, so `import heatmapnet.sources.video` (the annotator, training) does not open a runtime stack.
    if name == "HandTracker":
        from heatmapnet.pipeline import HandTracker

        return HandTracker
    raise AttributeError(f"module 'heatmapnet' has no attribute {name!r}")


__all__ = ["HandTracker"]
