"""Record your own gestures: `python -m heatmapnet.gestures record NAME source=clip.mp4`.

    python -m heatmapnet.gestures record NAME source=clip.mp4 [out=gestures.json]
    python -m heatmapnet.gestures record NAME source=folder/        # every video in it: one example each
    python -m heatmapnet.gestures record NAME tracks=tracks.jsonl   # from `track.py output.jsonl=...`
    python -m heatmapnet.gestures record none source=fidgeting.mp4  # movement that must never fire

Draw the shape once per clip with one hand, pausing briefly before and after. The hand's longest stroke
becomes an example named NAME, added to `out` (created if missing; default gestures.json). Three to five
examples per shape are enough. Then: `python track.py gestures=gestures.json` (or
`gestures.templates=gestures.json` with other gesture settings). Other keys: checkpoint=PATH (tracking
model), mirror=true (recording a mirrored view), and every `gestures.*` setting of configs/track.yaml
by its name (e.g. move_speed=1.0).
"""
from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

from heatmapnet.cli import parse_options, run_tool
from heatmapnet.config import typed
from heatmapnet.errors import UserError
from heatmapnet.gestures.config import GestureConfig
from heatmapnet.gestures.replay import example_stroke, read_jsonl, track_records
from heatmapnet.gestures.shapes import Templates, normalise
from heatmapnet.sources.capture import VIDEO_EXTENSIONS, open_source

OPTIONS = {"source": None, "tracks": None, "out": "gestures.json", "checkpoint": None,
           **{f.name: f.default for f in fields(GestureConfig) if f.name != "templates"}}
PROGRAM = "python -m heatmapnet.gestures record NAME"


def clips_of(source: str) -> list[Path]:
    path = Path(source).expanduser()
    if path.is_dir():
        videos = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
        if not videos:
            raise UserError(f"no videos ({' '.join(VIDEO_EXTENSIONS)}) in folder {path}")
        return videos
    return [path]


def clip_records(options: dict) -> list[tuple[str, list[dict]]]:
    """(clip name, frame records) for each clip named by source= or tracks=."""
    if options["tracks"]:
        return [(options["tracks"], read_jsonl(Path(options["tracks"])))]
    if not options["source"]:
        raise UserError("give the clip: source=clip.mp4 (or a folder of clips) or tracks=tracks.jsonl")
    from heatmapnet.pipeline import HandTracker
    tracker = HandTracker(options["checkpoint"])
    return [(str(clip), list(track_records(tracker, open_source(str(clip))))) for clip in clips_of(options["source"])]


def record(name: str, options: dict) -> None:
    config = typed(GestureConfig, {key: options[key] for key in OPTIONS if hasattr(GestureConfig, key)}, "gestures")
    out = Path(options["out"])
    templates = Templates.load(out) if out.exists() else Templates()
    added = 0
    for clip, records in clip_records(options):
        stroke = example_stroke(records, config)
        normalised = None if stroke is None else normalise(stroke.xy, config.mirror)
        if normalised is None:
            print(f"{clip}: no stroke found (was the hand tracked? did it move by at least "
                  f"{config.shape_min_distance} hand sizes?)", file=sys.stderr)
            continue
        templates.add(name, normalised, f"{Path(clip).name} {stroke.t_start:.2f}-{stroke.t_end:.2f}s")
        added += 1
        print(f"{clip}: {name} from {stroke.t_start:.2f} to {stroke.t_end:.2f} s", file=sys.stderr)
    if not added:
        raise UserError("no example recorded: no clip had a stroke of the tracked hand")
    templates.save(out)
    print(f"{out}: {added} example(s) of {name!r} added, {templates.names.count(name)} in all, "
          f"{len(templates)} templates")


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[0] != "record" or "=" in argv[1]:
        raise UserError("usage: python -m heatmapnet.gestures record NAME source=clip.mp4 [out=gestures.json] "
                        "(see --help)")
    record(argv[1], parse_options(argv[2:], OPTIONS, PROGRAM))


if __name__ == "__main__":
    sys.exit(run_tool(main))
