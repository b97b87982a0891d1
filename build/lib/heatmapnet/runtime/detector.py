"""Frame in, hands out: resize/letterbox, run the network, decode peaks, map back to frame pixels.

Split into stages so callers (track.py, evaluation, benchmarks) can time each one.
"""
from __future__ import annotations

import cv2
import numpy as np

from heatmapnet.runtime.decode import DecodeConfig, decode
from heatmapnet.runtime.preprocess import FrameTransform
from heatmapnet.runtime.runtimes import Runtime


class HandDetector:
    def __init__(self, runtime: Runtime, decode_config: DecodeConfig | None = None):
        self.runtime = runtime
        self.decode_config = decode_config or runtime.decode_config
        self._transforms: dict[tuple[int, int], FrameTransform] = {}

    def transform_for(self, frame: np.ndarray) -> FrameTransform:
        """The (cached) resize from this frame's size to the model input."""
        key = (frame.shape[1], frame.shape[0])
        if key not in self._transforms:
            self._transforms[key] = self.runtime.model_config.transform_for(*key)
        return self._transforms[key]

    def prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        """BGR frame -> RGB uint8 image at the network input size."""
        return cv2.cvtColor(self.transform_for(frame_bgr).apply(frame_bgr), cv2.COLOR_BGR2RGB)

    def infer(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Network outputs (logits 1x1xhxw, size 1x2xhxw or None) for one prepared image."""
        return self.runtime(image_rgb[None])

    def decode(self, logits: np.ndarray, size: np.ndarray | None, transform: FrameTransform) -> np.ndarray:
        """Peaks as rows (x, y, score, w, h) in source-frame pixels."""
        detections = decode(logits, size, self.runtime.stride, self.decode_config)[0]
        detections[:, :2] = transform.to_source(detections[:, :2])
        detections[:, 3:5] /= transform.scale
        return detections

    def __call__(self, frame_bgr: np.ndarray) -> np.ndarray:
        logits, size = self.infer(self.prepare(frame_bgr))
        return self.decode(logits, size, self.transform_for(frame_bgr))
