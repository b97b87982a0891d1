"""Gesture recognition on cached hand tracks: leave-one-serial-out on egogestar_dev, latency, and false
triggers on footage without gestures (webcam4 videos, webcam10 sequences).

Tracks come from `cache_tracks.py` (run it first; it tracks with the shipped model, or --checkpoint).
For each variant and each held-out serial, templates are the other serials' clips (each clip's main-track
longest stroke); a test clip's answer is the first event of its main track (no event = wrong). Writes
results.json, results.md, confusion.png here and the table in experiments/README.md; `--ship` also
writes heatmapnet/shipped/gestures.json from all serials with the chosen variant.

    python experiments/gestures/run.py [--checkpoint PATH] [--ship]
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from experiments.gestures.cache_tracks import cache_folder  # noqa: E402

from heatmapnet.gestures.config import GestureConfig  # noqa: E402
from heatmapnet.gestures.recognizer import GestureRecognizer  # noqa: E402
from heatmapnet.gestures.replay import (  # noqa: E402
    clip_strokes,
    example_stroke,
    hands_from_record,
    main_track,
    read_jsonl,
)
from heatmapnet.gestures.shapes import REJECT, Templates, normalise  # noqa: E402
from heatmapnet.gestures.stage import SHIPPED_TEMPLATES  # noqa: E402

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
GESTURES = ("left", "right", "up", "down", "circlecc", "carret", "tick", "del", "square", "star")
NO_GESTURE = "unclassified"
LATENCY_TARGET_S, LATENCY_TARGET_FRAMES = 0.1, 3  # issue 15: 100 ms or 3 frames, whichever is larger


def variants() -> dict[str, tuple[GestureConfig, bool, str]]:
    """name -> (settings, whether `unclassified` clips become `none` templates, description)."""
    base = GestureConfig()
    return {
        "chosen": (base, False, "swipe rule (straight within 0.15 of its length, within 25 degrees of an axis, "
                                "spanning 1 hand size), then direction-aware templates accepted within 0.17 "
                                "(spanning 0.6 hand sizes); moving above "
                                "0.4 hand sizes/s for at most 8 s, a stroke ends after 0.1 s (and 3 frames) below "
                                "when it is a gesture and not within 0.04 of the beginning of another gesture's "
                                "template, else after 0.4 s"),
        "swipe_0.2_30": (replace(base, swipe_deviation=0.2, swipe_angle=30.0), False,
                         "as chosen, swipes straight within 0.2 and within 30 degrees of an axis (the setting before)"),
        "swipe_0.12_20": (replace(base, swipe_deviation=0.12, swipe_angle=20.0), False,
                          "as chosen, swipes straight within 0.12 and within 20 degrees of an axis"),
        "max_duration_6": (replace(base, max_duration=6.0), False,
                           "as chosen, strokes of at most 6 s (the default before: EgoGestAR's slowest stars take "
                           "6.4 s)"),
        "full_pause": (replace(base, early_pause=base.pause), False,
                       "as chosen, every stroke waits the full 0.4 s (no early end)"),
        "early_0.067": (replace(base, early_pause=0.067), False, "as chosen, early end after 0.067 s"),
        "early_frames_1": (replace(base, early_frames=1), False,
                           "as chosen, early end after 0.1 s however few frames (chosen: and 3 frames)"),
        "early_score_0.75": (replace(base, early_score=0.75), False, "as chosen, early end from score 0.75 (the "
                                                                     "default before the tenth session)"),
        "early_score_0.85": (replace(base, early_score=0.85), False, "as chosen, early end from score 0.85"),
        "early_score_0.95": (replace(base, early_score=0.95), False, "as chosen, early end from score 0.95"),
        "prefix_0.03": (replace(base, prefix_distance=0.03), False,
                        "as chosen, a stroke is another template's beginning within 0.03 (chosen: 0.04)"),
        "prefix_0.05": (replace(base, prefix_distance=0.05), False,
                        "as chosen, within 0.05 (the setting before the eleventh session)"),
        "prefix_0.1": (replace(base, prefix_distance=0.1), False, "as chosen, within 0.1"),
        "prefix_0.15": (replace(base, prefix_distance=0.15), False, "as chosen, within 0.15"),
        "with_none": (base, True, "as chosen, plus `unclassified` clips as `none` templates"),
        "templates_only": (replace(base, swipe_deviation=1e-6), False, "no swipe rule: swipes by template too"),
        "rotation_invariant": (replace(base, swipe_deviation=1e-6, early_pause=base.pause), False,
                               "templates only, strokes and templates rotated so their first point lies at "
                               "angle 0 from the centroid (the $1 recogniser's normalisation); no early end"),
        "pause_0.1": (replace(base, pause=0.1, early_pause=0.1), False,
                      "as chosen, every stroke ends after 0.1 s still"),
        "pause_0.2": (replace(base, pause=0.2), False, "as chosen, the full pause 0.2 s"),
        "pause_0.3": (replace(base, pause=0.3), False, "as chosen, the full pause 0.3 s (the setting before the "
                                                       "thirteenth session)"),
        "pause_0.5": (replace(base, pause=0.5), False, "as chosen, the full pause 0.5 s"),
        "move_0.1": (replace(base, move_speed=0.1), False, "as chosen, moving above 0.1 hand sizes/s"),
        "move_0.2": (replace(base, move_speed=0.2), False, "as chosen, moving above 0.2 hand sizes/s"),
        "move_0.3": (replace(base, move_speed=0.3), False, "as chosen, moving above 0.3 hand sizes/s"),
        "move_0.5": (replace(base, move_speed=0.5), False, "as chosen, moving above 0.5 hand sizes/s (the default "
                                                           "before the detector's egocentric fine-tune)"),
        "move_1.0": (replace(base, move_speed=1.0), False, "as chosen, moving above 1.0 hand sizes/s"),
        "min_distance_0.8": (replace(base, min_distance=0.8), False, "as chosen, swipes span 0.8 hand sizes"),
        "min_distance_0.9": (replace(base, min_distance=0.9), False, "as chosen, swipes span 0.9 hand sizes"),
        "min_distance_1.5": (replace(base, min_distance=1.5, shape_min_distance=1.5), False,
                             "as chosen, swipes and shapes span 1.5 hand sizes"),
        "shape_span_1.0": (replace(base, shape_min_distance=1.0), False,
                           "as chosen, shapes span 1 hand size like swipes (the setting before the eleventh session)"),
        "shape_span_0.8": (replace(base, shape_min_distance=0.8), False, "as chosen, shapes span 0.8 hand sizes"),
        "shape_span_0.7": (replace(base, shape_min_distance=0.7), False, "as chosen, shapes span 0.7 hand sizes"),
        "shape_span_0.5": (replace(base, shape_min_distance=0.5), False, "as chosen, shapes span 0.5 hand sizes"),
        "shape_span_0.4": (replace(base, shape_min_distance=0.4), False, "as chosen, shapes span 0.4 hand sizes"),
        "shape_0.15": (replace(base, max_shape_distance=0.15), False, "as chosen, templates accepted up to 0.15"),
        "shape_0.2": (replace(base, max_shape_distance=0.2), False,
                      "as chosen, templates accepted up to 0.2 (the default before)"),
        "loose_0.3": (replace(base, max_shape_distance=0.3), False, "as chosen, templates accepted up to 0.3"),
    }


def load_clips(folder: Path, data: Path) -> list[dict]:
    clips = []
    with (data / "egogestar_dev" / "clips.csv").open() as file:
        for row in csv.DictReader(file):
            records = read_jsonl(folder / "egogestar_dev" / f"{Path(row['file']).stem}.jsonl")
            clips.append({"clip": Path(row["file"]).stem, "label": row["label"], "serial": int(row["serial"]),
                          "fps": float(row["fps"]), "records": records, "main": main_track(records)})
    return clips


def replay(records: list[dict], recognizer: GestureRecognizer) -> list[tuple[float | None, dict]]:
    """(time the event was emitted, event) over a clip; the end of the clip ends open strokes (time None:
    those events say nothing about latency)."""
    recognizer.reset()
    emitted = [(record["t"], event) for record in records
               for event in recognizer.update(record["t"], hands_from_record(record))]
    return emitted + [(None, event) for event in recognizer.finish()]


class RotatedTemplates(Templates):
    """The $1 recogniser's rotation invariance, for comparison: every stroke turned to its indicative angle."""

    @staticmethod
    def rotated(points: np.ndarray) -> np.ndarray:
        angle = math.atan2(points[0, 1], points[0, 0])
        turn = np.array([[math.cos(-angle), -math.sin(-angle)], [math.sin(-angle), math.cos(-angle)]])
        return points @ turn.T

    def add(self, name: str, normalised: np.ndarray, source: str = "") -> None:
        super().add(name, self.rotated(normalised), source)

    def match(self, normalised: np.ndarray) -> tuple[str, float]:
        return super().match(self.rotated(normalised))


def templates_from(clips: list[dict], config: GestureConfig, with_none: bool, kind=Templates) -> Templates:
    templates = kind()
    for clip in clips:
        if clip["label"] in ("left", "right", "up", "down") or (clip["label"] == NO_GESTURE and not with_none):
            continue  # swipes are built in: examples would only add the tracker's noise
        stroke = example_stroke(clip["records"], config)
        normalised = None if stroke is None else normalise(stroke.xy)
        if normalised is not None:
            templates.add(REJECT if clip["label"] == NO_GESTURE else clip["label"], normalised,
                          f"egogestar_dev {clip['clip']} {stroke.t_start:.2f}-{stroke.t_end:.2f}s")
    return templates


def templates_with_swipes(clips, config, with_none, swipe_rule: bool, kind=Templates) -> Templates:
    """Templates for a variant: without the swipe rule, the swipe clips become templates too."""
    templates = templates_from(clips, config, with_none, kind)
    if not swipe_rule:
        for clip in clips:
            if clip["label"] in ("left", "right", "up", "down"):
                stroke = example_stroke(clip["records"], config)
                normalised = None if stroke is None else normalise(stroke.xy)
                if normalised is not None:
                    templates.add(clip["label"], normalised, clip["clip"])
    return templates


def moved(clip: dict, config: GestureConfig) -> bool:
    """Whether the clip's main track moved by at least the smaller of `min_distance` and `shape_min_distance` hand
    sizes (the tracker followed the drawing hand rather than sitting on something still)."""
    hands = [hand for record in clip["records"] for hand in hands_from_record(record)
             if hand.id == clip["main"] and not hand.missed]
    if not hands:
        return False
    xy = np.array([[hand.x, hand.y] for hand in hands])
    size = float(np.median([math.sqrt(hand.w * hand.h) for hand in hands]))
    return float(np.max(xy.max(axis=0) - xy.min(axis=0))) / size >= min(config.min_distance, config.shape_min_distance)


def leave_one_serial_out(clips: list[dict], config: GestureConfig, with_none: bool, kind=Templates) -> dict:
    swipe_rule = config.swipe_deviation > 1e-3
    answers, latencies, on_time, unclassified_fired, late = [], [], [], [], []
    for serial in sorted({clip["serial"] for clip in clips}):
        train = [clip for clip in clips if clip["serial"] != serial]
        recognizer = GestureRecognizer(config, templates_with_swipes(train, config, with_none, swipe_rule, kind))
        for clip in (clip for clip in clips if clip["serial"] == serial):
            emitted = replay(clip["records"], recognizer)
            target = max(LATENCY_TARGET_S, LATENCY_TARGET_FRAMES / clip["fps"]) + 1e-3
            for t, event in emitted:
                if t is not None:
                    latencies.append(t - event["t_end"])
                    on_time.append(latencies[-1] <= target)
                    if not on_time[-1]:
                        late.append(late_event(clip, t, event, recognizer))
            if clip["label"] == NO_GESTURE:
                unclassified_fired.append(bool(emitted))
                continue
            main = next((event["name"] for _, event in emitted if event["id"] == clip["main"]), "no event")
            first = emitted[0][1]["name"] if emitted else "no event"
            answers.append({"clip": clip["clip"], "label": clip["label"], "answer": main, "first_any_track": first,
                            "tracked": moved(clip, config)})
    tracked = [answer for answer in answers if answer["tracked"]]
    return {"accuracy": accuracy(answers), "clips": len(answers),
            "accuracy_first_event_any_track": accuracy(answers, "first_any_track"),
            "accuracy_where_tracked": accuracy(tracked), "tracked_clips": len(tracked),
            "no_event": sum(answer["answer"] == "no event" for answer in answers) / len(answers),
            "unclassified_with_event": sum(unclassified_fired) / max(len(unclassified_fired), 1),
            "latency_median_s": float(np.median(latencies)) if latencies else None,
            "latency_max_s": float(np.max(latencies)) if latencies else None,
            "latency_on_target": float(np.mean(on_time)) if on_time else None,
            "timed_events": len(latencies), "late_events": late, "answers": answers}


def late_event(clip: dict, t: float, event: dict, recognizer: GestureRecognizer) -> dict:
    """An event emitted at `t`, past the latency target, and why it waited: its stroke looked like the beginning
    of another gesture, or the hand was lost (the stroke closed when the tracker dropped the track)."""
    stroke = next((stroke for stroke in clip_strokes(clip["records"], recognizer.config)
                   if stroke.track_id == event["id"] and round(stroke.t_start, 4) == event["t_start"]
                   and round(stroke.t_end, 4) == event["t_end"]), None)
    beginning = stroke and recognizer.continued_as(stroke, event["name"])
    record = next(record for record in clip["records"] if record["t"] == t)
    lost = all(track["id"] != event["id"] for track in record["tracks"])
    return {"clip": clip["clip"], "name": event["name"], "latency_s": round(t - event["t_end"], 3),
            "why": f"the beginning of a {beginning}" if beginning else "the track ended" if lost else "unknown"}


def accuracy(answers: list[dict], key: str = "answer") -> float:
    return sum(answer["label"] == answer[key] for answer in answers) / max(len(answers), 1)


def false_triggers(folder: Path, config: GestureConfig, templates: Templates) -> dict:
    """Events per minute on footage where nobody gestures."""
    recognizer = GestureRecognizer(config, templates)
    result = {}
    for name in ("webcam4", "webcam10"):
        events, seconds, names = 0, 0.0, Counter()
        for path in sorted((folder / name).glob("*.jsonl")):
            records = read_jsonl(path)
            if len(records) > 1:
                seconds += records[-1]["t"] - records[0]["t"]
            emitted = replay(records, recognizer)
            events += len(emitted)
            names.update(event["name"] for _, event in emitted)
        result[name] = {"minutes": seconds / 60, "events": events, "per_minute": events / max(seconds / 60, 1e-9),
                        "names": dict(names)}
    return result


def score_variant(name: str, config: GestureConfig, with_none: bool, clips: list[dict], folder: Path) -> dict:
    """Leave-one-serial-out on the clips, and false triggers with templates from every serial."""
    kind = RotatedTemplates if name == "rotation_invariant" else Templates
    row = leave_one_serial_out(clips, config, with_none, kind)
    all_serials = templates_with_swipes(clips, config, with_none, config.swipe_deviation > 1e-3, kind)
    return {**row, "false_triggers": false_triggers(folder, config, all_serials)}


def tracker_coverage(clips: list[dict]) -> dict:
    """How often the tracker found the drawing hand at all (the recogniser cannot do better)."""
    none = [clip["clip"] for clip in clips if clip["main"] is None]
    share = []
    for clip in clips:
        seen = sum(any(track["id"] == clip["main"] and not track["missed"] for track in record["tracks"])
                   for record in clip["records"])
        share.append(seen / max(len(clip["records"]), 1))
    return {"clips": len(clips), "no_track": len(none), "no_track_clips": none,
            "main_track_under_half_the_frames": int(sum(s < 0.5 for s in share)),
            "main_track_frame_share_median": float(np.median(share))}


def confusion_png(answers: list[dict], path: Path, title: str) -> None:
    """Rows: drawn gesture; columns: the answer (OpenCV, already a dependency, rather than a plotting library)."""
    columns = [*GESTURES, "no event"]
    matrix = np.zeros((len(GESTURES), len(columns)), int)
    for answer in answers:
        matrix[GESTURES.index(answer["label"]), columns.index(answer["answer"])] += 1
    cell, left, top = 44, 90, 90
    image = np.full((top + cell * len(GESTURES) + 40, left + cell * len(columns) + 20, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(image, title, (10, 22), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, "first event of the main track (columns) for each drawn gesture (rows)", (10, 44), font, 0.4,
                (60, 60, 60), 1, cv2.LINE_AA)
    for row, column in np.ndindex(*matrix.shape):
        count = matrix[row, column]
        shade = int(255 - 200 * count / max(matrix.max(), 1))
        corner = (left + column * cell, top + row * cell)
        cv2.rectangle(image, corner, (corner[0] + cell, corner[1] + cell), (255, shade, shade) if column < len(GESTURES)
                      else (shade, shade, 255), -1)
        cv2.rectangle(image, corner, (corner[0] + cell, corner[1] + cell), (200, 200, 200), 1)
        if count:
            cv2.putText(image, str(count), (corner[0] + 16, corner[1] + 28), font, 0.55,
                        (255, 255, 255) if shade < 128 else (0, 0, 0), 1, cv2.LINE_AA)
    for row, name in enumerate(GESTURES):
        cv2.putText(image, name, (8, top + row * cell + 28), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    for column, name in enumerate(columns):
        cv2.putText(image, name[:8], (left + column * cell + 2, top - 8), font, 0.33, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), image)


def markdown(results: dict) -> str:
    coverage = results["tracker"]
    lines = [f"`python experiments/gestures/run.py` (tracks: `{results['tracks']}`; egogestar_dev, 7 serials, "
             f"leave-one-serial-out; {results['variants']['chosen']['clips']} gesture clips, 7 `unclassified`)", "",
             f"Tracker: no confirmed track in {coverage['no_track']} of {coverage['clips']} clips "
             f"({', '.join(coverage['no_track_clips']) or 'none'}); the main track is seen in under half the frames "
             f"of {coverage['main_track_under_half_the_frames']} clips (median share "
             f"{coverage['main_track_frame_share_median']:.2f}).", "",
             "Accuracy: the first event of the clip's main track (the track seen in most frames) is the answer, no "
             "event is wrong; `any track`: the clip's first event of any track; `tracked`: only the clips whose main "
             "track moved by `shape_min_distance` or `min_distance`, the smaller (the tracker followed the drawing "
             "hand). Latency: from the stroke's last moving frame to the event, over events not forced by the end of a "
             "clip; `on target`: the share of "
             f"those events within {LATENCY_TARGET_S * 1000:.0f} ms or {LATENCY_TARGET_FRAMES} frames of the clip's "
             "frame rate, whichever is larger (the clips run at 10 to 30 fps).", "",
             "| variant | accuracy (10 classes) | any track | tracked (clips) | no event | `unclassified` clips with an "
             "event | latency median / max (s), on target | webcam4 events/min | webcam10 events/min |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, row in results["variants"].items():
        triggers = row["false_triggers"]
        latency = (f"{row['latency_median_s']:.3f} / {row['latency_max_s']:.3f}, {row['latency_on_target']:.2f}"
                   if row["latency_median_s"] is not None else "n/a")
        lines.append(f"| `{name}` {row['description']} | {row['accuracy']:.3f} | "
                     f"{row['accuracy_first_event_any_track']:.3f} | {row['accuracy_where_tracked']:.3f} "
                     f"({row['tracked_clips']}) | {row['no_event']:.3f} | "
                     f"{row['unclassified_with_event']:.2f} | {latency} | {triggers['webcam4']['per_minute']:.2f} "
                     f"({triggers['webcam4']['minutes']:.1f} min) | {triggers['webcam10']['per_minute']:.2f} "
                     f"({triggers['webcam10']['minutes']:.1f} min) |")
    chosen = results["variants"]["chosen"]
    late = ", ".join(f"`{event['clip']}` {event['name']} after {event['latency_s']:.2f} s ({event['why']})"
                     for event in chosen["late_events"])
    lines += ["", f"Events of `chosen` past the latency target: {len(chosen['late_events'])} of the "
              f"{chosen['timed_events']} not forced by a clip's end{': ' + late if late else ''}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--data", type=Path, default=HERE.parents[1].parent / "shared" / "data")
    parser.add_argument("--ship", action="store_true", help="write the shipped template file (chosen variant)")
    args = parser.parse_args()
    folder = cache_folder(args.checkpoint)
    if not (folder / "egogestar_dev").is_dir():
        sys.exit(f"error: no cached tracks in {folder}: run experiments/gestures/cache_tracks.py first")
    clips = load_clips(folder, args.data)
    results = {"tracks": str(folder.relative_to(HERE)), "tracker": tracker_coverage(clips), "variants": {}}
    for name, (config, with_none, description) in variants().items():
        row = score_variant(name, config, with_none, clips, folder)
        row.update(description=description, settings=asdict(config), false_triggers=row.pop("false_triggers"))
        results["variants"][name] = row
        print(f"{name}: accuracy {row['accuracy']:.3f}, unclassified with event {row['unclassified_with_event']:.2f}, "
              f"webcam4 {row['false_triggers']['webcam4']['per_minute']:.2f}/min, "
              f"webcam10 {row['false_triggers']['webcam10']['per_minute']:.2f}/min", flush=True)
    for name, row in results["variants"].items():  # per-clip answers of the chosen variant only: a short file
        if name != "chosen":
            for key in ("answers", "late_events"):
                row.pop(key)
    (HERE / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    table = markdown(results)
    (HERE / "results.md").write_text(table)
    chosen = results["variants"]["chosen"]
    confusion_png(chosen["answers"], HERE / "confusion.png",
                  f"egogestar_dev leave-one-serial-out, chosen variant: accuracy {chosen['accuracy']:.2f}")
    text = README.read_text()
    block = f"<!-- gestures -->\n{table}<!-- /gestures -->"
    if "<!-- gestures -->" in text:
        README.write_text(re.sub(r"<!-- gestures -->.*?<!-- /gestures -->", lambda _: block, text, flags=re.S))
    if args.ship:
        config, with_none, _ = variants()["chosen"]
        templates_from(clips, config, with_none).save(SHIPPED_TEMPLATES)
        print(f"wrote {SHIPPED_TEMPLATES}")
    print(table)


if __name__ == "__main__":
    main()
