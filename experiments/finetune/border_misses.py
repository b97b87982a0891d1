"""Where the fine-tunes still miss: hands cut by the frame's border against hands wholly in view.

    python experiments/finetune/border_misses.py [outputs/finetune/seed0/N100-<variant>/run/mine.pt ...]

Runs after experiments/finetune/run.py (its test frames in outputs/finetune/test, its models under
outputs/finetune/seed<S>/<key>/run/mine.pt). Each model (default: the shipped one, then every fine-tune found there)
detects on the scene's test frames at its own threshold, its detections are matched to the hands by
`heatmapnet.evaluate`'s PointMetrics, and its misses are split by whether the labelled box touches the frame's
border (within 2 pixels): the re-filmed scene's later frames show a hand entering from the top, often down to its
fingertips.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from heatmapnet.cli import run_tool  # noqa: E402
from heatmapnet.data.coco import CocoReader  # noqa: E402
from heatmapnet.evaluate.metrics import PointMetrics  # noqa: E402
from heatmapnet.pipeline import HandTracker  # noqa: E402

OUT = REPO / "outputs" / "finetune"
BORDER_PX = 2.0


def at_border(hand, width: int, height: int) -> bool:
    return (hand.x - hand.w / 2 <= BORDER_PX or hand.y - hand.h / 2 <= BORDER_PX
            or hand.x + hand.w / 2 >= width - BORDER_PX or hand.y + hand.h / 2 >= height - BORDER_PX)


def misses(checkpoint: Path, samples) -> dict[str, list[int]]:
    """{"border": [missed, hands], "inside": [missed, hands]} on the test frames."""
    detector = HandTracker(str(checkpoint), runtime="torch", threads=1).detector
    metrics, counts = PointMetrics(), {"border": [0, 0], "inside": [0, 0]}
    for sample in samples:
        frame = cv2.imread(sample.image_path)
        missed = set(metrics.update(detector(frame), sample.hands).misses(detector.decode_config.threshold))
        for index, hand in enumerate(sample.hands):
            kind = "border" if at_border(hand, frame.shape[1], frame.shape[0]) else "inside"
            counts[kind][0] += index in missed
            counts[kind][1] += 1
    return counts


def main(argv: list[str]) -> None:
    models = [Path(arg) for arg in argv] or [REPO / "heatmapnet" / "shipped" / "heatmapnet.pt",
                                             *sorted(OUT.glob("seed*/*/run/mine.pt"))]
    samples = CocoReader().read(OUT / "test")
    print("| model | misses at the border | misses inside the frame | all misses |\n|---|---|---|---|")
    for model in models:
        counts = misses(model, samples)
        (border, border_hands), (inside, inside_hands) = counts["border"], counts["inside"]
        name = model.parent.parent.name if model.name == "mine.pt" else model.name
        print(f"| {name} | {border} of {border_hands} | {inside} of {inside_hands} | {border + inside} of "
              f"{border_hands + inside_hands} |", flush=True)


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
