"""Train a HeatmapNet: `python train.py loss=masked_bce` (see configs/train.yaml for every option)."""
import hydra

from heatmapnet.config import exits_cleanly
from heatmapnet.training import train


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
@exits_cleanly
def main(cfg) -> None:
    train(cfg)


if __name__ == "__main__":
    main()
