"""Train a HeatmapNet: `python train.py loss=masked_bce` (see configs/train.yaml for every option)."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads sleep: see track.py

import hydra  # noqa: E402

from heatmapnet.config import exits_cleanly, run_entry_point  # noqa: E402
from heatmapnet.train.loop import train  # noqa: E402


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
@exits_cleanly
def main(cfg) -> None:
    train(cfg)


if __name__ == "__main__":
    run_entry_point(main, "train.py")
