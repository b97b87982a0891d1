"""Keypoint targets (encode) and their decoding, NumPy only, as codecs beside the model (as in mmpose).

Three ways to say where 21 points are, compared in experiments/keypoints/:
- `simcc`: a classification over `crop_size * split` bins per axis (SimCC / RTMPose), Gaussian-smoothed labels;
- `heatmap`: one Gaussian heatmap per point at `heatmap_stride` (OpenPose, mmpose), argmax + quadratic refinement;
- `regression`: x, y in crop units directly, plus a per-point visibility logit.
Points are in crop pixels (continuous: pixel k covers [k, k+1)); `decode` returns N x 21 x 3 (x, y, score in
[0, 1]). The network's raw outputs are named as the codec says, which is also their name in the ONNX graph.
"""
from __future__ import annotations

import numpy as np

from heatmapnet.keypoints.config import KeypointConfig
from heatmapnet.runtime.decode import neighbourhoods, subpixel_offsets

HANDEDNESS = "handedness"
OUTPUTS = {"simcc": ("simcc_x", "simcc_y"), "heatmap": ("heatmaps",), "regression": ("points",)}


def gaussian_1d(centres: np.ndarray, bins: int, sigma: float) -> np.ndarray:
    """(n, bins) unnormalised Gaussians at bin-coordinate `centres` (bin k centre at k + 0.5)."""
    grid = np.arange(bins, dtype=np.float32) + 0.5
    return np.exp(-0.5 * ((grid[None, :] - centres[:, None]) / sigma) ** 2).astype(np.float32)


def encode(config: KeypointConfig, points: np.ndarray) -> dict[str, np.ndarray]:
    """Training targets for one crop's points (21 x 2, crop pixels)."""
    size = config.crop_size
    if config.codec == "simcc":
        split = config.simcc_split
        bins, sigma = size * split, config.simcc_sigma * split
        return {"simcc_x": gaussian_1d(points[:, 0] * split, bins, sigma),
                "simcc_y": gaussian_1d(points[:, 1] * split, bins, sigma)}
    if config.codec == "heatmap":
        cells = size // config.heatmap_stride
        x = gaussian_1d(points[:, 0] / config.heatmap_stride, cells, config.heatmap_sigma)
        y = gaussian_1d(points[:, 1] / config.heatmap_stride, cells, config.heatmap_sigma)
        return {"heatmaps": y[:, :, None] * x[:, None, :]}
    return {"points": (points / size).astype(np.float32)}


def decode(config: KeypointConfig, outputs: dict[str, np.ndarray]) -> np.ndarray:
    """N x 21 x 3: (x, y) in crop pixels and a score in [0, 1], from a batch of raw network outputs."""
    if config.codec == "simcc":
        split = config.simcc_split
        # a score of 1 is a distribution as peaked as the training labels
        ideal = 1.0 / (np.sqrt(2 * np.pi) * config.simcc_sigma * split)
        logits = [np.asarray(outputs[name], np.float32) for name in OUTPUTS["simcc"]]
        xy = np.stack([(axis.argmax(-1) + 0.5) / split for axis in logits], axis=-1)
        # each axis's largest softmax probability, 1 / sum(exp(logit - max)), without normalising every bin
        peak = 1.0 / np.sqrt(np.prod([np.exp(axis - axis.max(-1, keepdims=True)).sum(-1) for axis in logits], 0))
        return np.concatenate([xy, np.clip(peak / ideal, 0, 1)[..., None]], axis=-1).astype(np.float32)
    if config.codec == "heatmap":
        maps = np.asarray(outputs["heatmaps"], np.float32)
        n, k, rows, cols = maps.shape
        flat = maps.reshape(n * k, 1, rows, cols)
        best = flat.reshape(n * k, -1).argmax(-1)
        ys, xs = np.divmod(best, cols)
        batch = np.arange(n * k)
        offsets = subpixel_offsets(neighbourhoods(np.maximum(flat, 1e-6), batch, ys, xs), "quadratic")
        xy = (np.stack([xs, ys], axis=1) + offsets + 0.5) * config.heatmap_stride
        score = np.clip(flat[batch, 0, ys, xs], 0, 1)
        return np.concatenate([xy, score[:, None]], axis=1).reshape(n, k, 3).astype(np.float32)
    raw = np.asarray(outputs["points"], np.float32)
    visible = 1.0 / (1.0 + np.exp(-raw[..., 2:3]))
    return np.concatenate([raw[..., :2] * config.crop_size, visible], axis=-1)


def right_probability(outputs: dict[str, np.ndarray]) -> np.ndarray:
    """P(the person's right hand) per crop, from the handedness logit (N x 1)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(outputs[HANDEDNESS], np.float32)[:, 0]))
