"""Plain records shared by readers, targets, metrics, tracking and the annotator."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

OPEN = "open"
OTHER = "other"
LABELS = (OPEN, OTHER)


@dataclass(frozen=True)
class Hand:
    """A hand as a centre and a box size in image pixels.

    `label` is "open" for hands the model should find and "other" for hands it should neither be
    rewarded nor punished for (far away, fists, odd angles, unlabelled-but-present).
    """

    x: float
    y: float
    w: float
    h: float
    label: str = OPEN

    @property
    def size(self) -> float:
        """Geometric mean of width and height: the hand-size unit used by metrics and gates."""
        return float((max(self.w, 0.0) * max(self.h, 0.0)) ** 0.5)

    @classmethod
    def from_bbox(cls, bbox, label: str = OPEN) -> "Hand":
        """From a COCO box [x, y, w, h] (top-left corner, continuous pixel coordinates)."""
        bx, by, bw, bh = (float(v) for v in bbox)
        return cls(bx + bw / 2.0, by + bh / 2.0, bw, bh, label)

    def scaled(self, sx: float, sy: float, dx: float = 0.0, dy: float = 0.0) -> "Hand":
        """This hand under x' = sx*x + dx, y' = sy*y + dy (sizes scale, never translate)."""
        return replace(self, x=self.x * sx + dx, y=self.y * sy + dy, w=self.w * abs(sx), h=self.h * abs(sy))


@dataclass
class Sample:
    """One labelled frame: where its pixels come from and the hands on it.

    Exactly one of `image_path` (a file) or `synthetic_seed` (a procedurally drawn frame) is set.
    `video` groups frames for splitting; frames without a video are split one by one. `crop` (x0, y0, x1, y1
    source pixels) makes the sample that part of its frame: hand-free crops are built that way.
    """

    hands: list[Hand]
    image_path: str | None = None
    synthetic_seed: int | None = None
    width: int | None = None
    height: int | None = None
    video: str | None = None
    frame_index: int | None = None
    dataset: str = ""
    meta: dict = field(default_factory=dict)
    crop: tuple[int, int, int, int] | None = None
