"""The exported-model format, read with ONNX Runtime alone (no torch, no onnx package), so tracking an
exported model needs nothing from training. heatmapnet/export/to_onnx.py writes it.

The graph contract: input `image` float32 N x 3 x H x W, RGB in [0, 1] (normalisation inside the graph);
outputs `heatmap` (N x 1 x h x w logits) and, with a size head, `size` (N x 2 x h x w, in cells);
metadata: flat strings for C++ (`stride`, `input_width`, ...) and `model_config` / `decode` as JSON.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import onnxruntime

from heatmapnet.config import dataclass_from
from heatmapnet.errors import UserError
from heatmapnet.model.config import ModelConfig
from heatmapnet.runtime.decode import DecodeConfig
from heatmapnet.runtime.runtimes import default_threads

INPUT = "image"
OUTPUTS = ("heatmap", "size")
FORMAT = "heatmapnet-onnx"
VERSION = 1


@dataclass(frozen=True)
class ExportedModel:
    """What a runtime needs to know about an exported file, read from its graph and metadata."""

    path: Path
    model_config: ModelConfig
    decode_config: DecodeConfig
    outputs: tuple[str, ...]


def metadata_for(config: ModelConfig, decode: DecodeConfig) -> dict[str, str]:
    """ONNX metadata: flat strings a C++ reader can use directly, plus exact JSON for Python."""
    return {
        "format": FORMAT,
        "format_version": str(VERSION),
        "input": "float32 NCHW RGB in [0, 1]",
        "stride": str(config.stride),
        "input_width": str(config.input_width),
        "input_height": str(config.input_height),
        "resize": config.resize,
        "orientation": config.orientation,
        **{key: str(value) for key, value in asdict(decode).items()},
        "model_config": json.dumps({**config.to_dict(), "pretrained": None}),
        "decode": json.dumps(asdict(decode)),
    }


def checked_model_path(path) -> Path:
    """An existing file that is not a PyTorch checkpoint, or one UserError line saying what to do."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"model not found: {path} (export one with `python -m heatmapnet.export "
                        f"checkpoint=PATH out={path.name}`)")
    with path.open("rb") as file:
        zipped = file.read(2) == b"PK"  # torch.save writes a zip archive
    if path.suffix in (".pt", ".pth") or zipped:
        raise UserError(f"{path} is a PyTorch checkpoint: use runtime=torch, or export it with "
                        f"`python -m heatmapnet.export checkpoint={path} out=model.onnx`")
    return path


def check_format(metadata: dict[str, str], path, name: str, version: int, mismatch: str, remedy: str) -> None:
    """One clear UserError unless the metadata names format `name` at a version this code reads."""
    if metadata.get("format") != name:
        raise UserError(f"{path} is {mismatch} (no '{name}' metadata); {remedy}")
    if int(metadata.get("format_version", 0)) > version:
        raise UserError(f"{path} was written by a newer HeatmapNet ({name} format {metadata['format_version']}); "
                        f"update this installation")


def load_session(path: Path, threads: int | None = None, providers: list[str] | None = None,
                 what: str = "ONNX model") -> onnxruntime.InferenceSession:
    """An ONNX Runtime session as every network here runs it (detector, pose, keypoints): `threads` intra-op
    threads, and idle threads that sleep instead of spinning — the capture and display threads share the CPU,
    and spinning made inference 1.4-1.5x slower on a busy machine (benchmarks/bench_threads.py)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads or default_threads(), 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])
    except Exception as error:
        raise UserError(f"cannot read {what} {path}: {str(error).strip().splitlines()[0]} "
                        f"(is the file complete and not corrupt?)") from None


def open_session(path, threads: int | None = None,
                 providers: list[str] | None = None) -> tuple[ExportedModel, onnxruntime.InferenceSession]:
    """Open an exported HeatmapNet ONNX file and check it is one; every failure is one clear UserError."""
    path = checked_model_path(path)
    session = load_session(path, threads, providers)
    metadata = session.get_modelmeta().custom_metadata_map
    check_format(metadata, path, FORMAT, VERSION, "an ONNX model but not a HeatmapNet export",
                 "export checkpoints with `python -m heatmapnet.export`")
    inputs = [node.name for node in session.get_inputs()]
    outputs = tuple(node.name for node in session.get_outputs())
    if inputs != [INPUT] or outputs not in (OUTPUTS, OUTPUTS[:1]):
        raise UserError(f"{path} does not have HeatmapNet's inputs/outputs (found {inputs} -> {list(outputs)}, "
                        f"expected ['{INPUT}'] -> {list(OUTPUTS)}); re-export it")
    config = ModelConfig.from_dict(json.loads(metadata["model_config"]))
    decode = dataclass_from(DecodeConfig, json.loads(metadata["decode"]), f"decode settings in {path}")
    return ExportedModel(path, config, decode, outputs), session


def read_exported(path) -> ExportedModel:
    """The model and decode settings of an exported file (opens it once with ONNX Runtime to check it)."""
    return open_session(path)[0]
