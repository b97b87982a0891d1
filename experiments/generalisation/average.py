"""Weight-space average of the model before fine-tuning and the fine-tuned one, for a run already made
(heatmapnet/train/average.py; `train.py average_with_init=S` does the same at the end of a run). The average
is validated on the fine-tuned run's held-out frames (its F1-optimal operating threshold is stored, so
`release` ships it like any run).

    python experiments/generalisation/average.py [before=runs/shipped_before_issue10.pt]
        [after=runs/generalise/checkpoints/last.pt] [mix=0.5] [out=runs/generalise/checkpoints/average.pt]
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.data.augment import AugmentConfig  # noqa: E402
from heatmapnet.data.dataset import build_data, collate  # noqa: E402
from heatmapnet.model.checkpoint import load_model, save_checkpoint  # noqa: E402
from heatmapnet.runtime.decode import DecodeConfig  # noqa: E402
from heatmapnet.train.average import average_with_start  # noqa: E402
from heatmapnet.train.engine import validate  # noqa: E402
from heatmapnet.train.losses import Criterion, LossConfig  # noqa: E402
from heatmapnet.train.targets import TargetConfig  # noqa: E402


def main(argv: list[str]) -> None:
    runs = REPO / "runs"
    options = parse_options(argv, {"before": str(runs / "shipped_before_issue10.pt"),
                                   "after": str(runs / "generalise" / "checkpoints" / "last.pt"), "mix": 0.5,
                                   "out": str(runs / "generalise" / "checkpoints" / "average.pt"), "threads": 2},
                            "average")
    torch.set_num_threads(options["threads"])
    before, _ = load_model(options["before"])
    model, payload = load_model(options["after"])
    mix = options["mix"]
    average_with_start(model, before.state_dict(), 1 - mix)
    meta = payload["meta"]
    target = TargetConfig(**meta["target"])
    data = build_data(meta["data"], model.config, target, AugmentConfig(enabled=False), int(meta["seed"]))
    loader = DataLoader(data.val, batch_size=16, collate_fn=collate)
    decode = DecodeConfig(**{**payload["decode"], "threshold": 0.5})
    metrics, _ = validate(model, Criterion(LossConfig(name=meta["loss"])), loader, "cpu", model.config.stride,
                          decode, target, show_progress=True)
    save_checkpoint(options["out"], model, payload["decode"],
                    {**meta, "val": metrics, "averaged": {"before": options["before"], "after": options["after"],
                                                          "mix": mix}})
    print(f"wrote {options['out']}: validation F1 {metrics['f1']:.3f} at 0.5, AP {metrics['point_ap']:.3f}, "
          f"operating threshold {metrics['operating_threshold']:.3f}")


if __name__ == "__main__":
    sys.exit(run_tool(main))
