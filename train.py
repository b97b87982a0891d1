"""Train a HeatmapNet: `python train.py loss=masked_bce` (see configs/train.yaml for every option).

`task` picks what is trained (the detector by default, `experiment=pose` the pose classifier); each task's
training code is imported only when chosen.
"""
import importlib
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads sleep: see track.py

import hydra  # noqa: E402

from heatmapnet.config import exits_cleanly, run_entry_point  # noqa: E402
from heatmapnet.errors import UserError  # noqa: E402

TASKS = {"heatmap": "heatmapnet.train.loop:train", "pose": "heatmapnet.poses.training:train"}


def task_function(task: str):
    """The `train(cfg)` function of a task, imported on demand."""
    if task not in TASKS:
        raise UserError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}")
    module, function = TASKS[task].split(":")
    return getattr(importlib.import_module(module), function)


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
@exits_cleanly
def main(cfg) -> None:
    task_function(cfg.task)(cfg)


if __name__ == "__main__":
    run_entry_point(main, "train.py")
