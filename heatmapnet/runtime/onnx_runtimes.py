"""Runtimes for exported ONNX models: ONNX Runtime (the default) and OpenCV DNN, behind `Runtime`.

Both read the model and decode settings from the file's metadata (see onnx_format.py), so an exported
model runs the same tracking pipeline as its checkpoint without any other file, and without PyTorch.
"""
from __future__ import annotations

import cv2
import numpy as np
import onnxruntime

from heatmapnet.errors import UserError
from heatmapnet.runtime.onnx_format import INPUT, open_session, read_exported
from heatmapnet.runtime.runtimes import Runtime

CUDA_PROVIDER = "CUDAExecutionProvider"


def graph_input(images: np.ndarray) -> np.ndarray:
    """RGB uint8 B x H x W x 3 -> the graph's float32 B x 3 x H x W in [0, 1]."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32) * np.float32(1 / 255)


def providers_for(device: str) -> list[str]:
    """ONNX Runtime's execution providers for `device`; cuda needs the onnxruntime-gpu package."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if CUDA_PROVIDER not in onnxruntime.get_available_providers():
        raise UserError("device=cuda needs onnxruntime-gpu with a working CUDA install "
                        f"(available providers: {', '.join(onnxruntime.get_available_providers())}): "
                        "`pip install onnxruntime-gpu`, or use device=cpu")
    return [CUDA_PROVIDER, "CPUExecutionProvider"]


class OnnxRuntime(Runtime):
    """ONNX Runtime's CPU (or CUDA) provider; also runs int8 models written by heatmapnet.export.quantize."""

    name = "onnxruntime"

    def __init__(self, checkpoint, threads: int | None = None, device: str = "cpu"):
        exported, self.session = open_session(checkpoint, threads, providers_for(device))
        self.model_config, self.decode_config, self.outputs = (
            exported.model_config, exported.decode_config, list(exported.outputs))

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        outputs = self.session.run(self.outputs, {INPUT: graph_input(images)})
        return outputs[0], outputs[1] if len(outputs) > 1 else None


class OpenCVRuntime(Runtime):
    """OpenCV's DNN module (`cv2.dnn.readNetFromONNX`), the same engine the C++ example uses.

    OpenCV's thread count is process-wide, so `threads` affects every OpenCV call in the process.
    mobilenet_v3 graphs are refused: OpenCV 5.0 returns wrong maps for them (errors of several logits
    against onnxruntime) and 4.6 cannot load them, so a silent wrong answer is never the outcome.
    """

    name = "opencv"

    def __init__(self, checkpoint, threads: int | None = None, device: str = "cpu"):
        if device != "cpu":
            raise UserError("runtime=opencv runs on the CPU only: use runtime=onnxruntime or runtime=torch "
                            "with device=cuda")
        exported = read_exported(checkpoint)
        self.model_config, self.decode_config, self.outputs = (
            exported.model_config, exported.decode_config, list(exported.outputs))
        if self.model_config.backbone.startswith("mobilenet_v3"):
            raise UserError(f"OpenCV DNN computes {self.model_config.backbone} graphs wrongly (squeeze-excitation "
                            f"blocks): use runtime=onnxruntime for {exported.path}")
        if threads:
            cv2.setNumThreads(threads)
        try:
            self.net = cv2.dnn.readNetFromONNX(str(exported.path))
        except cv2.error as error:
            raise UserError(f"OpenCV DNN cannot load {exported.path}: {str(error).strip().splitlines()[-1]}") from None

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        self.net.setInput(graph_input(images), INPUT)
        outputs = self.net.forward(self.outputs)
        return outputs[0], outputs[1] if len(outputs) > 1 else None
