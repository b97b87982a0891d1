"""HeatmapNet: truncated backbone + 1x1 conv head(s). A plain nn.Module you can paste elsewhere."""
from __future__ import annotations

import math

import torch
from torch import nn

from heatmapnet.model.backbones import build_backbone
from heatmapnet.model.config import ModelConfig

PRIOR_PROBABILITY = 0.1  # initial hand probability per cell: keeps early BCE from drowning in negatives


class HeatmapNet(nn.Module):
    """Image -> per-cell hand logits at the backbone's stride (and hand width/height in cells)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.backbone = build_backbone(config.backbone, config.stride, config.pretrained, config.freeze_backbone,
                                       config.freeze_layers, config.skip_blocks, config.fixed_norm_statistics)
        self.stride = self.backbone.stride
        self.heatmap_head = nn.Conv2d(self.backbone.channels, 1, kernel_size=1)
        nn.init.normal_(self.heatmap_head.weight, std=0.01)
        nn.init.constant_(self.heatmap_head.bias, -math.log((1 - PRIOR_PROBABILITY) / PRIOR_PROBABILITY))
        self.size_head = nn.Conv2d(self.backbone.channels, 2, kernel_size=1) if config.size_head else None

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """images: normalised Bx3xHxW. Returns {"heatmap": Bx1xhxw logits, "size": Bx2xhxw (if enabled)}."""
        features = self.backbone(images)
        outputs = {"heatmap": self.heatmap_head(features)}
        if self.size_head is not None:
            outputs["size"] = self.size_head(features)
        return outputs
