"""The PyTorch runtime (`runtime=torch`): runs `.pt` checkpoints directly, on the CPU or a CUDA GPU.

The only runtime module that imports torch; it is loaded only when chosen.
"""
from __future__ import annotations

import os
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning (benchmarks/bench_threads.py: on a busy CPU spinning threads
# slowed PyTorch several-fold). OpenMP reads this when torch loads it, so it is set before the import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from heatmapnet.errors import UserError  # noqa: E402
from heatmapnet.model.checkpoint import load_model  # noqa: E402
from heatmapnet.runtime.decode import DecodeConfig  # noqa: E402
from heatmapnet.runtime.runtimes import Runtime  # noqa: E402


def torch_device(name: str) -> torch.device:
    """`cpu` or `cuda`; asking for a GPU that is not there is one clear error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device=cuda but PyTorch sees no CUDA GPU (no driver, or a CPU-only torch build): "
                        "use device=cpu")
    return torch.device(name)


class TorchRuntime(Runtime):
    """The PyTorch model from a HeatmapNet `.pt` checkpoint, in eval mode without autograd."""

    name = "torch"

    def __init__(self, checkpoint, threads: int | None = None, device: str = "cpu"):
        if Path(checkpoint).suffix == ".onnx":
            raise UserError(f"{checkpoint} is an ONNX model: use runtime=onnxruntime or runtime=opencv")
        if threads:
            torch.set_num_threads(threads)
        self.device = torch_device(device)
        self.model, payload = load_model(checkpoint, self.device)
        self.model_config = self.model.config
        self.decode_config = DecodeConfig(**payload.get("decode", {}))

    @torch.inference_mode()
    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        norm = self.model_config.normalization
        batch = torch.from_numpy(np.stack([norm.apply(image) for image in images])).to(self.device)
        outputs = self.model(batch)
        size = outputs.get("size")
        return outputs["heatmap"].cpu().numpy(), None if size is None else size.cpu().numpy()
