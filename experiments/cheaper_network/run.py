"""Issue 11's cheaper-network study: the shipped network with residual blocks left out (`model.skip_blocks`),
retrained on a GPU, against the full network: cost per frame here and accuracy on the held-out frames.

    python experiments/cheaper_network/run.py [runs=runs/slim] [reference=runs/shipped_2eb4c07.pt]
        [split_from=runs/shipped_2eb4c07.pt] [data=../shared/data] [threads=2] [calls=300]

`runs` holds `skip<blocks>.last.pt` from `experiments/generalisation/gpu_runs.sh` (the commands are in this
folder's README); `reference` is the full network the same recipe made (2eb4c07's shipped model). For each:
parameters, FLOPs at 320x240, ONNX Runtime fp32 milliseconds per forward pass at 320x240 (`threads`, idle threads
sleeping, as the tracker runs it; median of `calls`, the networks measured in turns in this run) and, with
`python -m heatmapnet.evaluate split=val split_from=...`, F1 on each dataset's held-out frames at the threshold with
the best mean F1 over the four sets (the rule that chose the shipped threshold: training checkpoints carry no
operating threshold of their own), point AP, and false alarms on hand-free crops of those frames at that threshold.
Writes results.json and results.md here.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from experiments.generalisation.run import DATASETS, held_out, threshold_sweep  # noqa: E402
from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.errors import UserError  # noqa: E402
from heatmapnet.evaluate.metrics import PointMetrics  # noqa: E402
from heatmapnet.export.to_onnx import export_model  # noqa: E402
from heatmapnet.model.checkpoint import load_model  # noqa: E402
from heatmapnet.runtime.onnx_format import INPUT  # noqa: E402

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 320, 240


def cost(checkpoint: Path, folder: Path, threads: int) -> tuple[dict, onnxruntime.InferenceSession]:
    """Parameters and FLOPs at 320x240, and an ONNX Runtime fp32 session of the network as the tracker runs it."""
    model, _ = load_model(checkpoint)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.zeros(1, 3, HEIGHT, WIDTH))
    onnx = export_model(checkpoint, folder / f"{checkpoint.stem}.onnx")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep, as in tracking
    session = onnxruntime.InferenceSession(str(onnx), options, providers=["CPUExecutionProvider"])
    return ({"skip_blocks": list(model.config.skip_blocks), "parameters": sum(p.numel() for p in model.parameters()),
             "gflops": counter.get_total_flops() / 1e9}, session)


def interleaved_ms(sessions: dict, calls: int, rounds: int = 5) -> dict[str, float]:
    """Median milliseconds per forward pass of each session, measured in turns (a burst of load on this shared
    machine then hits every network alike)."""
    image = np.random.default_rng(0).random((1, 3, HEIGHT, WIDTH), dtype=np.float32)
    times = {name: [] for name in sessions}
    for _ in range(rounds):
        for name, session in sessions.items():
            for call in range(calls // rounds + 5):
                started = time.perf_counter()
                session.run(None, {INPUT: image})
                if call >= 5:  # warm-up
                    times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def accuracy(checkpoint: Path, name: str, options: dict) -> dict:
    """Per dataset F1 at the threshold with the best mean F1 over the four sets (the shipped model's rule),
    point AP, and false alarms on the hand-free crops at that threshold."""
    pooled = {dataset: PointMetrics() for dataset in DATASETS}
    folder = name.replace(" ", "-")
    out = {dataset: REPO / "outputs" / "evaluate" / f"cheaper-{folder}-{dataset}" for dataset in DATASETS}
    val = {dataset: held_out(checkpoint, Path(options["data"]) / dataset, out[dataset], options["split_from"],
                             threads=options["threads"], pooled=pooled[dataset]) for dataset in DATASETS}
    threshold = threshold_sweep(pooled)["best"]
    results = {"threshold": threshold}
    for dataset, hands_around in DATASETS.items():
        free = held_out(checkpoint, Path(options["data"]) / dataset, Path(f"{out[dataset]}-free"),
                        options["split_from"], threads=options["threads"], extra=[f"threshold={threshold}"],
                        hand_free=hands_around)
        results[dataset] = {"frames": val[dataset]["frames"], "f1": pooled[dataset].summary(threshold)["f1"] or 0.0,
                            "point_ap": val[dataset]["point_ap"], "hand_free_crops": free["frames"],
                            "false_alarms": free["fp"]}
    return results


def table(rows: dict) -> str:
    reference = rows["full network"]
    lines = ["| network | blocks left out | parameters | GFLOP | ORT fp32 ms (ratio) | threshold | "
             + " | ".join(f"{d} F1 / AP" for d in DATASETS) + " | mean F1 (change) | false alarms / crop |",
             "|---" * (8 + len(DATASETS)) + "|"]
    base_f1 = statistics.mean(reference["accuracy"][d]["f1"] for d in DATASETS)
    for name, row in rows.items():
        acc = row["accuracy"]
        mean_f1 = statistics.mean(acc[d]["f1"] for d in DATASETS)
        crops = sum(acc[d]["hand_free_crops"] for d in DATASETS)
        alarms = sum(acc[d]["false_alarms"] for d in DATASETS)
        lines.append(
            f"| {name} | {row['skip_blocks'] or '-'} | {row['parameters'] / 1e6:.3f} M | {row['gflops']:.3f} | "
            f"{row['ort_fp32_ms']:.2f} ({row['ort_fp32_ms'] / reference['ort_fp32_ms']:.2f}) | "
            f"{acc['threshold']:.2f} | "
            + " | ".join(f"{acc[d]['f1']:.3f} / {acc[d]['point_ap']:.3f}" for d in DATASETS)
            + f" | {mean_f1:.3f} ({mean_f1 - base_f1:+.3f}) | {alarms / max(crops, 1):.3f} |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"runs": str(REPO / "runs" / "slim"),
                                   "reference": str(REPO / "runs" / "shipped_2eb4c07.pt"),
                                   "split_from": str(REPO / "runs" / "shipped_2eb4c07.pt"),
                                   "data": str(REPO.parent / "shared" / "data"), "threads": 2, "calls": 300},
                            "cheaper_network")
    checkpoints = {"full network": Path(options["reference"])}
    checkpoints.update({path.name.split(".")[0]: path for path in sorted(Path(options["runs"]).glob("skip*.last.pt"))})
    missing = [str(path) for path in checkpoints.values() if not path.is_file()]
    if missing or len(checkpoints) == 1:
        raise UserError(f"missing checkpoints {missing or options['runs'] + '/skip*.last.pt'}: see "
                        f"experiments/cheaper_network/README.md for the runs that make them")
    rows, sessions = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for name, checkpoint in checkpoints.items():
            rows[name], sessions[name] = cost(checkpoint, Path(folder), int(options["threads"]))
        for name, ms in interleaved_ms(sessions, int(options["calls"])).items():
            rows[name]["ort_fp32_ms"] = ms
            print(f"{name}: {ms:.2f} ms per forward pass", flush=True)
    for name, checkpoint in checkpoints.items():
        rows[name]["accuracy"] = accuracy(checkpoint, name, options)
    (HERE / "results.json").write_text(json.dumps({"options": options, **rows}, indent=2) + "\n")
    text = table(rows)
    (HERE / "results.md").write_text(f"`python experiments/cheaper_network/run.py`\n\n{text}\n")
    print(text)


if __name__ == "__main__":
    sys.exit(run_tool(main))
