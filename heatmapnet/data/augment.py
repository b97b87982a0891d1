"""Training augmentation of an image and its hands together, and the deterministic fit for validation.

Geometry (scale, crop/pad to the input size, rotation, flip) is one affine matrix: the image goes
through a single cv2.warpAffine and the hand centres through the same matrix, so they cannot drift
apart. Colour jitter and blur act on the (already small) output.

Hand boxes follow the annotation convention of the datasets: a box is the visible extent of the hand.
A box is carried through the warp as the ellipse it encloses (a rotated hand grows its box less than a
rotated rectangle would), then clipped to the output; its centre is the clipped box's centre. A hand
the crop leaves less than `min_visible` of becomes `other` (ignored by the loss), and one it removes
entirely is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from heatmapnet.data.hands import OPEN, OTHER, Hand
from heatmapnet.errors import UserError
from heatmapnet.runtime.preprocess import FrameTransform


@dataclass(frozen=True)
class AugmentConfig:
    """Random ranges of the training augmentation; `enabled: false` gives the validation fit."""

    enabled: bool = True
    scale: tuple[float, float] = (0.7, 1.4)  # zoom relative to fitting the whole frame, log-uniform
    flip_prob: float = 0.5
    rotation: float = 10.0  # degrees, uniform in [-rotation, rotation]
    quarter_turn_prob: float = 0.0  # chance of a further quarter turn either way (cameras mounted turned)
    brightness: float = 0.2  # offset in [-b, b] x 255
    contrast: float = 0.25  # factor in [1 - c, 1 + c] around the image mean
    saturation: float = 0.3  # factor in [1 - s, 1 + s]
    hue: float = 6.0  # degrees, uniform in [-hue, hue]
    blur_prob: float = 0.2
    blur_sigma: tuple[float, float] = (0.4, 1.2)
    min_visible: float = 0.5  # hands cut to less than this fraction of their box become `other`

    def __post_init__(self):
        object.__setattr__(self, "scale", tuple(float(v) for v in self.scale))
        object.__setattr__(self, "blur_sigma", tuple(float(v) for v in self.blur_sigma))
        problems = []
        if len(self.scale) != 2 or not 0 < self.scale[0] <= self.scale[1]:
            problems.append(f"scale {self.scale} must be [low, high] with 0 < low <= high")
        if len(self.blur_sigma) != 2 or not 0 < self.blur_sigma[0] <= self.blur_sigma[1]:
            problems.append(f"blur_sigma {self.blur_sigma} must be [low, high] with 0 < low <= high")
        for name in ("flip_prob", "quarter_turn_prob", "blur_prob", "min_visible", "contrast", "saturation"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} {getattr(self, name)} must lie in [0, 1]")
        for name in ("rotation", "brightness", "hue"):
            if getattr(self, name) < 0:
                problems.append(f"{name} {getattr(self, name)} must be >= 0")
        if problems:
            raise UserError("augmentation config: " + "; ".join(problems))


def fit(image: np.ndarray, hands: list[Hand], width: int, height: int,
        mode: str = "letterbox") -> tuple[np.ndarray, list[Hand]]:
    """The validation/tracking resize: the whole frame into width x height by `FrameTransform`."""
    transform = FrameTransform(image.shape[1], image.shape[0], width, height, mode)
    (sx, sy), (ox, oy) = transform.scale, transform.offset
    return transform.apply(image), [hand.scaled(sx, sy, ox, oy) for hand in hands]


def augment(image: np.ndarray, hands: list[Hand], width: int, height: int, rng: np.random.Generator,
            config: AugmentConfig, mode: str = "letterbox") -> tuple[np.ndarray, list[Hand]]:
    """A random view of an RGB uint8 frame at exactly width x height, with its hands moved along."""
    if not config.enabled:
        return fit(image, hands, width, height, mode)
    src_h, src_w = image.shape[:2]
    matrix = _random_geometry(src_w, src_h, width, height, rng, config, mode)
    image, warp = _prescale(image, matrix)
    output = cv2.warpAffine(image, _pixel_index_matrix(warp), (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    output = _jitter_colour(output, rng, config)
    if rng.random() < config.blur_prob:
        output = cv2.GaussianBlur(output, (0, 0), rng.uniform(*config.blur_sigma))
    moved = (_move_hand(hand, matrix, width, height, config.min_visible) for hand in hands)
    return output, [hand for hand in moved if hand is not None]


def _random_geometry(src_w: int, src_h: int, width: int, height: int, rng: np.random.Generator,
                     config: AugmentConfig, mode: str) -> np.ndarray:
    """3x3 source -> output matrix in continuous coordinates: zoom, place, rotate about the centre, flip."""
    base_x, base_y = FrameTransform(src_w, src_h, width, height, mode).scale
    zoom = float(np.exp(rng.uniform(np.log(config.scale[0]), np.log(config.scale[1]))))
    sx, sy = base_x * zoom, base_y * zoom
    # a frame larger than the output is cropped, a smaller one padded: either way it lands anywhere that
    # keeps the output inside the frame (crop) or the frame inside the output (pad)
    spare_x, spare_y = width - src_w * sx, height - src_h * sy
    tx, ty = rng.uniform(min(0.0, spare_x), max(0.0, spare_x)), rng.uniform(min(0.0, spare_y), max(0.0, spare_y))
    place = np.array([[sx, 0, tx], [0, sy, ty], [0, 0, 1]])
    angle = np.radians(rng.uniform(-config.rotation, config.rotation))
    if config.quarter_turn_prob and rng.random() < config.quarter_turn_prob:  # no draw when off: same stream
        angle += np.pi / 2 * rng.choice((-1, 1))
    cx, cy = width / 2, height / 2
    c, s = np.cos(angle), np.sin(angle)
    rotate = np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy], [0, 0, 1]])
    flip = np.array([[-1, 0, width], [0, 1, 0], [0, 0, 1]]) if rng.random() < config.flip_prob else np.eye(3)
    return flip @ rotate @ place


def _prescale(image: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shrink strongly reduced frames first by an integer factor with INTER_AREA (bilinear warping
    alone would alias); integer factors take OpenCV's fast path, at the cost of dropping the last
    (< factor) columns and rows of a frame whose size is not a multiple of it."""
    factor = int(1.0 / np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))
    if factor < 2:
        return image, matrix
    small_h, small_w = image.shape[0] // factor, image.shape[1] // factor
    if small_h < 1 or small_w < 1:
        return image, matrix
    whole = image[:small_h * factor, :small_w * factor]
    small = cv2.resize(whole, (small_w, small_h), interpolation=cv2.INTER_AREA)
    return small, matrix @ np.diag([factor, factor, 1.0])


def _pixel_index_matrix(matrix: np.ndarray) -> np.ndarray:
    """Continuous-coordinate affine (pixel k covers [k, k+1)) -> cv2's pixel-index affine (centres at k)."""
    linear = matrix[:2, :2]
    return np.hstack([linear, (matrix[:2, 2] + linear @ [0.5, 0.5] - 0.5)[:, None]])


def _move_hand(hand: Hand, matrix: np.ndarray, width: int, height: int, min_visible: float) -> Hand | None:
    """A hand through the warp: its box's inscribed ellipse mapped and boxed again, then clipped."""
    cx, cy = matrix[:2, :2] @ (hand.x, hand.y) + matrix[:2, 2]
    a, b = hand.w / 2, hand.h / 2
    half_w = np.hypot(matrix[0, 0] * a, matrix[0, 1] * b)
    half_h = np.hypot(matrix[1, 0] * a, matrix[1, 1] * b)
    x0, y0, x1, y1 = max(cx - half_w, 0.0), max(cy - half_h, 0.0), min(cx + half_w, width), min(cy + half_h, height)
    if x1 <= x0 or y1 <= y0:
        return None
    visible = (x1 - x0) * (y1 - y0) / (4 * half_w * half_h)
    label = OTHER if hand.label == OPEN and visible < min_visible else hand.label
    return replace(hand, x=(x0 + x1) / 2, y=(y0 + y1) / 2, w=x1 - x0, h=y1 - y0, label=label)


def _jitter_colour(image: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Brightness/contrast by one lookup table in RGB, hue/saturation by one lookup table in HSV."""
    contrast = rng.uniform(1 - config.contrast, 1 + config.contrast)
    brightness = rng.uniform(-config.brightness, config.brightness) * 255
    mean = float(image.mean())
    levels = np.arange(256, dtype=np.float32)
    image = cv2.LUT(image, np.clip((levels - mean) * contrast + mean + brightness, 0, 255).astype(np.uint8))
    saturation = rng.uniform(1 - config.saturation, 1 + config.saturation)
    hue_shift = round(rng.uniform(-config.hue, config.hue) / 2)  # OpenCV's 8-bit hue is in units of 2 degrees
    if saturation == 1 and hue_shift == 0:
        return image
    table = np.stack([(levels + hue_shift) % 180, np.clip(levels * saturation, 0, 255), levels], axis=-1)
    hsv = cv2.LUT(cv2.cvtColor(image, cv2.COLOR_RGB2HSV), table[None].astype(np.uint8))
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
