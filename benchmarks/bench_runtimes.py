"""Frames per second of every runtime, model-only and end-to-end, measured side by side in one run.

    python benchmarks/bench_runtimes.py [checkpoint=PATH] [data=FOLDER] [threads=2] [rounds=7] [seconds=1.0]

Runtimes: PyTorch eager (the reference every ratio is taken against), onnxruntime fp32, onnxruntime
int8 (static, calibrated on frames from `data`), OpenCV DNN, and onnxruntime on the `opencv_compat`
graph (the price of supporting OpenCV 4.5-4.6). Frames are 320 x 240; model-only times the runtime
call on an RGB input, end-to-end times `HandDetector` on a BGR frame (resize, colour, network, decode).
Runtimes are measured in interleaved rounds and the median round is reported, so background load on
a shared machine hits them all alike. PyTorch's OpenMP threads wait passively (OMP_WAIT_POLICY=PASSIVE,
unless set otherwise in the environment), as onnxruntime's do here: spin-waiting threads made PyTorch
up to 20x slower on a loaded 2-core machine, which would flatter every ratio. Without `checkpoint`, a randomly initialised mobilenet_v2
stride-8 model is timed (speed does not depend on the weights); without `data`, calibration and timing
use random frames.
"""
from __future__ import annotations

import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch's OpenMP starts: before importing torch

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.export.quantize import calibration_frames, quantize_model  # noqa: E402
from heatmapnet.export.to_onnx import export_model  # noqa: E402
from heatmapnet.model.checkpoint import save_checkpoint  # noqa: E402
from heatmapnet.model.config import ModelConfig  # noqa: E402
from heatmapnet.model.network import HeatmapNet  # noqa: E402
from heatmapnet.runtime.detector import HandDetector  # noqa: E402
from heatmapnet.runtime.runtimes import open_runtime  # noqa: E402

WIDTH, HEIGHT = 320, 240
TARGET_MODEL_RATIO, TARGET_END_TO_END_FPS = 1.5, 150.0  # issue 6: onnxruntime vs PyTorch, and end-to-end FPS


def seconds_per_call(function, budget: float) -> float:
    """Mean duration of `function()` over about `budget` seconds (at least 5 calls)."""
    calls, started = 0, time.perf_counter()
    while calls < 5 or time.perf_counter() - started < budget:
        function()
        calls += 1
    return (time.perf_counter() - started) / calls


def build_models(checkpoint: str | None, data: str | None, folder: Path) -> dict[str, tuple[str, Path]]:
    """Every (runtime name, model file) pair to time, by label; exported and quantised into `folder`."""
    if checkpoint is None:
        checkpoint = folder / "random.pt"
        torch.manual_seed(0)
        save_checkpoint(checkpoint, HeatmapNet(ModelConfig(backbone="mobilenet_v2", stride=8)))
        print("checkpoint: random mobilenet_v2 stride 8 (speed only)")
    print("exporting fp32 and opencv_compat graphs ...", flush=True)
    fp32 = export_model(checkpoint, folder / "model.onnx")
    compat = export_model(checkpoint, folder / "compat.onnx", opencv_compat=True)
    config = open_runtime("onnxruntime", fp32).model_config
    if data:
        frames = calibration_frames(data, config, 100)
    else:
        rng = np.random.default_rng(0)
        frames = list(rng.integers(0, 256, (20, config.input_height, config.input_width, 3), np.uint8))
        print("calibration: random frames (pass data=FOLDER for real ones)")
    int8 = quantize_model(fp32, folder / "int8.onnx", frames)
    return {
        "torch": ("torch", Path(checkpoint)),
        "onnxruntime fp32": ("onnxruntime", fp32),
        "onnxruntime int8": ("onnxruntime", int8),
        "opencv": ("opencv", fp32),
        "onnxruntime fp32, opencv_compat graph": ("onnxruntime", compat),
    }


def benchmark_frames(data: str | None) -> list[np.ndarray]:
    """BGR frames at 320 x 240: real images from `data` where given, else random ones."""
    config = ModelConfig(input_width=WIDTH, input_height=HEIGHT, resize="stretch")
    if data:
        return [cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) for frame in calibration_frames(data, config, 16)]
    return list(np.random.default_rng(1).integers(0, 256, (16, HEIGHT, WIDTH, 3), np.uint8))


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"checkpoint": None, "data": None, "threads": 2, "rounds": 7, "seconds": 1.0},
                            "benchmarks/bench_runtimes.py")
    cv2.setNumThreads(options["threads"])
    with tempfile.TemporaryDirectory() as folder:
        models = build_models(options["checkpoint"], options["data"], Path(folder))
        runtimes = {label: open_runtime(name, path, threads=options["threads"]) for label, (name, path) in models.items()}
        frames = benchmark_frames(options["data"])
        detectors = {label: HandDetector(runtime) for label, runtime in runtimes.items()}
        images = {label: detector.prepare(frames[0])[None] for label, detector in detectors.items()}
        model_only = {label: [] for label in runtimes}
        end_to_end = {label: [] for label in runtimes}
        for round_index in range(options["rounds"]):
            print(f"round {round_index + 1}/{options['rounds']} ...", flush=True)
            for label in runtimes:
                model_only[label].append(seconds_per_call(lambda: runtimes[label](images[label]), options["seconds"]))
                stream = itertools.cycle(frames)
                end_to_end[label].append(seconds_per_call(lambda: detectors[label](next(stream)), options["seconds"]))
    model_ms = {label: 1000 * float(np.median(times)) for label, times in model_only.items()}
    total_ms = {label: 1000 * float(np.median(times)) for label, times in end_to_end.items()}
    print(f"\n{WIDTH}x{HEIGHT}, {options['threads']} threads, median of {options['rounds']} interleaved rounds "
          f"(torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, OpenCV {cv2.__version__}); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other processes slow every runtime), "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    print(f"{'runtime':40s} {'model ms':>9s} {'FPS':>7s} {'x torch':>8s} {'end-to-end ms':>14s} {'FPS':>7s} {'x torch':>8s}")
    for label in runtimes:
        print(f"{label:40s} {model_ms[label]:9.2f} {1000 / model_ms[label]:7.1f} "
              f"{model_ms['torch'] / model_ms[label]:8.2f} {total_ms[label]:14.2f} {1000 / total_ms[label]:7.1f} "
              f"{total_ms['torch'] / total_ms[label]:8.2f}")
    ratio = model_ms["torch"] / model_ms["onnxruntime fp32"]
    best = min(total_ms, key=total_ms.get)
    print(f"\ntarget: onnxruntime fp32 >= {TARGET_MODEL_RATIO}x PyTorch model-only: {ratio:.2f}x "
          f"({'met' if ratio >= TARGET_MODEL_RATIO else 'NOT met'})")
    print(f"target: end-to-end >= {TARGET_END_TO_END_FPS:.0f} FPS: best {1000 / total_ms[best]:.1f} FPS with {best}, "
          f"onnxruntime fp32 {1000 / total_ms['onnxruntime fp32']:.1f} FPS")


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
