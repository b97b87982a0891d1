"""Which convolutions to leave float in the int8 copy: F1 on every held-out set and model time, side by side.

    python experiments/int8/float_ends.py [model=heatmapnet/shipped/heatmapnet.onnx] [threads=2]

Quantises the shipped ONNX model with `heatmapnet.export.quantize` keeping its first `float_first` and last
`float_last` convolutions float, for a few choices and two calibration samples (100 and 150 frames spread over
../shared/data: the calibration's own noise), evaluates each with `python -m heatmapnet.evaluate split=val` on the
held-out frames of the four training sets at the shipped threshold, and times the bare model call of all of them
in interleaved rounds on one input (ONNX Runtime, `threads` threads). Writes experiments/int8/float_ends.md.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.evaluate.run import parse_args, run  # noqa: E402
from heatmapnet.export.quantize import calibration_frames, quantize_model  # noqa: E402
from heatmapnet.runtime.onnx_format import read_exported  # noqa: E402

DATASETS = ["egohands4", "webcam10", "webcam4", "hagrid1336"]
CHOICES = [(0, 0), (0, 2), (3, 2)]  # (float_first, float_last)
CALIBRATIONS = [100, 150]  # frames
DATA = REPO.parent / "shared" / "data"


def f1_per_set(model: Path, pt: Path, work: Path) -> dict[str, float]:
    return {d: run(parse_args([f"checkpoint={model}", f"data={DATA / d}", "split=val", f"split_from={pt}",
                               f"out={work / model.stem / d}", "threads=1"]))["overall"]["f1"] for d in DATASETS}


def model_ms(models: dict[str, Path], threads: int, rounds: int = 30, calls: int = 10) -> dict[str, float]:
    """Median milliseconds per call of each model, measured in interleaved rounds so all share the machine's load."""
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    sessions = {name: ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                for name, path in models.items()}
    image = np.random.default_rng(0).random((1, 3, 240, 320), dtype=np.float32)
    times: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(rounds):
        for name, session in sessions.items():
            started = time.perf_counter()
            for _ in range(calls):
                session.run(None, {session.get_inputs()[0].name: image})
            times[name].append((time.perf_counter() - started) / calls * 1000)
    return {name: float(np.median(values)) for name, values in times.items()}


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"model": str(REPO / "heatmapnet" / "shipped" / "heatmapnet.onnx"), "threads": 2},
                            "float_ends")
    model = Path(options["model"])
    pt = model.with_suffix(".pt")  # the checkpoint beside it holds the training split
    config = read_exported(model).model_config
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        models = {"fp32": model}
        for frames in CALIBRATIONS:
            calibration = calibration_frames(DATA, config, frames)
            for first, last in CHOICES:
                name = f"int8, float first {first} / last {last}, {frames} frames"
                models[name] = quantize_model(model, work / f"int8_{first}_{last}_{frames}.onnx", calibration,
                                              float_first=first, float_last=last)
        scores = {name: f1_per_set(path, pt, work) for name, path in models.items()}
        speed = model_ms(models, options["threads"])
    lines = [f"`python experiments/int8/float_ends.py` (F1 at the shipped threshold on the held-out frames; model "
             f"time {options['threads']} threads, median of interleaved rounds)", "",
             "| model | " + " | ".join(DATASETS) + " | worst change vs fp32 | model ms | x fp32 |",
             "|---" * (len(DATASETS) + 4) + "|"]
    for name, f1 in scores.items():
        worst = min(f1[d] - scores["fp32"][d] for d in DATASETS)
        lines.append(f"| {name} | " + " | ".join(f"{f1[d]:.3f}" for d in DATASETS)
                     + f" | {worst:+.3f} | {speed[name]:.2f} | {speed['fp32'] / speed[name]:.2f} |")
    text = "\n".join(lines)
    (Path(__file__).resolve().parent / "float_ends.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    sys.exit(run_tool(main))
