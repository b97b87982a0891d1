"""Which held-out hands several pose models get wrong, and whether averaging the models helps.

    python experiments/poses/shared_errors.py poses=A.onnx,B.onnx[,...] [detector=heatmapnet/shipped/heatmapnet.pt]
        [split_from=CHECKPOINT]

Seeds of one pose recipe differ by up to four of heldout.py's 117 held-out hands. If their errors are their own, an
ensemble would help; if they are shared, the hands are hard (or their labels wrong) for the recipe itself. This
scores each model and the mean of their probabilities (and of their log-probabilities) on the held-out hands, each
model also on crops cut around the labelled boxes (the classifier alone: no detector misses, the label's box),
counts the hands wrong in every model, and draws each hand some model gets wrong (shared_errors.jpg: the labelled
hand with its surroundings, the 48-px crop around its label inset, the photo's gesture in green, each model's
answer at the detection in red).
Writes shared_errors.md and shared_errors.jpg here.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from experiments.poses.run import DATA, HERE, MISSED, classified_photos, hagrid1336_check  # noqa: E402
from heatmapnet.cli import REQUIRED, parse_options, run_tool  # noqa: E402
from heatmapnet.data.coco import CocoReader  # noqa: E402
from heatmapnet.evaluate.run import parse_args, training_split  # noqa: E402
from heatmapnet.pipeline import HandTracker  # noqa: E402
from heatmapnet.poses.classifier import PoseClassifier  # noqa: E402
from heatmapnet.poses.crops import hand_crop  # noqa: E402
from heatmapnet.poses.stabilize import StabilizerConfig  # noqa: E402

TILE, COLUMNS = 200, 6


def averaged(runs: list[dict], log: bool) -> dict:
    """The classified photos of several models with each detection's probabilities averaged (or their logs)."""
    photos = []
    for index, photo in enumerate(runs[0]["photos"]):
        stacked = np.stack([run["photos"][index][3] for run in runs])  # models x detections x classes
        if log:
            mean = np.log(np.clip(stacked, 1e-9, 1.0)).mean(0)
            mean = np.exp(mean - mean.max(1, keepdims=True))
        else:
            mean = stacked.mean(0)
        photos.append((*photo[:3], mean / mean.sum(1, keepdims=True)))
    return {**runs[0], "photos": photos}


def label_box_accuracy(pose: Path, photos: list[tuple[str, object, str]]) -> float:
    """Accuracy with each crop cut around the labelled box instead of a detection: the classifier alone, as if
    the detector found every hand and placed its box where the label is."""
    classifier = PoseClassifier(pose, 2)
    info = classifier.info
    crops = np.stack([hand_crop(cv2.imread(path), hand.x, hand.y, hand.w, hand.h, info.crop_size, info.crop_scale)
                      for path, hand, _ in photos])
    calls = classifier(crops).argmax(1)
    return float(np.mean([classifier.classes[call] == gesture for call, (_, _, gesture) in zip(calls, photos)]))


def answers(run: dict, index: int) -> str:
    """A one-hand photo's answer: the best class of the detection on its hand, or MISSED."""
    _, _, outcome, probabilities = run["photos"][index]
    rows = [row for row, matched in enumerate(outcome) if matched == 0]
    return run["classes"][int(probabilities[rows[0]].argmax())] if rows else MISSED


def tile(path: str, hand, gesture: str, calls: list[str]) -> np.ndarray:
    frame = cv2.imread(path)
    picture = cv2.resize(hand_crop(frame, hand.x, hand.y, hand.w, hand.h, 160, 2.0), (TILE, TILE))
    inset = hand_crop(frame, hand.x, hand.y, hand.w, hand.h, 48, 1.1)
    picture[:96, :96] = cv2.resize(inset, (96, 96), interpolation=cv2.INTER_NEAREST)
    cv2.putText(picture, f"{round(max(hand.w, hand.h))} px", (100, 14), 0, 0.4, (255, 255, 0), 1)
    cv2.putText(picture, gesture, (2, 114), 0, 0.45, (0, 255, 0), 1)
    cv2.putText(picture, "/".join(call.strip("()")[:6] for call in calls), (2, TILE - 6), 0, 0.4, (0, 0, 255), 1)
    return picture


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"poses": REQUIRED, "split_from": "",
                                   "detector": str(REPO / "heatmapnet" / "shipped" / "heatmapnet.pt")},
                            "python experiments/poses/shared_errors.py")
    poses = [Path(path) for path in options["poses"].split(",")]
    root = DATA / "hagrid1336"
    split_from = [f"split_from={options['split_from']}"] if options["split_from"] else []
    held_out = {s.image_path for s in training_split(parse_args([f"checkpoint={options['detector']}",
                                                                  f"data={root}", "split=val", *split_from]), root)}
    detector = HandTracker(options["detector"], threads=2).detector
    runs = [classified_photos(pose, detector, held_out) for pose in poses]
    enter = StabilizerConfig().enter
    hands = {sample.image_path: sample.hands[0] for sample in CocoReader().read(root) if sample.image_path in held_out}
    classes, tiles, wrong_in_all = runs[0]["classes"], [], []
    one_hand = [(runs[0]["paths"][index], hands[runs[0]["paths"][index]], gesture)
                for index, (gesture, hand_count, _, _) in enumerate(runs[0]["photos"])
                if hand_count == 1 and gesture in classes]
    lines = [f"`python experiments/poses/shared_errors.py {' '.join(argv)}`: accuracy on the held-out hands with "
             f"the best class / as track.py names a photo (`enter` {enter}) / with the best class on crops cut "
             f"around the labelled box instead of the detection", "",
             "| model | accuracy | as named | at the labelled box |", "|---|---|---|---|"]
    rows = [(str(pose), run, f"{label_box_accuracy(pose, one_hand):.3f}") for pose, run in zip(poses, runs)]
    rows += [("mean of the probabilities", averaged(runs, log=False), ""),
             ("mean of the log-probabilities", averaged(runs, log=True), "")]
    for name, run, at_label in rows:
        lines.append(f"| {name} | {hagrid1336_check(run)['accuracy']:.3f} | "
                     f"{hagrid1336_check(run, enter)['accuracy']:.3f} | {at_label} |")
    for index, (gesture, hand_count, _, _) in enumerate(runs[0]["photos"]):
        if hand_count != 1 or gesture not in classes:
            continue
        calls = [answers(run, index) for run in runs]
        if all(call == gesture for call in calls):
            continue
        path = runs[0]["paths"][index]
        tiles.append(tile(path, hands[path], gesture, calls))
        if all(call != gesture for call in calls):
            wrong_in_all.append(f"`{Path(path).name}` ({gesture}: {', '.join(calls)})")
    lines += ["", f"{len(tiles)} hands are wrong in at least one model, {len(wrong_in_all)} in all of them: "
              + "; ".join(wrong_in_all) + ". Each is drawn in shared_errors.jpg."]
    if tiles:
        tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % COLUMNS)
        cv2.imwrite(str(HERE / "shared_errors.jpg"),
                    np.vstack([np.hstack(tiles[row:row + COLUMNS]) for row in range(0, len(tiles), COLUMNS)]),
                    [cv2.IMWRITE_JPEG_QUALITY, 80])
    (HERE / "shared_errors.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
