"""How far the hand detector's boxes are from the labelled ones on frames it never trained on.

    python experiments/poses/box_errors.py [detector=heatmapnet/shipped/heatmapnet.pt] [split_from=CHECKPOINT]
        [sets=webcam10,egohands4,webcam4]

At run time the pose classifier sees a crop cut around the detector's box; in training it sees crops cut around
the labelled box, jittered in centre and scale (`pose.augment.shift`, `pose.augment.scale`). A run-time box
outside that jitter is a crop the classifier never trained on. This measures, on each set's validation frames
(the detector's split, so new people and rooms; hagrid1336's held-out photos are left to heldout.py), the centre
offset of the detection nearest each labelled hand (the larger of the x and y offsets, in the label box's longer
side) and the ratio of the two boxes' longer sides, and prints their percentiles. Writes box_errors.md here.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from experiments.poses.run import DATA, HERE  # noqa: E402
from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.evaluate.metrics import MATCH_RADIUS  # noqa: E402
from heatmapnet.evaluate.run import parse_args, training_split  # noqa: E402
from heatmapnet.pipeline import HandTracker  # noqa: E402

FRAMES_PER_SET = 150  # evenly spaced validation frames: enough for the 95th percentile, a minute per set
OFFSET_PERCENTILES, RATIO_PERCENTILES = (50, 80, 90, 95), (5, 10, 50, 90, 95)


def box_errors(detector, samples) -> tuple[np.ndarray, np.ndarray]:
    """(centre offsets, size ratios) of the detections that found a labelled hand (as evaluate matches them)."""
    offsets, ratios = [], []
    for sample in samples:
        detections = detector(cv2.imread(sample.image_path))
        if not len(detections):
            continue
        for hand in sample.hands:
            distances = np.hypot(detections[:, 0] - hand.x, detections[:, 1] - hand.y)
            x, y, _, w, h = detections[int(distances.argmin())]
            if distances.min() > MATCH_RADIUS * hand.size:
                continue
            side = max(hand.w, hand.h)
            offsets.append(max(abs(x - hand.x), abs(y - hand.y)) / side)
            ratios.append(max(w, h) / side)
    return np.array(offsets), np.array(ratios)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"detector": str(REPO / "heatmapnet" / "shipped" / "heatmapnet.pt"),
                                   "split_from": "", "sets": "webcam10,egohands4,webcam4"},
                            "python experiments/poses/box_errors.py")
    detector = HandTracker(options["detector"], threads=2).detector
    split_from = [f"split_from={options['split_from']}"] if options["split_from"] else []
    lines = [f"`python experiments/poses/box_errors.py {' '.join(argv)}`: the detection nearest each labelled hand "
             f"on up to {FRAMES_PER_SET} of each set's validation frames", "",
             "| set | hands found | centre offset (hand sides, per axis) p" + " / p".join(map(str, OFFSET_PERCENTILES))
             + " | size ratio p" + " / p".join(map(str, RATIO_PERCENTILES)) + " |", "|---|---|---|---|"]
    for name in options["sets"].split(","):
        root = DATA / name
        val = training_split(parse_args([f"checkpoint={options['detector']}", f"data={root}", "split=val",
                                         *split_from]), root)
        offsets, ratios = box_errors(detector, val[::max(1, len(val) // FRAMES_PER_SET)])
        lines.append(f"| {name} | {len(offsets)} | "
                     + " / ".join(f"{v:.2f}" for v in np.percentile(offsets, OFFSET_PERCENTILES)) + " | "
                     + " / ".join(f"{v:.2f}" for v in np.percentile(ratios, RATIO_PERCENTILES)) + " |")
        print(lines[-1], flush=True)
    (HERE / "box_errors.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
