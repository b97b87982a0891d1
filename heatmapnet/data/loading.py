"""Sample -> RGB pixels, from an image file, a frame of a video file, or the synthetic renderer.

`load_rgb` returns None instead of raising for a missing or unreadable image, so a training run can
report the path, skip the sample and go on. Open videos are kept per process (a DataLoader worker
gets its own after fork) because reopening and seeking a video for every frame is slow.
"""
from __future__ import annotations

import os
from collections import OrderedDict

import cv2
import numpy as np

from ..hands import Sample
from .synthetic import render

MAX_OPEN_VIDEOS = 8


class _VideoCache:
    """Open captures by path, least recently used closed first, each with the index of its next frame."""

    def __init__(self):
        self.captures: OrderedDict[str, list] = OrderedDict()
        self.inherited: list[OrderedDict] = []

    def frame(self, path: str, index: int) -> np.ndarray | None:
        entry = self.captures.pop(path, None)
        if entry is None:
            if not os.path.isfile(path):
                return None
            capture = cv2.VideoCapture(path)
            if not capture.isOpened():
                return None
            capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # upright frames for phone videos with a rotation tag
            entry = [capture, 0]
        self.captures[path] = entry
        while len(self.captures) > MAX_OPEN_VIDEOS:
            self.captures.popitem(last=False)[1][0].release()
        capture, next_index = entry
        if index != next_index:
            if index >= capture.get(cv2.CAP_PROP_FRAME_COUNT) > 0:
                return None
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            if capture.get(cv2.CAP_PROP_POS_FRAMES) != index:  # seeking clamps at the end instead of failing
                entry[1] = -1
                return None
        ok, frame = capture.read()
        entry[1] = index + 1 if ok else -1  # -1: position unknown, seek next time
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if ok else None

    def forget_inherited(self) -> None:
        """In a forked child: stop using the parent's captures (their decoder state is the parent's), but
        keep them referenced, because releasing one here would wait for decoder threads that only exist
        in the parent."""
        self.inherited.append(self.captures)
        self.captures = OrderedDict()


_videos = _VideoCache()
os.register_at_fork(after_in_child=_videos.forget_inherited)


def load_rgb(sample: Sample) -> np.ndarray | None:
    """HxWx3 RGB uint8 pixels of a sample, or None when its file is missing or unreadable."""
    if sample.synthetic_seed is not None:
        return render(sample)
    if sample.image_path is None:
        return None
    try:
        if sample.meta.get("video_frame"):
            if sample.frame_index is None or sample.frame_index < 0:
                return None
            return _videos.frame(sample.image_path, sample.frame_index)
        image = cv2.imread(sample.image_path, cv2.IMREAD_COLOR) if os.path.isfile(sample.image_path) else None
    except cv2.error:
        return None
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
