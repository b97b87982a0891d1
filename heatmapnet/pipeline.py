"""The tracking flow as one object: frame -> preprocess -> model -> decode -> tracker.

`HandTracker` is the API for embedding the tracker in your own loop, and `track.py` drives the very
same object, so both give the same results:

    from heatmapnet import HandTracker
    tracker = HandTracker()                  # the shipped model under ONNX Runtime (its int8 copy on CPUs with VNNI)
    hands = tracker(frame_bgr, t)            # confirmed tracks: id, x, y, w, h, score, vx, vy (frame pixels)

Settings are keyword arguments named like track.py's (`runtime`, `threads`, `decode={...}`, `track={...}`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from heatmapnet.config import typed
from heatmapnet.errors import UserError
from heatmapnet.runtime.detector import HandDetector
from heatmapnet.runtime.preprocess import FrameTransform
from heatmapnet.runtime.runtimes import has_int8_dot_product, open_runtime
from heatmapnet.tracking.tracker import MultiTracker, TrackedHand, TrackerConfig

PACKAGE = Path(__file__).resolve().parent
SHIPPED = PACKAGE / "shipped"
ONNX_RUNTIMES = ("onnxruntime", "opencv")


PRECISIONS = ("auto", "fp32", "int8")


def chosen_precision(precision: str, checkpoint, runtime: str, device: str) -> str:
    """`auto` (the default) -> int8 for the shipped model under ONNX Runtime on a CPU with VNNI (1.5x fp32's speed
    end to end, within 0.005 F1 of it on every held-out set: MODEL.md), fp32 otherwise; fp32 and int8 as given."""
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision != "auto":
        return precision
    fast = (checkpoint is None and runtime == "onnxruntime" and device == "cpu" and has_int8_dot_product()
            and shipped_model(runtime, "int8").is_file())  # a release removes the int8 copy of a replaced model
    return "int8" if fast else "fp32"


def shipped_model(runtime: str, precision: str = "fp32") -> Path:
    """The default model: the ONNX copy for ONNX runtimes (or its int8 quantisation), the `.pt` for torch."""
    if precision not in ("fp32", "int8"):
        raise UserError(f"a shipped copy is fp32 or int8 (chosen_precision resolves auto), not {precision!r}")
    if precision == "int8":
        if runtime == "torch":
            raise UserError("precision=int8 is an ONNX model: use runtime=onnxruntime")
        return SHIPPED / "heatmapnet.int8.onnx"
    return SHIPPED / ("heatmapnet.pt" if runtime == "torch" else "heatmapnet.onnx")


def resolve_model(checkpoint, runtime: str, precision: str = "fp32") -> Path:
    """The file a runtime opens for `checkpoint` (None: the shipped model, in `precision`).

    A relative path is looked up in the working directory, then beside the package (where the shipped
    models live). A `.pt` given to an ONNX runtime is exported once and cached (heatmapnet/export/cache.py);
    that needs PyTorch, and without it the error says to use an `.onnx` file.
    """
    if checkpoint is None:
        return shipped_model(runtime, precision)
    if precision != "fp32":
        raise UserError(f"precision={precision} picks a copy of the shipped model; quantise your own with "
                        f"`python -m heatmapnet.export.quantize model=... data=...` and pass it as checkpoint=")
    path = Path(str(checkpoint)).expanduser()
    if not path.is_absolute() and not path.exists() and (PACKAGE.parent / path).exists():
        path = PACKAGE.parent / path
    if not path.is_file():
        beside = f" nor {PACKAGE.parent / path}" if not path.is_absolute() else ""
        raise UserError(f"checkpoint not found: {path}{beside} (pass checkpoint=PATH to an .onnx or .pt model, "
                        f"or leave it out for the shipped model)")
    if runtime in ONNX_RUNTIMES and path.suffix in (".pt", ".pth"):
        try:
            from heatmapnet.export.cache import exported_copy
        except ImportError:
            raise UserError(f"{path} is a PyTorch checkpoint and PyTorch is not installed: give its .onnx export "
                            f"(`python -m heatmapnet.export checkpoint={path}` where training is installed), or "
                            f"install the training extras (`pip install -r requirements-train.txt`) to export "
                            f"it automatically") from None
        return exported_copy(path)
    return path


@dataclass
class FrameResult:
    """Everything one frame produced: detections (x, y, score, w, h rows, frame pixels), confirmed tracks,
    the raw logit map with the transform that maps it back onto the frame (for overlays), the frame's
    time `t` (seconds, as given to the tracker: stages that follow motion need it), and what the
    stages after tracking added: `extras[track id]` (fields merged into that track's record, e.g. pose,
    keypoints), `detection_extras[row]` (the same for a detection, e.g. pose) and `events` (e.g.
    gestures, in the frame where they end)."""

    detections: np.ndarray
    tracks: list[TrackedHand]
    logits: np.ndarray
    transform: FrameTransform
    t: float = 0.0
    extras: dict[int, dict] = field(default_factory=dict)
    detection_extras: dict[int, dict] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)


class Stage:
    """A step after tracking (pose, keypoints, gestures): reads the frame and the result, adds to
    `result.extras` / `result.detection_extras` / `result.events`. `name` is what the per-stage timing calls it."""

    name = "stage"

    def __call__(self, frame_bgr: np.ndarray, result: FrameResult) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget per-track state (the tracker was reset)."""

    def finish(self) -> list[dict]:
        """The source ended: the events still pending (e.g. a gesture the end cut off), for its last frame."""
        return []


class NoClock:
    """The stopwatch used when nobody times the stages."""

    def lap(self, stage: str) -> float:
        return 0.0


class HandTracker:
    """Frames in, tracked hands out. Call it once per frame with the frame's time in seconds."""

    def __init__(self, checkpoint=None, runtime: str = "onnxruntime", precision: str = "auto",
                 threads: int | None = None, device: str = "cpu", input_size: tuple[int, int] | None = None,
                 input_orientation: str | None = None, decode: dict | None = None,
                 track: dict | TrackerConfig | None = None, stages: list[Stage] = ()):
        self.model_path = resolve_model(checkpoint, runtime, chosen_precision(precision, checkpoint, runtime, device))
        self.runtime = open_runtime(runtime, self.model_path, threads=threads, device=device)
        self.runtime.set_input(input_size, input_orientation)
        overrides = {key: value for key, value in (decode or {}).items() if value is not None}
        self.detector = HandDetector(self.runtime, typed(self.runtime.decode_config, overrides, "decode"))
        self.tracker_config = track if isinstance(track, TrackerConfig) else typed(TrackerConfig, track or {}, "track")
        self.tracker = MultiTracker(self.tracker_config)
        self.stages = list(stages)

    def __call__(self, frame_bgr: np.ndarray, t: float) -> list[TrackedHand]:
        """The confirmed tracks after this frame (ids stable across calls)."""
        return self.process(frame_bgr, t).tracks

    def process(self, frame_bgr: np.ndarray, t: float, clock=NoClock()) -> FrameResult:
        """One frame through every stage; `clock.lap(stage)` is called after each, for timing."""
        return self.process_batch([frame_bgr], [t], clock)[0]

    def process_batch(self, frames_bgr: list[np.ndarray], times: list[float], clock=NoClock()) -> list[FrameResult]:
        """Several frames of one video in one forward pass (offline work, GPUs); tracked in order."""
        transforms = [self.detector.transform_for(frame) for frame in frames_bgr]
        images = np.stack([self.detector.prepare(frame) for frame in frames_bgr])
        clock.lap("preprocess")
        logits, size = self.runtime(images)
        clock.lap("model")
        detections = [self.detector.decode(logits[i:i + 1], None if size is None else size[i:i + 1], transform)
                      for i, transform in enumerate(transforms)]
        clock.lap("decode")
        results = [FrameResult(found, self.tracker.update(t, found, (transforms[i].src_width, transforms[i].src_height)),
                               logits[i, 0], transforms[i], t)
                   for i, (found, t) in enumerate(zip(detections, times))]
        clock.lap("track")
        for stage in self.stages:
            for frame, result in zip(frames_bgr, results):
                stage(frame, result)
            clock.lap(stage.name)
        return results

    def finish(self) -> list[dict]:
        """The source ended: every stage's pending events, to add to the last frame's `events`."""
        return [event for stage in self.stages for event in stage.finish()]

    def reset(self) -> None:
        """Forget every track (a new video, a scene cut): ids start again at 1."""
        self.tracker = MultiTracker(self.tracker_config)
        for stage in self.stages:
            stage.reset()
