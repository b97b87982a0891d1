"""Tracking speed on a GPU: `track.py`'s own loop with `device=cuda`, one frame or a batch per forward pass,
beside the same loop on the CPU in the same run.

    python benchmarks/bench_gpu.py [--video PATH] [--repeats 2] [--threads 2]

Prints, per setting, end-to-end frames per second over the whole video (read -> preprocess -> model -> decode ->
track; no window, no outputs, no pose, keypoints or gestures unless the setting says so) and milliseconds per
stage, then the network alone on the GPU (forward pass per frame at batch 1, 8 and 32, synchronised). A setting
whose runtime is not installed (ONNX Runtime's CUDA provider needs `onnxruntime-gpu`) prints its one error line.
Needs the training install (PyTorch) and a CUDA GPU; this project's own machines have none.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as track.py sets it

import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_track import BARE, end_to_end  # noqa: E402  (the same track.py loop as the CPU benchmark)
from heatmapnet.errors import UserError  # noqa: E402
from heatmapnet.model.checkpoint import load_model  # noqa: E402
from heatmapnet.pipeline import shipped_model  # noqa: E402

DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "webcam4" / "videos" / "volctl.mp4"
SETTINGS = {  # name -> runtime, track.py overrides
    "torch cpu, batch 1": ("torch", ("device=cpu", *BARE)),
    "torch cuda, batch 1": ("torch", ("device=cuda", *BARE)),
    "torch cuda, batch 8": ("torch", ("device=cuda", "batch=8", *BARE)),
    "torch cuda, batch 32": ("torch", ("device=cuda", "batch=32", *BARE)),
    "torch cuda, batch 8, 640x480": ("torch", ("device=cuda", "batch=8", "input_size=[640,480]", *BARE)),
    "torch cuda, batch 1, + keypoints": ("torch", ("device=cuda", "pose=null", "gestures=null")),
    "onnxruntime cuda, batch 1": ("onnxruntime", ("device=cuda", *BARE)),
}


def network_ms(batch: int, calls: int = 50) -> float:
    """The shipped network's forward pass on the GPU, per frame, at 320x240."""
    model, _ = load_model(shipped_model("torch"), "cuda")
    images = torch.rand(batch, 3, 240, 320, device="cuda")
    times = []
    with torch.inference_mode():
        for call in range(calls + 5):
            torch.cuda.synchronize()
            started = time.perf_counter()
            model(images)
            torch.cuda.synchronize()
            if call >= 5:  # the first calls pick kernels
                times.append((time.perf_counter() - started) * 1000 / batch)
    return statistics.median(times)


def refuse(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="a video file or a folder of frames")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (the CPU reference, preprocessing)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        refuse("no CUDA GPU visible to PyTorch: run this on a machine with one (and PyTorch's CUDA build)")
    if not args.video.exists():
        refuse(f"video not found: {args.video} (give --video PATH: a video file or a folder of frames)")
    print(f"GPU: {torch.cuda.get_device_name(0)}; PyTorch {torch.__version__}; video {args.video}")
    results = {}
    for name, (runtime, overrides) in SETTINGS.items():
        runs = []
        for _ in range(args.repeats):
            try:
                runs.append(end_to_end(shipped_model(runtime), runtime, args.video, args.threads, overrides))
            except (UserError, ImportError) as error:
                print(f"{name}: error: {error}")
                break
        if runs:
            results[name] = max(runs, key=lambda run: run["fps"])  # the least disturbed repeat
    print("\nend to end (best of repeats):")
    for name, summary in results.items():
        stages = ", ".join(f"{stage} {ms:.2f}" for stage, ms in summary["ms"].items())
        print(f"  {name:34s} {summary['fps']:7.1f} FPS   ms/frame: {stages}")
    print("\nnetwork alone on the GPU, 320x240, per frame:")
    for batch in (1, 8, 32):
        print(f"  batch {batch:2d}: {network_ms(batch):.3f} ms")


if __name__ == "__main__":
    main()
