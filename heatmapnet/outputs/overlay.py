"""Drawing of tracking results on a frame: markers, ids, boxes, trails, FPS and the heatmap overlay.

`annotate` returns a new image and leaves the frame untouched, so the same code serves the
window, the output video and tests, with no display needed.
"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from heatmapnet.runtime.preprocess import FrameTransform
from heatmapnet.tracking.tracker import TrackedHand

# Distinct BGR colours, picked by track id so a hand keeps its colour.
PALETTE = ((75, 25, 230), (75, 180, 60), (25, 225, 255), (200, 130, 0), (48, 130, 245), (180, 30, 145),
           (240, 240, 70), (230, 50, 240), (60, 245, 210), (128, 128, 0))
DETECTION_COLOUR = (200, 200, 200)
TEXT_COLOUR = (255, 255, 255)


def colour_for(track_id: int) -> tuple[int, int, int]:
    return PALETTE[track_id % len(PALETTE)]


class Trails:
    """The last `length` reported positions of each track, forgotten when the track ends."""

    def __init__(self, length: int = 20):
        self.length = length
        self.points: dict[int, deque] = {}

    def update(self, tracks: list[TrackedHand]) -> dict[int, deque]:
        alive = {track.id for track in tracks}
        self.points = {i: points for i, points in self.points.items() if i in alive}
        for track in tracks:
            self.points.setdefault(track.id, deque(maxlen=self.length)).append((track.x, track.y))
        return self.points


def heatmap_overlay(frame: np.ndarray, logits: np.ndarray, transform: FrameTransform, stride: int,
                    opacity: float = 0.6) -> np.ndarray:
    """Blend the network's hand probability (logits h x w, at `stride`) onto the frame it came from.

    The map is upsampled to the network input, the letterbox padding is cut away and the rest is
    resized to the frame, i.e. the exact inverse of the input transform; cells with probability 0
    leave the frame unchanged.
    """
    probabilities = 1.0 / (1.0 + np.exp(-logits))
    rows, cols = probabilities.shape
    upsampled = cv2.resize(probabilities.astype(np.float32), (cols * stride, rows * stride),
                           interpolation=cv2.INTER_LINEAR)
    left, top = transform.offset
    width, height = transform.resized_size
    on_frame = cv2.resize(upsampled[top:top + height, left:left + width], (frame.shape[1], frame.shape[0]),
                          interpolation=cv2.INTER_LINEAR)
    on_frame = np.clip(on_frame, 0.0, 1.0)
    colours = cv2.applyColorMap((on_frame * 255).astype(np.uint8), cv2.COLORMAP_JET).astype(np.float32)
    alpha = (opacity * on_frame)[..., None]
    return (frame.astype(np.float32) * (1 - alpha) + colours * alpha).astype(np.uint8)


def draw_detections(canvas: np.ndarray, detections: np.ndarray) -> None:
    """Raw peaks as small grey dots (to compare with the tracks)."""
    for x, y, *_ in detections:
        cv2.circle(canvas, (round(x), round(y)), 3, DETECTION_COLOUR, -1, cv2.LINE_AA)


def draw_track(canvas: np.ndarray, track: TrackedHand, trail, pose: str | None = None) -> None:
    """Trail, box (with a size head), marker, id and pose (if a pose stage ran); a coasting track is drawn hollow."""
    colour = colour_for(track.id)
    if len(trail) > 1:
        cv2.polylines(canvas, [np.round(np.array(trail)).astype(np.int32)], False, colour, 2, cv2.LINE_AA)
    centre = (round(track.x), round(track.y))
    if np.isfinite(track.w) and np.isfinite(track.h):
        corner = (round(track.x - track.w / 2), round(track.y - track.h / 2))
        cv2.rectangle(canvas, corner, (round(track.x + track.w / 2), round(track.y + track.h / 2)), colour, 1)
    cv2.circle(canvas, centre, 7, colour, 1 if track.missed else -1, cv2.LINE_AA)
    label = str(track.id) if pose is None else f"{track.id} {pose}"
    cv2.putText(canvas, label, (centre[0] + 9, centre[1] - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2,
                cv2.LINE_AA)


def draw_status(canvas: np.ndarray, text: str) -> None:
    """A line of text (FPS, hand count) in the top-left corner, on a dark band for contrast."""
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 1)
    cv2.rectangle(canvas, (0, 0), (width + 10, height + baseline + 8), (0, 0, 0), -1)
    cv2.putText(canvas, text, (5, height + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.6, TEXT_COLOUR, 1, cv2.LINE_AA)


class RecentGestures:
    """Gesture events kept on screen for `seconds` after the frame that reported them."""

    def __init__(self, seconds: float = 1.0):
        self.seconds = seconds
        self.shown: list[tuple[float, dict]] = []

    def update(self, t: float, events: list[dict]) -> list[dict]:
        self.shown = [(since, event) for since, event in self.shown if t - since < self.seconds]
        self.shown += [(t, event) for event in events if event.get("type") == "gesture"]
        return [event for _, event in self.shown]


def draw_gestures(canvas: np.ndarray, gestures: list[dict]) -> None:
    """Gesture names in large letters along the bottom, in the colour of the hand that made them."""
    y = canvas.shape[0] - 12
    scale = min(1.0, 0.3 + canvas.shape[1] / 800)  # legible on 320-px frames, not huge on HD ones
    for event in reversed(gestures):
        text = f"{event['name']} (hand {event['id']})"
        (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
        x = max((canvas.shape[1] - width) // 2, 0)
        cv2.rectangle(canvas, (x - 6, y - height - 6), (x + width + 6, y + baseline + 2), (0, 0, 0), -1)
        cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour_for(event["id"]), 2, cv2.LINE_AA)
        y -= height + baseline + 12


def annotate(frame: np.ndarray, detections: np.ndarray, tracks: list[TrackedHand], trails: dict,
             status: str | None = None, gestures: list[dict] = (),
             extras: dict[int, dict] | None = None) -> np.ndarray:
    """A copy of the frame (or of its `heatmap_overlay`) with detections, tracks, a status line and the
    gesture events of the last moment (`RecentGestures`); `extras` (the stages' per-track fields) adds each
    track's `pose` beside its id."""
    canvas = frame.copy()
    draw_detections(canvas, detections)
    for track in tracks:
        draw_track(canvas, track, trails.get(track.id, ()), (extras or {}).get(track.id, {}).get("pose"))
    if status:
        draw_status(canvas, status)
    draw_gestures(canvas, list(gestures))
    return canvas
