"""Pictures for TensorBoard: input, target, prediction overlay and ignore mask side by side."""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torchvision.utils import make_grid

from heatmapnet.runtime.preprocess import Normalization


def denormalise(images: torch.Tensor, norm: Normalization) -> torch.Tensor:
    """Normalised Bx3xHxW -> RGB in [0, 1]."""
    mean = torch.tensor(norm.mean).view(1, 3, 1, 1)
    std = torch.tensor(norm.std).view(1, 3, 1, 1)
    rgb = images.cpu() * std + mean
    return (rgb if norm.color == "rgb" else rgb.flip(1)).clamp(0, 1)


def heat_overlay(rgb: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """Blend a Bx1xhxw map in [0, 1] (upsampled, JET colours) over Bx3xHxW images."""
    up = F.interpolate(maps.detach().cpu().float(), size=rgb.shape[-2:], mode="bilinear", align_corners=False)
    coloured = []
    for single in up[:, 0].numpy():
        jet = cv2.applyColorMap((single.clip(0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
        coloured.append(torch.from_numpy(cv2.cvtColor(jet, cv2.COLOR_BGR2RGB)).permute(2, 0, 1).float() / 255)
    alpha = 0.6 * up.clamp(0, 1)
    return rgb * (1 - alpha) + torch.stack(coloured) * alpha


def training_grid(batch: dict, outputs: dict, norm: Normalization, limit: int = 4) -> torch.Tensor:
    """One row per image: input | target overlay | predicted overlay | ignore mask (black = ignored)."""
    rgb = denormalise(batch["image"][:limit], norm)
    target = heat_overlay(rgb, batch["heatmap"][:limit])
    predicted = heat_overlay(rgb, torch.sigmoid(outputs["heatmap"][:limit]))
    mask = F.interpolate(batch["mask"][:limit].cpu(), size=rgb.shape[-2:], mode="nearest")
    ignored = rgb * (0.25 + 0.75 * mask)
    tiles = torch.stack([rgb, target, predicted, ignored], dim=1).flatten(0, 1)
    return make_grid(tiles, nrow=4, padding=2)
