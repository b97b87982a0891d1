"""Where frames come from: a camera, a network stream, a video file, a folder of images or one image,
read on a thread.

Every source hands out `Frame`s with a timestamp in seconds (the tracker's time step): the wall
clock for a camera, the container's presentation time for a video, index / fps for images.
`CaptureThread` decodes ahead into a bounded queue so reading overlaps the network. For a live
camera it keeps only the newest frame (stale frames are dropped and counted, so the tracker never
falls behind real time); for files it blocks instead, so no frame is ever lost, unless `realtime`
plays them at their own frame rate like a camera (to try an installation on recorded footage). A
video that ends before the frame count its container announces (a truncated or damaged file) says
so in a warning line and in `frames_missing`, so a cut-short run is never mistaken for a complete one.
"""
from __future__ import annotations

import contextlib
import os
import queue
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from heatmapnet.errors import UserError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
# A container's frame count may be one frame more than decodes in an intact file (webcam4's 2hand.mp4 announces
# 138 and gives 137; the other 80 shared videos match exactly): fewer than this many missing is not reported.
MISSING_FRAMES_NOTICED = 2
URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)  # rtsp://, http://, https://, udp://, ...

# FFmpeg logs its own complaints ("moov atom not found") to stderr; the errors raised here say it in one line.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


@dataclass
class Frame:
    index: int  # position in the source (frames a live camera dropped still count)
    t: float  # seconds since the source started
    image: np.ndarray  # BGR uint8, upright
    name: str | None = None  # file name, for image sources


@contextlib.contextmanager
def quiet_opencv():
    """Silence OpenCV's own warnings while probing a source: we report failures ourselves."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


class FrameSource:
    """A sequence of frames; `read()` returns None at the end."""

    live = False  # a real-time source: frames not taken in time are stale
    fps: float | None = None
    frame_count: int | None = None  # when known in advance (for progress)
    frames_missing = 0  # frames the source announced but could not deliver (a truncated video)
    description = ""

    def read(self) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class OpenCVSource(FrameSource):
    """A cv2.VideoCapture whose first frame was read while opening (to fail early) and is handed out first."""

    capture: cv2.VideoCapture
    pending: np.ndarray | None

    def next_image(self) -> np.ndarray | None:
        if self.pending is not None:
            image, self.pending = self.pending, None
            return image
        ok, image = self.capture.read()
        return image if ok else None

    def close(self) -> None:
        self.capture.release()


class CameraSource(OpenCVSource):
    live = True

    def __init__(self, index: int):
        if index < 0:  # OpenCV would crash on it (segmentation fault), not fail
            raise UserError(f"camera index {index} is negative: cameras are numbered from 0 (source=0 is the first)")
        self.description = f"camera {index}"
        self.open_live(index, f"camera {index} is not available (no such device, or it is busy or gives no "
                              f"frames); pass another index, or a video file, image or folder as source=PATH")

    def open_live(self, target, failure: str) -> None:
        """Open `target` (an index or a URL) and read its first frame; `failure` is the error when that fails."""
        with quiet_opencv():
            self.capture = cv2.VideoCapture(target)
            ok = self.capture.isOpened()
            first = self.capture.read()[1] if ok else None
        if first is None:
            self.capture.release()
            raise UserError(failure)
        self.fps = self.capture.get(cv2.CAP_PROP_FPS) or None
        self.start = time.monotonic()
        self.pending: np.ndarray | None = first
        self.index = 0

    def read(self) -> Frame | None:
        image = self.next_image()
        if image is None:
            return self.ended()
        frame = Frame(self.index, time.monotonic() - self.start, image)
        self.index += 1
        return frame

    def ended(self) -> Frame | None:
        raise UserError(f"{self.description} stopped delivering frames "
                        f"(unplugged, or taken by another program?)")


class StreamSource(CameraSource):
    """A network stream (rtsp://, http(s)://, udp://, ...) through OpenCV's FFmpeg backend, timed and
    paced like a camera: frames the tracker cannot keep up with are dropped, and the run ends (with a
    warning) when the stream does."""

    def __init__(self, url: str):
        self.description = f"stream {url}"
        self.open_live(url, f"cannot open stream {url} (unreachable, wrong address or credentials, or a format "
                            f"FFmpeg cannot read); check that it plays, e.g. `ffplay {url}`")

    def ended(self) -> Frame | None:
        print(f"warning: {self.description} ended or stopped delivering frames after {self.index} frame(s)",
              file=sys.stderr)
        return None


class VideoSource(OpenCVSource):
    """A video file, decoded upright (rotation metadata applied, as phone videos need)."""

    def __init__(self, path: Path, default_fps: float):
        self.description = str(path)
        with quiet_opencv():
            self.capture = cv2.VideoCapture(str(path))
            self.capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
            ok = self.capture.isOpened()
            first = self.capture.read()[1] if ok else None
        if first is None:
            self.capture.release()
            problem = "has no frame that can be decoded (empty" if ok else "cannot be opened as a video (unreadable"
            raise UserError(f"video {path} {problem}, corrupt or an unsupported codec); "
                            f"check that it plays, or re-encode it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)")
        self.fps = self.capture.get(cv2.CAP_PROP_FPS) or default_fps
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 else None
        self.pending: np.ndarray | None = first
        self.index = 0
        self.last_t = -1.0

    def read(self) -> Frame | None:
        image = self.next_image()
        if image is None:
            self.check_complete()
            return None
        t = self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if t <= self.last_t:  # no usable container timestamps: fall back to the nominal frame rate
            t = self.index / self.fps
        frame = Frame(self.index, t, image)
        self.index += 1
        self.last_t = t
        return frame

    def check_complete(self) -> None:
        """At the end: count and report the frames the container announced but that never came."""
        missing = (self.frame_count or 0) - self.index
        if missing >= MISSING_FRAMES_NOTICED and not self.frames_missing:
            self.frames_missing = missing
            print(f"warning: video {self.description} ended after {self.index} of the {self.frame_count} frames "
                  f"its container announces ({missing} missing: the file is truncated or damaged)", file=sys.stderr)


class ImageSource(FrameSource):
    """Image files in the given order, one frame each, `1 / fps` seconds apart."""

    def __init__(self, files: list[Path], fps: float, description: str):
        self.files = files
        self.fps = fps
        self.frame_count = len(files)
        self.description = description
        self.index = 0

    def read(self) -> Frame | None:
        if self.index >= len(self.files):
            return None
        path = self.files[self.index]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise UserError(f"cannot read image {path} (corrupt or not really a {path.suffix} file); "
                            f"remove or replace it")
        frame = Frame(self.index, self.index / self.fps, image, path.name)
        self.index += 1
        return frame


def open_source(source, fps: float = 30.0) -> FrameSource:
    """Open `source`: an integer camera index, a video file, an image, or a folder of images (by name).

    `fps` times image frames, and video frames when the container gives no timestamps. A URL
    (rtsp://, http://, ...) is read as a live stream.
    """
    if isinstance(source, int) or (isinstance(source, str) and re.fullmatch(r"\s*-?\d+\s*", source)):
        return CameraSource(int(source))
    if source is None or not str(source).strip():
        raise UserError("no source given: pass a camera index such as source=0, a video file, an image or a folder")
    if URL.match(str(source).strip()):
        return StreamSource(str(source).strip())
    path = Path(str(source)).expanduser()
    if not path.exists():
        raise UserError(f"source not found: {path} (give a camera index such as source=0, a video file, "
                        f"an image or a folder of images)")
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                       key=lambda p: p.name)
        if not files:
            raise UserError(f"no images ({' '.join(IMAGE_EXTENSIONS)}) in folder {path}")
        return ImageSource(files, fps, f"{path} ({len(files)} images)")
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return ImageSource([path], fps, str(path))
    if suffix in VIDEO_EXTENSIONS:
        return VideoSource(path, fps)
    raise UserError(f"unsupported source extension {suffix or '(none)'!r} for {path}: give a camera index, a video "
                    f"({' '.join(VIDEO_EXTENSIONS)}), an image ({' '.join(IMAGE_EXTENSIONS)}) or a folder of images")


END = object()  # queued after the last frame


class CaptureThread:
    """Reads a source on a background thread into a bounded queue; iterate over it to get frames.

    `drop_stale` (default: the source is live) keeps only the newest frames when the consumer is
    slower than the source, counting the dropped ones in `dropped`. `realtime` hands out the frames of
    a file at the times they say (and drops stale ones, as for a camera). Errors on the thread (a camera
    unplugged, a corrupt image) are raised in the consumer at the point they occurred.
    """

    def __init__(self, source: FrameSource, queue_size: int | None = None, drop_stale: bool | None = None,
                 realtime: bool = False):
        self.source = source
        self.pace = realtime and not source.live  # a camera sets its own pace
        self.drop_stale = (source.live or realtime) if drop_stale is None else drop_stale
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size or (1 if self.drop_stale else 4))
        self.dropped = 0
        self.frames_read = 0
        self.read_seconds = 0.0  # time spent decoding on the thread
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="capture", daemon=True)

    def __enter__(self) -> "CaptureThread":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def run(self) -> None:
        started = None  # realtime: the wall-clock time of the source's t = 0
        try:
            while not self.stopping.is_set():
                start = time.perf_counter()
                frame = self.source.read()
                self.read_seconds += time.perf_counter() - start
                if frame is None:
                    break
                self.frames_read += 1
                if self.pace:
                    started = time.monotonic() - frame.t if started is None else started
                    self.stopping.wait(max(0.0, started + frame.t - time.monotonic()))
                if self.drop_stale:
                    self.put_newest(frame)
                else:
                    self.put_waiting(frame)
            self.put_waiting(END)
        except BaseException as error:  # handed to the consumer, which raises it
            self.put_waiting(error)

    def put_newest(self, frame: Frame) -> None:
        while True:
            try:
                self.queue.put_nowait(frame)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.queue.get_nowait()
                    self.dropped += 1

    def put_waiting(self, item) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(queue.Full):
                self.queue.put(item, timeout=0.1)
                return

    def stop(self) -> None:
        """Stop reading, wait for the thread and close the source."""
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join()
        self.source.close()
