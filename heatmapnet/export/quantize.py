"""Static int8 quantisation of an exported model with onnxruntime, calibrated on real frames.

Usage: `python -m heatmapnet.export.quantize model=model.onnx data=FOLDER [out=MODEL.int8.onnx] [frames=100]
[calibration=minmax|entropy|percentile] [float_first=3] [float_last=2] [reduce_range=false]`

The first `float_first` convolutions (the full-resolution ones that read the image) and the last `float_last` (the
heatmap and size heads) stay float: quantising them cost the most accuracy and they save little time
(experiments/int8/README.md: with them float, F1 stays within 0.01 of fp32 on every held-out set).

Calibration frames are image files found anywhere under FOLDER (labels are not needed), spread evenly
over the sorted list and resized exactly as tracking resizes camera frames. The result uses the QDQ
format (standard QuantizeLinear/DequantizeLinear ops, per-channel weights) and keeps the source
model's metadata, so every ONNX runtime here opens it like the fp32 file. `reduce_range=true` stores the weights in
7 bits: ONNX Runtime's u8 x s8 arithmetic can saturate on x86 CPUs without AVX-512 VNNI, and 7-bit weights cannot.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from tqdm import tqdm

from heatmapnet.cli import REQUIRED, parse_options, run_tool
from heatmapnet.errors import UserError
from heatmapnet.export.to_onnx import save_model, set_metadata
from heatmapnet.model.config import ModelConfig
from heatmapnet.runtime.onnx_format import INPUT, read_exported
from heatmapnet.runtime.onnx_runtimes import graph_input

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
CALIBRATIONS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}  # name -> CalibrationMethod


def calibration_frames(folder, config: ModelConfig, count: int = 100) -> list[np.ndarray]:
    """Up to `count` RGB uint8 frames at the model's input size, from images evenly spread under `folder`."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"calibration folder not found: {folder} (data= expects a folder with images)")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise UserError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}: calibration needs real frames")
    landscape = replace(config, orientation="fixed")  # one input shape: the histogram calibrators stack them
    chosen = [paths[i] for i in np.unique(np.linspace(0, len(paths) - 1, min(count, len(paths))).round().astype(int))]
    frames = []
    for path in chosen:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            print(f"skipping unreadable image {path}")
            continue
        resized = landscape.transform_for(image.shape[1], image.shape[0]).apply(image)
        frames.append(cv2.cvtColor(resized, cv2.COLOR_BGR2RGB))
    if not frames:
        raise UserError(f"none of the {len(chosen)} chosen images under {folder} could be read")
    return frames


def quantize_model(model, out, frames: list[np.ndarray], calibration: str = "minmax", float_first: int = 3,
                   float_last: int = 2, reduce_range: bool = False) -> Path:
    """Write an int8 (QDQ) copy of exported `model` to `out`, calibrated on RGB uint8 `frames`, with its first
    `float_first` and last `float_last` convolutions left float (and 7-bit weights with `reduce_range`)."""
    if calibration not in CALIBRATIONS:
        raise UserError(f"calibration={calibration}: choose one of {', '.join(CALIBRATIONS)}")
    if min(float_first, float_last) < 0:
        raise UserError(f"float_first and float_last count convolutions kept float: >= 0, got {float_first}, "
                        f"{float_last}")
    exported = read_exported(model)

    class Frames(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(tqdm(frames, desc="calibrating", unit="frame"))

        def get_next(self):
            frame = next(self.batches, None)
            return None if frame is None else {INPUT: graph_input(frame[None])}

    with tempfile.TemporaryDirectory() as work:
        prepared, quantized = Path(work) / "prepared.onnx", Path(work) / "quantized.onnx"
        quant_pre_process(str(exported.path), str(prepared))  # shape inference + graph fusions first
        quantize_static(str(prepared), str(quantized), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=reduce_range,
                        calibrate_method=CalibrationMethod[CALIBRATIONS[calibration]],
                        nodes_to_exclude=float_convolutions(onnx.load(str(prepared)), float_first, float_last))
        proto = onnx.load(str(quantized))
    set_metadata(proto, {entry.key: entry.value for entry in onnx.load(str(exported.path)).metadata_props})
    return save_model(proto, out)


def float_convolutions(proto: onnx.ModelProto, first: int, last: int) -> list[str]:
    """Names of the first `first` and last `last` Conv nodes in graph order (the input end and the heads)."""
    convs = [node.name for node in proto.graph.node if node.op_type == "Conv"]
    return sorted(set(convs[:first] + convs[len(convs) - last:]))


def int8_name(model) -> Path:
    """Where the int8 copy goes by default: beside the model, heatmapnet.onnx -> heatmapnet.int8.onnx."""
    return Path(model).with_suffix(".int8.onnx")


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"model": REQUIRED, "data": REQUIRED, "out": "", "frames": 100,
                                   "calibration": "minmax", "float_first": 3, "float_last": 2,
                                   "reduce_range": False},
                            "python -m heatmapnet.export.quantize")
    started = time.perf_counter()
    frames = calibration_frames(options["data"], read_exported(options["model"]).model_config, options["frames"])
    out = quantize_model(options["model"], options["out"] or int8_name(options["model"]), frames,
                         options["calibration"], options["float_first"], options["float_last"],
                         options["reduce_range"])
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, int8 QDQ, {len(frames)} calibration frames) "
          f"in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
