"""Should idle inference threads sleep or spin? Each runtime, both policies, on a quiet and on a busy CPU.

    python benchmarks/bench_threads.py [--threads 2] [--seconds 3]

Spinning threads answer the next call sooner on a quiet machine, and steal the cores that the capture
thread, the window and every other program need on a busy one. The choice is per runtime (PyTorch's
OpenMP `OMP_WAIT_POLICY`, ONNX Runtime's `session.intra_op.allow_spinning`), so each combination runs
in its own fresh process, forward passes of the shipped network at 320x240, while the machine is left
alone ("quiet") and while one busy-looping process per core competes ("busy"). Prints the median ms per
forward pass; the runtimes use the faster policy of the busy case (tracking is never alone on a machine).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORWARD = """
import os, statistics, sys, time
import numpy as np
sys.path.insert(0, {repo!r})
runtime, threads, seconds, spin = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "spin"
image = np.random.default_rng(0).integers(0, 256, (1, 240, 320, 3), np.uint8)
if runtime == "torch":
    import torch
    from heatmapnet.model.checkpoint import load_model
    torch.set_num_threads(threads)
    model, _ = load_model({repo!r} + "/heatmapnet/shipped/heatmapnet.pt")
    batch = torch.from_numpy(np.stack([model.config.normalization.apply(image[0])]))
    def call():
        with torch.inference_mode():
            model(batch)
else:
    import onnxruntime
    from heatmapnet.runtime.onnx_runtimes import graph_input
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    session = onnxruntime.InferenceSession({repo!r} + "/heatmapnet/shipped/heatmapnet.onnx", options,
                                           providers=["CPUExecutionProvider"])
    feed = {{"image": graph_input(image)}}
    def call():
        session.run(None, feed)
for _ in range(5):
    call()
times, started = [], time.perf_counter()
while time.perf_counter() - started < seconds:
    begin = time.perf_counter()
    call()
    times.append(time.perf_counter() - begin)
    time.sleep(0.005)  # a tracker waits for the next frame between calls: idle threads sleep or spin then
print(1000 * statistics.median(times))
"""


def busy_loop() -> None:
    while True:
        pass


def forward_ms(runtime: str, policy: str, threads: int, seconds: float) -> float:
    env = {**os.environ, "OMP_WAIT_POLICY": "ACTIVE" if policy == "spin" else "PASSIVE"}
    done = subprocess.run([sys.executable, "-c", FORWARD.format(repo=str(REPO)), runtime, str(threads), str(seconds),
                           policy], capture_output=True, text=True, env=env, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, {args.threads} inference threads")
    results = {}
    for load in ("quiet", "busy"):
        hogs = [multiprocessing.Process(target=busy_loop, daemon=True) for _ in range(os.cpu_count() or 1)]
        if load == "busy":
            for hog in hogs:
                hog.start()
        try:
            for runtime in ("torch", "onnxruntime"):
                for policy in ("sleep", "spin"):
                    results[load, runtime, policy] = forward_ms(runtime, policy, args.threads, args.seconds)
                    print(f"  {load:<5} {runtime:<11} idle threads {policy:<5} "
                          f"{results[load, runtime, policy]:7.2f} ms per forward pass")
        finally:
            for hog in hogs:
                if hog.is_alive():
                    hog.terminate()
    for runtime in ("torch", "onnxruntime"):
        quiet = results["quiet", runtime, "spin"] / results["quiet", runtime, "sleep"]
        busy = results["busy", runtime, "spin"] / results["busy", runtime, "sleep"]
        print(f"{runtime}: spinning / sleeping = {quiet:.2f}x quiet, {busy:.2f}x busy")


if __name__ == "__main__":
    main()
