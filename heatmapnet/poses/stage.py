"""The pose classifier as a pipeline Stage: each confirmed track gets `pose` and `pose_score`.

All tracks of a frame are cut (crops.py) and classified in one batch, then their labels pass through
the per-track stabiliser. A coasting track (no detection this frame) keeps its last label, since its
box is only a prediction. `pose_stages(...)` builds what `track.py pose=...` asks for.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from heatmapnet.config import typed
from heatmapnet.pipeline import SHIPPED, FrameResult, Stage
from heatmapnet.poses.classifier import PoseClassifier
from heatmapnet.poses.crops import hand_crop
from heatmapnet.poses.stabilize import PoseStabilizer, StabilizerConfig

SHIPPED_POSE = SHIPPED / "pose.onnx"


class PoseStage(Stage):
    name = "pose"

    def __init__(self, classifier: PoseClassifier, smoothing: StabilizerConfig = StabilizerConfig(),
                 fallback_size: float = 60.0):
        self.classifier = classifier
        self.smoothing = smoothing
        self.fallback_size = fallback_size
        self.stabilizer = PoseStabilizer(smoothing, classifier.classes.index(classifier.info.none_class))

    def probabilities(self, frame_bgr: np.ndarray, tracks) -> dict[int, np.ndarray]:
        """Class probabilities of this frame's crop for each track seen in it (coasting tracks have none)."""
        info = self.classifier.info
        seen = [track for track in tracks if not track.missed]
        crops = np.stack([hand_crop(frame_bgr, t.x, t.y, t.w, t.h, info.crop_size, info.crop_scale,
                                    self.fallback_size) for t in seen]) if seen else np.zeros((0,))
        return dict(zip((t.id for t in seen), self.classifier(crops)))

    def __call__(self, frame_bgr: np.ndarray, result: FrameResult) -> None:
        info = self.classifier.info
        probabilities = self.probabilities(frame_bgr, result.tracks)
        for track in result.tracks:
            if track.id in probabilities:
                label, score = self.stabilizer.update(track.id, probabilities[track.id])
            else:
                label, score = self.stabilizer.last(track.id)
            result.extras.setdefault(track.id, {}).update(pose=info.classes[label], pose_score=round(score, 3))
        self.stabilizer.keep_only(track.id for track in result.tracks)

    def reset(self) -> None:
        self.stabilizer = PoseStabilizer(self.smoothing, self.stabilizer.none_index)


def pose_stages(model, smoothing=None, fallback_size: float = 60.0, threads: int | None = 1) -> list[Stage]:
    """[PoseStage] for `model` (a path, or "shipped" for heatmapnet/shipped/pose.onnx), [] for None."""
    if model is None:
        return []
    path = SHIPPED_POSE if str(model) == "shipped" else Path(str(model)).expanduser()
    config = typed(StabilizerConfig, smoothing or {}, "pose_smoothing")
    return [PoseStage(PoseClassifier(path, threads), config, fallback_size)]
