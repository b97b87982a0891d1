"""The pose network: a small CNN on a square hand crop, then global pooling and one linear layer.

Two bodies, chosen by experiment (experiments/poses/): `tiny`, four depthwise-separable stages trained from
scratch, and `mobilenet_v2`, MobileNetV2's `features[:14]` (the detector's backbone) with ImageNet weights.
Normalisation is part of the exported graph (export.py), as for the detector.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from heatmapnet.errors import UserError
from heatmapnet.model.backbones import build_backbone

BODIES = ("tiny", "mobilenet_v2")


@dataclass
class PoseNetConfig:
    body: str = "mobilenet_v2"  # tiny | mobilenet_v2
    pretrained: str | None = None  # mobilenet_v2: a torchvision state dict (ImageNet), or null
    width: int = 32  # tiny: channels of the first stage (doubling per stage)
    dropout: float = 0.2
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)  # RGB, applied inside the exported graph
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def __post_init__(self):
        if self.body not in BODIES:
            raise UserError(f"pose.model.body must be one of {BODIES}, not {self.body!r}")

    def to_dict(self) -> dict:
        return {**asdict(self), "mean": list(self.mean), "std": list(self.std)}


def separable(channels_in: int, channels_out: int, stride: int) -> nn.Sequential:
    """Depthwise 3x3 then pointwise 1x1, each with batch norm and ReLU (MobileNet's block)."""
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_in, 3, stride, 1, groups=channels_in, bias=False),
        nn.BatchNorm2d(channels_in), nn.ReLU(inplace=True),
        nn.Conv2d(channels_in, channels_out, 1, bias=False), nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True))


def tiny_body(width: int) -> tuple[nn.Module, int]:
    layers = [nn.Conv2d(3, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
    channels = width
    for stride in (2, 1, 2, 1, 2):  # stride 16 in all: 4 x 4 cells on a 64-pixel crop
        out = channels * 2 if stride == 2 else channels
        layers.append(separable(channels, out, stride))
        channels = out
    return nn.Sequential(*layers), channels


class PoseNet(nn.Module):
    def __init__(self, config: PoseNetConfig, num_classes: int):
        super().__init__()
        self.config = config
        if config.body == "tiny":
            self.body, channels = tiny_body(config.width)
        else:
            backbone = build_backbone("mobilenet_v2", stride=16, pretrained=config.pretrained)
            self.body, channels = backbone, backbone.channels
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(config.dropout),
                                  nn.Linear(channels, num_classes))
        self.register_buffer("mean", torch.tensor(config.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(config.std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1], N x 3 x S x S -> class logits N x C."""
        return self.head(self.body((crop - self.mean) / self.std))
