"""Run the tracker once over the gesture clips and the gesture-free footage, and cache the tracks.

Writes `experiments/gestures/tracks/<model>/<set>/<clip>.jsonl` (git-ignored; `<model>` is the name and
a hash of the model file and of the tracker's settings, so a new model or tracker gets its own cache and the
evaluation reruns on it) in the JSONL schema of track.py. Clips already cached are skipped.

    python experiments/gestures/cache_tracks.py [--checkpoint PATH] [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from heatmapnet.gestures.replay import track_records, write_jsonl  # noqa: E402
from heatmapnet.pipeline import HandTracker, chosen_precision, resolve_model  # noqa: E402
from heatmapnet.sources.capture import ImageSource, open_source  # noqa: E402
from heatmapnet.tracking.tracker import TrackerConfig  # noqa: E402

HERE = Path(__file__).resolve().parent
WEBCAM10_FPS = 30.0  # the captures' camera rate; frame_index counts camera frames (thinned 1 in 3 or 5)


def cache_folder(checkpoint) -> Path:
    """The cache of one model tracked with today's tracker settings: either changing makes a new one. The shipped
    model is the copy HandTracker runs by default here (int8 on CPUs with VNNI)."""
    model = resolve_model(checkpoint, "onnxruntime", chosen_precision("auto", checkpoint, "onnxruntime", "cpu"))
    digest = hashlib.sha1(model.read_bytes()).hexdigest()[:10]
    tracker = hashlib.sha1(json.dumps(asdict(TrackerConfig()), sort_keys=True).encode()).hexdigest()[:6]
    return HERE / "tracks" / f"{model.stem}-{digest}-tracker{tracker}"


def egogestar_clips(data: Path):
    with (data / "egogestar_dev" / "clips.csv").open() as file:
        for row in csv.DictReader(file):
            yield "egogestar_dev", Path(row["file"]).stem, lambda row=row: open_source(data / "egogestar_dev" / row["file"])


def webcam4_clips(data: Path):
    for video in sorted((data / "webcam4" / "videos").glob("*.mp4")):
        yield "webcam4", video.stem, lambda video=video: open_source(video)


class TimedImages(ImageSource):
    """Thinned image sequences, timed by their camera frame index."""

    def __init__(self, files, indices, description):
        super().__init__(files, WEBCAM10_FPS, description)
        self.indices = indices

    def read(self):
        frame = super().read()
        if frame is not None:
            frame.t = self.indices[frame.index] / WEBCAM10_FPS
        return frame


def webcam10_sequences(data: Path):
    images = json.loads((data / "webcam10" / "annotations.json").read_text())["images"]
    sequences = defaultdict(list)
    for image in images:
        sequences[image["video"]].append(image)
    for video, members in sorted(sequences.items()):
        if any(member["frame_index"] is None for member in members):
            continue  # unordered dumps: not footage
        members.sort(key=lambda member: member["frame_index"])
        files = [data / "webcam10" / member["file_name"] for member in members]
        indices = [member["frame_index"] for member in members]
        yield "webcam10", video.replace("/", "__"), lambda f=files, i=indices, v=video: TimedImages(f, i, v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="model to track with (default: the shipped one)")
    parser.add_argument("--data", type=Path, default=HERE.parents[1].parent / "shared" / "data")
    args = parser.parse_args()
    folder = cache_folder(args.checkpoint)
    tracker = HandTracker(args.checkpoint, threads=1)
    clips = [*egogestar_clips(args.data), *webcam4_clips(args.data), *webcam10_sequences(args.data)]
    todo = [(name, clip, opener) for name, clip, opener in clips
            if not (folder / name / f"{clip}.jsonl").exists()]
    for name, clip, opener in tqdm(todo, desc=f"tracking into {folder.relative_to(HERE)}", unit="clip"):
        write_jsonl(track_records(tracker, opener()), folder / name / f"{clip}.jsonl")
    print(folder)


if __name__ == "__main__":
    main()
