"""Tracking speed, start-up, memory and install size of the default path, side by side with the alternatives.

    python benchmarks/bench_track.py [--video PATH] [--frames 600] [--threads 2] [--repeats 3]
                                     [--mediapipe-python PATH] [--skip-startup]

Everything is measured in this run, on this machine, at 320x240 on a video file, no display:
- end-to-end frames per second of `track.py`'s own loop (read on the capture thread -> preprocess -> model ->
  decode -> track) for PyTorch eager and the shipped model's ONNX Runtime fp32 and int8 copies (`precision=auto`,
  the default, takes int8 on CPUs with VNNI and fp32 elsewhere), in interleaved repeats (median reported), with
  each one's milliseconds per stage;
- MediaPipe Hands' own video mode on the same frames, when a Python with `mediapipe` is given
  (`--mediapipe-python`; it is not a dependency of this project), and the ratio to it;
- the network's FLOPs at 320x240, the GFLOP/s ONNX Runtime achieves, and this machine's float32 matmul rate
  at the same thread count; ONNX Runtime's per-operator profile;
- start-up to the first tracked frame and peak memory of `python track.py` as a user runs it (a fresh process,
  the shipped model), and the installed size of the tracking requirements (requirements.txt and what they pull).
The default video is a real phone video (../shared/data/webcam4/videos/2hand.mp4) letterboxed to 320x240,
looped to `--frames`; without ../shared, a generated clip of a moving blob.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the torch runtime sets it (see heatmapnet/runtime/torch_runtime.py)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from helpers_video import write_blob_video, write_video  # noqa: E402  (the tests' video generator)
from hydra import compose, initialize_config_dir  # noqa: E402

import track  # noqa: E402
from heatmapnet.model.checkpoint import load_model  # noqa: E402
from heatmapnet.pipeline import chosen_precision, shipped_model  # noqa: E402
from heatmapnet.runtime.onnx_format import INPUT  # noqa: E402
from heatmapnet.runtime.onnx_runtimes import graph_input  # noqa: E402
from heatmapnet.runtime.preprocess import FrameTransform  # noqa: E402

WIDTH, HEIGHT = 320, 240
REAL_VIDEO = REPO.parent / "shared" / "data" / "webcam4" / "videos" / "2hand.mp4"
MEDIAPIPE_LOOP = """
import sys, time, cv2, mediapipe as mp
capture = cv2.VideoCapture(sys.argv[1])
hands = mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=2, model_complexity=int(sys.argv[2]))
frames, started = 0, None
while True:
    ok, frame = capture.read()
    if not ok:
        break
    if started is None:
        started = time.perf_counter()  # the first frame also loads the graph: time from the second on
    else:
        frames += 1
    hands.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
print(frames / (time.perf_counter() - started))
"""


def benchmark_video(folder: Path, source: Path | None, frames: int) -> Path:
    """A 320x240 video of `frames` frames: `source` letterboxed and looped, or a generated blob clip."""
    if source is None:
        return write_blob_video(folder / "clip.mp4", count=frames, width=WIDTH, height=HEIGHT)
    capture = cv2.VideoCapture(str(source))
    originals = []
    while (ok_frame := capture.read())[0]:
        originals.append(ok_frame[1])
    transform = FrameTransform(originals[0].shape[1], originals[0].shape[0], WIDTH, HEIGHT)
    looped = (transform.apply(originals[i % len(originals)]) for i in range(frames))
    return write_video(folder / "clip.mp4", looped, fps=30.0)


BARE = ("pose=null", "keypoints=null", "gestures=null")  # read -> preprocess -> model -> decode -> track only


def end_to_end(checkpoint: Path | None, runtime: str, video: Path, threads: int,
               stages: tuple[str, ...] = BARE) -> dict:
    """track.py's loop over the whole video (no window, no outputs; by default without the stages after
    tracking; checkpoint None: track.py's default model); returns its summary."""
    model = [f"checkpoint={checkpoint}"] if checkpoint is not None else []
    overrides = [*model, f"runtime={runtime}", f"source={video}", f"threads={threads}", "display=false", *stages]
    with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
        return track.track(compose("track", overrides=overrides))


def mediapipe_fps(python: str, video: Path, complexity: int) -> float | None:
    """MediaPipe Hands' own video mode on the same file, in the given Python (None: it failed)."""
    done = subprocess.run([python, "-c", MEDIAPIPE_LOOP, str(video), str(complexity)], capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        print(f"  MediaPipe failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else '?'}")
        return None
    return float(done.stdout.strip().splitlines()[-1])


def network_flops(checkpoint: Path) -> float:
    """Floating-point operations of one forward pass at 320x240 (a multiply-add counts 2)."""
    model, _ = load_model(checkpoint)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.zeros(1, 3, HEIGHT, WIDTH))
    return float(counter.get_total_flops())


def matmul_gflops(threads: int, size: int = 1024, seconds: float = 2.0) -> float:
    """This machine's float32 matrix-multiply rate at `threads` threads (PyTorch's BLAS)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.mm(a, b)
        calls += 1
    return 2 * size**3 * calls / (time.perf_counter() - started) / 1e9


def onnx_model_ms_and_profile(model: Path, threads: int, calls: int = 200) -> tuple[float, list[tuple[str, float]]]:
    """Median ms of the bare ONNX Runtime call at 320x240, and the share of time per operator type."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as folder:
        options.profile_file_prefix = str(Path(folder) / "ort")
        session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        feed = {INPUT: graph_input(np.random.default_rng(0).integers(0, 256, (1, HEIGHT, WIDTH, 3), np.uint8))}
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            session.run(None, feed)
            times.append(time.perf_counter() - started)
        events = json.loads(Path(session.end_profiling()).read_text())
    by_op: dict[str, float] = defaultdict(float)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            by_op[event["args"]["op_name"]] += event["dur"]
    total = sum(by_op.values()) or 1.0
    return 1000 * statistics.median(times), sorted(((op, us / total) for op, us in by_op.items()),
                                                   key=lambda item: -item[1])


# Peak memory of a child is read by a small launcher: a process forked straight from this one (with PyTorch
# loaded) would inherit this process's memory high-water mark in its own.
MEASURE_CHILD = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(f"peak_kb={usage.ru_maxrss} status={os.waitstatus_to_exitcode(status)}", file=sys.stderr)
"""


def fresh_process(arguments: list[str]) -> tuple[float, float, str]:
    """Wall seconds and peak memory (MB) of `python ARGS` in a new process, and its stderr."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE_CHILD, sys.executable, *arguments], cwd=REPO,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    last = done.stderr.strip().splitlines()[-1]
    peak_kb, status = (int(part.split("=")[1]) for part in last.split())
    if status != 0:
        raise RuntimeError(f"python {' '.join(arguments)} failed: {done.stderr.strip()[-300:]}")
    return seconds, peak_kb / 1024, done.stderr


def installed_megabytes(requirements: Path) -> tuple[float, list[str]]:
    """Size on disk of the distributions `requirements` names and everything they require, as installed here."""
    wanted = [line.split("#")[0].strip() for line in requirements.read_text().splitlines()]
    queue = [name.split(">")[0].split("=")[0].split("<")[0].split("[")[0] for name in wanted if name]
    seen, total = set(), 0
    while queue:
        name = queue.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        total += sum(file.locate().stat().st_size for file in distribution.files or [] if file.locate().is_file())
        for requirement in distribution.requires or []:
            if "extra ==" not in requirement:
                queue.append(requirement.split(";")[0].split(" ")[0].split(">")[0].split("=")[0].split("<")[0]
                             .split("[")[0].split("!")[0].split("~")[0])
    return total / 1e6, sorted(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, help="video to track (default: the webcam4 phone video, or generated)")
    parser.add_argument("--frames", type=int, default=600, help="frames of the 320x240 benchmark clip")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mediapipe-python", help="a Python with mediapipe installed, to measure MediaPipe Hands")
    parser.add_argument("--skip-startup", action="store_true", help="skip the fresh-process start-up measurement")
    args = parser.parse_args()

    checkpoint, onnx_model = shipped_model("torch"), shipped_model("onnxruntime")
    int8 = shipped_model("onnxruntime", "int8")
    chosen = chosen_precision("auto", None, "onnxruntime", "cpu")  # what track.py runs by default on this CPU
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; torch {torch.__version__}, "
          f"onnxruntime {onnxruntime.__version__}, opencv {cv2.__version__}; {args.threads} threads; "
          f"model {onnx_model.name} (320x240 input)")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        source = args.video or (REAL_VIDEO if REAL_VIDEO.is_file() else None)
        video = benchmark_video(folder, source, args.frames)
        print(f"video: {source or 'generated blob clip'} -> {args.frames} frames at {WIDTH}x{HEIGHT}")
        contenders = {"torch eager": (checkpoint, "torch", BARE),
                      "ONNX Runtime fp32": (onnx_model, "onnxruntime", BARE),
                      "ONNX Runtime int8": (int8, "onnxruntime", BARE),
                      f"default ({chosen}) + keypoints": (None, "onnxruntime", ("pose=null", "gestures=null")),
                      f"default ({chosen}) + pose, keypoints, gestures": (None, "onnxruntime", ())}
        runs: dict[str, list[dict]] = defaultdict(list)
        for repeat in range(args.repeats):
            for label, (model, runtime, stages) in contenders.items():
                runs[label].append(end_to_end(model, runtime, video, args.threads, stages))
            print(f"[{repeat + 1}/{args.repeats}] " + ", ".join(f"{label} {runs[label][-1]['fps']:.0f} FPS"
                                                                for label in contenders))
        mediapipe = {}
        if args.mediapipe_python:
            for complexity in (0, 1):
                mediapipe[complexity] = mediapipe_fps(args.mediapipe_python, video, complexity)
        flops = network_flops(checkpoint)
        matmul = matmul_gflops(args.threads)
        model_ms, profile = onnx_model_ms_and_profile(onnx_model, args.threads)
        int8_ms, _ = onnx_model_ms_and_profile(int8, args.threads, calls=100)
        startup = None
        if not args.skip_startup:
            run = [str(REPO / "track.py"), f"source={video}", "display=false"]
            startup = {"bare": fresh_process([*run, "max_frames=1", *BARE]),
                       "default": fresh_process([*run, "max_frames=1"]),
                       "whole bare": fresh_process([*run, *BARE]),
                       "whole default": fresh_process(run),
                       "torch": fresh_process([*run, "max_frames=1", "runtime=torch", *BARE])}

    print("\nend to end, track.py's loop (median of repeats; the last two rows with stages after tracking: "
          "keypoints alone, then all the defaults):")
    print(f"  {'runtime':<44} {'FPS':>6}  ms per stage")
    medians = {}
    for label, summaries in runs.items():
        best = sorted(summaries, key=lambda summary: summary["fps"])[len(summaries) // 2]
        medians[label] = best["fps"]
        stages = ", ".join(f"{stage} {ms:.2f}" for stage, ms in best["ms"].items() if stage != "draw")
        print(f"  {label:<44} {best['fps']:>6.1f}  {stages}")
    default, fp32 = medians[f"ONNX Runtime {chosen}"], medians["ONNX Runtime fp32"]
    print(f"  the default path (precision=auto) on this CPU: ONNX Runtime {chosen}")
    for complexity, fps in mediapipe.items():
        if fps:
            print(f"  {'MediaPipe Hands, complexity ' + str(complexity):<44} {fps:>6.1f}  (its own video mode, "
                  f"same frames); the default path is {default / fps:.1f}x its rate")
    if not mediapipe:
        print("  MediaPipe Hands: not measured (give --mediapipe-python, a Python with `pip install mediapipe`)")
    print(f"  ratios: ONNX Runtime fp32 / torch {fp32 / medians['torch eager']:.1f}x, "
          f"int8 / fp32 {medians['ONNX Runtime int8'] / fp32:.2f}x")
    print(f"\nnetwork: {flops / 1e9:.3f} GFLOP per frame at {WIDTH}x{HEIGHT}; ONNX Runtime fp32 {model_ms:.2f} ms "
          f"= {flops / model_ms / 1e6:.0f} GFLOP/s, int8 {int8_ms:.2f} ms; this machine's float32 matmul at "
          f"{args.threads} threads: {matmul:.0f} GFLOP/s (the network reaches {flops / model_ms / 1e6 / matmul:.0%})")
    print("ONNX Runtime fp32 time per operator type: "
          + ", ".join(f"{op} {share:.0%}" for op, share in profile[:6]))

    if startup:
        print(f"\n`python track.py` in a fresh process, start-up to the first frame and exit / peak memory over the "
              f"whole clip: ONNX Runtime, detector and tracker only {startup['bare'][0]:.2f} s / "
              f"{startup['whole bare'][1]:.0f} MB; with the default pose, keypoint and gesture stages "
              f"{startup['default'][0]:.2f} s / {startup['whole default'][1]:.0f} MB; runtime=torch "
              f"{startup['torch'][0]:.2f} s / {startup['torch'][1]:.0f} MB (one frame)")
    size, names = installed_megabytes(REPO / "requirements.txt")
    print(f"tracking install (requirements.txt and what it pulls, as installed here): {size:.0f} MB "
          f"in {len(names)} distributions")


if __name__ == "__main__":
    main()
