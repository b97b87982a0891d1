"""KeypointNet: a truncated ImageNet backbone on a hand crop, one head per codec and a left/right logit."""
from __future__ import annotations

import torch
from torch import nn

from heatmapnet.keypoints.codec import HANDEDNESS
from heatmapnet.keypoints.config import KeypointConfig
from heatmapnet.keypoints.layout import COUNT
from heatmapnet.model.backbones import build_backbone

SIMCC_CHANNELS = 8  # feature channels per keypoint before its SimCC classifiers (RTMPose-style)


def conv_bn_relu(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True))


class SimCCHead(nn.Module):
    """Per keypoint: a few feature channels, flattened, then one shared classifier per axis."""

    def __init__(self, channels: int, cells: int, bins: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, COUNT * SIMCC_CHANNELS, 1)
        self.x = nn.Linear(SIMCC_CHANNELS * cells, bins)
        self.y = nn.Linear(SIMCC_CHANNELS * cells, bins)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        per_point = self.reduce(features).flatten(2).reshape(features.shape[0], COUNT, -1)
        return {"simcc_x": self.x(per_point), "simcc_y": self.y(per_point)}


class HeatmapHead(nn.Module):
    """Two x2 upsamplings with 3x3 convs, then one map per keypoint (sigmoid-free: trained by MSE)."""

    def __init__(self, channels: int, upsamplings: int, width: int = 64):
        super().__init__()
        layers: list[nn.Module] = [conv_bn_relu(channels, width)]
        for _ in range(upsamplings):
            layers += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), conv_bn_relu(width, width)]
        self.body = nn.Sequential(*layers, nn.Conv2d(width, COUNT, 1))

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"heatmaps": self.body(features)}


class RegressionHead(nn.Module):
    """Flattened features -> x, y (crop units) and a visibility logit per keypoint."""

    def __init__(self, channels: int, cells: int, hidden: int = 256):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(channels * cells, hidden), nn.ReLU(inplace=True),
                                  nn.Linear(hidden, COUNT * 3))

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"points": self.body(features).reshape(-1, COUNT, 3)}


class KeypointNet(nn.Module):
    """Normalised N x 3 x S x S crops -> the codec's raw outputs and `handedness` (N x 1 logit of "right")."""

    def __init__(self, config: KeypointConfig):
        super().__init__()
        self.config = config
        self.backbone = build_backbone(config.backbone, config.stride, config.pretrained)
        channels, side = self.backbone.channels, config.crop_size // config.stride
        cells = side * side
        if config.codec == "simcc":
            self.head = SimCCHead(channels, cells, config.crop_size * config.simcc_split)
        elif config.codec == "heatmap":
            upsamplings = (config.stride // config.heatmap_stride).bit_length() - 1
            self.head = HeatmapHead(channels, upsamplings)
        else:
            self.head = RegressionHead(channels, cells)
        self.handedness = nn.Sequential(nn.Flatten(), nn.Linear(channels * cells, 1))

    def forward(self, crops: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.backbone(crops)
        return {**self.head(features), HANDEDNESS: self.handedness(features)}
