"""The shipped hand models of issue 10, old and new, on the generalisation runs' held-out frames: per dataset,
per hand size, false alarms on hand-free crops, the new model at other input settings, and its F1 per dataset
over thresholds (how its operating threshold was chosen).

    python experiments/generalisation/run.py [before=runs/shipped_before_issue10.pt]
        [first=runs/shipped_980e566.pt] [long=runs/shipped_7745c87.pt] [more=runs/gpu/more.pt]
        [from_before=runs/gpu/from_before.pt] [gpu=runs/shipped_2eb4c07.pt] [cont=runs/gpu12/cont.pt] [close=...]
        [close_seed1=...] [close_ego=...] [close_seed1_ego=...] [egocentric=runs/shipped_1000813.pt]
        [shipped=heatmapnet/shipped/heatmapnet.pt]
        [split_from=runs/shipped_2eb4c07.pt] [runtime=torch] [threads=1]

The models, each made with `git show COMMIT:heatmapnet/shipped/heatmapnet.pt > FILE` or released from a run
(`python -m heatmapnet.train.release checkpoint=... out=FILE onnx=false`):
- `before`: shipped before issue 10 (f6805a0);
- `first`: the weight average of the first generalisation run (980e566, `experiment=generalise`);
- `long`: `experiment=generalise_long`, 9 CPU epochs from `first` (7745c87);
- `more`, `from_before`: two variants of the GPU run (experiments/generalisation/gpu_runs.sh): generalise_long's
  mix for 60 epochs from `long`, and the same from `before`;
- `gpu`: `experiment=generalise_gpu`, the rebalanced variant, released at the threshold chosen below (shipped in
  2eb4c07);
- `cont`, `close`, `close_seed1` (twelfth session, `runs/gpu12/*.pt` released from gpu_runs.sh's runs): 50 more
  GPU epochs from the shipped model, as it is and with webcam10's close hands drawn twice as often and zoom-in
  to 1.8 (two seeds); `close_ego`, `close_seed1_ego`: each `close` seed with the egocentric fine-tune on top
  (experiments/egocentric/run.py name=close[_seed1]_all_avg0.7);
- `egocentric`: `gpu` fine-tuned on 147 egocentric pointing hands and averaged with it, 0.7 x fine-tuned
  (experiments/egocentric/), released at the same threshold (shipped in 1000813);
- `shipped`: since the thirteenth session `close_seed1_ego`.
A model whose file is gone (the sixth session's `more` and `from_before` were not kept) keeps its figures from
results.json.
Each is evaluated at its own threshold with the tracking defaults (the input follows the frame's orientation),
and the shipped model also with a fixed landscape input, with `python -m heatmapnet.evaluate split=val
split_from=<split_from>` on the frames all these runs held out of every dataset (seed 0, the same held-out
videos; `before` never saw hagrid1336), and with `hand_free=N` on hand-free crops of those frames (N = 1 for
manually labelled egohands4, 2 for the MediaPipe sets). The threshold table gives the shipped model's F1 per
dataset and their mean: the shipped threshold is the one with the highest mean (each dataset one vote; the
pooled validation F1 that `release threshold=validation` uses lets webcam10's 370 frames decide).
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
from heatmapnet.evaluate.metrics import PointMetrics, size_bucket_names  # noqa: E402
from heatmapnet.evaluate.run import parse_args, run  # noqa: E402

DATASETS = {"egohands4": 1, "webcam10": 2, "webcam4": 2, "hagrid1336": 2}  # name: labelled hands to crop around
MODELS = {  # model option: (name in the table, default file under the repository)
    "before": ("before", "runs/shipped_before_issue10.pt"),
    "first": ("first", "runs/shipped_980e566.pt"),
    "long": ("long", "runs/shipped_7745c87.pt"),
    "more": ("more (GPU)", "runs/gpu/more.pt"),
    "from_before": ("from_before (GPU)", "runs/gpu/from_before.pt"),
    "gpu": ("gpu (2eb4c07)", "runs/shipped_2eb4c07.pt"),
    "egocentric": ("egocentric (1000813)", "runs/shipped_1000813.pt"),
    "cont": ("cont (GPU)", "runs/gpu12/cont.pt"),
    "close": ("close (GPU)", "runs/gpu12/close.pt"),
    "close_seed1": ("close seed 1 (GPU)", "runs/gpu12/close_seed1.pt"),
    "close_ego": ("close + egocentric", "outputs/egocentric/close_all_avg0.7/heatmapnet.pt"),
    "close_seed1_ego": ("close seed 1 + egocentric", "outputs/egocentric/close_seed1_all_avg0.7/heatmapnet.pt"),
    "shipped": ("shipped", "heatmapnet/shipped/heatmapnet.pt"),
}
VARIANTS = {  # name in the table: (model option, extra evaluate arguments)
    **{name: (model, []) for model, (name, _) in MODELS.items()},
    "shipped, fixed landscape input": ("shipped", ["input_orientation=fixed"]),
}
THRESHOLDS = [round(0.15 + 0.05 * i, 2) for i in range(11)]  # the sweep of the shipped model: 0.15 ... 0.65
RESULTS = Path(__file__).resolve().parent / "results.json"


def held_out(checkpoint, data: Path, out: Path, split_from, runtime: str = "torch", threads: int = 1,
             extra=(), hand_free: int | None = None, pooled: PointMetrics | None = None) -> dict:
    """`heatmapnet.evaluate split=val` of `checkpoint` on the frames of `data` that `split_from` held out (with
    `hand_free=N`: hand-free crops of them), at the checkpoint's own threshold."""
    argv = [f"checkpoint={checkpoint}", f"data={data}", "split=val", f"split_from={split_from}", f"out={out}",
            f"runtime={runtime}", f"threads={threads}", *extra] + ([f"hand_free={hand_free}"] if hand_free else [])
    report = run(parse_args(argv), pooled)
    return {"frames": report["frames"], "threshold": report["decode"]["threshold"], **report["overall"],
            "false_alarms_per_image": report["false_alarms_per_image"], "recall_by_size": report["recall_by_size"]}


def evaluate(options: dict, variant: str, dataset: str, hand_free: int | None = None,
             pooled: PointMetrics | None = None) -> dict:
    kind = "hand-free" if hand_free else "val"
    model, extra = VARIANTS[variant]
    folder = "".join(c if c.isalnum() else "-" for c in variant)
    out = REPO / "outputs" / "evaluate" / f"generalisation-{folder}-{dataset}-{kind}"
    return held_out(options[model], Path(options["data"]) / dataset, out, options["split_from"], options["runtime"],
                    options["threads"], extra, hand_free, pooled)


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


def threshold_sweep(per_dataset: dict[str, PointMetrics]) -> dict:
    """F1 of each dataset at each threshold, their mean, and the threshold with the highest mean."""
    rows = {t: {d: per_dataset[d].summary(t)["f1"] or 0.0 for d in DATASETS} for t in THRESHOLDS}
    means = {t: sum(row.values()) / len(row) for t, row in rows.items()}
    return {"f1": {str(t): row for t, row in rows.items()}, "mean": {str(t): m for t, m in means.items()},
            "best": max(THRESHOLDS, key=lambda t: (round(means[t], 3), t))}  # ties to the third decimal: the higher


def sweep_table(sweep: dict) -> str:
    lines = ["| threshold | " + " | ".join(DATASETS) + " | mean |", "|---" * (len(DATASETS) + 2) + "|"]
    for t in THRESHOLDS:
        mark = " (best)" if t == sweep["best"] else ""
        lines.append(f"| {t:.2f}{mark} | " + " | ".join(f"{sweep['f1'][str(t)][d]:.3f}" for d in DATASETS)
                     + f" | {sweep['mean'][str(t)]:.3f} |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {**{model: str(REPO / path) for model, (_, path) in MODELS.items()},
                                   "split_from": str(REPO / "runs" / "shipped_2eb4c07.pt"),
                                   "data": str(REPO.parent / "shared" / "data"), "runtime": "torch", "threads": 1},
                            "generalisation")
    per_dataset = {dataset: PointMetrics() for dataset in DATASETS}  # the shipped model's, for the sweep
    earlier = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results = {}
    for variant, (model, _) in VARIANTS.items():
        if not Path(options[model]).is_file() and variant in earlier:  # a GPU run's model not kept: its figures stay
            print(f"{variant}: {options[model]} not found, keeping its figures from {RESULTS.name}", flush=True)
            results[variant] = earlier[variant]
            continue
        results[variant] = {dataset: {"val": evaluate(options, variant, dataset, pooled=per_dataset[dataset]
                                                      if variant == "shipped" else None),
                                      "hand_free": evaluate(options, variant, dataset, hand_free)}
                            for dataset, hand_free in DATASETS.items()}
    sweep = threshold_sweep(per_dataset)
    RESULTS.write_text(json.dumps({"options": options, **results, "shipped threshold sweep": sweep}, indent=2)
                       + "\n")
    text = (f"`python experiments/generalisation/run.py` ({options['runtime']} runtime; recall per hand size "
            f"sqrt(w*h) in input pixels, hands in brackets)\n\n{tables(results)}\n\n"
            f"The shipped model's F1 per dataset over thresholds (highest mean: {sweep['best']:.2f}):\n\n"
            f"{sweep_table(sweep)}")
    write_into_readme("generalisation", text)
    print(text)


if __name__ == "__main__":
    sys.exit(run_tool(main))
