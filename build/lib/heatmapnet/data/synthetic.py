"""Procedurally drawn hand-like shapes on textured backgrounds: a dataset with no files.

For smoke tests and the quick start only. A hand is a palm ellipse with finger and thumb capsules in
a skin tone, at a random size, rotation and side; `other` hands are fists (palm and knuckles, no
fingers) or tiny hands. Backgrounds are smooth noise, stripes or gradients with distractor shapes,
some in skin tones, so colour alone does not find a hand. Everything follows from `synthetic_seed`:
the hands (in `read`) and the pixels (in `render`) are drawn from generators spawned from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from heatmapnet.data.hands import OPEN, OTHER, Hand, Sample
from heatmapnet.data.registry import register_reader
from heatmapnet.errors import UserError

SKIN_TONES = np.array([(255, 224, 196), (241, 194, 167), (224, 172, 135), (198, 134, 96),
                       (161, 102, 72), (120, 78, 52), (88, 58, 40)], np.float64)
SHIFT = 4  # cv2 drawing with 4 fractional bits: sub-pixel shapes
PALM_AXES = (0.85, 1.0)  # palm half-width and half-height in palm radii
FINGER_BASES = (-0.6, -0.2, 0.2, 0.6)  # x of the four finger bases, at y = -0.75 (fingers point to -y)
FINGER_LENGTHS = (0.95, 1.15, 1.2, 0.85)
OTHER_PROBABILITY = 0.25


@dataclass(frozen=True)
class Capsule:
    """A finger: a segment between two points with a round cap of `radius` at each end."""

    start: tuple[float, float]
    end: tuple[float, float]
    radius: float


@dataclass(frozen=True)
class DrawnHand:
    """One drawn hand in image pixels: a rotated palm ellipse plus capsules, and its label."""

    centre: tuple[float, float]
    axes: tuple[float, float]
    angle: float  # radians, palm rotation
    capsules: tuple[Capsule, ...]
    tone: tuple[float, float, float]
    label: str

    @property
    def outline(self) -> float:
        """Width of the darker edge drawn around every part."""
        return max(1.0, 0.08 * self.axes[1])

    def paint(self, canvas: np.ndarray, colour, grow: float = 0.0, line_type: int = cv2.LINE_AA) -> None:
        """Draw palm and capsules, each grown by `grow` px, in `colour()` (called once per part)."""
        cv2.ellipse(canvas, _fixed(self.centre), _fixed_lengths((self.axes[0] + grow, self.axes[1] + grow)),
                    np.degrees(self.angle), 0, 360, colour(), -1, line_type, SHIFT)
        for capsule in self.capsules:
            start, end, part = _fixed(capsule.start), _fixed(capsule.end), colour()
            radius = capsule.radius + grow
            for point in (start, end):
                cv2.circle(canvas, point, _fixed_lengths((radius,))[0], part, -1, line_type, SHIFT)
            cv2.line(canvas, start, end, part, max(1, int(round(2 * radius))), line_type, SHIFT)

    def hand(self, width: int, height: int) -> Hand:
        """The annotation: the box of the hand's pixels inside the image, as real labels are."""
        mask = np.zeros((height, width), np.uint8)
        self.paint(mask, lambda: 255, self.outline, cv2.LINE_8)
        rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        x0, y0, x1, y1 = cols[0], rows[0], cols[-1] + 1, rows[-1] + 1
        return Hand((x0 + x1) / 2, (y0 + y1) / 2, float(x1 - x0), float(y1 - y0), self.label)


@register_reader("synthetic")
class SyntheticReader:
    """`count` frames of `width` x `height`, each with up to `max_hands` hands; `read` ignores its root."""

    def __init__(self, count: int = 64, width: int = 320, height: int = 240, seed: int = 0, max_hands: int = 3):
        if count < 1 or width < 16 or height < 16 or max_hands < 0:
            raise UserError(f"synthetic data needs count >= 1, width and height >= 16, max_hands >= 0; got "
                            f"count={count}, width={width}, height={height}, max_hands={max_hands}")
        self.count, self.width, self.height, self.seed, self.max_hands = count, width, height, seed, max_hands

    def read(self, root: Path | None = None) -> list[Sample]:
        samples = []
        for index in range(self.count):
            seed = int(np.random.SeedSequence((self.seed, index)).generate_state(1)[0])
            drawn = scene(seed, self.width, self.height, self.max_hands)
            hands = [shape.hand(self.width, self.height) for shape in drawn]
            samples.append(Sample(hands=hands, synthetic_seed=seed, width=self.width, height=self.height,
                                  frame_index=index, dataset="synthetic", meta={"max_hands": self.max_hands}))
        return samples


def scene(seed: int, width: int, height: int, max_hands: int) -> list[DrawnHand]:
    """The hands of frame `seed`: non-overlapping, centres inside the frame, some `other`."""
    rng = _generators(seed)[0]
    short = min(width, height)
    hands: list[DrawnHand] = []
    for _ in range(rng.integers(0, max_hands + 1)):
        kind = OPEN if rng.random() >= OTHER_PROBABILITY else ("fist" if rng.random() < 0.6 else "tiny")
        palm = rng.uniform(2.5, 4.0) if kind == "tiny" else short * rng.uniform(0.035, 0.14)
        for _attempt in range(30):
            centre = (rng.uniform(0, width), rng.uniform(0, height))
            if all(np.hypot(centre[0] - h.centre[0], centre[1] - h.centre[1]) > 2.6 * (palm + h.axes[1])
                   for h in hands):
                break
        else:
            continue
        angle = rng.uniform(-np.pi, np.pi)
        mirror = -1.0 if rng.random() < 0.5 else 1.0
        tone = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.85, 1.1, size=3)
        local = _fist(rng) if kind == "fist" else _open_hand(rng)
        place = _placement(angle, mirror, palm, centre)
        capsules = tuple(Capsule(place(c.start), place(c.end), c.radius * palm) for c in local)
        hands.append(DrawnHand(centre, (PALM_AXES[0] * palm, PALM_AXES[1] * palm), angle, capsules,
                               tuple(np.clip(tone, 0, 255)), OPEN if kind == OPEN else OTHER))
    return hands


def _placement(angle: float, mirror: float, scale: float, centre: tuple[float, float]):
    """Hand-local coordinates (palm radii, fingers towards -y) -> image pixels."""
    c, s = np.cos(angle), np.sin(angle)

    def place(point: tuple[float, float]) -> tuple[float, float]:
        x, y = point[0] * mirror * scale, point[1] * scale
        return c * x - s * y + centre[0], s * x + c * y + centre[1]

    return place


def _open_hand(rng: np.random.Generator) -> list[Capsule]:
    """Four fingers fanned out (some curled) and a thumb, in palm radii, fingers towards -y."""
    fan = rng.uniform(0.0, 0.3)
    capsules = []
    for j, (x, length) in enumerate(zip(FINGER_BASES, FINGER_LENGTHS)):
        length *= 0.35 if rng.random() < 0.15 else rng.uniform(0.8, 1.2)
        direction = (j - 1.5) * fan + rng.uniform(-0.08, 0.08)
        start = (x, -0.75)
        capsules.append(Capsule(start, (x + length * np.sin(direction), -0.75 - length * np.cos(direction)), 0.17))
    thumb = rng.uniform(0.5, 1.3)  # angle from straight up, outwards
    length = rng.uniform(0.7, 1.0)
    capsules.append(Capsule((0.7, 0.15), (0.7 + length * np.sin(thumb), 0.15 - length * np.cos(thumb)), 0.2))
    return capsules


def _fist(rng: np.random.Generator) -> list[Capsule]:
    """Knuckle bumps along the top of the palm and a thumb folded across it: a hand with no fingers out."""
    knuckles = [Capsule((x, -0.8), (x, -0.8), 0.22 * rng.uniform(0.9, 1.1)) for x in FINGER_BASES]
    return knuckles + [Capsule((0.75, 0.1), (rng.uniform(-0.1, 0.2), -0.35), 0.2)]


def render(sample: Sample) -> np.ndarray:
    """The RGB uint8 frame of a synthetic sample, identical on every call."""
    width, height = sample.width, sample.height
    _, pixels, finish = _generators(sample.synthetic_seed)
    image = _background(pixels, width, height)
    for drawn in scene(sample.synthetic_seed, width, height, sample.meta["max_hands"]):
        _draw_hand(image, drawn, pixels)
    noise = finish.standard_normal(image.shape[:2], np.float32) * finish.uniform(2.0, 8.0)  # sensor-like grain
    image = cv2.add(image, cv2.merge([noise] * 3), dtype=cv2.CV_8U)
    if finish.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), finish.uniform(0.5, 1.2))
    return image


def _generators(seed: int) -> tuple[np.random.Generator, ...]:
    """Independent generators for the hand shapes, the drawing and the final noise/blur: `read` never
    draws pixels, and a frame's background and noise do not depend on its hands."""
    return tuple(np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(3))


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Smooth colour noise, stripes or a gradient, with distractor shapes (some skin-coloured)."""
    kind = rng.integers(3)
    if kind == 0:
        cells = rng.uniform(0, 255, size=(rng.integers(2, 12), rng.integers(2, 12), 3)).astype(np.float32)
        image = cv2.resize(cells, (width, height), interpolation=cv2.INTER_CUBIC)
        image = np.clip(image, 0, 255).astype(np.uint8)
    else:
        phi = rng.uniform(0, np.pi)
        along = (np.arange(width, dtype=np.float32)[None] * np.cos(phi)
                 + np.arange(height, dtype=np.float32)[:, None] * np.sin(phi))
        if kind == 1:
            t = 0.5 + 0.5 * np.sin(2 * np.pi * along / rng.uniform(8, 60))
        else:
            t = (along - along.min()) / max(float(np.ptp(along)), 1.0)
        colours = rng.uniform(0, 255, size=(2, 3))
        palette = colours[0] + np.linspace(0, 1, 256)[:, None] * (colours[1] - colours[0])  # t -> colour
        levels = (t * 255).astype(np.uint8)
        image = cv2.LUT(cv2.merge([levels] * 3), palette.astype(np.uint8)[None])
    short = min(width, height)
    for _ in range(rng.integers(2, 9)):
        skin = rng.random() < 0.3
        colour = SKIN_TONES[rng.integers(len(SKIN_TONES))] if skin else rng.uniform(0, 255, 3)
        colour = tuple(float(v) for v in colour)
        centre = _fixed((rng.uniform(0, width), rng.uniform(0, height)))
        size = short * rng.uniform(0.03, 0.2)
        if rng.random() < 0.5:
            axes = _fixed_lengths((size, size * rng.uniform(0.5, 1.5)))
            cv2.ellipse(image, centre, axes, rng.uniform(0, 180), 0, 360, colour, -1, cv2.LINE_AA, SHIFT)
        else:
            end = _fixed((rng.uniform(0, width), rng.uniform(0, height)))
            cv2.line(image, centre, end, colour, max(1, int(size * rng.uniform(0.1, 0.5))), cv2.LINE_AA, SHIFT)
    return image


def _draw_hand(image: np.ndarray, drawn: DrawnHand, rng: np.random.Generator) -> None:
    """An outline in a darker tone first, then the filled shapes: fingers stay distinct from the palm."""
    for grow, shade in ((drawn.outline, (0.55, 0.55)), (0.0, (0.92, 1.08))):
        def colour(shade=shade):
            return tuple(float(np.clip(v * rng.uniform(*shade), 0, 255)) for v in drawn.tone)

        drawn.paint(image, colour, grow)


def _fixed(point) -> tuple[int, ...]:
    """Continuous pixel coordinates -> cv2's fixed-point coordinates (cv2 puts pixel centres at integers)."""
    return tuple(int(round((v - 0.5) * (1 << SHIFT))) for v in point)


def _fixed_lengths(lengths) -> tuple[int, ...]:
    return tuple(int(round(v * (1 << SHIFT))) for v in lengths)
