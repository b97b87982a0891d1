"""Keeping a video's labels safe on disk: atomic saves with one backup, recovery, and never
overwriting a file that is not ours.

A save writes `<file>.tmp`, flushes it to disk, moves the previous file to `<file>.bak` and renames
the temp file into place. Whatever moment a crash hits, one complete copy survives: the file, the
finished temp file (newer), or the backup. A file that is corrupt or belongs to another video is
reported and left alone; the labels then go to `<name>-2.hands.json` beside it (or -3, ...).
A file belongs to a video when the name, size, frame count and frame rate match and, where the file
stores one (files since this check), a thumbnail of the first frame looks the same.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from heatmapnet.data.hands_json import (
    SUFFIX,
    Annotations,
    FormatError,
    dumps,
    read_file,
    relative_video,
)
from heatmapnet.errors import UserError

MAX_ALTERNATIVES = 50
THUMBNAIL = 16  # first-frame fingerprint: THUMBNAIL x THUMBNAIL grey levels
THUMBNAIL_TOLERANCE = 2.0  # mean grey-level difference still "the same frame": re-encoding at JPEG quality 70
#                            moves a thumbnail by 0.1, another take of a similar scene by 7 or more


@dataclass(frozen=True)
class VideoInfo:
    """What the store needs to know about a video to tell its labels from another video's."""

    path: Path
    width: int
    height: int
    fps: float
    frame_count: int
    first_frame: str | None = None  # thumbnail(frame 0)

    @classmethod
    def of(cls, video) -> "VideoInfo":
        """From an open heatmapnet.sources.video.Video."""
        return cls(video.path, video.width, video.height, video.fps, video.frame_count, thumbnail(video.frame(0)))


def thumbnail(image: np.ndarray) -> str:
    """A cheap content fingerprint: the frame shrunk to 16x16 grey levels, as hex. Robust to the small pixel
    differences between decoders (compare with `same_thumbnail`), unlike a hash of the pixels."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return cv2.resize(grey, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA).astype(np.uint8).tobytes().hex()


def same_thumbnail(a: str, b: str) -> bool:
    try:
        first, second = (np.frombuffer(bytes.fromhex(text), np.uint8).astype(np.float32) for text in (a, b))
    except ValueError:  # not hex: a damaged entry cannot vouch for the file
        return False
    return first.shape == second.shape and float(np.abs(first - second).mean()) <= THUMBNAIL_TOLERANCE


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.temp = self.path.with_name(self.path.name + ".tmp")
        self.backup = self.path.with_name(self.path.name + ".bak")

    def save(self, annotations: Annotations) -> None:
        data = dumps(annotations).encode("utf-8")
        with open(self.temp, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if self.path.exists():
            os.replace(self.path, self.backup)
        os.replace(self.temp, self.path)

    def recover(self) -> tuple[Annotations | None, list[str]]:
        """The newest complete copy of this file's labels (None when there is none) and what was done.

        Raises FormatError when the file itself exists but is unreadable or foreign to this tool.
        """
        notes = []
        current = read_file(self.path) if self.path.exists() else None
        if self.temp.exists():
            try:
                newer = read_file(self.temp)
            except FormatError:
                self.temp.unlink()
                notes.append(f"an interrupted save ({self.temp.name}) was incomplete and is discarded; "
                             f"the last complete save is used")
            else:
                notes.append(f"recovered the changes of an interrupted save from {self.temp.name}")
                return newer, notes
        if current is None and self.backup.exists():
            try:
                current = read_file(self.backup)
                notes.append(f"{self.path.name} was missing: restored the labels from {self.backup.name}")
            except FormatError as error:
                notes.append(f"{error}; it is left untouched")
        return current, notes


def default_path(video: Path) -> Path:
    """`clip.mp4` -> `clip.hands.json` in the same folder."""
    return Path(video).with_suffix(SUFFIX) if Path(video).suffix else Path(str(video) + SUFFIX)


def alternatives(path: Path):
    """`path`, then `<name>-2<ext>`, `<name>-3<ext>`, ... where labels go when `path` cannot be used."""
    name = path.name
    base, ext = (name[: -len(SUFFIX)], SUFFIX) if name.endswith(SUFFIX) else (path.stem, path.suffix)
    yield path
    for number in range(2, MAX_ALTERNATIVES + 2):
        yield path.with_name(f"{base}-{number}{ext}")


def open_annotations(video: VideoInfo, out: Path | None = None,
                     poses: tuple[str, ...] | None = None) -> tuple[Store, Annotations, list[str]]:
    """The store and labels to work with for `video`, plus one line per thing the user should know.

    Reloads the existing file (recovering an interrupted save), or skips past files that are corrupt
    or belong to another video, never touching them, to the first usable or free name. `poses` (the
    command line's --poses) replaces the file's pose classes; without it the file's own are kept.
    """
    notes: list[str] = []
    for path in alternatives(Path(out) if out else default_path(video.path)):
        store = Store(path)
        try:
            annotations, recovered = store.recover()
            notes += recovered
            if annotations is not None:
                _check_same_video(annotations, video, path)
        except FormatError as error:
            notes.append(f"{error}; it is left untouched")
            continue
        if annotations is None:
            if notes:
                notes.append(f"starting a new label file {path}")
            annotations = Annotations(video=relative_video(path, video.path), width=video.width,
                                      height=video.height, fps=video.fps, frame_count=video.frame_count)
        annotations.first_frame = annotations.first_frame or video.first_frame  # older files gain it
        annotations.current_frame = min(max(annotations.current_frame, 0), max(video.frame_count - 1, 0))
        if poses is not None:
            before = annotations.poses
            annotations.set_poses(poses)
            if annotations.poses != before:
                notes.append(f"pose classes: {', '.join(annotations.poses)} (`l` cycles a hand's pose)")
        return store, annotations, notes
    raise UserError(f"no usable label file name beside {default_path(video.path)}: "
                    f"move the broken ones away or pass --out PATH")


def _check_same_video(annotations: Annotations, video: VideoInfo, path: Path) -> None:
    theirs = (Path(annotations.video).name, annotations.width, annotations.height)
    ours = (video.path.name, video.width, video.height)
    if theirs != ours:
        raise FormatError(f"{path} labels {theirs[0]} ({theirs[1]}x{theirs[2]}), not {ours[0]} ({ours[1]}x{ours[2]})")
    if annotations.frame_count != video.frame_count or abs(annotations.fps - video.fps) > 0.01 * video.fps:
        raise FormatError(f"{path} labels a {theirs[0]} of {annotations.frame_count} frames at {annotations.fps:g} "
                          f"fps, this one has {video.frame_count} at {video.fps:g} fps: another recording")
    if annotations.first_frame and video.first_frame and not same_thumbnail(annotations.first_frame,
                                                                             video.first_frame):
        raise FormatError(f"{path} labels another recording named {theirs[0]} (its first frame looks different)")
