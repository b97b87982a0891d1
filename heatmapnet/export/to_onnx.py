"""Export a HeatmapNet checkpoint to ONNX, and read exported models back: the one definition of the format.

Usage: `python -m heatmapnet.export checkpoint=PATH out=model.onnx [--simplify] [opencv_compat=true]`

The graph contract, chosen so C++/OpenCV users need nothing but `cv2.dnn.blobFromImage(frame, 1/255.0,
Size(), Scalar(), swapRB=true)`:

- input `image`: float32 N x 3 x H x W, RGB, values in [0, 1]; N, H and W are dynamic;
- the model's normalisation (mean/std and RGB/BGR order from its config) happens inside the graph;
- outputs `heatmap` (N x 1 x h x w logits) and, with a size head, `size` (N x 2 x h x w, in cells);
- metadata: `stride`, `input_width`, `input_height`, `resize`, `threshold`, `top_k`, `nms_kernel`, `refine`
  as plain strings (for C++), and the full `model_config` / `decode` as JSON (for Python runtimes).

The graph (opset 18) comes from torch's dynamo (torch.export) exporter: the TorchScript exporter is
deprecated and leaves Constant/Identity nodes behind, while dynamo's optimised graph for mobilenet_v2 is
just the normalisation's Sub/Div then Conv (batch norm folded), Clip and Add, with symbolic H and W, so
onnxruntime and OpenCV DNN (>= 4.7) run it as is. (OpenCV DNN miscomputes mobilenet_v3; see OpenCVRuntime.)

OpenCV 4.5-4.6 (Debian 12, Ubuntu 22.04/24.04 packages) reject opset >= 11 `Clip` (MobileNet's ReLU6);
`opencv_compat=true` rewrites it as the standard `HardSigmoid(x, alpha=1/6) * 6`, which every OpenCV
reads, at the cost of a slower graph in onnxruntime (see benchmarks/bench_runtimes.py).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

from heatmapnet.cli import REQUIRED, parse_options, run_tool
from heatmapnet.errors import UserError
from heatmapnet.model.checkpoint import load_model
from heatmapnet.model.network import HeatmapNet
from heatmapnet.runtime.decode import DecodeConfig
from heatmapnet.runtime.onnx_format import INPUT, OUTPUTS, metadata_for
from heatmapnet.runtime.onnx_runtimes import OnnxRuntime
from heatmapnet.runtime.torch_runtime import TorchRuntime
from heatmapnet.writable import writable_file

OPSET = 18  # the dynamo exporter's own opset; the issue asks for >= 17
STANDARD_DOMAINS = ("", "ai.onnx")


class ExportGraph(nn.Module):
    """HeatmapNet behind its own input normalisation, taking RGB in [0, 1] and returning a tuple of maps."""

    def __init__(self, model: HeatmapNet):
        super().__init__()
        norm = model.config.normalization
        self.model = model
        self.to_bgr = norm.color == "bgr"
        self.register_buffer("mean", torch.tensor(norm.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(norm.std, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("bgr_order", torch.tensor([2, 1, 0]))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.to_bgr:
            image = torch.index_select(image, 1, self.bgr_order)
        outputs = self.model((image - self.mean) / self.std)
        return tuple(outputs[name] for name in OUTPUTS if name in outputs)


def set_metadata(model, metadata: dict[str, str]) -> None:
    """Replace the metadata of an onnx.ModelProto (quantisation and simplification tools drop or keep it)."""
    del model.metadata_props[:]
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def save_model(proto, out) -> Path:
    """Write an onnx.ModelProto via a temporary file and rename, so an interrupted save leaves no half model."""
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp")
    try:
        onnx.save(proto, str(temporary))
        os.replace(temporary, out)
    except OSError as error:  # a disk that filled up during the export
        raise UserError(f"cannot write {out}: {error.strerror or error}; nothing was replaced") from None
    finally:
        temporary.unlink(missing_ok=True)
    return out


def clip_as_hardsigmoid(proto) -> None:
    """Rewrite every Clip(x, 0, top) with constant bounds as HardSigmoid(x, alpha=1/top) * top, in place."""
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in proto.graph.initializer}
    nodes = []
    for node in proto.graph.node:
        if node.op_type != "Clip":
            nodes.append(node)
            continue
        bounds = [constants.get(name) for name in node.input[1:3]]
        if len(bounds) != 2 or any(b is None or b.size != 1 for b in bounds) or float(bounds[0]) != 0.0:
            raise UserError(f"opencv_compat: cannot rewrite {node.name} (Clip without constant bounds 0..top)")
        unit = f"{node.output[0]}_unit"
        nodes.append(helper.make_node("HardSigmoid", [node.input[0]], [unit], alpha=1.0 / float(bounds[1]), beta=0.0))
        nodes.append(helper.make_node("Mul", [unit, node.input[2]], list(node.output)))
    del proto.graph.node[:]
    proto.graph.node.extend(nodes)
    used = {name for node in nodes for name in node.input}
    kept = [tensor for tensor in proto.graph.initializer if tensor.name in used]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(kept)


def export_model(checkpoint, out, simplify: bool = False, opencv_compat: bool = False) -> Path:
    """Write the ONNX graph of a `.pt` checkpoint to `out`; returns the written path."""
    writable_file(out, "the ONNX model")
    model, payload = load_model(checkpoint)
    config, decode = model.config, DecodeConfig(**payload.get("decode", {}))
    graph = ExportGraph(model).eval()
    example = torch.rand(2, 3, config.input_height, config.input_width)  # batch 2: a batch of 1 would be fixed
    outputs = list(OUTPUTS if config.size_head else OUTPUTS[:1])
    program = torch.onnx.export(
        graph, (example,), dynamo=True, verbose=False, opset_version=OPSET, input_names=[INPUT],
        output_names=outputs, dynamic_shapes={"image": {0: "batch", 2: "height", 3: "width"}})
    proto = program.model_proto
    for node in proto.graph.node:
        del node.metadata_props[:]  # the exporter's per-node stack traces: local paths, no use to a runtime
    if simplify:
        proto = simplified(proto)
    if opencv_compat:
        clip_as_hardsigmoid(proto)
    foreign = sorted({f"{node.domain}::{node.op_type}" for node in proto.graph.node
                      if node.domain not in STANDARD_DOMAINS})
    if foreign:
        raise UserError(f"the exported graph uses non-standard ops {foreign}; report this as a bug")
    set_metadata(proto, metadata_for(config, decode))
    return save_model(proto, out)


def simplified(proto):
    """The graph after onnxsim, which is optional: a clear message where it is not installed."""
    try:
        import onnxsim
    except ImportError:
        raise UserError("--simplify needs onnxsim: `pip install onnxsim`, or export without --simplify") from None
    result, valid = onnxsim.simplify(proto)
    if not valid:
        raise UserError("onnxsim could not verify the simplified graph; export without --simplify")
    return result


def largest_difference(checkpoint, exported: Path) -> float:
    """Largest |PyTorch - onnxruntime| over all outputs for one random image at the export size."""
    torch_runtime = TorchRuntime(checkpoint)
    config = torch_runtime.model_config
    image = np.random.default_rng(0).integers(0, 256, (1, config.input_height, config.input_width, 3), np.uint8)
    pairs = zip(torch_runtime(image), OnnxRuntime(exported)(image))
    return max(float(np.abs(a - b).max()) for a, b in pairs if a is not None)


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"checkpoint": REQUIRED, "out": "model.onnx", "simplify": False,
                                   "opencv_compat": False}, "python -m heatmapnet.export")
    started = time.perf_counter()
    print(f"exporting {options['checkpoint']} (ONNX opset {OPSET}) ...", flush=True)
    out = export_model(options["checkpoint"], options["out"], options["simplify"], options["opencv_compat"])
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - started:.1f} s; "
          f"input '{INPUT}': float32 N x 3 x H x W RGB in [0, 1]")
    print(f"checked with onnxruntime: largest difference from PyTorch {largest_difference(options['checkpoint'], out):.2e}")


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
