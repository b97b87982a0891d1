"""Which keypoint codec: SimCC vs heatmaps vs direct regression, on the same backbone, data, crops and budget.

    python experiments/keypoints/run.py [steps=400] [batch_size=32] [seed=0]

Composes `experiment=keypoints` (configs/experiment/keypoints.yaml), caches the crops once, then trains one
network per codec for the same number of steps (one thread each, one after another) and evaluates each on the
held-out videos (webcam10, webcam4, egohands4) and images (hagrid1336): PCK@0.2 per finger and handedness
agreement with MediaPipe. Writes results.json and results.md here and prints the table.
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.config import dataclass_from, plain  # noqa: E402
from heatmapnet.keypoints.config import CODECS  # noqa: E402
from heatmapnet.keypoints.data import KeypointAugment  # noqa: E402
from heatmapnet.keypoints.train import fit, prepare  # noqa: E402

HERE = Path(__file__).resolve().parent
COLUMNS = ("pck", "pck_wrist", "pck_thumb", "pck_index", "pck_middle", "pck_ring", "pck_pinky", "handedness")


def table(results: dict) -> str:
    header = "| codec | set | hands | PCK@0.2 | wrist | thumb | index | middle | ring | pinky | left/right | train min |"
    lines = [header, "|" + "---|" * 12]
    for codec, result in results["runs"].items():
        rows = [("all held out", result["val"])] + list(result["val"]["per_dataset"].items())
        for name, report in rows:
            cells = " | ".join(f"{report[key]:.3f}" for key in COLUMNS)
            lines.append(f"| {codec} | {name} | {report['hands']} | {cells} | {result['train_seconds'] / 60:.1f} |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"steps": 400, "batch_size": 32, "seed": 0}, "experiments/keypoints/run.py")
    torch.set_num_threads(1)
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["experiment=keypoints", f"seed={options['seed']}"])
    config, train_cache, val_cache, val_videos = prepare(cfg)
    augment = dataclass_from(KeypointAugment, cfg.keypoints.augment, "keypoints.augment")
    schedule = {**plain(cfg.keypoints.train), "steps": options["steps"], "batch_size": options["batch_size"]}
    results = {"settings": {**options, "crop_size": config.crop_size, "backbone": config.backbone,
                            "train_hands": len(train_cache), "val_hands": len(val_cache), "val_videos": val_videos},
               "runs": {}}
    for codec in CODECS:
        model, report, seconds = fit(replace(config, codec=codec), train_cache, val_cache, schedule, augment,
                                     options["seed"], codec)
        results["runs"][codec] = {"val": report, "train_seconds": round(seconds, 1),
                                  "parameters": sum(p.numel() for p in model.parameters())}
        print(f"{codec}: PCK@0.2 {report['pck']:.3f}, left/right {report['handedness']:.3f}", flush=True)
    (HERE / "results.json").write_text(json.dumps(results, indent=2))
    text = (f"`python experiments/keypoints/run.py steps={options['steps']} batch_size={options['batch_size']} "
            f"seed={options['seed']}`: {len(train_cache)} training hands, {len(val_cache)} held out\n\n"
            + table(results) + "\n")
    (HERE / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
