"""The pose classifier as a pipeline Stage: each confirmed track and each detection gets `pose` and `pose_score`.

All tracks of a frame are cut (crops.py) and classified in one batch, then their labels pass through
the per-track stabiliser. A coasting track (no detection this frame) keeps its last label, since its
box is only a prediction. A detection a track matched this frame shares that track's crop (no second
network call); the others (false alarms, hands not yet confirmed) join the same batch. A detection has no
history, so its label is its own frame's (`PoseStabilizer.single_frame`: `none` when unsure).
`pose_stages(...)` builds what `track.py pose=...` asks for.
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

    def probabilities(self, frame_bgr: np.ndarray, tracks, detections: np.ndarray
                      ) -> tuple[dict[int, np.ndarray], np.ndarray]:
        """Class probabilities of this frame's crops: per track seen in it (coasting tracks have none), and per
        detection row (a track's own detection reuses the track's crop)."""
        info = self.classifier.info
        seen = [track for track in tracks if not track.missed]
        shared = {track.detection: number for number, track in enumerate(seen) if track.detection is not None}
        alone = [row for row in range(len(detections)) if row not in shared]
        boxes = [(t.x, t.y, t.w, t.h) for t in seen] + [tuple(detections[row, [0, 1, 3, 4]]) for row in alone]
        crops = np.stack([hand_crop(frame_bgr, x, y, w, h, info.crop_size, info.crop_scale, self.fallback_size)
                          for x, y, w, h in boxes]) if boxes else np.zeros((0,))
        probabilities = self.classifier(crops)
        per_detection = np.empty((len(detections), probabilities.shape[1]), probabilities.dtype)
        for row, number in shared.items():
            per_detection[row] = probabilities[number]
        per_detection[alone] = probabilities[len(seen):]
        return dict(zip((t.id for t in seen), probabilities)), per_detection

    def __call__(self, frame_bgr: np.ndarray, result: FrameResult) -> None:
        classes = self.classifier.classes
        per_track, per_detection = self.probabilities(frame_bgr, result.tracks, result.detections)
        for track in result.tracks:
            if track.id in per_track:
                label, score = self.stabilizer.update(track.id, per_track[track.id])
            else:
                label, score = self.stabilizer.last(track.id)
            result.extras.setdefault(track.id, {}).update(pose=classes[label], pose_score=round(score, 3))
        self.stabilizer.keep_only(track.id for track in result.tracks)
        for row, probabilities in enumerate(per_detection):
            label, score = self.stabilizer.single_frame(probabilities)
            result.detection_extras.setdefault(row, {}).update(pose=classes[label], pose_score=round(score, 3))

    def reset(self) -> None:
        self.stabilizer = PoseStabilizer(self.smoothing, self.stabilizer.none_index)


def pose_stages(model, smoothing=None, fallback_size: float = 60.0, threads: int | None = 1) -> list[Stage]:
    """[PoseStage] for `model` (a path, or "shipped" for heatmapnet/shipped/pose.onnx), [] for None."""
    if model is None:
        return []
    path = SHIPPED_POSE if str(model) == "shipped" else Path(str(model)).expanduser()
    config = typed(StabilizerConfig, smoothing or {}, "pose_smoothing")
    return [PoseStage(PoseClassifier(path, threads), config, fallback_size)]
