"""The pose model at run time: an exported `.onnx` run with ONNX Runtime (no PyTorch).

The graph contract, like the detector's: input `crop` float32 N x 3 x S x S, RGB in [0, 1] (normalisation
inside the graph); output `logits` N x C. The metadata names the classes (in output order), the garbage
class, the crop size S and the crop scale, so a model trained on other poses brings its own names and
crops are cut as in training. heatmapnet/poses/export.py writes it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from heatmapnet.errors import UserError
from heatmapnet.runtime.onnx_format import check_format, load_session
from heatmapnet.runtime.onnx_runtimes import graph_input

FORMAT = "heatmapnet-pose"
VERSION = 1
INPUT, OUTPUT = "crop", "logits"


@dataclass(frozen=True)
class PoseModelInfo:
    """What cutting and reading a pose model's crops needs; stored in the ONNX metadata."""

    classes: tuple[str, ...]
    none_class: str  # the garbage class: relaxed hands, false detections
    crop_size: int  # pixels of the square crop the network takes
    crop_scale: float  # crop side in units of the hand box's longer side

    def metadata(self) -> dict[str, str]:
        return {"format": FORMAT, "format_version": str(VERSION), "input": "float32 NCHW RGB in [0, 1]",
                "classes": json.dumps(list(self.classes)), "none_class": self.none_class,
                "crop_size": str(self.crop_size), "crop_scale": str(self.crop_scale)}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], path) -> PoseModelInfo:
        check_format(metadata, path, FORMAT, VERSION, "not a HeatmapNet pose model",
                     "give a pose model written by `python train.py experiment=pose` (or pose=null for none)")
        try:
            info = cls(tuple(json.loads(metadata["classes"])), metadata["none_class"], int(metadata["crop_size"]),
                       float(metadata["crop_scale"]))
        except (KeyError, ValueError, TypeError) as error:
            raise UserError(f"{path}: unreadable pose metadata ({error!r}); export the model again") from None
        if info.none_class not in info.classes or len(set(info.classes)) != len(info.classes):
            raise UserError(f"{path}: classes {list(info.classes)} must be distinct and include the garbage class "
                            f"{info.none_class!r}; export the model again")
        return info


class PoseClassifier:
    """Class probabilities for a batch of hand crops (BGR uint8 N x S x S x 3)."""

    def __init__(self, path, threads: int | None = 1):
        path = Path(str(path)).expanduser()
        if not path.is_file():
            raise UserError(f"pose model not found: {path} (train one with `python train.py experiment=pose`, "
                            f"or pose=null to track without poses)")
        self.session = load_session(path, threads, what="pose model")
        self.info = PoseModelInfo.from_metadata(self.session.get_modelmeta().custom_metadata_map, path)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if [node.name for node in inputs] != [INPUT] or [node.name for node in outputs] != [OUTPUT]:
            raise UserError(f"{path} does not have a pose model's input/output ({INPUT!r} -> {OUTPUT!r}); "
                            f"export it again")
        width = outputs[0].shape[-1]
        if isinstance(width, int) and width != len(self.info.classes):
            raise UserError(f"{path} outputs {width} classes but its metadata names {len(self.info.classes)} "
                            f"({', '.join(self.info.classes)}); export it again")
        self.path = path

    @property
    def classes(self) -> tuple[str, ...]:
        return self.info.classes

    def __call__(self, crops_bgr: np.ndarray) -> np.ndarray:
        """Softmax probabilities, N x C, in the order of `classes`."""
        if len(crops_bgr) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        logits = self.session.run([OUTPUT], {INPUT: graph_input(crops_bgr[..., ::-1])})[0]
        logits = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        return probabilities / probabilities.sum(axis=1, keepdims=True)
