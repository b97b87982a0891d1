"""File outputs of `track.py`: the JSONL stream of frame records and the annotated video."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from heatmapnet.errors import UserError
from heatmapnet.outputs.base import Output

VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v", ".mov": "mp4v"}


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


class JsonlWriter(Output):
    """One JSON object per line, flushed as it goes so a crash or Ctrl-C keeps what was tracked."""

    def __init__(self, path):
        self.path = prepare_path(path, "output.jsonl", (".jsonl", ".json", ".ndjson"))
        self.file = None

    def open(self, fps: float) -> None:
        try:
            self.file = open(self.path, "w", encoding="utf-8")
        except OSError as error:
            raise UserError(f"cannot write output.jsonl {self.path}: {error.strerror}") from None

    def write(self, record: dict, image: np.ndarray | None = None) -> None:
        self.file.write(json.dumps(record, allow_nan=False) + "\n")
        self.file.flush()

    def close(self) -> None:
        if self.file:
            self.file.close()


class AnnotatedVideoWriter(Output):
    """An output video opened at the first frame (its size, at `fps`); later frames of another size are
    resized to it. The path is checked at construction, before any work is done."""

    wants_image = True

    def __init__(self, path):
        self.path = prepare_path(path, "output.video", tuple(VIDEO_CODECS))
        self.fps = 30.0
        self.writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None

    def open(self, fps: float) -> None:
        self.fps = fps  # the writer itself opens at the first frame, whose size it takes

    def write(self, record: dict, image: np.ndarray | None = None) -> None:
        if self.writer is None:
            self.size = (image.shape[1], image.shape[0])
            codec = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self.path.suffix.lower()])
            self.writer = cv2.VideoWriter(str(self.path), codec, self.fps, self.size)
            if not self.writer.isOpened():
                raise UserError(f"cannot write output.video {self.path} (OpenCV could not open a "
                                f"{VIDEO_CODECS[self.path.suffix.lower()]} writer); try a .avi file")
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self.writer.write(image)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
