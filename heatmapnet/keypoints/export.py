"""Export a keypoint checkpoint to ONNX: `python -m heatmapnet.keypoints.export checkpoint=PATH.pt out=PATH.onnx`.

The graph takes `crop` (float32 N x 3 x S x S RGB in [0, 1], normalisation inside, dynamic batch) and returns
the codec's raw outputs and `handedness`; decoding stays in NumPy (codec.py), the same for every runtime.
Prints the largest difference from PyTorch under ONNX Runtime and OpenCV DNN.
"""
from __future__ import annotations

import numpy as np
import torch

from heatmapnet.cli import REQUIRED, parse_options, run_tool
from heatmapnet.export.to_onnx import OPSET, ExportGraph, save_model, set_metadata
from heatmapnet.keypoints.model_file import INPUT, OnnxKeypoints, OpenCVKeypoints, metadata_for, output_names
from heatmapnet.keypoints.torch_model import TorchKeypoints, load_keypoints


def export_keypoints(checkpoint, out):
    """Write the ONNX graph of a keypoint `.pt`; returns the written path."""
    model, _ = load_keypoints(checkpoint)
    config = model.config
    graph = ExportGraph(model).eval()
    graph.output_names = output_names(config)
    example = torch.rand(2, 3, config.crop_size, config.crop_size)  # batch 2: a batch of 1 would be fixed
    program = torch.onnx.export(graph, (example,), dynamo=True, verbose=False, opset_version=OPSET,
                                input_names=[INPUT], output_names=list(graph.output_names),
                                dynamic_shapes={"image": {0: "batch"}})
    proto = program.model_proto
    for node in proto.graph.node:
        del node.metadata_props[:]
    set_metadata(proto, metadata_for(config))
    return save_model(proto, out)


def largest_differences(checkpoint, exported, count: int = 4) -> dict[str, float]:
    """Largest |PyTorch - runtime| over every output, for random crops, under ONNX Runtime and OpenCV DNN."""
    reference = TorchKeypoints(checkpoint)
    size = reference.config.crop_size
    crops = np.random.default_rng(0).integers(0, 256, (count, size, size, 3), np.uint8)
    expected = reference(crops)
    return {runtime.name: max(float(np.abs(expected[name] - value).max()) for name, value in runtime(crops).items())
            for runtime in (OnnxKeypoints(exported), OpenCVKeypoints(exported))}


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"checkpoint": REQUIRED, "out": "keypoints.onnx"},
                            "python -m heatmapnet.keypoints.export")
    out = export_keypoints(options["checkpoint"], options["out"])
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); largest difference from PyTorch: "
          + ", ".join(f"{name} {value:.2e}" for name, value in largest_differences(options["checkpoint"], out).items()))


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
