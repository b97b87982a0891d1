"""Ghost tracks beside a tracked hand: the tracker's `spawn_gap` on recorded detections (issue 10).

    python experiments/generalisation/spawn_gap.py [tracks=experiments/gestures/tracks/<shipped model>]

A V-sign, a pointing finger or a large close hand can leave a second peak beside the hand's own; the tracker
used to start a track on it, confirmed after `min_hits` frames: one hand reported twice. `track.spawn_gap` starts
no track within that many hand sizes of a confirmed one. This replays the tracker on the detections that
`experiments/gestures/cache_tracks.py` recorded with the shipped model (every frame's detections and times, the
tracker's whole input) for each gap, and counts per footage set: confirmed ids, tracked hand-frames, and frames
where two confirmed tracks lie within half a hand size of each other (one hand reported twice, or two hands
overlapping). Writes spawn_gap.md beside itself.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from experiments.gestures.cache_tracks import cache_folder  # noqa: E402
from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.errors import UserError  # noqa: E402
from heatmapnet.runtime.decode import COLUMNS  # noqa: E402
from heatmapnet.tracking.tracker import MultiTracker, TrackerConfig  # noqa: E402

GAPS = (0.0, 0.3, 0.5, 0.75)
SETS = ("webcam10", "webcam4", "egogestar_dev")
HERE = Path(__file__).resolve().parent


def detections_of(record: dict) -> np.ndarray:
    rows = [[math.nan if d.get(key) is None else d[key] for key in COLUMNS] for d in record["detections"]]
    return np.array(rows, np.float64).reshape(-1, 5)


def replayed(records: list[dict], config: TrackerConfig) -> list[list]:
    tracker = MultiTracker(config)
    return [tracker.update(r["t"], detections_of(r), (r["width"], r["height"])) for r in records]


def doubles(frames: list[list]) -> int:
    """Frames with two confirmed tracks closer than half the larger one's size."""
    count = 0
    for hands in frames:
        count += any(math.hypot(a.x - b.x, a.y - b.y) < 0.5 * max(math.sqrt(a.w * a.h), math.sqrt(b.w * b.h))
                     for i, a in enumerate(hands) for b in hands[:i])
    return count


def webcam10_labels(data: Path) -> dict[tuple[str, str], list[tuple[float, float, float]]]:
    """(clip name as cached, image file name) -> labelled hands (x, y, size) of webcam10's sequences."""
    coco = json.loads((data / "webcam10" / "annotations.json").read_text())
    images = {image["id"]: image for image in coco["images"]}
    labels: dict[tuple[str, str], list] = {}
    for box in coco["annotations"]:
        image = images[box["image_id"]]
        x, y, w, h = box["bbox"]
        key = (image["video"].replace("/", "__"), Path(image["file_name"]).name)
        labels.setdefault(key, []).append((x + w / 2, y + h / 2, math.sqrt(w * h)))
    return labels


def matched(hands: list, labelled: list) -> int:
    """Tracked hands within half a labelled hand's size of its centre, each label taken once (nearest first)."""
    pairs = sorted((math.hypot(h.x - x, h.y - y) / size, i, j) for i, h in enumerate(hands)
                   for j, (x, y, size) in enumerate(labelled) if math.hypot(h.x - x, h.y - y) < 0.5 * size)
    used_hands, used_labels = set(), set()
    for _, i, j in pairs:
        if i not in used_hands and j not in used_labels:
            used_hands.add(i), used_labels.add(j)
    return len(used_hands)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"tracks": str(cache_folder(None)), "data": str(REPO.parent / "shared" / "data")},
                            "spawn_gap")
    folder = Path(options["tracks"]).resolve()
    paths = {name: sorted((folder / name).glob("*.jsonl")) for name in SETS}
    clips = {name: [[json.loads(line) for line in path.open()] for path in paths[name]] for name in SETS}
    if not any(clips.values()):
        raise UserError(f"no recorded tracks in {folder}: run experiments/gestures/cache_tracks.py first")
    lines = [f"`python experiments/generalisation/spawn_gap.py` (detections recorded in `{folder.relative_to(REPO)}`)",
             "", "| spawn_gap (hand sizes) | " + " | ".join(
                 f"{name} ({len(clips[name])} clips, {sum(map(len, clips[name]))} frames): ids / hand-frames / "
                 f"doubled frames" for name in SETS) + " | webcam10 hand-frames on a labelled hand (of labels) |",
             "|---" * (len(SETS) + 2) + "|"]
    labels = webcam10_labels(Path(options["data"]))
    for gap in GAPS:
        config = replace(TrackerConfig(), spawn_gap=gap)
        cells, on_labels, label_count = [], 0, 0
        for name in SETS:
            runs = [replayed(records, config) for records in clips[name]]
            ids = sum(len({hand.id for hands in frames for hand in hands}) for frames in runs)
            hand_frames = sum(len(hands) for frames in runs for hands in frames)
            cells.append(f"{ids} / {hand_frames} / {sum(doubles(frames) for frames in runs)}")
            if name == "webcam10":
                for path, records, frames in zip(paths[name], clips[name], runs):
                    for record, hands in zip(records, frames):
                        labelled = labels.get((path.stem, record["file"]), [])
                        on_labels += matched(hands, labelled)
                        label_count += len(labelled)
        lines.append(f"| {gap:g}{' (off)' if gap == 0 else ''} | " + " | ".join(cells)
                     + f" | {on_labels} ({label_count}) |")
    text = "\n".join(lines)
    (HERE / "spawn_gap.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    sys.exit(run_tool(main))
