"""Tracking speed with the pose classifier on and off, for one and two hands, in the same run.

    python benchmarks/bench_pose.py [--frames 300] [--threads 2] [--repeats 3] [--pose PATH]

Runs track.py's loop (shipped detector under ONNX Runtime, no window, no outputs) over generated 320x240
clips of one and of two still synthetic hands (tests/pose_clips.py), alternating `pose=null` and the pose
model, and prints FPS, the pose stage's milliseconds per frame and per hand, and the cost relative to
tracking without poses. The best of the repeats is reported (the least disturbed on a shared machine).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from helpers_video import write_video  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from pose_clips import pose_frames  # noqa: E402

import track  # noqa: E402


def run(video: Path, pose: str, threads: int) -> dict:
    overrides = [f"source={video}", f"threads={threads}", "display=false", f"pose={pose}"]
    with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
        return track.track(compose("track", overrides=overrides))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pose", default="shipped", help="pose model (.onnx) or shipped")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for hands in (1, 2):
            video = write_video(Path(folder) / f"hands{hands}.mp4", pose_frames("open", args.frames, hands=hands))
            best = {}
            for _ in range(args.repeats):
                for pose in ("null", args.pose):
                    summary = run(video, pose, args.threads)
                    if pose not in best or summary["fps"] > best[pose]["fps"]:
                        best[pose] = summary
            rows.append((hands, best["null"], best[args.pose]))
    print(f"\n{args.threads} threads, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, "
          f"best of {args.repeats}")
    print("hands  FPS without poses  FPS with poses  pose ms/frame  pose ms/hand  frame time ratio")
    for hands, off, on in rows:
        pose_ms = on["ms"].get("pose", 0.0)
        print(f"{hands:>5}  {off['fps']:>17.1f}  {on['fps']:>14.1f}  {pose_ms:>13.2f}  {pose_ms / hands:>12.2f}  "
              f"{off['fps'] / on['fps']:>16.2f}")


if __name__ == "__main__":
    main()
