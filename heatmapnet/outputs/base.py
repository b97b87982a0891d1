"""The interface every output implements, so track.py treats a file, a socket and a window alike."""
from __future__ import annotations

import numpy as np


class ReaderGone(Exception):
    """The reader of a stream output (stdout piped into another program, a FIFO) went away: the run
    ends cleanly, as `head` ending a pipe expects, instead of failing."""


class Output:
    """Where tracked frames go. The constructor only checks the settings; `open` is called once every
    input has been checked (so a run that fails at start touches no existing file); `write` once per
    frame with the frame's record (the one schema, heatmapnet/outputs/records.py) and, when
    `wants_image`, the annotated frame; `close` once at the end, also after an error or Ctrl-C."""

    wants_image = False
    file_path = None  # the file it writes, if any: never one of the run's inputs

    def open(self, fps: float) -> None:
        """Acquire files, sockets, ... for a source of `fps` frames per second; the default needs none."""

    def write(self, record: dict, image: np.ndarray | None = None) -> None:
        raise NotImplementedError

    def close(self, completed: bool = True) -> None:
        """Flush and release. `completed` is false when the run failed: a file output then leaves the previous
        file in place instead of a partial one. The default has nothing to release."""
