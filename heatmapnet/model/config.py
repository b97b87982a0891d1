"""What a HeatmapNet is (backbone, stride, input size, normalisation), without PyTorch: tracking reads
it from checkpoints and ONNX metadata, training builds the network from it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from heatmapnet.config import dataclass_from
from heatmapnet.errors import UserError
from heatmapnet.runtime.preprocess import FrameTransform, Normalization

ORIENTATIONS = ("follow", "fixed")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network and feed it correctly; saved in every checkpoint."""

    backbone: str = "mobilenet_v2"
    stride: int = 8
    size_head: bool = True
    input_width: int = 320
    input_height: int = 240
    resize: str = "letterbox"
    orientation: str = "follow"  # follow: a portrait frame gets the input turned portrait (height x width: same
    #   pixels and cost, hands a third larger than letterboxed into landscape); fixed: always width x height
    normalization: Normalization = field(default_factory=Normalization)
    freeze_backbone: bool = False
    freeze_layers: int = 0  # the first N pretrained layers stay as loaded (fine-tuning on a few hundred frames)
    fixed_norm_statistics: bool = False  # BatchNorm running statistics stay as loaded while training (fine-tuning)
    skip_blocks: tuple[int, ...] = ()  # residual backbone layers left out: a cheaper network (issue 11's study)
    pretrained: str | None = None  # used only when the model is first built, never when loading a checkpoint

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        return with_normalization(cls, values, "model")

    def to_dict(self) -> dict:
        return plain_with_normalization(self)

    def __post_init__(self):
        object.__setattr__(self, "skip_blocks", tuple(self.skip_blocks))  # hashable and equal however given
        if self.orientation not in ORIENTATIONS:
            raise UserError(f"model orientation must be one of {', '.join(ORIENTATIONS)}, got {self.orientation!r}")

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        """The network input (width, height) for a width x height frame: turned to the frame's orientation
        when `orientation` is follow (the network is fully convolutional: any size works)."""
        turn = self.orientation == "follow" and (height > width) != (self.input_height > self.input_width)
        return (self.input_height, self.input_width) if turn else (self.input_width, self.input_height)

    def transform_for(self, width: int, height: int) -> FrameTransform:
        """The resize that turns a width x height frame into this model's input."""
        return FrameTransform(width, height, *self.input_size_for(width, height), self.resize)


def with_normalization(cls, values: dict, section: str):
    """A config dataclass with a `normalization` field from a plain dict (as saved in checkpoints)."""
    values = dict(values)
    if isinstance(values.get("normalization"), dict):
        norm = dataclass_from(Normalization, values["normalization"], f"{section}.normalization")
        values["normalization"] = Normalization(tuple(norm.mean), tuple(norm.std), norm.color)
    return dataclass_from(cls, values, section)


def plain_with_normalization(config) -> dict:
    """The inverse of `with_normalization`: plain lists and strings, for checkpoints and JSON metadata."""
    values = asdict(config)
    values["normalization"] = {k: list(v) if isinstance(v, tuple) else v for k, v in values["normalization"].items()}
    return values
