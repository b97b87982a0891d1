"""HeatmapNet: truncated backbone + 1x1 conv head(s). A plain nn.Module you can paste elsewhere."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .backbones import build_backbone
from .config import dataclass_from
from .preprocess import FrameTransform, Normalization

PRIOR_PROBABILITY = 0.1  # initial hand probability per cell: keeps early BCE from drowning in negatives


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network and feed it correctly; saved in every checkpoint."""

    backbone: str = "mobilenet_v2"
    stride: int = 8
    size_head: bool = True
    input_width: int = 320
    input_height: int = 240
    resize: str = "letterbox"
    normalization: Normalization = field(default_factory=Normalization)
    freeze_backbone: bool = False
    pretrained: str | None = None  # used only when the model is first built, never when loading a checkpoint

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        values = dict(values)
        if isinstance(values.get("normalization"), dict):
            norm = dataclass_from(Normalization, values["normalization"], "model.normalization")
            values["normalization"] = Normalization(tuple(norm.mean), tuple(norm.std), norm.color)
        return dataclass_from(cls, values, "model")

    def to_dict(self) -> dict:
        values = asdict(self)
        values["normalization"] = {k: list(v) if isinstance(v, tuple) else v
                                   for k, v in values["normalization"].items()}
        return values

    def transform_for(self, width: int, height: int) -> FrameTransform:
        """The resize that turns a width x height frame into this model's input."""
        return FrameTransform(width, height, self.input_width, self.input_height, self.resize)


class HeatmapNet(nn.Module):
    """Image -> per-cell hand logits at the backbone's stride (and hand width/height in cells)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.backbone = build_backbone(config.backbone, config.stride, config.pretrained, config.freeze_backbone)
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
