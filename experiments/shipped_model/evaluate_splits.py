"""Held-out metrics of a checkpoint on each real dataset it was trained on (its own validation split).

    python experiments/shipped_model/evaluate_splits.py [checkpoint=heatmapnet/shipped/heatmapnet.pt] [runtime=torch]

Runs `python -m heatmapnet.evaluate ... split=val split_by_video=true` per dataset (reports under
outputs/evaluate/) and prints two Markdown tables: per dataset (point-F1 at the shipped threshold, point-AP,
precision, recall, median centre error in px and in hand sizes, box AP@0.5, frames per second) and per
held-out video.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.evaluate.metrics import PointMetrics  # noqa: E402
from heatmapnet.evaluate.run import parse_args, run  # noqa: E402
from heatmapnet.train.engine import OPERATING_F1_TOLERANCE  # noqa: E402

DATASETS = ("egohands4", "webcam10", "webcam4")
VIDEO_COLUMNS = ("f1", "point_ap", "recall", "median_error_size")
COLUMNS = ("f1", "point_ap", "precision", "recall", "median_error_px", "median_error_size", "box_ap50")


def shown(value) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"checkpoint": str(REPO / "heatmapnet" / "shipped" / "heatmapnet.pt"), "runtime": "torch",
                                    "data": str(REPO.parent / "shared" / "data")}, "evaluate_splits")
    rows, video_rows, pooled = [], [], PointMetrics()
    for name in DATASETS:
        out = REPO / "outputs" / "evaluate" / f"shipped-{name}-val"
        report = run(parse_args([f"checkpoint={options['checkpoint']}", f"data={Path(options['data']) / name}",
                                 "split=val", "split_by_video=true", f"out={out}", f"runtime={options['runtime']}"]),
                     pooled)
        overall = report["overall"]
        rows.append(f"| {name} | {report['frames']} | {overall['hands']} | "
                    + " | ".join(shown(overall[key]) for key in COLUMNS)
                    + f" | {report['speed']['fps']:.0f} |")
        video_rows += [f"| {name} | {video} | {m['images']} | {m['hands']} | "
                       + " | ".join(shown(m[key]) for key in VIDEO_COLUMNS) + " |"
                       for video, m in report["per_video"].items()]
    print(f"\nthreshold {report['decode']['threshold']}, {options['runtime']} runtime, held-out videos\n")
    print("| dataset | frames | hands | F1 | point AP | precision | recall | median error px | median error "
          "(hand sizes) | box AP@0.5 | FPS |")
    print("|---" * 11 + "|")
    print("\n".join(rows))
    print("\n| dataset | video | frames | hands | F1 | point AP | recall | median error (hand sizes) |")
    print("|---" * 8 + "|")
    print("\n".join(video_rows))
    operating, best = pooled.best_threshold(OPERATING_F1_TOLERANCE), pooled.best_threshold()
    print(f"\nall held-out frames pooled: F1 {pooled.summary(operating)['f1']:.3f} at threshold {operating:.3f}, the "
          f"highest within {OPERATING_F1_TOLERANCE} of the best F1 ({pooled.summary(best)['f1']:.3f} at {best:.3f}); "
          f"ship it with python -m heatmapnet.train.release ... threshold={operating:.3f}")


if __name__ == "__main__":
    sys.exit(run_tool(main))
