"""The keypoint model card's figures (MODEL.md, "Keypoint model"), through the run-time code path.

    python experiments/keypoints/model_card.py [checkpoint=heatmapnet/shipped/keypoints.pt] [model=heatmapnet/shipped/keypoints.onnx]

1. Agreement with MediaPipe on the held-out videos of webcam10 and webcam4 (the videos the checkpoint's run held
   out, from its metadata): each labelled hand is cropped from its frame by its label box, exactly as the
   tracking stage crops a track's box (ONNX Runtime, no smoothing); PCK@0.2 of the box's larger side, per finger,
   and left/right agreement (labels swapped to the person's hand: these videos are unmirrored).
2. Jitter on a still hand: one held-out webcam4 frame shown 90 times with camera-like noise (Gaussian, sigma 3
   grey levels), through the shipped detector and tracker, with the keypoint stage raw and one-euro smoothed on
   the same tracks: RMS frame-to-frame keypoint displacement in hand sizes (larger box side).
Writes model_card.json and model_card.md beside this script.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.keypoints.data import read_hands  # noqa: E402
from heatmapnet.keypoints.layout import FINGERS  # noqa: E402
from heatmapnet.keypoints.metrics import agreement, pck_hits  # noqa: E402
from heatmapnet.keypoints.model_file import open_keypoints  # noqa: E402
from heatmapnet.keypoints.stage import KeypointStage  # noqa: E402
from heatmapnet.model.checkpoint import read_checkpoint  # noqa: E402
from heatmapnet.pipeline import FrameResult, HandTracker  # noqa: E402
from heatmapnet.runtime.preprocess import FrameTransform  # noqa: E402
from heatmapnet.tracking.tracker import TrackedHand  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = REPO.parent / "shared" / "data"
SETS = ("webcam10", "webcam4")


def label_track(box) -> TrackedHand:
    x, y, w, h = box
    return TrackedHand(1, x, y, 0.0, 0.0, w, h, 1.0, 1, False)


def held_out_agreement(stage: KeypointStage, val_videos: set[str]) -> dict:
    report = {}
    for name in SETS:
        samples = [s for s in read_hands([{"name": name, "root": str(DATA / name)}]) if f"{name}:{s.video}" in val_videos]
        predicted, labelled, visible, sides, right, labelled_right = [], [], [], [], [], []
        for sample in samples:
            frame = cv2.imread(sample.image_path)
            for box, points, seen, is_right in sample.meta["hands"]:
                result = FrameResult(np.zeros((0, 5)), [label_track(box)], np.zeros((1, 1)), FrameTransform(1, 1, 1, 1))
                stage(frame, result)
                extra = result.extras[1]
                predicted.append(np.array(extra["keypoints"], np.float64)[:, :2])
                right.append(extra["handedness"] == "right")
                labelled.append(points)
                visible.append(seen)
                sides.append(max(box[2], box[3]))
                labelled_right.append(is_right)
        hits = pck_hits(np.array(predicted), np.array(labelled), np.array(visible), np.array(sides))
        report[name] = {**agreement(hits, np.array(right), np.array(labelled_right)),
                        "videos": sorted({s.video for s in samples})}
    return report


def still_hand_jitter(model, val_videos: set[str], frames: int = 90) -> dict:
    samples = [s for s in read_hands([{"name": "webcam4", "root": str(DATA / "webcam4")}])
               if f"webcam4:{s.video}" in val_videos and len(s.meta["hands"]) == 1]
    sample = samples[len(samples) // 2]
    image = cv2.imread(sample.image_path)
    tracker = HandTracker(runtime="onnxruntime", threads=2, track={"min_hits": 1})
    stages = {"raw": KeypointStage(model, None), "smoothed": KeypointStage(model)}
    rng = np.random.default_rng(0)
    paths: dict[str, list] = {name: [] for name in stages}
    sizes = []
    for index in range(frames):
        noisy = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
        result = tracker.process(noisy, index / 30)
        if len(result.tracks) != 1:
            continue
        for name, stage in stages.items():
            result.extras = {}
            stage(noisy, result)
            paths[name].append(np.array(result.extras[result.tracks[0].id]["keypoints"])[:, :2])
        sizes.append(max(result.tracks[0].w, result.tracks[0].h))
    size = float(np.median(sizes))
    jitter = {name: float(np.sqrt(np.mean(np.sum(np.diff(np.array(path), axis=0) ** 2, axis=-1))) / size)
              for name, path in paths.items()}
    return {"frame": Path(sample.image_path).name, "video": sample.video, "frames_tracked": len(sizes),
            "hand_size_px": round(size, 1), **{f"rms_{name}": value for name, value in jitter.items()}}


def markdown(card: dict) -> str:
    lines = ["| set (held-out videos) | hands | PCK@0.2 | " + " | ".join(FINGERS) + " | left/right |",
             "|" + "---|" * (4 + len(FINGERS))]
    for name in SETS:
        r = card["agreement"][name]
        fingers = " | ".join(f"{r[f'pck_{finger}']:.3f}" for finger in FINGERS)
        lines.append(f"| {name} ({', '.join(r['videos'])}) | {r['hands']} | {r['pck']:.3f} | {fingers} | "
                     f"{r['handedness']:.3f} |")
    j = card["jitter"]
    lines += ["", f"Still hand ({j['video']}/{j['frame']}, {j['frames_tracked']} noisy copies, hand {j['hand_size_px']} px): "
              f"RMS frame-to-frame keypoint motion {j['rms_raw']:.4f} hand sizes raw, {j['rms_smoothed']:.4f} smoothed "
              f"({j['rms_raw'] / max(j['rms_smoothed'], 1e-12):.1f}x less)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"checkpoint": str(REPO / "heatmapnet/shipped/keypoints.pt"),
                                   "model": str(REPO / "heatmapnet/shipped/keypoints.onnx")},
                            "experiments/keypoints/model_card.py")
    val_videos = set(read_checkpoint(options["checkpoint"])["meta"]["val_videos"])
    model = open_keypoints(options["model"], threads=2)
    card = {"agreement": held_out_agreement(KeypointStage(model, None), val_videos),
            "jitter": still_hand_jitter(model, val_videos)}
    (HERE / "model_card.json").write_text(json.dumps(card, indent=2))
    text = markdown(card)
    (HERE / "model_card.md").write_text(text)
    print(text)


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
