"""The keypoint stage after tracking: 21 points, per-point scores and left/right on every tracked hand.

All tracked hands of a frame are cropped from their boxes and run as one batch; points are mapped back
to frame pixels and smoothed per track with the one-euro filter (tracking/smoothing.py, beta in hand
sizes), so a still hand does not shake while a moving one keeps up. Adds to `result.extras[track id]`:
`keypoints` [[x, y, score] x 21] (frame pixels), `handedness` ("left" | "right", the person's hand) and
`handedness_score`. Tracks without a box size (a detector without a size head) get none.
"""
from __future__ import annotations

import cv2
import numpy as np

from heatmapnet.keypoints import codec, crops
from heatmapnet.keypoints.layout import handedness_name
from heatmapnet.outputs.records import number, numbers
from heatmapnet.pipeline import FrameResult, Stage
from heatmapnet.tracking.smoothing import OneEuroConfig, OneEuroFilter


STILL_HAND = OneEuroConfig(min_cutoff=1.0, beta=1.0)  # configs/track.yaml keypoint_smoothing


class KeypointStage(Stage):
    """`model`: a keypoint runtime (model_file.open_keypoints); `smoothing`: None for raw points;
    `mirrored`: the frames are mirrored (selfie view), so a right hand looks like a left one."""

    name = "keypoints"

    def __init__(self, model, smoothing: OneEuroConfig | None = STILL_HAND, mirrored: bool = False):
        self.model = model
        self.config = model.config
        self.smoothing = smoothing
        self.mirrored = mirrored
        self.filters: dict[int, OneEuroFilter] = {}

    def __call__(self, frame_bgr: np.ndarray, result: FrameResult) -> None:
        self.filters = {i: f for i, f in self.filters.items() if i in {track.id for track in result.tracks}}
        hands = [track for track in result.tracks
                 if np.isfinite(track.w) and np.isfinite(track.h) and max(track.w, track.h) >= 1]
        if not hands:
            return
        size = self.config.crop_size
        matrices = [crops.box_crop_matrix((t.x, t.y, t.w, t.h), size, self.config.crop_scale) for t in hands]
        batch = np.stack([cv2.cvtColor(crops.warp(frame_bgr, m, size), cv2.COLOR_BGR2RGB) for m in matrices])
        outputs = self.model(batch)
        points, right = codec.decode(self.config, outputs), codec.right_probability(outputs)
        for track, matrix, found, p_right in zip(hands, matrices, points, right):
            xy = crops.to_frame(matrix, found[:, :2].astype(np.float64))
            if self.smoothing is not None:
                xy = self.filters.setdefault(track.id, OneEuroFilter(self.smoothing))(
                    result.t, xy, scale=max(track.w, track.h))
            label, confidence = handedness_name(float(p_right), self.mirrored)
            result.extras.setdefault(track.id, {}).update(
                keypoints=numbers(np.column_stack([xy, found[:, 2]]), (2, 2, 3)),
                handedness=label, handedness_score=number(confidence, 3))

    def reset(self) -> None:
        self.filters = {}
