"""Inference runtimes behind one interface, so tracking and evaluation do not care what runs the net.

A runtime takes a batch of RGB uint8 frames already at the model's input size (B x H x W x 3) and
returns (heatmap logits B x 1 x h x w, size B x 2 x h x w or None) as numpy arrays. Normalisation is
the runtime's business (in PyTorch for `.pt` checkpoints; inside the graph for exported models).
Each runtime's module is imported only when it is opened: PyTorch loads only for runtime=torch.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import replace

import numpy as np

from heatmapnet.errors import UserError
from heatmapnet.model.config import ORIENTATIONS, ModelConfig
from heatmapnet.runtime.decode import DecodeConfig

DEVICES = ("cpu", "cuda")


def default_threads() -> int:
    """Inference threads when the user gives none: every core this process may use, at most 8
    (beyond that a 20x15 map gains nothing and steals cores from capture and display)."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(8, available))


def has_int8_dot_product() -> bool:
    """Whether this CPU has x86's VNNI int8 dot-product instructions (AVX-512 VNNI or AVX-VNNI), read from
    /proc/cpuinfo (False where that cannot be read). ONNX Runtime's u8 x s8 kernels need them to run int8
    models fast and without saturating: its documentation warns of overflow on x86 CPUs without them."""
    try:
        with open("/proc/cpuinfo") as file:
            flags = next((line for line in file if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


class Runtime:
    """Common attributes: `model_config` (input size, stride, normalisation) and the model's `decode`."""

    name = "base"
    model_config: ModelConfig
    decode_config: DecodeConfig

    @property
    def stride(self) -> int:
        return self.model_config.stride

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def set_input(self, size=None, orientation: str | None = None) -> None:
        """Feed the network another input size ([width, height]) or orientation (follow | fixed) than the
        model file's: a larger input finds far hands at a higher cost per frame. None keeps the file's."""
        changes = {}
        if size is not None:
            size = list(size)
            if not (len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
                raise UserError(f"input_size must be [width, height] in pixels, not {size}")
            if min(size) < self.stride:
                raise UserError(f"input_size {size} is smaller than the model's stride ({self.stride} px)")
            changes.update(input_width=size[0], input_height=size[1])
        if orientation is not None:
            if orientation not in ORIENTATIONS:
                raise UserError(f"input_orientation must be one of {', '.join(ORIENTATIONS)}, got {orientation!r}")
            changes["orientation"] = orientation
        self.model_config = replace(self.model_config, **changes)


def lazy_runtime(module: str, class_name: str):
    """A RUNTIMES entry that imports its module when opened, so importing this module stays light."""

    def open_lazily(checkpoint, threads: int | None = None, device: str = "cpu") -> Runtime:
        return getattr(importlib.import_module(module), class_name)(checkpoint, threads=threads, device=device)

    return open_lazily


RUNTIMES = {
    "onnxruntime": lazy_runtime("heatmapnet.runtime.onnx_runtimes", "OnnxRuntime"),  # .onnx, fp32 or int8
    "opencv": lazy_runtime("heatmapnet.runtime.onnx_runtimes", "OpenCVRuntime"),  # .onnx via cv2.dnn
    "torch": lazy_runtime("heatmapnet.runtime.torch_runtime", "TorchRuntime"),  # .pt checkpoints
}


def open_runtime(name: str, checkpoint, threads: int | None = None, device: str = "cpu") -> Runtime:
    """Open `checkpoint` with the runtime called `name` (see RUNTIMES) on `device` (cpu | cuda)."""
    if name not in RUNTIMES:
        raise UserError(f"unknown runtime {name!r}: choose one of {', '.join(RUNTIMES)}")
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)}")
    return RUNTIMES[name](checkpoint, threads=threads or default_threads(), device=device)
