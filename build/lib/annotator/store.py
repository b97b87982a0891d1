"""Keeping a video's labels safe on disk: atomic saves with one backup, recovery, and never
overwriting a file that is not ours.

A save writes `<file>.tmp`, flushes it to disk, moves the previous file to `<file>.bak` and renames
the temp file into place. Whatever moment a crash hits, one complete copy survives: the file, the
finished temp file (newer), or the backup. A file that is corrupt or belongs to another video is
reported and left alone; the labels then go to `<name>-2.hands.json` beside it (or -3, ...).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class VideoInfo:
    """What the store needs to know about a video to tell its labels from another video's."""

    path: Path
    width: int
    height: int
    fps: float
    frame_count: int

    @classmethod
    def of(cls, video) -> "VideoInfo":
        """From an open heatmapnet.sources.video.Video."""
        return cls(video.path, video.width, video.height, video.fps, video.frame_count)


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


def open_annotations(video: VideoInfo, out: Path | None = None) -> tuple[Store, Annotations, list[str]]:
    """The store and labels to work with for `video`, plus one line per thing the user should know.

    Reloads the existing file (recovering an interrupted save), or skips past files that are corrupt
    or belong to another video, never touching them, to the first usable or free name.
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
        annotations.frame_count = video.frame_count
        annotations.current_frame = min(max(annotations.current_frame, 0), max(video.frame_count - 1, 0))
        return store, annotations, notes
    raise UserError(f"no usable label file name beside {default_path(video.path)}: "
                    f"move the broken ones away or pass --out PATH")


def _check_same_video(annotations: Annotations, video: VideoInfo, path: Path) -> None:
    theirs = (Path(annotations.video).name, annotations.width, annotations.height)
    ours = (video.path.name, video.width, video.height)
    if theirs != ours:
        raise FormatError(f"{path} labels {theirs[0]} ({theirs[1]}x{theirs[2]}), not {ours[0]} ({ours[1]}x{ours[2]})")
