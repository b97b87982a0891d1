"""Pose classifier design study and the shipped pose model's checks: accuracy against milliseconds per hand.

    python experiments/poses/run.py [variants=tiny,mobilenet_v2,mobilenet_v2_lowres] [ship=mobilenet_v2_lowres] [flicker=true]

For each variant (a crop CNN body or a training change; same data and schedule) it trains what is missing
(`python train.py experiment=pose ...` into runs/poses/<name>, `nice`, one thread), then measures:

- validation on hagrid_crops split by photo (12 gestures + none, the training run's own report);
- hagrid1336 through *our* detector: each photo with one MediaPipe hand and one of the 12 gestures, the crop cut
  around the shipped detector's matching detection (a missed hand counts as an error), and every detection
  far from all MediaPipe hands, which should be called `none`;
- milliseconds per hand (ONNX Runtime, 2 threads and 1, batch of 1 and 2 crops);
- flicker: label changes per second on still footage (12 hagrid1336 photos held still for 2 s at 30 FPS with
  sensor noise, light flicker and a pixel of shake) and on a real webcam clip of a moving hand (webcam4's
  1hand.mp4, 300 frames), through the whole tracker, raw argmax vs the stabiliser.

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
from heatmapnet.poses.stabilize import PoseStabilizer, StabilizerConfig  # noqa: E402
from heatmapnet.poses.stage import PoseStage  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = REPO.parent / "shared" / "data"
RUNS = REPO / "runs" / "poses"
COMMON: list[str] = []  # every variant: configs/experiment/pose.yaml as shipped (300 crops per class, 3 epochs, 48 px)
VARIANTS = {
    "tiny": ("tiny CNN from scratch (74 k parameters)",
             ["pose.model.body=tiny", "pose.model.pretrained=null", "pose.augment.low_res_prob=0"]),
    "mobilenet_v2": ("MobileNetV2 features[:14], ImageNet init (0.54 M parameters)", ["pose.augment.low_res_prob=0"]),
    "mobilenet_v2_lowres": ("the same, half the training crops shrunk and enlarged again (as shipped)", []),
}
MISSED = "(missed)"


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


def classified_photos(model: Path, detector, photos: set[str] | None = None) -> dict:
    """Gesture photos with one or two labelled hands (all, or the paths in `photos`) through the shipped detector:
    per photo its gesture, how many hands are labelled, which hand each detection matched (-1: none) and the class
    probabilities of the crop cut around each detection (`paths`: the photos, in the same order). Classified once,
    named by `hagrid1336_check`."""
    classifier = PoseClassifier(model, 2)
    classes, info = list(classifier.classes), classifier.info
    samples = [s for s in CocoReader().read(DATA / "hagrid1336")
               if len(s.hands) in (1, 2) and (photos is None or s.image_path in photos)]
    found = []
    for sample in samples:
        frame = cv2.imread(sample.image_path)
        detections = detector(frame)
        hands = [Hand(h.x, h.y, h.w, h.h) for h in sample.hands]
        distances = centre_distances(detections, hands)
        allowed = distances <= MATCH_RADIUS * np.array([h.size for h in hands])[None, :]
        outcome = greedy_match(distances, allowed, np.ones(len(hands), bool))
        crops = np.stack([hand_crop(frame, x, y, w, h, info.crop_size, info.crop_scale)
                          for x, y, _, w, h in detections]) if len(detections) else np.zeros((0,))
        probabilities = classifier(crops) if len(detections) else np.zeros((0, len(classes)))
        found.append((Path(sample.image_path).name.rsplit("_", 1)[0], len(hands), outcome, probabilities))
    return {"classes": classes, "none": classes.index(info.none_class), "photos": found,
            "paths": [sample.image_path for sample in samples]}


def hagrid1336_check(classified: dict, enter: float | None = None) -> dict:
    """Accuracy, false detections and relaxed hands of `classified_photos`. Each crop is named by its best class,
    or with `enter` as track.py names a single detection (the best class if its probability reaches `enter`, else
    the garbage class). Photos with one labelled hand give the accuracy and the false detections; photos with two
    give the relaxed hands (HaGRID's `no_gesture` hand beside the gesturing one: of the two, the one less like the
    photo's gesture)."""
    classes, none = classified["classes"], classified["none"]
    namer = None if enter is None else PoseStabilizer(StabilizerConfig(enter=enter, exit=enter), none)
    columns = classes + [MISSED]
    truth, predicted, false_alarm_calls, relaxed_calls = [], [], [], []
    for gesture, hand_count, outcome, probabilities in classified["photos"]:
        calls = (probabilities.argmax(1) if namer is None else
                 [namer.single_frame(p)[0] for p in probabilities])
        if hand_count == 2:
            found = {int(o): row for row, o in enumerate(outcome) if o >= 0}
            if gesture in classes and len(found) == 2:
                relaxed = min(found.values(), key=lambda row: probabilities[row, classes.index(gesture)])
                relaxed_calls.append(int(calls[relaxed]))
            continue
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
    detected = result["count"] - result["missed"]
    result["accuracy_detected"] = float(np.trace(matrix) / detected) if detected else None  # the classifier alone
    result["false_detections"] = len(false_alarm_calls)
    result["false_detections_none"] = (float(np.mean(np.array(false_alarm_calls) == none))
                                       if false_alarm_calls else None)
    result["relaxed_hands"] = len(relaxed_calls)
    result["relaxed_hands_none"] = float(np.mean(np.array(relaxed_calls) == none)) if relaxed_calls else None
    result["matrix"] = matrix
    return result


def still_footage(image: np.ndarray, frames: int, rng) -> list[np.ndarray]:
    """A photo held still in front of a webcam: sensor noise, light flicker and a pixel of hand/camera shake."""
    out = []
    height, width = image.shape[:2]
    for _ in range(frames):
        shake = cv2.getRotationMatrix2D((width / 2, height / 2), rng.normal(0, 1.0), 1 + rng.normal(0, 0.01))
        shake[:, 2] += rng.normal(0, 1.0, 2)
        moved = cv2.warpAffine(image, shake, (width, height), borderMode=cv2.BORDER_REFLECT).astype(np.float32)
        out.append(np.clip(moved * rng.normal(1, 0.03) + rng.normal(0, 4, moved.shape), 0, 255).astype(np.uint8))
    return out


class RecordingStage(PoseStage):
    """Keeps every track's per-frame probabilities instead of labelling, to replay label rules on them."""

    def __call__(self, frame_bgr, result) -> None:
        per_track, _ = self.probabilities(frame_bgr, result.tracks, result.detections)  # the tracks' are kept
        for track_id, probabilities in per_track.items():
            self.record.setdefault(track_id, []).append(probabilities)


def label_changes(frames, model: Path, fps: float, config: StabilizerConfig = StabilizerConfig()
                  ) -> tuple[dict, float]:
    """Label changes over each track's classified frames, per-frame argmax ("raw") and through the stabiliser
    with `config`, counted once a track has `window` frames (before that the stabiliser is filling its window);
    and the track seconds counted."""
    stage = RecordingStage(PoseClassifier(model, 1))
    stage.record = {}
    tracker = HandTracker(threads=2, stages=[stage])
    for index, frame in enumerate(frames):
        tracker.process(frame, index / fps)
    settle = config.window
    changes = {"raw": 0, "stabilised": 0}
    track_seconds = 0.0
    for track_id, sequence in stage.record.items():
        stabilizer = PoseStabilizer(config, stage.stabilizer.none_index)
        labels = {"raw": [int(np.argmax(p)) for p in sequence],
                  "stabilised": [stabilizer.update(track_id, p)[0] for p in sequence]}
        for name, sequence_labels in labels.items():
            counted = sequence_labels[settle:]
            changes[name] += sum(a != b for a, b in zip(counted, counted[1:]))
        track_seconds += max(len(sequence) - settle - 1, 0) / fps
    return changes, track_seconds


def rates(changes: dict, seconds: float) -> dict:
    return {"track_seconds": round(seconds, 1),
            **{f"changes_per_second_{name}": round(count / max(seconds, 1e-9), 3) for name, count in changes.items()}}


def flicker(model: Path, photos: int = 12, seconds: float = 2.0, fps: float = 30.0,
            config: StabilizerConfig = StabilizerConfig()) -> dict:
    """Still footage made from photos, and a real webcam video of a moving hand (webcam4's 1hand.mp4), with the
    stabiliser's `config`."""
    rng = np.random.default_rng(0)
    samples = [s for s in CocoReader().read(DATA / "hagrid1336") if len(s.hands) == 1][::80][:photos]
    total, track_seconds = {"raw": 0, "stabilised": 0}, 0.0
    for sample in samples:
        changes, spent = label_changes(still_footage(cv2.imread(sample.image_path), int(seconds * fps), rng), model,
                                       fps, config)
        total = {name: total[name] + changes[name] for name in total}
        track_seconds += spent
    capture = cv2.VideoCapture(str(DATA / "webcam4" / "videos" / "1hand.mp4"))
    video_fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while len(frames) < 300 and (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    return {"still_photos": len(samples), "still": rates(total, track_seconds),
            "webcam4_1hand": {"frames": len(frames), **rates(*label_changes(frames, model, video_fps, config))}}


def write_readme_section(results: dict) -> None:
    rows = ["| variant | val accuracy (hagrid_crops, by photo) | none recall (val) | hagrid1336 accuracy via our detector "
            "(missed) | accuracy on detected hands | false detections called none | ms/hand 2 threads (batch 1 / 2) | ms/hand 1 thread | "
            "label changes/s on still footage, raw -> stabilised | train s |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results["variants"].items():
        none = next(row["recall"] for row in r["val"]["per_class"] if row["class"] == "none")
        h = r["hagrid1336"]
        f = r.get("flicker", {})
        flick = (f"{f['still']['changes_per_second_raw']:.2f} -> {f['still']['changes_per_second_stabilised']:.2f} "
                 f"(webcam4 1hand.mp4: {f['webcam4_1hand']['changes_per_second_raw']:.2f} -> "
                 f"{f['webcam4_1hand']['changes_per_second_stabilised']:.2f})" if f else "n/a")
        rows.append(f"| `{name}` {VARIANTS[name][0]} | {r['val']['accuracy']:.3f} | {none:.3f} | "
                    f"{h['accuracy']:.3f} ({h['missed']} of {h['count']}) | {h['accuracy_detected']:.3f} | "
                    f"{h['false_detections_none'] if h['false_detections_none'] is None else round(h['false_detections_none'], 3)} "
                    f"of {h['false_detections']} | {r['ms']['threads2_batch1']:.2f} / {r['ms']['threads2_batch2']:.2f} | "
                    f"{r['ms']['threads1_batch1']:.2f} | {flick} | {r['train_seconds']:.0f} |")
    section = "\n".join(["`python experiments/poses/run.py` (configs/experiment/pose.yaml; seed 0; milliseconds on the shared, "
                         "busy 2-core machine)", "", *rows])
    readme = REPO / "experiments" / "README.md"
    text = readme.read_text()
    start, end = "<!-- study:poses -->", "<!-- /study:poses -->"
    if start in text:
        text = text[:text.index(start) + len(start)] + "\n" + section + "\n" + text[text.index(end):]
        readme.write_text(text)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"variants": ",".join(VARIANTS), "ship": "mobilenet_v2_lowres", "flicker": True},
                            "python experiments/poses/run.py")
    detector = HandTracker(threads=2).detector
    results = {"variants": {}}
    for name in options["variants"].split(","):
        out = train_missing(name)
        report = json.loads((out / "report.json").read_text())
        model = out / "pose.onnx"
        cached = out / "checks.json"  # this script's figures for this model, kept until the model changes
        if cached.is_file() and cached.stat().st_mtime > model.stat().st_mtime:
            results["variants"][name] = json.loads(cached.read_text())
            if "flicker" in results["variants"][name] or not options["flicker"] or name != options["ship"]:
                continue
        entry = {"val": report["val"], "train_seconds": report["train_seconds"],
                 "ms": {f"threads{t}_batch{b}": round(ms_per_hand(model, t, b), 3) for t in (1, 2) for b in (1, 2)}}
        check = hagrid1336_check(classified_photos(model, detector))
        confusion_png(check.pop("matrix"), check["classes"], HERE / f"hagrid1336_{name}.png",
                      f"{name} on hagrid1336 via our detector: accuracy {check['accuracy']:.3f}")
        entry["hagrid1336"] = check
        if options["flicker"] and name == options["ship"]:
            entry["flicker"] = flicker(model)
        results["variants"][name] = entry
        cached.write_text(json.dumps(entry, indent=1))
        print(name, json.dumps({k: v for k, v in entry.items() if k not in ("val", "hagrid1336")}),
              f"val {entry['val']['accuracy']:.3f}, hagrid1336 {check['accuracy']:.3f}", flush=True)
        (HERE / f"{name}_hagrid1336.md").write_text(markdown_table(check) + "\n")
        (HERE / f"{name}_val.md").write_text(markdown_table(entry["val"]) + "\n")
    (HERE / "results.json").write_text(json.dumps(results, indent=1))
    write_readme_section(results)


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
