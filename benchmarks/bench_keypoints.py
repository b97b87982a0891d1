"""Cost of the keypoint stage: milliseconds per hand, and tracking FPS with keypoints on for two hands.

    python benchmarks/bench_keypoints.py [--threads 2] [--repeats 200] [--frames 120]

1. The keypoint model alone under ONNX Runtime on batches of 1, 2 and 4 hand crops, next to the shipped
   detector's model call on one 320x240 frame in the same run (the reference: about 5.7 ms in DESIGN.md).
2. `HandTracker` (shipped detector and keypoint models, ONNX Runtime) on 320x240 webcam10 frames that show two
   hands (each held for 10 frames, the tracker reset between them), with and without the keypoint stage, alternating.
Medians (milliseconds) and the best of 3 for FPS: the least disturbed by other work on a shared machine.
MediaPipe's landmark model is not installed here; DESIGN.md's 15-16 ms per 320x240 frame (detector and
landmarks together, 2 threads) is the figure to compare the end-to-end numbers with.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from heatmapnet.keypoints.model_file import open_keypoints  # noqa: E402
from heatmapnet.keypoints.stage import KeypointStage  # noqa: E402
from heatmapnet.pipeline import HandTracker, shipped_model  # noqa: E402
from heatmapnet.runtime.runtimes import open_runtime  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "webcam10"


def median_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def two_hand_frames(count: int) -> list[np.ndarray]:
    document = json.loads((DATA / "annotations.json").read_text())
    names = [image["file_name"] for image in document["images"]
             if image.get("num_hands") == 2 and (image["width"], image["height"]) == (320, 240)]
    return [cv2.imread(str(DATA / name)) for name in names[:count]]


def tracking_fps(tracker: HandTracker, frames: list[np.ndarray], hold: int = 10) -> tuple[float, float]:
    """(frames per second, keypointed hands per frame) over the frames, each shown `hold` times as a scene of its
    own (the tracker is reset between them, so no track coasts from one picture into the next)."""
    started, hands, shown = time.perf_counter(), 0, 0
    for index, frame in enumerate(frames):
        tracker.reset()
        for repeat in range(hold):
            result = tracker.process(frame, (index * hold + repeat) / 30)
            hands += len(result.extras)
            shown += 1
    return shown / (time.perf_counter() - started), hands / shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--frames", type=int, default=120)
    args = parser.parse_args()

    keypoints = open_keypoints("shipped", threads=args.threads)
    size = keypoints.config.crop_size
    detector = open_runtime("onnxruntime", shipped_model("onnxruntime"), threads=args.threads)
    frame = np.random.default_rng(0).integers(0, 256, (1, 240, 320, 3), np.uint8)
    reference = median_ms(lambda: detector(frame), args.repeats)
    print(f"detector model call, 320x240, {args.threads} threads: {reference:.2f} ms (reference)")
    for batch in (1, 2, 4):
        crops = np.random.default_rng(1).integers(0, 256, (batch, size, size, 3), np.uint8)
        ms = median_ms(lambda: keypoints(crops), args.repeats)
        print(f"keypoint model, {batch} crop(s) of {size}x{size}: {ms:.2f} ms = {ms / batch:.2f} ms per hand "
              f"({ms / reference:.2f} x the detector call)")

    if not DATA.is_dir():
        print(f"{DATA} not present: end-to-end tracking skipped")
        return
    frames = two_hand_frames(args.frames // 10)
    plain = HandTracker(runtime="onnxruntime", threads=args.threads, track={"min_hits": 1})
    with_keypoints = HandTracker(runtime="onnxruntime", threads=args.threads, track={"min_hits": 1},
                                 stages=[KeypointStage(keypoints)])
    best = {"without": (0.0, 0.0), "with": (0.0, 0.0)}
    for _ in range(3):
        for name, tracker in (("without", plain), ("with", with_keypoints)):
            fps, hands = tracking_fps(tracker, frames)
            best[name] = max(best[name], (fps, hands))
    print(f"tracking 320x240 webcam10 frames with two hands, {args.threads} threads (best of 3):")
    print(f"  without keypoints: {best['without'][0]:.1f} FPS")
    print(f"  with keypoints:    {best['with'][0]:.1f} FPS, {best['with'][1]:.2f} hands with keypoints per frame")


if __name__ == "__main__":
    main()
