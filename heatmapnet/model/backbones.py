"""Truncated torchvision backbones, each declaring its output stride and channels (as timm's
`features_only` models do), plus loading of ImageNet weights from torchvision or a local file."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torchvision import models

from heatmapnet.errors import UserError


@dataclass(frozen=True)
class BackboneSpec:
    """How to cut a torchvision model: which `features[:cut]` to keep, and what comes out."""

    name: str
    build: Callable[[], nn.Module]  # the full torchvision model, randomly initialised
    weights: str | None  # torchvision weights enum name for `pretrained: imagenet`
    cuts: dict[int, tuple[int, int]]  # stride -> (number of `features` layers kept, channels out)


SPECS = {
    "vgg16": BackboneSpec("vgg16", models.vgg16, "VGG16_Weights.IMAGENET1K_V1", {8: (10, 512)}),
    "mobilenet_v2": BackboneSpec("mobilenet_v2", models.mobilenet_v2, "MobileNet_V2_Weights.IMAGENET1K_V1",
                                 {8: (7, 32), 16: (14, 96)}),
    "mobilenet_v3_small": BackboneSpec("mobilenet_v3_small", models.mobilenet_v3_small,
                                       "MobileNet_V3_Small_Weights.IMAGENET1K_V1", {8: (4, 24), 16: (9, 48)}),
    "mobilenet_v3_large": BackboneSpec("mobilenet_v3_large", models.mobilenet_v3_large,
                                       "MobileNet_V3_Large_Weights.IMAGENET1K_V1", {8: (7, 40), 16: (13, 112)}),
}


class Backbone(nn.Module):
    """`features[:cut]` of a torchvision model, optionally followed by trainable extra layers.

    The pretrained part, or its first `freeze_layers` layers, can be frozen: their parameters get no
    gradient and their BatchNorm layers stay in eval mode, so frozen layers really are constant during
    training (fine-tuning on a few hundred frames keeps the generic early features as they are).
    """

    def __init__(self, pretrained_part: nn.Sequential, extra: nn.Module, stride: int, channels: int, freeze: bool,
                 freeze_layers: int = 0, fixed_norm_statistics: bool = False):
        super().__init__()
        if not 0 <= freeze_layers <= len(pretrained_part):
            raise UserError(f"model.freeze_layers must be in [0, {len(pretrained_part)}] for this backbone, "
                            f"got {freeze_layers}")
        self.body = pretrained_part
        self.extra = extra
        self.stride = stride
        self.channels = channels
        self.frozen_layers = len(pretrained_part) if freeze else freeze_layers
        self.fixed_norm_statistics = fixed_norm_statistics
        for layer in self._frozen():
            layer.requires_grad_(False)

    def _frozen(self) -> list[nn.Module]:
        return list(self.body)[:self.frozen_layers]

    def train(self, mode: bool = True):
        super().train(mode)
        frozen = self._frozen()
        for layer in frozen:
            layer.eval()
        if len(frozen) == len(self.body):  # wholly frozen: the container too
            self.body.eval()
        if self.fixed_norm_statistics:  # BatchNorm keeps its running statistics; its scale and shift still learn
            for layer in self.modules():
                if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                    layer.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.extra(self.body(x))


def without_blocks(layers: list[nn.Module], skip: tuple[int, ...], name: str) -> list[nn.Module]:
    """`layers` with the residual blocks numbered in `skip` replaced by identities. Only a block that adds its
    input back (same channels and resolution in and out) can go: the layers after it see the same shapes."""
    residual = [i for i, layer in enumerate(layers) if getattr(layer, "use_res_connect", False)]
    wrong = sorted(set(skip) - set(residual))
    if wrong:
        raise UserError(f"model.skip_blocks {wrong} cannot be left out of {name} as cut here: only its residual "
                        f"blocks can, {residual}")
    return [nn.Identity() if i in skip else layer for i, layer in enumerate(layers)]


def vgg_extra_block(in_channels: int, channels: int = 512) -> nn.Sequential:
    """The original design's trainable block on top of VGG16 conv blocks 1-2: 3x(3x3 conv + ReLU), 2x2 max-pool."""
    layers: list[nn.Module] = []
    for i in range(3):
        layers += [nn.Conv2d(in_channels if i == 0 else channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.MaxPool2d(2, 2))


def build_backbone(name: str, stride: int = 8, pretrained: str | None = None, freeze: bool = False,
                   freeze_layers: int = 0, skip_blocks: tuple[int, ...] = (),
                   fixed_norm_statistics: bool = False) -> Backbone:
    """Build a truncated backbone. `pretrained`: None, "imagenet" (torchvision download) or a state-dict path;
    `freeze` freezes the whole pretrained part, `freeze_layers` its first N layers; `skip_blocks` leaves out
    those residual layers (a cheaper network whose other layers keep their names, so trained weights still fit);
    `fixed_norm_statistics` keeps every BatchNorm layer's running statistics as loaded during training."""
    if name not in SPECS:
        raise UserError(f"unknown backbone {name!r}: choose one of {', '.join(SPECS)}")
    spec = SPECS[name]
    if stride not in spec.cuts:
        raise UserError(f"backbone {name} supports stride {sorted(spec.cuts)}, not {stride}")
    full = spec.build()
    cut, channels = spec.cuts[stride]
    if pretrained:
        load_pretrained(full, spec, pretrained, cut)
    body = nn.Sequential(*without_blocks(list(full.features.children())[:cut], skip_blocks, name))
    if name == "vgg16":
        return Backbone(body, vgg_extra_block(128, channels), stride, channels, freeze, freeze_layers,
                        fixed_norm_statistics)
    return Backbone(body, nn.Identity(), stride, channels, freeze, freeze_layers, fixed_norm_statistics)


def load_pretrained(model: nn.Module, spec: BackboneSpec, pretrained: str, cut: int) -> None:
    """Load ImageNet weights into the full torchvision model; only the first `cut` layers must be present."""
    if pretrained == "imagenet":
        try:
            weights = models.get_weight(spec.weights)
            state = weights.get_state_dict(progress=False)
        except Exception as error:  # no network, proxy, hub outage: all the same to the user
            raise UserError(f"could not download torchvision's ImageNet weights for {spec.name} ({error}); "
                            f"pass model.pretrained=PATH to a local state dict or model.pretrained=null") from None
    else:
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise UserError(f"pretrained weights file not found: {path} (model.pretrained expects 'imagenet', "
                            f"a state-dict path or null)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise UserError(f"cannot read pretrained weights {path}: {error}") from None
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
    state = {key if key.startswith(("features.", "classifier.")) else f"features.{key}": value
             for key, value in state.items()}
    own = model.state_dict()
    needed = [k for k in own if k.startswith("features.") and int(k.split(".")[1]) < cut]
    missing = [k for k in needed if k not in state]
    mismatched = [k for k in needed if k in state and state[k].shape != own[k].shape]
    if missing or mismatched:
        problem = f"missing {missing[:3]}" if missing else f"wrong shapes for {mismatched[:3]}"
        raise UserError(f"pretrained weights {pretrained} do not fit backbone {spec.name}: {problem}; "
                        f"expected torchvision keys such as {needed[:2]}")
    model.load_state_dict({k: state[k] for k in needed}, strict=False)

