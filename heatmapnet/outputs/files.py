"""What `track.py` writes: one JSON object per frame (JSONL) and the annotated video.

JSONL record, in source-frame pixels (velocities in pixels per second, `w`/`h` null without a size head):
    {"frame": i, "t": seconds, "width": W, "height": H, ["file": name,]
     "detections": [{"x", "y", "score", "w", "h"}],
     "tracks": [{"id", "x", "y", "vx", "vy", "w", "h", "score", "age", "missed"}]}
`frame` is the index in the source, so frames a live camera dropped leave gaps; `file` is there for
image sources; a track's `age` counts frames since it started and `missed` marks a coasting track.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from heatmapnet.errors import UserError
from heatmapnet.runtime.decode import COLUMNS
from heatmapnet.sources.capture import Frame
from heatmapnet.tracking.tracker import TrackedHand

VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v", ".mov": "mp4v"}


def number(value: float, digits: int = 2) -> float | None:
    """JSON has no NaN: missing values (no size head) become null."""
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def frame_record(frame: Frame, detections: np.ndarray, tracks: list[TrackedHand]) -> dict:
    """The JSONL object for one frame."""
    height, width = frame.image.shape[:2]
    record = {"frame": frame.index, "t": round(frame.t, 4), "width": width, "height": height}
    if frame.name is not None:
        record["file"] = frame.name
    record["detections"] = [{name: number(value, 3 if name == "score" else 2) for name, value in zip(COLUMNS, row)}
                            for row in detections]
    record["tracks"] = [{"id": track.id, "x": number(track.x), "y": number(track.y), "vx": number(track.vx),
                         "vy": number(track.vy), "w": number(track.w), "h": number(track.h),
                         "score": number(track.score, 3), "age": track.age, "missed": track.missed}
                        for track in tracks]
    return record


def prepare_path(path, what: str, extensions) -> Path:
    """Make the output's folder; refuse an extension we cannot write before any work is done."""
    path = Path(path).expanduser()
    if path.suffix.lower() not in extensions:
        raise UserError(f"{what} {path}: unsupported extension {path.suffix or '(none)'!r}, use one of "
                        f"{' '.join(extensions)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create the folder for {what} {path}: {error.strerror}") from None
    return path


class JsonlWriter:
    """One JSON object per line, flushed as it goes so a crash or Ctrl-C keeps what was tracked."""

    def __init__(self, path):
        self.path = prepare_path(path, "output.jsonl", (".jsonl", ".json", ".ndjson"))
        try:
            self.file = open(self.path, "w", encoding="utf-8")
        except OSError as error:
            raise UserError(f"cannot write output.jsonl {self.path}: {error.strerror}") from None

    def write(self, record: dict) -> None:
        self.file.write(json.dumps(record, allow_nan=False) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class AnnotatedVideoWriter:
    """An output video opened at the first frame (its size and the source's `fps`); later frames of
    another size are resized to it. The path is checked at construction, before any work is done."""

    def __init__(self, path):
        self.path = prepare_path(path, "output.video", tuple(VIDEO_CODECS))
        self.writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None

    def write(self, image: np.ndarray, fps: float) -> None:
        if self.writer is None:
            self.size = (image.shape[1], image.shape[0])
            codec = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self.path.suffix.lower()])
            self.writer = cv2.VideoWriter(str(self.path), codec, fps, self.size)
            if not self.writer.isOpened():
                raise UserError(f"cannot write output.video {self.path} (OpenCV could not open a "
                                f"{VIDEO_CODECS[self.path.suffix.lower()]} writer); try a .avi file")
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self.writer.write(image)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
