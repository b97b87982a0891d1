"""Pose classifier design study and the shipped pose model's checks: accuracy against milliseconds per hand.

    python experiments/poses/run.py [variants=tiny,mobilenet_v2] [ship=mobilenet_v2]

For each variant (a crop CNN body; all on the same data and schedule) it trains what is missing
(`python train.py experiment=pose ...` into runs/poses/<name>, `nice`, one thread), then measures:

- validation on hagrid_crops split by photo (12 gestures + none, the training run's own report);
- hagrid1336 through *our* detector: each photo with one MediaPipe hand and one of the 12 gestures, the crop cut
  around the shipped detector's matching detection (a missed hand counts as an error), and every detection
  far from all MediaPipe hands, which should be called `none`;
- milliseconds per hand (ONNX Runtime, 2 threads and 1, batch of 1 and 2 crops);
- flicker: label changes per second on still footage (12 hagrid1336 photos held still for 2 s at 30 FPS with
  camera noise and sub-pixel shake), through the whole tracker, raw argmax vs the stabiliser.

Writes experiments/poses/results.json, confusion PNGs, and the table between the `study:poses` markers in
experiments/README.md.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.data.coco import CocoReader  # noqa: E402
from heatmapnet.data.hands import Hand  # noqa: E402
from heatmapnet.evaluate.metrics import MATCH_RADIUS, centre_distances, greedy_match  # noqa: E402
from heatmapnet.pipeline import HandTracker  # noqa: E402
from heatmapnet.poses.classifier import PoseClassifier  # noqa: E402
from heatmapnet.poses.crops import hand_crop  # noqa: E402
from heatmapnet.poses.report import confusion_png, markdown_table, summary  # noqa: E402
from heatmapnet.poses.stabilize import StabilizerConfig  # noqa: E402
from heatmapnet.poses.stage import PoseStage  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = REPO.parent / "shared" / "data"
RUNS = REPO / "runs" / "poses"
COMMON: list[str] = []  # every variant: configs/experiment/pose.yaml as shipped (300 crops per class, 3 epochs)
VARIANTS = {
    "tiny": ("tiny CNN from scratch (74 k parameters), 48 px", ["pose.model.body=tiny", "pose.model.pretrained=null"]),
    "mobilenet_v2": ("MobileNetV2 features[:14], ImageNet init (0.54 M parameters), 48 px", []),
}
MISSED = "(missed)"
RAW = StabilizerConfig(window=1, enter=1e-6, exit=1e-6)  # argmax of each frame: what no smoothing gives


def train_missing(name: str) -> Path:
    out = RUNS / name
    if not (out / "pose.onnx").is_file():
        command = [sys.executable, str(REPO / "train.py"), "experiment=pose", *COMMON, *VARIANTS[name][1],
                   f"out_dir={out}"]
        print("training:", " ".join(command), flush=True)
        subprocess.run(["nice", "-n", "10", *command], check=True, cwd=REPO)
    return out


def ms_per_hand(model: Path, threads: int, batch: int, repeats: int = 300) -> float:
    """Median milliseconds per hand of the ONNX model on random crops (after warm-up)."""
    classifier = PoseClassifier(model, threads)
    size = classifier.info.crop_size
    crops = np.random.default_rng(0).integers(0, 256, (batch, size, size, 3), np.uint8)
    for _ in range(20):
        classifier(crops)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        classifier(crops)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times)) / batch


def hagrid1336_check(model: Path, detector) -> dict:
    """Gesture photos through the shipped detector, crops cut around its detections."""
    classifier = PoseClassifier(model, 2)
    classes = list(classifier.classes)
    info = classifier.info
    none = classes.index(info.none_class)
    columns = classes + [MISSED]
    truth, predicted, false_alarm_calls = [], [], []
    samples = [s for s in CocoReader().read(DATA / "hagrid1336") if len(s.hands) == 1]
    gestures = {s.image_path: Path(s.image_path).name.rsplit("_", 1)[0] for s in samples}
    for sample in samples:
        gesture = gestures[sample.image_path]
        frame = cv2.imread(sample.image_path)
        detections = detector(frame)
        hands = [Hand(h.x, h.y, h.w, h.h) for h in sample.hands]
        distances = centre_distances(detections, hands)
        allowed = distances <= MATCH_RADIUS * np.array([h.size for h in hands])[None, :]
        outcome = greedy_match(distances, allowed, np.ones(len(hands), bool))
        crops = np.stack([hand_crop(frame, x, y, w, h, info.crop_size, info.crop_scale)
                          for x, y, _, w, h in detections]) if len(detections) else np.zeros((0,))
        calls = classifier(crops).argmax(1) if len(detections) else np.zeros(0, int)
        false_alarm_calls += [int(c) for c, o in zip(calls, outcome) if o < 0]
        if gesture in classes:
            matched = [int(c) for c, o in zip(calls, outcome) if o == 0]
            truth.append(classes.index(gesture))
            predicted.append(matched[0] if matched else len(classes))
    matrix = np.zeros((len(columns), len(columns)), np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    result = summary(matrix, columns)
    result["per_class"] = [row for row in result["per_class"] if row["class"] != MISSED]
    result["missed"] = int(matrix[:, -1].sum())
    result["false_detections"] = len(false_alarm_calls)
    result["false_detections_none"] = (float(np.mean(np.array(false_alarm_calls) == none))
                                       if false_alarm_calls else None)
    result["matrix"] = matrix
    return result


def still_footage(image: np.ndarray, frames: int, rng) -> list[np.ndarray]:
    """A photo held still: sensor noise and sub-pixel camera shake, no motion."""
    out = []
    for _ in range(frames):
        shift = np.float32([[1, 0, rng.normal(0, 0.3)], [0, 1, rng.normal(0, 0.3)]])
        moved = cv2.warpAffine(image, shift, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REFLECT)
        out.append(np.clip(moved + rng.normal(0, 3, moved.shape), 0, 255).astype(np.uint8))
    return out


def flicker(model: Path, photos: int = 12, seconds: float = 2.0, fps: float = 30.0) -> dict:
    """Pose label changes per second per track on still footage, raw and stabilised."""
    rng = np.random.default_rng(0)
    samples = [s for s in CocoReader().read(DATA / "hagrid1336") if len(s.hands) == 1][::80][:photos]
    changes = {"raw": 0, "stabilised": 0}
    track_seconds = 0.0
    for sample in samples:
        footage = still_footage(cv2.imread(sample.image_path), int(seconds * fps), rng)
        for name, config in (("raw", RAW), ("stabilised", StabilizerConfig())):
            tracker = HandTracker(threads=2, stages=[PoseStage(PoseClassifier(model, 1), config)])
            last: dict[int, str] = {}
            for index, frame in enumerate(footage):
                result = tracker.process(frame, index / fps)
                for track_id, extra in result.extras.items():
                    if track_id in last and last[track_id] != extra["pose"]:
                        changes[name] += 1
                    last[track_id] = extra["pose"]
                    if name == "raw":
                        track_seconds += 1 / fps
    return {"photos": len(samples), "track_seconds": round(track_seconds, 1),
            **{f"changes_per_second_{name}": round(count / max(track_seconds, 1e-9), 3)
               for name, count in changes.items()}}


def write_readme_section(results: dict) -> None:
    rows = ["| variant | val accuracy (hagrid_crops, by photo) | none recall (val) | hagrid1336 accuracy via our detector "
            "(missed) | false detections called none | ms/hand 2 threads (batch 1 / 2) | ms/hand 1 thread | "
            "flicker raw -> stabilised (changes/s) | train s |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results["variants"].items():
        none = next(row["recall"] for row in r["val"]["per_class"] if row["class"] == "none")
        h = r["hagrid1336"]
        f = r.get("flicker", {})
        flick = (f"{f['changes_per_second_raw']:.2f} -> {f['changes_per_second_stabilised']:.2f}" if f else "n/a")
        rows.append(f"| `{name}` {VARIANTS[name][0]} | {r['val']['accuracy']:.3f} | {none:.3f} | "
                    f"{h['accuracy']:.3f} ({h['missed']} of {h['count']}) | "
                    f"{h['false_detections_none'] if h['false_detections_none'] is None else round(h['false_detections_none'], 3)} "
                    f"of {h['false_detections']} | {r['ms']['threads2_batch1']:.2f} / {r['ms']['threads2_batch2']:.2f} | "
                    f"{r['ms']['threads1_batch1']:.2f} | {flick} | {r['train_seconds']:.0f} |")
    section = "\n".join([f"`python experiments/poses/run.py` ({', '.join(COMMON)}; seed 0)", "", *rows])
    readme = REPO / "experiments" / "README.md"
    text = readme.read_text()
    start, end = "<!-- study:poses -->", "<!-- /study:poses -->"
    if start in text:
        text = text[:text.index(start) + len(start)] + "\n" + section + "\n" + text[text.index(end):]
        readme.write_text(text)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"variants": ",".join(VARIANTS), "ship": "mobilenet_v2", "flicker": True},
                            "python experiments/poses/run.py")
    detector = HandTracker(threads=2).detector
    results = {"variants": {}}
    for name in options["variants"].split(","):
        out = train_missing(name)
        report = json.loads((out / "report.json").read_text())
        model = out / "pose.onnx"
        entry = {"val": report["val"], "train_seconds": report["train_seconds"],
                 "ms": {f"threads{t}_batch{b}": round(ms_per_hand(model, t, b), 3) for t in (1, 2) for b in (1, 2)}}
        check = hagrid1336_check(model, detector)
        confusion_png(check.pop("matrix"), check["classes"], HERE / f"hagrid1336_{name}.png",
                      f"{name} on hagrid1336 via our detector: accuracy {check['accuracy']:.3f}")
        entry["hagrid1336"] = check
        if options["flicker"] and name == options["ship"]:
            entry["flicker"] = flicker(model)
        results["variants"][name] = entry
        print(name, json.dumps({k: v for k, v in entry.items() if k not in ("val", "hagrid1336")}),
              f"val {entry['val']['accuracy']:.3f}, hagrid1336 {check['accuracy']:.3f}", flush=True)
        (HERE / f"{name}_hagrid1336.md").write_text(markdown_table(check) + "\n")
        (HERE / f"{name}_val.md").write_text(markdown_table(entry["val"]) + "\n")
    (HERE / "results.json").write_text(json.dumps(results, indent=1))
    write_readme_section(results)


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
