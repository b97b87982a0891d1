"""File outputs of `track.py`: the JSONL stream of frame records and the annotated video.

Files are written under a temporary name beside the target and renamed onto it when the run ends (also
after Ctrl-C or a reader leaving), so a run that fails never leaves half a file in place of a good one;
a lock beside the target refuses a second run writing the same file. Streams (stdout, FIFOs) are
written directly.
"""
from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

try:
    import fcntl  # POSIX file locks; elsewhere two runs on one output are not detected
except ImportError:  # pragma: no cover - Windows
    fcntl = None

import cv2
import numpy as np

from heatmapnet.errors import UserError
from heatmapnet.outputs.base import Output, ReaderGone
from heatmapnet.writable import writable_file

VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v", ".mov": "mp4v"}


def prepare_path(path, what: str, extensions) -> Path:
    """Make the output's folder; refuse an extension we cannot write before any work is done."""
    path = Path(path).expanduser()
    if path.suffix.lower() not in extensions:
        raise UserError(f"{what} {path}: unsupported extension {path.suffix or '(none)'!r}, use one of "
                        f"{' '.join(extensions)}")
    return writable_file(path, what)


class ReplacedFile:
    """A target written as a temporary file in its folder and moved onto it by `commit`, under a lock that
    keeps a second run off the same target. `discard` drops the temporary file and leaves the target alone."""

    def __init__(self, path: Path, what: str):
        self.path, self.what = path, what
        self.temporary = path.with_name(f".{path.stem}.part-{os.getpid()}{path.suffix}")
        self.lock_path = path.with_name(f".{path.name}.lock")
        self.lock = None

    def acquire(self) -> Path:
        """Create the folder, take the lock; returns the temporary path to write."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.lock = open(self.lock_path, "a+")
        except OSError as error:
            raise UserError(f"cannot write {self.what} {self.path}: {error.strerror}") from None
        if fcntl:
            try:
                fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.lock.close()
                self.lock = None
                raise UserError(f"{self.what} {self.path} is being written by another run: wait for it to end, or "
                                f"choose another file") from None
        return self.temporary

    def commit(self) -> None:
        if self.temporary.exists():
            os.replace(self.temporary, self.path)
        self.release()

    def discard(self) -> None:
        self.temporary.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        if self.lock:
            self.lock_path.unlink(missing_ok=True)  # still ours: we hold the lock
            self.lock.close()
            self.lock = None


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
        self.target = None if self.stream else ReplacedFile(self.path, "output.jsonl")
        self.file = None

    @property
    def file_path(self) -> Path | None:
        return None if self.to_stdout else self.path

    def open(self, fps: float) -> None:
        if self.to_stdout:
            self.file = sys.stdout
            return
        path = self.path if self.stream else self.target.acquire()
        try:
            self.file = open(path, "w", encoding="utf-8")  # a FIFO waits here for its reader
        except OSError as error:
            if self.target:
                self.target.discard()
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

    def close(self, completed: bool = True) -> None:
        if self.file and not self.to_stdout:
            self.file.close()
        if self.target:
            self.target.commit() if completed else self.target.discard()


class AnnotatedVideoWriter(Output):
    """An output video opened at the first frame (its size, at `fps`); later frames of another size are
    resized to it. The path is checked at construction, before any work is done."""

    wants_image = True

    def __init__(self, path):
        self.path = prepare_path(path, "output.video", tuple(VIDEO_CODECS))
        self.file_path = self.path
        self.target = ReplacedFile(self.path, "output.video")
        self.temporary: Path | None = None
        self.fps = 30.0
        self.writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None

    def open(self, fps: float) -> None:
        self.fps = fps  # the writer itself opens at the first frame, whose size it takes
        self.temporary = self.target.acquire()

    def write(self, record: dict, image: np.ndarray | None = None) -> None:
        if self.writer is None:
            self.size = (image.shape[1], image.shape[0])
            codec = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self.path.suffix.lower()])
            self.writer = cv2.VideoWriter(str(self.temporary), codec, self.fps, self.size)
            if not self.writer.isOpened():
                raise UserError(f"cannot write output.video {self.path}: OpenCV could not open a "
                                f"{VIDEO_CODECS[self.path.suffix.lower()]} writer for it (its build may lack that "
                                f"codec); try a .avi file")
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self.writer.write(image)

    def close(self, completed: bool = True) -> None:
        if self.writer is not None:
            self.writer.release()
        self.target.commit() if completed else self.target.discard()
