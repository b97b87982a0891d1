"""The shipped hand models of issue 10, old and new, on the generalisation runs' held-out frames: per dataset,
per hand size, false alarms on hand-free crops, and the new model at other input settings.

    python experiments/generalisation/run.py [before=runs/shipped_before_issue10.pt]
        [previous=runs/shipped_980e566.pt] [shipped=heatmapnet/shipped/heatmapnet.pt]
        [split_from=runs/generalise_long/checkpoints/last.pt] [runtime=torch] [threads=1]

`before` is the model shipped before issue 10 (`git show f6805a0:heatmapnet/shipped/heatmapnet.pt >
runs/shipped_before_issue10.pt`), `previous` the weight average shipped by the first generalisation run
(`git show 980e566:heatmapnet/shipped/heatmapnet.pt > runs/shipped_980e566.pt`), `shipped` the released
`python train.py experiment=generalise_long` run that started from it. Each is evaluated at its own shipped
threshold with the tracking defaults (the input follows the frame's orientation), and the shipped model also
with a fixed landscape input (as tracked before this setting), with `python -m
heatmapnet.evaluate split=val split_from=<split_from>` on the frames those runs held out of every dataset (same
seed and held-out videos in all of them; `before` never saw hagrid1336), and with `hand_free=N` on hand-free
crops of those frames (N = 1 for manually labelled egohands4, 2 for the MediaPipe sets).
Reports go to outputs/evaluate/generalisation-*; results to experiments/generalisation/results.json and
the table between the `study:generalisation` markers in experiments/README.md.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from experiments.studies.run import write_into_readme  # noqa: E402
from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.evaluate.metrics import size_bucket_names  # noqa: E402
from heatmapnet.evaluate.run import parse_args, run  # noqa: E402

DATASETS = {"egohands4": 1, "webcam10": 2, "webcam4": 2, "hagrid1336": 2}  # name: labelled hands to crop around
VARIANTS = {  # name in the table: (model option, extra evaluate arguments)
    "before": ("before", []),
    "previous": ("previous", []),
    "shipped": ("shipped", []),
    "shipped, fixed landscape input": ("shipped", ["input_orientation=fixed"]),
}
RESULTS = Path(__file__).resolve().parent / "results.json"


def evaluate(options: dict, variant: str, dataset: str, hand_free: int | None = None) -> dict:
    kind = "hand-free" if hand_free else "val"
    model, extra = VARIANTS[variant]
    folder = "".join(c if c.isalnum() else "-" for c in variant)
    out = REPO / "outputs" / "evaluate" / f"generalisation-{folder}-{dataset}-{kind}"
    argv = [f"checkpoint={options[model]}", f"data={Path(options['data']) / dataset}", "split=val",
            f"split_from={options['split_from']}", f"out={out}", f"runtime={options['runtime']}",
            f"threads={options['threads']}", *extra] + ([f"hand_free={hand_free}"] if hand_free else [])
    report = run(parse_args(argv))
    return {"frames": report["frames"], "threshold": report["decode"]["threshold"], **report["overall"],
            "false_alarms_per_image": report["false_alarms_per_image"], "recall_by_size": report["recall_by_size"]}


def shown(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def tables(results: dict) -> str:
    buckets = size_bucket_names()
    lines = ["| dataset (held-out frames) | model | threshold | F1 | precision | recall | point AP | "
             + " | ".join(f"recall {b} px" for b in buckets) + " | false alarms / hand-free image (crops) |",
             "|---" * (7 + len(buckets) + 1) + "|"]
    for dataset in DATASETS:
        for variant in VARIANTS:
            val, free = results[variant][dataset]["val"], results[variant][dataset]["hand_free"]
            sizes = [f"{shown(val['recall_by_size'][b]['recall'], 2)} ({val['recall_by_size'][b]['hands']})"
                     for b in buckets]
            lines.append(f"| {dataset} ({val['frames']}) | {variant} | {val['threshold']:.3f} | {shown(val['f1'])} | "
                         f"{shown(val['precision'])} | {shown(val['recall'])} | {shown(val['point_ap'])} | "
                         + " | ".join(sizes) + f" | {shown(free['false_alarms_per_image'])} ({free['frames']}) |")
    for variant in VARIANTS:
        crops = sum(results[variant][d]["hand_free"]["frames"] for d in DATASETS)
        alarms = sum(results[variant][d]["hand_free"]["fp"] for d in DATASETS)
        lines.append(f"\nAll hand-free crops, {variant}: {alarms} false alarms on {crops} crops = "
                     f"{alarms / max(crops, 1):.3f} per image.")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"before": str(REPO / "runs" / "shipped_before_issue10.pt"),
                                   "previous": str(REPO / "runs" / "shipped_980e566.pt"),
                                   "shipped": str(REPO / "heatmapnet" / "shipped" / "heatmapnet.pt"),
                                   "split_from": str(REPO / "runs" / "generalise_long" / "checkpoints" / "last.pt"),
                                   "data": str(REPO.parent / "shared" / "data"), "runtime": "torch", "threads": 1},
                            "generalisation")
    results = {variant: {dataset: {"val": evaluate(options, variant, dataset),
                                   "hand_free": evaluate(options, variant, dataset, hand_free)}
                         for dataset, hand_free in DATASETS.items()}
               for variant in VARIANTS}
    RESULTS.write_text(json.dumps({"options": options, **results}, indent=2) + "\n")
    text = (f"`python experiments/generalisation/run.py` ({options['runtime']} runtime; recall per hand size "
            f"sqrt(w*h) in input pixels, hands in brackets)\n\n{tables(results)}")
    write_into_readme("generalisation", text)
    print(text)


if __name__ == "__main__":
    sys.exit(run_tool(main))
