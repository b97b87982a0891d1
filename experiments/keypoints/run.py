"""Which keypoint codec: SimCC vs heatmaps vs direct regression, on the same backbone, data, crops and schedule.

    python experiments/keypoints/run.py [step=500] [train=true]

Each codec is one `python train.py experiment=keypoints keypoints.model.codec=CODEC` run (configs/experiment/
keypoints.yaml: same data and split, augmentation, batch, learning-rate schedule and seed; one thread each),
which keeps a checkpoint every 100 steps. The runs are compared at the same `step` of the same schedule (on this
shared machine the CPU budget, not the schedule, decides how far they get): PCK@0.2 per finger and handedness
agreement with MediaPipe on the held-out crops (held-out videos of webcam10, webcam4 and egohands4; held-out images
of hagrid1336). With train=true, a missing run is trained first (`keypoints.train.stop_after=step`).
Writes results.json and results.md here and prints the table.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.keypoints.config import CODECS  # noqa: E402
from heatmapnet.keypoints.torch_model import load_keypoints  # noqa: E402
from heatmapnet.keypoints.train import evaluate, prepare  # noqa: E402

HERE = Path(__file__).resolve().parent
RUNS = {"simcc": REPO / "runs" / "keypoints", **{c: REPO / "runs" / f"keypoints_{c}" for c in CODECS if c != "simcc"}}
COLUMNS = ("pck", "pck_wrist", "pck_thumb", "pck_index", "pck_middle", "pck_ring", "pck_pinky", "handedness")


def checkpoint(codec: str, step: int, train: bool) -> Path:
    path = RUNS[codec] / "checkpoints" / f"step_{step}.pt"
    if not path.is_file() and train:
        subprocess.run([sys.executable, str(REPO / "train.py"), "experiment=keypoints", f"keypoints.model.codec={codec}",
                        f"out_dir={RUNS[codec]}", f"keypoints.train.stop_after={step}"], check=True, cwd=REPO)
    return path


def table(results: dict) -> str:
    header = "| codec | held-out set | hands | PCK@0.2 | wrist | thumb | index | middle | ring | pinky | left/right |"
    lines = [header, "|" + "---|" * 11]
    for codec, report in results["runs"].items():
        for name, part in [("all", report)] + list(report["per_dataset"].items()):
            cells = " | ".join(f"{part[key]:.3f}" for key in COLUMNS)
            lines.append(f"| {codec} | {name} | {part['hands']} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"step": 500, "train": True}, "experiments/keypoints/run.py")
    torch.set_num_threads(1)
    paths = {codec: checkpoint(codec, options["step"], options["train"]) for codec in CODECS}
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["experiment=keypoints"])
    _, _, val_cache, val_videos = prepare(cfg, training=False)
    results = {"step": options["step"], "val_hands": len(val_cache), "val_videos": val_videos, "runs": {}}
    for codec, path in paths.items():
        results["runs"][codec] = evaluate(load_keypoints(path)[0], val_cache)
        print(f"{codec}: PCK@0.2 {results['runs'][codec]['pck']:.3f}", flush=True)
    (HERE / "results.json").write_text(json.dumps(results, indent=2))
    text = (f"`python experiments/keypoints/run.py step={options['step']}`: each codec after {options['step']} steps "
            f"of batch 32 (the same schedule), {len(val_cache)} held-out hands\n\n" + table(results) + "\n")
    (HERE / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
