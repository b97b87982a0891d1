"""Sample -> RGB pixels, from an image file, a frame of a video file, or the synthetic renderer.

`load_rgb` returns None instead of raising for a missing or unreadable image, so a training run can
report the path, skip the sample and go on. Open videos are kept per process (a DataLoader worker
gets its own after fork) because reopening and seeking a video for every frame is slow.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from heatmapnet.data.hands import Sample
from heatmapnet.data.synthetic import render
from heatmapnet.errors import UserError
from heatmapnet.sources.video import Video

MAX_OPEN_VIDEOS = 8


class _VideoCache:
    """Open videos by path, least recently used closed first. Frames come from heatmapnet.sources.video.Video,
    which identifies every frame by its timestamp (frame-number seeks land early on phone videos)."""

    def __init__(self):
        self.videos: OrderedDict[str, Video] = OrderedDict()
        self.inherited: list[OrderedDict] = []

    def frame(self, path: str, index: int) -> np.ndarray | None:
        video = self.videos.pop(path, None)
        if video is None:
            try:
                video = Video(Path(path), cache_size=4)
            except UserError:
                return None
        self.videos[path] = video
        while len(self.videos) > MAX_OPEN_VIDEOS:
            self.videos.popitem(last=False)[1].close()
        try:
            return cv2.cvtColor(video.frame(index), cv2.COLOR_BGR2RGB)
        except UserError:  # FrameError included: outside the video or undecodable
            return None

    def forget_inherited(self) -> None:
        """In a forked child: stop using the parent's videos (their decoder state is the parent's), but
        keep them referenced, because releasing one here would wait for decoder threads that only exist
        in the parent."""
        self.inherited.append(self.videos)
        self.videos = OrderedDict()


_videos = _VideoCache()
os.register_at_fork(after_in_child=_videos.forget_inherited)


def load_rgb(sample: Sample) -> np.ndarray | None:
    """HxWx3 RGB uint8 pixels of a sample (its `crop` only, where it has one), or None when its file is
    missing or unreadable."""
    image = _whole_frame(sample)
    if image is None or sample.crop is None:
        return image
    x0, y0, x1, y1 = sample.crop
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def _whole_frame(sample: Sample) -> np.ndarray | None:
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
