"""The one output schema: what every output (JSONL, OSC, WebSocket, ...) says about a frame.

Record, in source-frame pixels (velocities in pixels per second, `w`/`h` null without a size head):
    {"frame": i, "t": seconds, "width": W, "height": H, ["file": name,]
     "detections": [{"x", "y", "score", "w", "h"}],
     "tracks": [{"id", "x", "y", "vx", "vy", "w", "h", "score", "age", "missed"}]}
`frame` is the index in the source, so frames a live camera dropped leave gaps; `file` is there for
image sources; a track's `age` counts frames since it started and `missed` marks a coasting track.
Stages add fields to tracks and detections (a pose model: "pose" and "pose_score" on both).
"""
from __future__ import annotations

import math

import numpy as np

from heatmapnet.runtime.decode import COLUMNS
from heatmapnet.sources.capture import Frame
from heatmapnet.tracking.tracker import TrackedHand


def number(value: float, digits: int = 2) -> float | None:
    """JSON has no NaN: missing values (no size head) become null."""
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def numbers(values: np.ndarray, digits) -> list:
    """`number` over an array (nested lists out), `digits` per last-axis column: one NumPy pass instead of
    a Python call per value (42 keypoint coordinates and scores per hand, every frame)."""
    scale = 10.0 ** np.asarray(digits)
    array = np.round(np.asarray(values, np.float64) * scale) / scale
    finite = np.isfinite(array)
    return array.tolist() if finite.all() else np.where(finite, array, None).tolist()


def frame_record(frame: Frame, detections: np.ndarray, tracks: list[TrackedHand],
                 extras: dict[int, dict] | None = None, events: list[dict] | None = None,
                 detection_extras: dict[int, dict] | None = None) -> dict:
    """The JSONL object for one frame; `extras[id]` adds fields to that track, `detection_extras[row]` to
    that detection, `events` (if any) are listed."""
    height, width = frame.image.shape[:2]
    record = {"frame": frame.index, "t": round(frame.t, 4), "width": width, "height": height}
    if frame.name is not None:
        record["file"] = frame.name
    record["detections"] = [{**{name: number(value, 3 if name == "score" else 2) for name, value in zip(COLUMNS, row)},
                             **(detection_extras or {}).get(index, {})}
                            for index, row in enumerate(detections)]
    record["tracks"] = [{"id": track.id, "x": number(track.x), "y": number(track.y), "vx": number(track.vx),
                         "vy": number(track.vy), "w": number(track.w), "h": number(track.h),
                         "score": number(track.score, 3), "age": track.age, "missed": track.missed,
                         **(extras or {}).get(track.id, {})}
                        for track in tracks]
    if events:
        record["events"] = events
    return record


def result_record(frame: Frame, result) -> dict:
    """The JSONL object for a frame and its pipeline.FrameResult, with everything the stages added."""
    return frame_record(frame, result.detections, result.tracks, result.extras, result.events, result.detection_extras)
