"""What a keypoint model is (torch-free): crop size and context, codec, backbone. Saved in its .pt and .onnx."""
from __future__ import annotations

from dataclasses import dataclass, field

from heatmapnet.model.config import plain_with_normalization, with_normalization
from heatmapnet.runtime.preprocess import Normalization

CODECS = ("simcc", "heatmap", "regression")


@dataclass(frozen=True)
class KeypointConfig:
    """`crop_size` px square crops of side `crop_scale` x the larger side of the hand's box, centred on the box;
    `codec` picks the head and its targets (codec.py); the backbone is a torchvision truncation (backbones.py)."""

    crop_size: int = 64
    crop_scale: float = 1.25
    codec: str = "simcc"
    backbone: str = "mobilenet_v2"
    stride: int = 16
    simcc_split: int = 2  # SimCC bins per crop pixel
    simcc_sigma: float = 1.5  # label smoothing of SimCC targets, crop pixels
    heatmap_stride: int = 4
    heatmap_sigma: float = 1.0  # cells
    normalization: Normalization = field(default_factory=Normalization)
    pretrained: str | None = None  # used only when the network is first built

    def __post_init__(self):
        if self.codec not in CODECS:
            raise ValueError(f"codec must be one of {CODECS}, got {self.codec!r}")
        if self.crop_size % self.stride or self.crop_size % self.heatmap_stride:
            raise ValueError(f"crop_size {self.crop_size} must be a multiple of stride {self.stride} "
                             f"and heatmap_stride {self.heatmap_stride}")

    @classmethod
    def from_dict(cls, values: dict) -> "KeypointConfig":
        return with_normalization(cls, values, "keypoints.model")

    def to_dict(self) -> dict:
        return plain_with_normalization(self)
