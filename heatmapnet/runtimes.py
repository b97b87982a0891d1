"""Inference runtimes behind one interface, so tracking and evaluation do not care what runs the net.

A runtime takes a batch of RGB uint8 frames already at the model's input size (B x H x W x 3) and
returns (heatmap logits B x 1 x h x w, size B x 2 x h x w or None) as numpy arrays. Normalisation is
the runtime's business (in PyTorch here; inside the graph for exported models).
"""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_model
from .decode import DecodeConfig
from .errors import UserError
from .model import ModelConfig


class Runtime:
    """Common attributes: `model_config` (input size, stride, normalisation) and the checkpoint's `decode`."""

    name = "base"
    model_config: ModelConfig
    decode_config: DecodeConfig

    @property
    def stride(self) -> int:
        return self.model_config.stride

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError


class TorchRuntime(Runtime):
    """The PyTorch model from a HeatmapNet `.pt` checkpoint, in eval mode without autograd."""

    name = "torch"

    def __init__(self, checkpoint, threads: int | None = None):
        if Path(checkpoint).suffix == ".onnx":
            raise UserError(f"{checkpoint} is an ONNX model: use runtime=onnxruntime or runtime=opencv")
        if threads:
            torch.set_num_threads(threads)
        self.model, payload = load_model(checkpoint)
        self.model_config = self.model.config
        self.decode_config = DecodeConfig(**payload.get("decode", {}))

    @torch.inference_mode()
    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        norm = self.model_config.normalization
        batch = torch.from_numpy(np.stack([norm.apply(image) for image in images]))
        outputs = self.model(batch)
        size = outputs.get("size")
        return outputs["heatmap"].numpy(), None if size is None else size.numpy()


def lazy_runtime(module: str, class_name: str):
    """A RUNTIMES entry that imports its module when opened, so importing this module stays light."""

    def open_lazily(checkpoint, threads: int | None = None) -> Runtime:
        return getattr(importlib.import_module(module, __package__), class_name)(checkpoint, threads=threads)

    return open_lazily


RUNTIMES = {
    "torch": TorchRuntime,
    "onnxruntime": lazy_runtime(".onnx_runtimes", "OnnxRuntime"),  # .onnx files, fp32 or int8
    "opencv": lazy_runtime(".onnx_runtimes", "OpenCVRuntime"),  # .onnx files via cv2.dnn
}


def open_runtime(name: str, checkpoint, threads: int | None = None) -> Runtime:
    """Open `checkpoint` with the runtime called `name` (see RUNTIMES)."""
    if name not in RUNTIMES:
        raise UserError(f"unknown runtime {name!r}: choose one of {', '.join(RUNTIMES)}")
    return RUNTIMES[name](checkpoint, threads=threads)
