"""Test models for the export tests: random weights, but a heatmap with clear peaks.

A freshly initialised head gives logits of about -2.2 everywhere (the prior), and a random backbone's
features are tiny, so nothing would pass the threshold and neighbouring cells would nearly tie. The
heads are therefore rescaled on a few random frames: logits ~ N(-1, 2^2), sizes ~ N(4, 1) cells, so
peaks stand well clear of their neighbours and of the threshold, as in a trained model.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from heatmapnet.model.checkpoint import save_checkpoint
from heatmapnet.model.config import ModelConfig
from heatmapnet.model.network import HeatmapNet

LOGIT_MEAN, LOGIT_SPREAD = -1.0, 2.0
SIZE_MEAN, SIZE_SPREAD = 4.0, 1.0  # in cells


def contrasted_checkpoint(path, config: ModelConfig | None = None, seed: int = 0, threshold: float = 0.6):
    """Save a random-weight HeatmapNet with rescaled heads (see the module docstring); returns the path."""
    config = config or ModelConfig(backbone="mobilenet_v2", stride=8, size_head=True)
    torch.manual_seed(seed)
    model = HeatmapNet(config).eval()
    frames = random_frames(4, config.input_height, config.input_width, seed=seed + 1)
    images = torch.from_numpy(np.stack([config.normalization.apply(frame) for frame in frames]))
    with torch.no_grad():
        features = model.backbone(images)
        for head, mean, spread in ((model.heatmap_head, LOGIT_MEAN, LOGIT_SPREAD),
                                   (model.size_head, SIZE_MEAN, SIZE_SPREAD)):
            if head is None:
                continue
            head.bias.zero_()
            head.weight.normal_()
            head.weight.mul_(spread / head(features).std())
            head.bias.fill_(mean - head(features).mean())
    save_checkpoint(path, model, decode={"threshold": threshold, "top_k": 8})
    return path


def random_frames(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A batch of random RGB uint8 images: smooth blobs plus grain, closer to camera frames than white noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (count, height // 16 + 2, width // 16 + 2, 3)).astype(np.float32)
    smooth = np.stack([cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC) for image in coarse])
    return np.clip(smooth + rng.normal(0, 8, smooth.shape), 0, 255).astype(np.uint8)
