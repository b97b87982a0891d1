"""One detection per hand: how far around a stronger peak the decoder should drop weaker ones (issue 10).

    python experiments/generalisation/one_per_hand.py [model=heatmapnet/shipped/heatmapnet.pt]
        [split_from=runs/shipped_2eb4c07.pt] [data=../shared/data] [threads=2]

The 3x3-cell peak NMS leaves a second peak on V-signs, pointing fingers and large close hands (webcam10's
held-out frames: 11 of the shipped model's 14 false alarms lie inside a labelled hand's box). `decode.one_per_hand`
drops a peak whose centre lies within that many hand sizes (the stronger peak's sqrt(w*h)) of a stronger one.
This script detects once per held-out frame of each dataset (the frames `evaluate split=val split_from=...` uses)
with no such suppression, then applies each radius to the same detections, so every row sees the same peaks:
F1, precision and recall at the model's threshold and point AP. Writes one_per_hand.md beside itself.
"""
from __future__ import annotations

import statistics
import sys
from dataclasses import replace
from pathlib import Path

import cv2
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from experiments.generalisation.run import DATASETS  # noqa: E402
from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.data.loading import load_rgb  # noqa: E402
from heatmapnet.evaluate.metrics import PointMetrics  # noqa: E402
from heatmapnet.evaluate.run import load_samples, parse_args  # noqa: E402
from heatmapnet.runtime.decode import one_per_hand  # noqa: E402
from heatmapnet.runtime.detector import HandDetector  # noqa: E402
from heatmapnet.runtime.runtimes import open_runtime  # noqa: E402

RADII = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)
HERE = Path(__file__).resolve().parent


def raw_detections(detector: HandDetector, samples) -> list:
    """Each frame's detections down to 0.05, ranked by score, before any one-per-hand suppression."""
    found = []
    for sample in tqdm(samples, desc="detect", unit="frame", leave=False):
        found.append(detector(cv2.cvtColor(load_rgb(sample), cv2.COLOR_RGB2BGR)))
    return found


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"model": str(REPO / "heatmapnet" / "shipped" / "heatmapnet.pt"),
                                   "split_from": str(REPO / "runs" / "shipped_2eb4c07.pt"),
                                   "data": str(REPO.parent / "shared" / "data"), "threads": 2}, "one_per_hand")
    runtime = open_runtime("torch", options["model"], threads=int(options["threads"]))
    threshold = runtime.decode_config.threshold
    detector = HandDetector(runtime, replace(runtime.decode_config, threshold=0.05, one_per_hand=0.0))
    rows = {radius: {} for radius in RADII}
    for dataset in DATASETS:
        config = parse_args([f"checkpoint={options['model']}", f"data={Path(options['data']) / dataset}",
                             "split=val", f"split_from={options['split_from']}"])
        samples = load_samples(config)
        found = raw_detections(detector, samples)
        for radius in RADII:
            metrics = PointMetrics()
            for sample, detections in zip(samples, found):
                metrics.update(one_per_hand(detections, radius), sample.hands)
            summary = metrics.summary(threshold)
            rows[radius][dataset] = {key: summary[key] or 0.0 for key in ("f1", "precision", "recall", "point_ap")}
            rows[radius][dataset]["frames"] = len(samples)
    lines = [f"`python experiments/generalisation/one_per_hand.py` ({Path(options['model']).name} at its threshold "
             f"{threshold:.2f}; F1 (precision / recall), point AP; held-out frames of each set)", "",
             "| one_per_hand (hand sizes) | " + " | ".join(f"{d} ({rows[0.0][d]['frames']})" for d in DATASETS)
             + " | mean F1 |", "|---" * (len(DATASETS) + 2) + "|"]
    for radius, per_set in rows.items():
        cells = [f"{m['f1']:.3f} ({m['precision']:.3f} / {m['recall']:.3f}), AP {m['point_ap']:.3f}"
                 for m in per_set.values()]
        lines.append(f"| {radius:g}{' (off)' if radius == 0 else ''} | " + " | ".join(cells)
                     + f" | {statistics.mean(m['f1'] for m in per_set.values()):.3f} |")
    text = "\n".join(lines)
    (HERE / "one_per_hand.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    sys.exit(run_tool(main))
