"""How far do the annotator's flow-carried markers stay on the hands, and how fast would a user label?

On webcam4 (consecutive 30 fps phone frames labelled by MediaPipe): start from the reference hands of a
frame, carry them 1, 5, 10 and 30 frames with the annotator's own flow code, and count hands within 4
and 8 px of the reference; then replay label-and-go (Enter on every frame, fix only the misses) to
estimate frames labelled per minute. "No motion" (markers left where they were) is the reference
method measured in the same run.

    python experiments/flow_propagation/run.py [--data ../shared/data/webcam4] [--stride 2]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from annotator.video import Video  # noqa: E402

from annotator.flow import track  # noqa: E402
from heatmapnet.data.hands import Hand  # noqa: E402
from heatmapnet.data.hands_json import Marker  # noqa: E402

HORIZONS = (1, 5, 10, 30)
TOLERANCES = (4.0, 8.0)
# User time model: Keystroke-Level Model operators (Card, Moran & Newell 1980): M = 1.35 s (decide /
# verify), P = 1.1 s (point with the mouse), B = 0.1 s (button down or up), K = 0.28 s (a key).
M, P, B, K = 1.35, 1.1, 0.1, 0.28
CHECK = M + K  # look at the frame, press Enter
FIX = P + B + P + B  # grab a marker, drag it onto the hand
ADD = M + P + B + P + B  # decide, press at the centre, drag out the radius
DELETE = P + B + B  # right-click it


def reference_hands(data: Path) -> dict[str, dict[int, list[Hand]]]:
    """Per video, per frame index: MediaPipe's hands (centre of the box, size = sqrt(w*h))."""
    coco = json.loads((data / "annotations.json").read_text())
    images = {image["id"]: image for image in coco["images"]}
    hands: dict[str, dict[int, list[Hand]]] = defaultdict(lambda: defaultdict(list))
    for image in images.values():
        hands[image["video"]][image["frame_index"]]  # frames without hands exist too
    for box in coco["annotations"]:
        image = images[box["image_id"]]
        hands[image["video"]][image["frame_index"]].append(Hand.from_bbox(box["bbox"]))
    return hands


def markers_of(hands: list[Hand]) -> list[Marker]:
    return [Marker(i + 1, h.x, h.y, h.size / 2) for i, h in enumerate(hands)]


def match(markers: list[Marker], hands: list[Hand]) -> list[tuple[Marker, Hand, float]]:
    """Markers paired with reference hands by smallest total distance (pairs further than a hand size dropped)."""
    if not markers or not hands:
        return []
    cost = np.array([[math.hypot(m.x - h.x, m.y - h.y) for h in hands] for m in markers])
    rows, cols = linear_sum_assignment(cost)
    return [(markers[r], hands[c], cost[r, c]) for r, c in zip(rows, cols) if cost[r, c] <= hands[c].size]


def decode(video_path: Path) -> list[np.ndarray]:
    video = Video(video_path)
    return [cv2.cvtColor(video.frame(i), cv2.COLOR_BGR2GRAY) for i in range(video.frame_count)]


def check_alignment(data: Path, name: str, frames: list[np.ndarray]) -> float:
    """Fraction of sampled frames whose decoded pixels match the labelled JPEG of the same index best."""
    hits, samples = 0, range(2, len(frames) - 2, max(len(frames) // 12, 1))
    for index in samples:
        jpeg = cv2.imread(str(data / "images" / name / f"{index:06d}.jpg"), cv2.IMREAD_GRAYSCALE)
        errors = [np.abs(frames[i].astype(np.int16) - jpeg).mean() for i in range(index - 2, index + 3)]
        hits += int(np.argmin(errors)) == 2
    return hits / len(samples)


def horizons(frames, reference, stride: int, counts: dict, name: str) -> None:
    """Carry each start frame's reference hands up to max(HORIZONS) frames; score at each horizon,
    into counts[(video, method, horizon)] and counts[("all", method, horizon)]."""
    last = max(HORIZONS)
    for start in range(0, len(frames) - last, stride):
        flow = still = markers_of(reference[start])
        if not flow:
            continue
        for step in range(1, last + 1):
            flow = track(frames[start + step - 1], frames[start + step], flow)
            if step in HORIZONS:
                for method, markers in (("flow", flow), ("no motion", still)):
                    for group in (name, "all"):
                        score(counts[(group, method, step)], markers, reference[start + step])


def score(tally: dict, markers: list[Marker], hands: list[Hand]) -> None:
    matched = match(markers, hands)
    tally.setdefault("errors", [])
    tally["hands"] += len(hands)
    tally["gone"] += len(markers) - len(matched)  # the reference lost the hand (left the view, or missed)
    tally["errors"] += [d for m, _, d in matched if not m.uncertain]
    tally["uncertain"] += sum(m.uncertain for m, _, _ in matched)
    tally["scored"] += len(matched)
    for tolerance in TOLERANCES:
        tally[f"within {tolerance:g}"] += sum(d <= tolerance and not m.uncertain for m, _, d in matched)
        tally[f"silent miss {tolerance:g}"] += sum(d > tolerance and not m.uncertain for m, _, d in matched)


def label_and_go(frames, reference, tolerance: float) -> dict:
    """Replay Enter on every frame from frame 0, fixing what is off by more than `tolerance`; count actions."""
    actions = defaultdict(int)
    markers = markers_of(reference[0])
    actions["add"] += len(markers)
    for index in range(1, len(frames)):
        carried = track(frames[index - 1], frames[index], markers)
        hands = reference[index]
        matched = match(carried, hands)
        paired = {m.id for m, _, _ in matched}
        fixed = []
        for marker, hand, distance in matched:
            if marker.uncertain or distance > tolerance:
                actions["fix"] += 1
                marker = replace(marker, x=hand.x, y=hand.y, r=hand.size / 2, uncertain=False)
            fixed.append(marker)
        actions["delete"] += len(carried) - len(paired)
        taken = {id(h) for _, h, _ in matched}
        new = [h for h in hands if id(h) not in taken]
        actions["add"] += len(new)
        next_id = max([m.id for m in carried], default=0) + 1
        markers = fixed + [Marker(next_id + i, h.x, h.y, h.size / 2) for i, h in enumerate(new)]
        actions["frames"] += 1
        actions["hands"] += len(hands)
    return actions


def seconds(actions: dict) -> float:
    return actions["frames"] * CHECK + actions["fix"] * FIX + actions["add"] * ADD + actions["delete"] * DELETE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[3] / "shared/data/webcam4")
    parser.add_argument("--stride", type=int, default=2, help="use every n-th frame as a start frame")
    args = parser.parse_args()
    if not (args.data / "annotations.json").is_file():
        sys.exit(f"error: {args.data} has no annotations.json: pass --data path/to/webcam4")
    reference = reference_hands(args.data)
    counts = defaultdict(lambda: defaultdict(int))
    workflow = {tolerance: defaultdict(int) for tolerance in TOLERANCES}
    checks, started = [], time.perf_counter()
    for name in tqdm(sorted(reference), desc="videos", file=sys.stderr):
        frames = decode(args.data / "videos" / f"{name}.mp4")
        checks.append(f"{name}: {len(frames)} frames decoded, {len(reference[name])} labelled; the decoded frame "
                      f"matches the labelled JPEG of the same index in {check_alignment(args.data, name, frames):.0%} "
                      f"of sampled frames")
        horizons(frames, reference[name], args.stride, counts, name)
        for tolerance in TOLERANCES:
            for action, count in label_and_go(frames, reference[name], tolerance).items():
                workflow[tolerance][action] += count
    report(counts, workflow, checks, args, time.perf_counter() - started)


def report(counts, workflow, checks, args, elapsed: float) -> None:
    print("Frame alignment check (video decode vs the labelled JPEGs):\n")
    print("\n".join(f"- {line}" for line in checks) + "\n")
    print(f"## Propagation accuracy (start every {args.stride} frames; webcam4, 4 videos)\n")
    print("| method | frames carried | hands scored | within 4 px | within 8 px | flagged uncertain | "
          "wrong (> 8 px) and not flagged | median error px | reference lost the hand |")
    print("|---|---|---|---|---|---|---|---|---|")
    for method in ("flow", "no motion"):
        for horizon in HORIZONS:
            t = counts[("all", method, horizon)]
            n = max(t["scored"], 1)
            print(f"| {method} | {horizon} | {t['scored']} | {t['within 4'] / n:.1%} | {t['within 8'] / n:.1%} | "
                  f"{t['uncertain'] / n:.1%} | {t['silent miss 8'] / n:.1%} | {np.median(t['errors']):.1f} | {t['gone']} |")
    videos = sorted({video for video, _, _ in counts} - {"all"})
    print("\nFlow, per video: within 8 px (median error px) after 1 / 5 / 10 / 30 frames\n")
    print("| video | " + " | ".join(f"{h} frames" for h in HORIZONS) + " |")
    print("|---|" + "---|" * len(HORIZONS))
    for video in videos:
        cells = [counts[(video, "flow", h)] for h in HORIZONS]
        print(f"| {video} | " + " | ".join(f"{t['within 8'] / max(t['scored'], 1):.0%} ({np.median(t['errors']):.1f})"
                                            for t in cells) + " |")
    print("\n## Label-and-go replay (Enter on every frame, fix what is off)\n")
    print(f"Time model (KLM): check + Enter {CHECK:.2f} s/frame, fix a marker {FIX:.2f} s, add a hand {ADD:.2f} s, "
          f"delete {DELETE:.2f} s.\n")
    print("| fix when off by more than | frames | hands | fixes | adds | deletes | s/frame | frames/min | "
          "from scratch frames/min | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for tolerance, actions in workflow.items():
        per_frame = seconds(actions) / actions["frames"]
        scratch = (actions["frames"] * (CHECK + 0) + actions["hands"] * ADD) / actions["frames"]
        print(f"| {tolerance:g} px | {actions['frames']} | {actions['hands']} | {actions['fix']} | {actions['add']} | "
              f"{actions['delete']} | {per_frame:.2f} | {60 / per_frame:.1f} | {60 / scratch:.1f} | "
              f"{scratch / per_frame:.1f}x |")
    print(f"\n({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
