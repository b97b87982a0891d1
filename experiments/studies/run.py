"""Rerun the design studies: train every run a study needs, evaluate it on held-out data, print the table and
write it into experiments/README.md.

    python experiments/studies/run.py study=loss|backbone|input|radius|refinement|split|all [jobs=2] [retrain=false]

Every run is a Hydra experiment config, configs/experiment/study/<run>.yaml (`python train.py
experiment=study/<run>` trains it alone), on top of study/base.yaml: MobileNetV2 stride 8 at 320x240,
masked BCE, egohands4 split by video, 8 epochs, seed 0. Runs train `jobs` at a time (one thread each) into
runs/studies/<run>/ (TensorBoard logs and checkpoints); a run whose last.pt has finished its epochs is
reused unless retrain=true. Evaluation then goes one run at a time on two threads, so the milliseconds
are measured on an otherwise idle machine: `python -m heatmapnet.evaluate` on the run's own validation
split (split=val), reports in runs/studies/<run>/evaluate/. Results: experiments/studies/results/<study>.json
and the table between the study's markers in experiments/README.md.
"""
from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from omegaconf import OmegaConf  # noqa: E402

from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.errors import UserError  # noqa: E402
from heatmapnet.evaluate.run import parse_args, run  # noqa: E402
from heatmapnet.model.checkpoint import read_checkpoint  # noqa: E402

RUNS = REPO / "runs" / "studies"
RESULTS = Path(__file__).resolve().parent / "results"
README = REPO / "experiments" / "README.md"
DATA = "egohands4"
REFINEMENTS = ("argmax", "quarter", "weighted", "quadratic")


@dataclass(frozen=True)
class Row:
    """One line of a study table: a trained run evaluated on one of its splits of `dataset`, optionally
    re-decoded. `checkpoint` (relative to the repository) names a model this script does not train."""
    run: str
    label: str
    split: str = "val"
    refine: str | None = None
    dataset: str = DATA
    checkpoint: str | None = None

    def checkpoint_path(self) -> Path:
        return REPO / self.checkpoint if self.checkpoint else RUNS / self.run / "checkpoints" / "last.pt"


STUDIES: dict[str, list[Row]] = {
    "loss": [
        Row("base", "masked_bce (ignore `other`)"),
        Row("base_seed1", "masked_bce, seed 1: the run-to-run noise"),
        Row("loss_bce", "bce (`other` = background)"),
        Row("loss_masked_bce_mean", "masked_bce, mean over pixels instead of / positives"),
        Row("loss_mse", "mse (ignore `other`)"),
        Row("loss_mse_unmasked", "mse (`other` = background)"),
        Row("loss_mse_positives", "mse (ignore `other`), / positives instead of mean"),
        Row("loss_focal", "focal (ignore `other`)"),
        Row("loss_focal_unmasked", "focal (`other` = background)"),
        Row("loss_masked_bce_other60", "masked_bce, hands under 60 px `other` (ignored)"),
        Row("loss_bce_other60", "bce, hands under 60 px `other` (taught as background)"),
        Row("loss_masked_bce_other60_seed1", "masked_bce, hands under 60 px `other`, seed 1"),
        Row("loss_bce_other60_seed1", "bce, hands under 60 px `other`, seed 1"),
    ],
    "backbone": [
        Row("backbone_vgg16", "vgg16 (blocks 1-2 frozen, ImageNet), 2 epochs"),
        Row("base", "mobilenet_v2 stride 8 (ImageNet)"),
        Row("backbone_mobilenet_v2_s16", "mobilenet_v2 stride 16 (ImageNet)"),
        Row("base_seed1", "mobilenet_v2 stride 8, seed 1"),
        Row("backbone_mobilenet_v2_s16_seed1", "mobilenet_v2 stride 16, seed 1"),
        Row("backbone_mobilenet_v3_small", "mobilenet_v3_small stride 8 (random init)"),
    ],
    "input": [
        Row("input_256x192", "256x192"),
        Row("base", "320x240"),
        Row("input_384x288", "384x288"),
    ],
    "radius": [
        Row("radius_008", "gaussian, sigma 0.08 hand sizes"),
        Row("base", "gaussian, sigma 0.15"),
        Row("radius_025", "gaussian, sigma 0.25"),
        Row("radius_04", "gaussian, sigma 0.4"),
        Row("radius_disc", "disc, radius 0.15"),
        Row("radius_disc_025", "disc, radius 0.25"),
    ],
    "refinement": [Row("base", refine, refine=refine) for refine in REFINEMENTS] + [
        Row("shipped", f"{refine} (heatmapnet/shipped/heatmapnet.pt on webcam10)", refine=refine, dataset="webcam10",
            checkpoint="heatmapnet/shipped/heatmapnet.pt") for refine in REFINEMENTS],
    "split": [
        Row("base", "video split: trained on 3 videos, scored on the 4th"),
        Row("split_random", "random frame split: scored on random frames of the same 4 videos"),
        Row("base", "video split model scored on its own training frames", split="train"),
    ],
}
COLUMNS = ("point AP", "F1 @0.5", "best F1 (threshold)", "median error (hand sizes)", "median error px",
           "recall @0.5", "ms/frame")


def train_runs(names: list[str], jobs: int, retrain: bool) -> None:
    """Train the runs that have no finished last.pt, `jobs` at a time, each on one thread."""
    todo = [name for name in dict.fromkeys(names) if retrain or not finished(name)]
    if not todo:
        return
    print(f"training {len(todo)} run(s), {jobs} at a time: {', '.join(todo)}")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for name, code in zip(todo, pool.map(train_one, todo)):
            if code != 0:
                raise UserError(f"training {name} failed (exit {code}); see {RUNS / name / 'train_output.log'}")


def train_one(name: str) -> int:
    (RUNS / name).mkdir(parents=True, exist_ok=True)
    with open(RUNS / name / "train_output.log", "w") as log:
        return subprocess.call([sys.executable, str(REPO / "train.py"), f"experiment=study/{name}", "threads=1"],
                               cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def finished(name: str) -> bool:
    """Whether runs/studies/<name>/checkpoints/last.pt completed every epoch its config asks for."""
    last = RUNS / name / "checkpoints" / "last.pt"
    if not last.exists():
        return False
    epochs = OmegaConf.load(RUNS / name / ".hydra" / "config.yaml").train.epochs
    return int(read_checkpoint(last)["meta"]["epoch"]) >= epochs


def evaluate_row(row: Row, data: Path) -> dict:
    """Evaluate a run's last checkpoint (no selection on the validation frames) on the row's split."""
    checkpoint = row.checkpoint_path()
    out = RUNS / row.run / "evaluate" / f"{row.dataset}-{row.split}-{row.refine or 'own'}"
    arguments = [f"checkpoint={checkpoint}", f"data={data / row.dataset}", f"split={row.split}", f"out={out}",
                 "threshold=0.5", "threads=2", "samples=8"]
    report = run(parse_args(arguments + ([f"refine={row.refine}"] if row.refine else [])))
    meta = read_checkpoint(checkpoint)["meta"]
    overall, best = report["overall"], report["best_threshold"] or {}
    return {
        "run": row.run, "label": row.label, "dataset": row.dataset, "split": row.split,
        "refine": report["decode"]["refine"], "checkpoint": str(checkpoint.relative_to(REPO)), "seed": meta["seed"],
        "frames": report["frames"], "hands": overall["hands"],
        "point_ap": overall["point_ap"], "f1": overall["f1"], "recall": overall["recall"],
        "best_f1": best.get("f1"), "best_threshold": best.get("threshold"),
        "median_error_size": overall["median_error_size"], "median_error_px": overall["median_error_px"],
        "train_minutes": meta["train_seconds"] / 60.0 if "train_seconds" in meta else None,
        "ms_per_frame": report["speed"]["ms"]["infer"], "report": str(Path(report["out"]).relative_to(REPO)),
    }


def number(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def table(rows: list[dict]) -> str:
    lines = ["| run | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for r in rows:
        best = "n/a" if r["best_f1"] is None else f"{r['best_f1']:.3f} ({r['best_threshold']:.2f})"
        cells = [number(r["point_ap"]), number(r["f1"]), best, number(r["median_error_size"]),
                 number(r["median_error_px"], 1), number(r["recall"]), number(r["ms_per_frame"], 1)]
        lines.append(f"| `{r['run']}` {r['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_into_readme(study: str, text: str) -> None:
    """Replace what lies between <!-- study:NAME --> and <!-- /study:NAME --> in experiments/README.md."""
    begin, end = f"<!-- study:{study} -->", f"<!-- /study:{study} -->"
    readme = README.read_text()
    if begin not in readme or end not in readme:
        raise UserError(f"{README} has no {begin} ... {end} markers; add them where the table should go")
    head, rest = readme.split(begin, 1)
    README.write_text(f"{head}{begin}\n{text}\n{end}{rest.split(end, 1)[1]}")


def run_study(study: str, data: Path) -> str:
    rows = [evaluate_row(row, data) for row in STUDIES[study]]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{study}.json").write_text(json.dumps(rows, indent=2) + "\n")
    frames = sorted({(r["dataset"], r["split"], r["frames"], r["hands"]) for r in rows})
    caption = (f"`python experiments/studies/run.py study={study}` (seed 0; "
               + "; ".join(f"{name} {split}: {n} frames, {h} open hands" for name, split, n, h in frames) + ")")
    text = f"{caption}\n\n{table(rows)}"
    write_into_readme(study, text)
    return text


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"study": "all", "jobs": 2, "retrain": False,
                                   "data": str(REPO.parent / "shared" / "data")}, "studies/run")
    studies = list(STUDIES) if options["study"] == "all" else [options["study"]]
    unknown = [study for study in studies if study not in STUDIES]
    if unknown:
        raise UserError(f"unknown study {unknown[0]!r}: choose one of {', '.join(STUDIES)} or all")
    data = Path(options["data"]).expanduser()
    if not (data / DATA).is_dir():
        raise UserError(f"{data / DATA} not found: the studies train on ../shared/data/{DATA} (or pass data=FOLDER)")
    if options["jobs"] < 1:
        raise UserError(f"jobs must be at least 1, got {options['jobs']}")
    train_runs([row.run for study in studies for row in STUDIES[study] if not row.checkpoint], options["jobs"],
               options["retrain"])
    for study in studies:
        print(f"\n## {study}\n\n{run_study(study, data)}")


if __name__ == "__main__":
    sys.exit(run_tool(main))
