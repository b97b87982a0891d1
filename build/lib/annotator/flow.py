"""Carrying markers from one frame to the next with pyramidal Lucas-Kanade optical flow.

Each marker's disc is sampled with good features to track (topped up with a small grid on flat
hands), the points are tracked forward and back, and only points that return to where they started
vote: the marker moves by their median displacement and its radius scales by the median change of
their distance to the centre. A marker with too few trustworthy points is kept where it was and
flagged `uncertain`, so propagation stops instead of drifting.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from heatmapnet.data.hands_json import FLOW, Marker


@dataclass(frozen=True)
class FlowConfig:
    max_points: int = 60
    quality: float = 0.01  # corner quality relative to the best corner in the disc
    grid: int = 5  # grid points per side added when the disc has few corners
    sample_radius: float = 0.8  # sample within this fraction of the radius (less background)
    window: int = 21
    levels: int = 3
    forward_backward: float = 1.0  # max pixels between a point and its forward-then-backward track
    min_points: int = 6
    min_fraction: float = 0.3  # of the sampled points that must pass
    max_scale_step: float = 1.15  # radius change per frame is clamped to [1/this, this]


def grayscale(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def sample_points(gray: np.ndarray, marker: Marker, config: FlowConfig) -> np.ndarray:
    """Points (N x 2, OpenCV pixel-centre coordinates) to track for one marker."""
    cx, cy = marker.x - 0.5, marker.y - 0.5  # continuous coordinates -> pixel-centre coordinates
    radius = max(marker.r * config.sample_radius, 2.0)
    mask = np.zeros(gray.shape, np.uint8)
    cv2.circle(mask, (int(round(cx)), int(round(cy))), int(round(radius)), 255, -1)
    corners = cv2.goodFeaturesToTrack(gray, config.max_points, config.quality, max(radius / 10, 2.0), mask=mask)
    points = corners.reshape(-1, 2) if corners is not None else np.zeros((0, 2), np.float32)
    if len(points) < config.max_points // 2:
        offsets = np.linspace(-radius / np.sqrt(2), radius / np.sqrt(2), config.grid)
        grid = np.stack(np.meshgrid(offsets, offsets), -1).reshape(-1, 2) + (cx, cy)
        points = np.concatenate([points, grid])
    height, width = gray.shape
    inside = (points[:, 0] >= 0) & (points[:, 0] <= width - 1) & (points[:, 1] >= 0) & (points[:, 1] <= height - 1)
    return points[inside].astype(np.float32)


def track(previous: np.ndarray, following: np.ndarray, markers, config: FlowConfig = FlowConfig()) -> list[Marker]:
    """`markers` of frame `previous` moved onto frame `following` (both BGR or gray, same size).

    Markers already uncertain stay put and uncertain: there is nothing trustworthy to follow.
    """
    previous, following = grayscale(previous), grayscale(following)
    samples = [sample_points(previous, m, config) if not m.uncertain else np.zeros((0, 2), np.float32)
               for m in markers]
    starts = np.concatenate(samples + [np.zeros((0, 2), np.float32)])
    passed = np.zeros(len(starts), bool)
    ends = starts
    if len(starts):
        lk = dict(winSize=(config.window, config.window), maxLevel=config.levels,
                  criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
        ends, forward_ok, _ = cv2.calcOpticalFlowPyrLK(previous, following, starts, None, **lk)
        back, backward_ok, _ = cv2.calcOpticalFlowPyrLK(following, previous, ends, None, **lk)
        error = np.linalg.norm(back - starts, axis=1)
        passed = forward_ok.ravel().astype(bool) & backward_ok.ravel().astype(bool) & (error < config.forward_backward)
    moved, start = [], 0
    for marker, points in zip(markers, samples):
        stop = start + len(points)
        moved.append(_follow(marker, starts[start:stop], ends[start:stop], passed[start:stop], config))
        start = stop
    return moved


def _follow(marker: Marker, starts: np.ndarray, ends: np.ndarray, passed: np.ndarray, config: FlowConfig) -> Marker:
    if marker.uncertain or passed.sum() < max(config.min_points, config.min_fraction * len(starts)):
        return replace(marker, source=FLOW, uncertain=True)
    before, after = starts[passed], ends[passed]
    dx, dy = np.median(after - before, axis=0)
    centre_before, centre_after = np.median(before, axis=0), np.median(after, axis=0)
    spread_before = np.linalg.norm(before - centre_before, axis=1)
    spread_after = np.linalg.norm(after - centre_after, axis=1)
    usable = spread_before > 2.0
    scale = float(np.median(spread_after[usable] / spread_before[usable])) if usable.sum() >= 3 else 1.0
    scale = float(np.clip(scale, 1.0 / config.max_scale_step, config.max_scale_step))
    return replace(marker, x=marker.x + float(dx), y=marker.y + float(dy), r=marker.r * scale,
                   source=FLOW, uncertain=False)
