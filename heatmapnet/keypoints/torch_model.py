"""Keypoint checkpoints (.pt) and the PyTorch runtime for them; the only run-time keypoint module with torch.

A keypoint checkpoint is a HeatmapNet checkpoint (model/checkpoint.py) whose `meta.task` is "keypoints" and
whose `model_config` is a KeypointConfig, so one reader validates both kinds and a file of the wrong kind
or of another layout is refused in one line.
"""
from __future__ import annotations

import numpy as np
import torch

from heatmapnet.errors import UserError
from heatmapnet.keypoints.config import KeypointConfig
from heatmapnet.keypoints.network import KeypointNet
from heatmapnet.model.checkpoint import load_weights, read_checkpoint, save_checkpoint

TASK = "keypoints"


def save_keypoints(path, model: KeypointNet, meta: dict) -> None:
    save_checkpoint(path, model, meta={**meta, "task": TASK})


def load_keypoints(path) -> tuple[KeypointNet, dict]:
    """The network of a keypoint checkpoint in eval mode, and its payload."""
    payload = read_checkpoint(path)
    if payload.get("meta", {}).get("task") != TASK:
        raise UserError(f"{path} is a hand-detector checkpoint, not a keypoint model (train one with "
                        f"`python train.py experiment=keypoints`, or pass keypoints=null)")
    config = KeypointConfig.from_dict({**payload["model_config"], "pretrained": None})
    model = KeypointNet(config)
    load_weights(model, payload, f"keypoint checkpoint {path} does not fit a {config.codec} {config.backbone} "
                                 f"keypoint network of {config.crop_size} px crops")
    return model.eval(), payload


class TorchKeypoints:
    """RGB uint8 crops (N x S x S x 3) -> the network's raw outputs as NumPy, under PyTorch."""

    name = "torch"

    def __init__(self, path, threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        self.model, _ = load_keypoints(path)
        self.config = self.model.config

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        norm = self.config.normalization
        batch = torch.from_numpy(np.stack([norm.apply(crop) for crop in crops]))
        return {name: value.numpy() for name, value in self.model(batch).items()}
