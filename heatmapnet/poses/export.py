"""Write a trained pose network as the `.onnx` file the run-time classifier reads (classifier.py), and ship
a training checkpoint: `python -m heatmapnet.poses.export checkpoint=runs/pose/pose.pt out=heatmapnet/shipped/pose.onnx`.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import torch

from heatmapnet.cli import REQUIRED, parse_options, run_tool
from heatmapnet.errors import UserError
from heatmapnet.export.to_onnx import OPSET, save_model, set_metadata
from heatmapnet.poses.classifier import INPUT, OUTPUT, PoseClassifier, PoseModelInfo
from heatmapnet.poses.network import PoseNet, PoseNetConfig


def save_pose_checkpoint(path, model: PoseNet, info: PoseModelInfo, meta: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kind": "pose", "state_dict": model.state_dict(), "model_config": model.config.to_dict(),
                "info": asdict(info), "meta": meta}, path)
    return path


def load_pose_checkpoint(path) -> tuple[PoseNet, PoseModelInfo, dict]:
    path = Path(str(path)).expanduser()
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise UserError(f"cannot read pose checkpoint {path}: {error}") from None
    if not isinstance(payload, dict) or payload.get("kind") != "pose":
        raise UserError(f"{path} is not a pose checkpoint (written by `python train.py experiment=pose`)")
    info = PoseModelInfo(**{**payload["info"], "classes": tuple(payload["info"]["classes"])})
    config = PoseNetConfig(**{**payload["model_config"], "pretrained": None})
    model = PoseNet(config, len(info.classes))
    model.load_state_dict(payload["state_dict"])
    return model.eval(), info, payload.get("meta", {})


def export_pose(model: PoseNet, info: PoseModelInfo, out) -> Path:
    """The ONNX graph (dynamic batch), with the class names and crop settings in its metadata."""
    model = model.eval()
    for name in ("onnxscript", "onnx_ir"):  # their INFO lines flood a Hydra run's log
        logging.getLogger(name).setLevel(logging.WARNING)
    example = torch.rand(2, 3, info.crop_size, info.crop_size)
    program = torch.onnx.export(model, (example,), dynamo=True, verbose=False, opset_version=OPSET,
                                input_names=[INPUT], output_names=[OUTPUT], dynamic_shapes={"crop": {0: "batch"}})
    proto = program.model_proto
    for node in proto.graph.node:
        del node.metadata_props[:]  # the exporter's stack traces: local paths
    set_metadata(proto, info.metadata())
    out = save_model(proto, out)
    PoseClassifier(out)  # reads back, or one clear error
    return out


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"checkpoint": REQUIRED, "out": "pose.onnx"}, "python -m heatmapnet.poses.export")
    model, info, _ = load_pose_checkpoint(options["checkpoint"])
    out = export_pose(model, info, options["out"])
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): classes {', '.join(info.classes)}; "
          f"use it with `python track.py pose={out}`")


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
