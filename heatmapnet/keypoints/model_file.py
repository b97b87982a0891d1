"""Open a keypoint model for tracking: `.onnx` under ONNX Runtime or OpenCV DNN (torch-free), `.pt` under torch.

The ONNX file carries its KeypointConfig in metadata (export.py writes it), so nothing else is needed. Every
runtime is called with RGB uint8 crops (N x S x S x 3) and returns the codec's raw outputs and `handedness`.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import cv2
import numpy as np
import onnxruntime

from heatmapnet.errors import UserError
from heatmapnet.keypoints.codec import HANDEDNESS, OUTPUTS
from heatmapnet.keypoints.config import KeypointConfig
from heatmapnet.runtime.onnx_format import check_format, checked_model_path, load_session
from heatmapnet.runtime.onnx_runtimes import graph_input

INPUT = "crop"
FORMAT = "heatmapnet-keypoints-onnx"
VERSION = 1
SHIPPED = Path(__file__).resolve().parents[1] / "shipped"


def metadata_for(config: KeypointConfig) -> dict[str, str]:
    return {"format": FORMAT, "format_version": str(VERSION), "input": "float32 NCHW RGB in [0, 1]",
            "crop_size": str(config.crop_size), "crop_scale": str(config.crop_scale), "codec": config.codec,
            "keypoint_config": json.dumps({**config.to_dict(), "pretrained": None})}


def output_names(config: KeypointConfig) -> tuple[str, ...]:
    return (*OUTPUTS[config.codec], HANDEDNESS)


def read_config(session: onnxruntime.InferenceSession, path: Path) -> KeypointConfig:
    metadata = session.get_modelmeta().custom_metadata_map
    check_format(metadata, path, FORMAT, VERSION, "not a HeatmapNet keypoint model",
                 "export one with `python -m heatmapnet.keypoints.export checkpoint=PATH.pt out=keypoints.onnx`")
    return KeypointConfig.from_dict(json.loads(metadata["keypoint_config"]))


class OnnxKeypoints:
    """ONNX Runtime on the CPU, idle threads sleeping (they share the cores with the detector)."""

    name = "onnxruntime"

    def __init__(self, path, threads: int | None = None):
        path = checked_model_path(path)
        self.session = load_session(path, threads, what="keypoint model")
        self.config = read_config(self.session, path)
        self.outputs = list(output_names(self.config))

    def __call__(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(self.outputs, self.session.run(self.outputs, {INPUT: graph_input(crops)})))


class OpenCVKeypoints:
    """OpenCV DNN on the same file (the config is read once with ONNX Runtime)."""

    name = "opencv"

    def __init__(self, path, threads: int | None = None):
        self.config = OnnxKeypoints(path).config
        self.outputs = list(output_names(self.config))
        if threads:
            cv2.setNumThreads(threads)
        try:
            self.net = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as error:
            raise UserError(f"OpenCV DNN cannot load {path}: {str(error).strip().splitlines()[-1]}") from None

    def __call__(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        self.net.setInput(graph_input(crops), INPUT)
        return dict(zip(self.outputs, self.net.forward(self.outputs)))


def shipped_keypoints(runtime: str) -> Path:
    return SHIPPED / ("keypoints.pt" if runtime == "torch" else "keypoints.onnx")


def open_keypoints(path, runtime: str = "onnxruntime", threads: int | None = None):
    """A keypoint runtime for `path` ("shipped" or None: the shipped model for this runtime)."""
    if path in (None, "shipped"):
        path = shipped_keypoints(runtime)
    path = Path(str(path)).expanduser()
    if not path.is_file():
        raise UserError(f"keypoint model not found: {path} (keypoints=PATH to an .onnx, or .pt with runtime=torch; "
                        f"keypoints=shipped for the shipped one, keypoints=null to turn keypoints off)")
    if runtime == "torch":
        if path.suffix == ".onnx":
            raise UserError(f"{path} is an ONNX model: runtime=torch needs the keypoint .pt checkpoint")
        return importlib.import_module("heatmapnet.keypoints.torch_model").TorchKeypoints(path, threads)
    if runtime == "opencv":
        return OpenCVKeypoints(path, threads)
    return OnnxKeypoints(path, threads)
