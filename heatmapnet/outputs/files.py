"""File outputs of `track.py`: the JSONL stream of frame records and the annotated video."""
from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import cv2
import numpy as np

from heatmapnet.errors import UserError
from heatmapnet.outputs.base import Output, ReaderGone

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


def is_fifo(path) -> bool:
    """A named pipe another program reads from (any name: it is not a file we create)."""
    try:
        return stat.S_ISFIFO(os.stat(Path(path).expanduser()).st_mode)
    except OSError:
        return False


class JsonlWriter(Output):
    """One JSON object per line, flushed as it goes so a crash or Ctrl-C keeps what was tracked.

    `-` streams to stdout (logs and progress go to stderr) and a named pipe is written as it is; when
    the reader of either closes it, `write` raises ReaderGone so the run ends cleanly."""

    def __init__(self, path):
        self.to_stdout = str(path) == "-"
        self.stream = self.to_stdout or is_fifo(path)
        self.path = Path(path).expanduser() if self.stream else prepare_path(
            path, "output.jsonl", (".jsonl", ".json", ".ndjson"))
        self.file = None

    def open(self, fps: float) -> None:
        if self.to_stdout:
            self.file = sys.stdout
            return
        try:
            self.file = open(self.path, "w", encoding="utf-8")  # a FIFO waits here for its reader
        except OSError as error:
            raise UserError(f"cannot write output.jsonl {self.path}: {error.strerror}") from None

    def write(self, record: dict, image: np.ndarray | None = None) -> None:
        try:
            self.file.write(json.dumps(record, allow_nan=False) + "\n")
            self.file.flush()
        except BrokenPipeError:
            self.abandon()
            raise ReaderGone(f"the reader of {'stdout' if self.to_stdout else self.path} closed it") from None

    def abandon(self) -> None:
        """Point the dead pipe at /dev/null, so that no later flush (at exit, too) fails on it again."""
        os.dup2(os.open(os.devnull, os.O_WRONLY), self.file.fileno())

    def close(self) -> None:
        if self.file and not self.to_stdout:
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
