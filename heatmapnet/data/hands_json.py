"""The annotator's `.hands.json` format, and the `annotations` reader that trains on it directly.

One file per video: {"version": 2, "video": <path relative to the file>, "width", "height", "fps",
"frame_count", ["poses": [class, ...],] "frames": {"<frame index>": [marker, ...]}}. A marker is a circle
(centre x, y and radius r in continuous frame pixels) with a stable `id` across frames, a label, where it
came from ("manual" or "flow"), whether optical flow lost it (`uncertain`) and, where the file names pose
classes, optionally the hand's `pose` (one of "poses"; absent: not labelled). A frame listed in "frames" is
labelled, an empty list meaning "no hands here" (the annotator's `x`, or Enter on a frame without hands):
training learns it as a negative; frames not listed are unlabelled and never used.

Compatibility: readers accept every version up to VERSION (optional keys added since default), and a
key added later without a version bump (e.g. the video's fingerprint) is optional for readers. Version 1
files (no "poses", no marker `pose`) load as files without pose labels; files of the first annotator (no
"current_frame", markers without "source" or "uncertain") load as manual, certain markers. Version 2
added the pose classes and the per-marker pose.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from heatmapnet.data.hands import LABELS, OTHER, Hand, Sample
from heatmapnet.data.registry import register_reader
from heatmapnet.errors import UserError

VERSION = 2  # 2: pose classes and per-marker poses
READABLE_VERSIONS = range(1, VERSION + 1)
MANUAL = "manual"
FLOW = "flow"
SOURCES = (MANUAL, FLOW)
SUFFIX = ".hands.json"


class FormatError(UserError):
    """The file is not a readable `.hands.json` of this version (corrupt, truncated or another tool's)."""


@dataclass(frozen=True)
class Marker:
    """One hand on one frame, as the annotator shows it: a circle whose radius is the hand size."""

    id: int
    x: float
    y: float
    r: float
    label: str = "open"
    source: str = MANUAL
    uncertain: bool = False
    pose: str | None = None  # one of the file's pose classes; None: not labelled

    def to_hand(self) -> Hand:
        return Hand(self.x, self.y, 2.0 * self.r, 2.0 * self.r, self.label)

    def touched(self, **changes) -> "Marker":
        """This marker after a user edit: the user vouches for it, so it is manual and certain."""
        return replace(self, source=MANUAL, uncertain=False, **changes)


@dataclass
class Annotations:
    """Everything stored for one video; `frames` maps a frame index to its markers."""

    video: str
    width: int
    height: int
    fps: float
    frame_count: int
    frames: dict[int, tuple[Marker, ...]] = field(default_factory=dict)
    current_frame: int = 0  # where the user left off
    first_frame: str | None = None  # frame 0 as a 16x16 grey thumbnail (hex): tells same-sized videos apart
    poses: tuple[str, ...] = ()  # the pose classes a marker can be labelled with (the annotator's `l` cycles them)

    def markers(self, frame: int) -> tuple[Marker, ...]:
        return self.frames.get(frame, ())

    def is_labelled_by_hand(self, frame: int) -> bool:
        """A frame the user has worked on: it holds a manual marker or was accepted as empty."""
        if frame not in self.frames:
            return False
        markers = self.frames[frame]
        return not markers or any(m.source == MANUAL for m in markers)

    def next_id(self) -> int:
        return 1 + max((m.id for markers in self.frames.values() for m in markers), default=0)

    def set_poses(self, names) -> None:
        """Use `names` as the pose classes; refused (UserError) where it would drop a class some marker has."""
        names = tuple(names)
        if not names or not distinct_names(names) or any(n.strip() != n for n in names):
            raise UserError(f"pose classes must be distinct non-empty names, got {list(names)}")
        used = {m.pose for markers in self.frames.values() for m in markers if m.pose is not None}
        dropped = sorted(used - set(names))
        if dropped:
            raise UserError(f"hands in this file are labelled {', '.join(dropped)}, which the pose classes "
                            f"{','.join(names)} leave out: keep every class in use")
        self.poses = names


def distinct_names(names) -> bool:
    """Pose classes are non-empty strings, each once (a file's "poses", or the annotator's --poses)."""
    return all(isinstance(name, str) and name for name in names) and len(set(names)) == len(names)


def _marker_dict(marker: Marker) -> dict:
    """A marker as stored: `pose` only where it is labelled."""
    item = asdict(marker)
    if item["pose"] is None:
        del item["pose"]
    return item


def to_dict(annotations: Annotations) -> dict:
    frames = {str(index): [_marker_dict(m) for m in markers] for index, markers in sorted(annotations.frames.items())}
    return {"version": VERSION, "video": annotations.video, "width": annotations.width,
            "height": annotations.height, "fps": annotations.fps, "frame_count": annotations.frame_count,
            "current_frame": annotations.current_frame,
            **({"poses": list(annotations.poses)} if annotations.poses else {}), "frames": frames,
            **({"first_frame": annotations.first_frame} if annotations.first_frame else {})}


def from_dict(data, name: str) -> Annotations:
    """Parse and validate; anything unexpected raises FormatError naming the file and the problem."""
    version = data.get("version") if isinstance(data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise FormatError(f"{name} was written by a newer annotator (format version {version}; this one reads up "
                          f"to {VERSION}): update HeatmapNet")
    if version not in READABLE_VERSIONS or not isinstance(data.get("frames"), dict):
        raise FormatError(f"{name} is not an annotator file of a version up to {VERSION} (expected \"version\": "
                          f"1 to {VERSION} and a \"frames\" object)")
    try:
        poses = data.get("poses", [])
        if not isinstance(poses, list) or not distinct_names(poses):
            raise ValueError(f"\"poses\" must be a list of distinct names, not {poses!r}")
        frames = {int(index): tuple(_marker(item, poses) for item in items) for index, items in data["frames"].items()}
        annotations = Annotations(video=str(data["video"]), width=int(data["width"]), height=int(data["height"]),
                                  fps=float(data["fps"]), frame_count=int(data["frame_count"]), frames=frames,
                                  current_frame=int(data.get("current_frame", 0)),
                                  first_frame=str(data["first_frame"]) if data.get("first_frame") else None,
                                  poses=tuple(poses))
    except (KeyError, TypeError, ValueError) as error:
        raise FormatError(f"{name} has a malformed entry ({type(error).__name__}: {error})") from None
    for index, markers in annotations.frames.items():
        ids = [m.id for m in markers]
        if len(set(ids)) != len(ids):
            raise FormatError(f"{name}: frame {index} lists the same hand id twice")
    return annotations


def _marker(item: dict, poses) -> Marker:
    pose = item.get("pose")
    marker = Marker(id=int(item["id"]), x=float(item["x"]), y=float(item["y"]), r=float(item["r"]),
                    label=str(item.get("label", "open")), source=str(item.get("source", MANUAL)),
                    uncertain=bool(item.get("uncertain", False)), pose=None if pose is None else str(pose))
    if marker.label not in LABELS or marker.source not in SOURCES:
        raise ValueError(f"hand {marker.id} has label {marker.label!r} / source {marker.source!r}")
    if marker.pose is not None and marker.pose not in poses:
        raise ValueError(f"hand {marker.id} has pose {marker.pose!r}, not one of the file's poses {poses}")
    if not (math.isfinite(marker.x) and math.isfinite(marker.y) and marker.r > 0):
        raise ValueError(f"hand {marker.id} has a non-finite centre or a radius <= 0")
    return marker


def needs_review(markers) -> bool:
    """Flow placed a hand here and nobody has checked it (a review pass visits these frames)."""
    return any(m.source == FLOW or m.uncertain for m in markers)


def training_hands(markers) -> list[Hand]:
    """Hands to learn from: a marker the flow lost (`uncertain`) is kept but as `other`, so the loss
    ignores its area instead of learning a position nobody vouched for."""
    return [(replace(m, label=OTHER) if m.uncertain else m).to_hand() for m in markers]


def dumps(annotations: Annotations) -> str:
    return json.dumps(to_dict(annotations), separators=(",", ":"))


def read_file(path: Path) -> Annotations:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise FormatError(f"{path} is not a text file") from None
    except json.JSONDecodeError as error:
        raise FormatError(f"{path} is not valid JSON ({error.msg} at line {error.lineno}); it may be truncated") from None
    return from_dict(data, str(path))


def video_path(json_path: Path, annotations: Annotations) -> Path:
    """The video a file describes: its "video" entry is relative to the file's own folder."""
    return (Path(json_path).parent / annotations.video).resolve()


def existing_video(json_path: Path, annotations: Annotations) -> Path:
    """`video_path`, checked: a missing video is a UserError that says where it was looked for."""
    video = video_path(json_path, annotations)
    if not video.is_file():
        raise UserError(f"{json_path} labels {video}, which does not exist: keep the video next to its labels")
    return video


def label_files(root) -> list[Path]:
    """`root` if it is a label file, else every label file in the folder `root`."""
    root = Path(str(root)).expanduser()
    if root.is_dir():
        files = sorted(root.glob(f"*{SUFFIX}"))
        if not files:
            raise UserError(f"no *{SUFFIX} files in {root}: label a video with `python -m annotator VIDEO` first")
        return files
    if root.is_file():
        return [root]
    raise UserError(f"{root} does not exist: point at a {SUFFIX} file or a folder of them")


def relative_video(json_path: Path, video: Path) -> str:
    """What to store as "video" so the pair can be moved together."""
    try:
        return os.path.relpath(Path(video).resolve(), Path(json_path).resolve().parent)
    except ValueError:  # another drive on Windows
        return str(Path(video).resolve())


@register_reader("annotations")
class HandsJsonReader:
    """Labelled frames of `.hands.json` files (a file, or every one in a folder) as training samples.

    The pixels come from the video itself: `image_path` is the video, `frame_index` the frame in
    decode order, and `meta["video_frame"]` is True. Hands come from `training_hands`.
    """

    def read(self, root: Path) -> list[Sample]:
        return [sample for path in label_files(root) for sample in self._samples(path)]

    @staticmethod
    def _samples(path: Path) -> list[Sample]:
        annotations = read_file(path)
        video = existing_video(path, annotations)
        return [Sample(hands=training_hands(markers),
                       image_path=str(video), width=annotations.width, height=annotations.height,
                       video=video.stem, frame_index=index, meta={"video_frame": True})
                for index, markers in sorted(annotations.frames.items())]
