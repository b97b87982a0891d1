"""Frame-accurate random access to a video (annotator scrubbing, training on video frames), with a small cache.

Frames are numbered from 0 in decode order and shown upright (the container's rotation tag is
applied), the same convention as the frames the training code reads. Seeking by frame number is
not trusted: OpenCV converts it to a timestamp, and phone videos with a gap in their timestamps
then land one frame early (webcam4's 1hand.mp4 from frame 257 on). So opening a video indexes the
presentation timestamp of every frame (a fast pass that decodes without converting), seeks go by
timestamp, and every frame read is identified by its timestamp, never assumed.
"""
from __future__ import annotations

import sys
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from heatmapnet.errors import UserError

READ_THROUGH = 16  # a forward jump this short is decoded frame by frame instead of seeking


class FrameError(UserError):
    """One frame could not be decoded; the rest of the video (and every label) is still usable."""


class Video:
    def __init__(self, path: Path, cache_size: int = 48, progress: bool = False):
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"video {self.path} does not exist")
        self._capture = self._open()
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS)) or 30.0
        self._stamps = self._index(progress)
        self.frame_count = len(self._stamps)
        self._by_stamp = {stamp: index for index, stamp in enumerate(self._stamps)}
        if len(self._by_stamp) != self.frame_count or self._stamps != sorted(self._stamps):
            self._by_stamp = None  # no usable timestamps: trust frame-number seeks
        self._next = 0
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        try:
            first = self.frame(0)
        except FrameError:
            raise UserError(f"cannot read video {self.path}: its first frame does not decode") from None
        self.height, self.width = first.shape[:2]

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        if not capture.isOpened():
            raise UserError(f"cannot read video {self.path}: OpenCV found no decoder for it "
                            f"(convert it, e.g. `ffmpeg -i {self.path.name} out.mp4`)")
        return capture

    def _index(self, progress: bool) -> list[float]:
        """Presentation timestamp of every frame that decodes, in decode order (its length is the true frame count)."""
        capture, stamps = self._open(), []
        expected = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        with tqdm(total=expected or None, desc=f"indexing {self.path.name}", unit="frame", file=sys.stderr,
                  disable=not progress, leave=False) as bar:
            while capture.grab():
                stamps.append(capture.get(cv2.CAP_PROP_PTS))
                bar.update()
        capture.release()
        if not stamps:
            raise UserError(f"cannot read video {self.path}: no frame decodes (is it a video file?)")
        return stamps

    def frame(self, index: int) -> np.ndarray:
        """Frame `index` as BGR uint8 (do not modify it: it is shared with the cache)."""
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        if not 0 <= index < self.frame_count:
            raise FrameError(f"frame {index} is outside the video (frames 0-{self.frame_count - 1})")
        if index < self._next:  # stepping back: decode a stretch before it too, for the next steps back
            self._seek(max(index - READ_THROUGH, 0))
        elif index > self._next + READ_THROUGH:
            self._seek(index)
        back = 1
        while True:
            ok, image = self._capture.read()
            if not ok:
                self._next = -READ_THROUGH - 1  # position unknown: seek next time
                raise FrameError(f"frame {index} of {self.path.name} could not be decoded (the file may be "
                                 f"damaged, or have changed since it was opened)")
            position = self._position()
            self._next = position + 1
            self._remember(position, image)
            if position == index:
                return image
            if position > index:  # the seek landed late: go further back and read forward
                self._seek(max(index - back, 0))
                back *= 2

    def _seek(self, index: int) -> None:
        self._capture.set(cv2.CAP_PROP_POS_FRAMES, self._stamps[index] if self._by_stamp else index)
        self._next = index

    def _position(self) -> int:
        """The index of the frame just read, found by its timestamp (or assumed when there are none)."""
        if self._by_stamp is None:
            return self._next
        return self._by_stamp.get(self._capture.get(cv2.CAP_PROP_PTS), self._next)

    def _remember(self, index: int, image: np.ndarray) -> None:
        self._cache[index] = image
        self._cache.move_to_end(index)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def close(self) -> None:
        self._capture.release()
