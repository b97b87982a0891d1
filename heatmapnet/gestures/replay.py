"""Tracks of a whole clip as frame records (the JSONL schema of heatmapnet/outputs/records.py), and back.

Recording templates and the evaluation both need a clip's tracks; keeping them as the very records
track.py writes means a `track.py output.jsonl=...` file can stand in for the video, and cached tracks
are read back exactly as the pipeline produced them.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable, Iterator

from heatmapnet.errors import UserError
from heatmapnet.gestures.config import GestureConfig
from heatmapnet.gestures.recognizer import path_length, span
from heatmapnet.gestures.strokes import Segmenter, Stroke
from heatmapnet.outputs.records import result_record
from heatmapnet.pipeline import HandTracker
from heatmapnet.sources.capture import FrameSource
from heatmapnet.tracking.tracker import TrackedHand


def track_records(tracker: HandTracker, source: FrameSource) -> Iterator[dict]:
    """One record per frame of `source` (tracker reset first, so ids start at 1), as track.py writes them: the
    last record also holds what the stages released when the source ended (`HandTracker.finish`)."""
    tracker.reset()
    frame = source.read()
    while frame is not None:
        result = tracker.process(frame.image, frame.t)
        following = source.read()
        if following is None:
            result.events.extend(tracker.finish())
        yield result_record(frame, result)
        frame = following


def hands_from_record(record: dict) -> list[TrackedHand]:
    """The confirmed tracks of a record, as the tracker reported them (null sizes back to NaN)."""
    def value(track, key):
        return math.nan if track.get(key) is None else float(track[key])

    return [TrackedHand(track["id"], value(track, "x"), value(track, "y"), value(track, "vx"), value(track, "vy"),
                        value(track, "w"), value(track, "h"), value(track, "score"), int(track["age"]),
                        bool(track["missed"]))
            for track in record.get("tracks", [])]


def write_jsonl(records: Iterable[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("w") as file:
        for record in records:
            file.write(json.dumps(record) + "\n")
    partial.replace(path)


def read_jsonl(path: Path) -> list[dict]:
    """Records of a track.py JSONL file; anything else is one clear error."""
    try:
        return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"cannot read tracks from {path}: {error} (give a JSONL file written by "
                        f"`python track.py output.jsonl=...`)") from None


def main_track(records: list[dict]) -> int | None:
    """The id of the track seen (not coasting) in the most frames: the hand a clip is about."""
    counts: dict[int, int] = {}
    for record in records:
        for track in record.get("tracks", []):
            if not track["missed"]:
                counts[track["id"]] = counts.get(track["id"], 0) + 1
    return max(counts, key=counts.get) if counts else None


def clip_strokes(records: list[dict], config: GestureConfig) -> list[Stroke]:
    """Every stroke of every track of a clip, as the recogniser would cut them."""
    segmenter = Segmenter(config)
    strokes = [stroke for record in records for stroke in segmenter.update(record["t"], hands_from_record(record))]
    return strokes + segmenter.finish()


def example_stroke(records: list[dict], config: GestureConfig) -> Stroke | None:
    """A clip's example of its gesture: the main track's longest stroke (by path length) among those that
    span `shape_min_distance` hand sizes (smaller ones could never be recognised as a shape)."""
    main = main_track(records)
    strokes = [stroke for stroke in clip_strokes(records, config)
               if stroke.track_id == main and span(stroke) >= config.shape_min_distance]
    return max(strokes, key=lambda stroke: path_length(stroke.xy), default=None)
