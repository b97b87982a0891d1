"""Generated clips of distinct synthetic hand "poses" that the shipped detector finds: for pose tests.

`open` (four fingers spread, pointing up), `fist` (knuckles, folded thumb) and `relaxed` (short curled
fingers pointing down, the garbage-class stand-in), each drawn with synthetic.py's hand shapes, held almost
still in front of a noisy backdrop with a little shake from frame to frame.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from heatmapnet.data.synthetic import PALM_AXES, SKIN_TONES, Capsule, DrawnHand, _draw_hand, _placement
from helpers_video import write_video

FINGERS = (-0.6, -0.2, 0.2, 0.6)
SHAPES = {
    "open": [Capsule((x, -0.75), (x * 1.6, -1.9), 0.17) for x in FINGERS] + [Capsule((0.7, 0.15), (1.5, -0.4), 0.2)],
    "fist": [Capsule((x, -0.8), (x, -0.8), 0.22) for x in FINGERS] + [Capsule((0.75, 0.1), (0.05, -0.35), 0.2)],
    "relaxed": [Capsule((x, 0.8), (x * 0.8, 1.25), 0.17) for x in FINGERS] + [Capsule((0.7, 0.15), (1.1, 0.6), 0.2)],
}


def pose_frames(kind: str, count: int, seed: int = 0, width: int = 320, height: int = 240, hands: int = 1,
                offset=lambda index: (0.0, 0.0)):
    """BGR frames of one synthetic pose (`hands` side by side), held still with a small shake, or moved by
    `offset(frame index)` pixels from there."""
    rng = np.random.default_rng(seed)
    backdrop = np.full((height, width, 3), (120, 90, 60), np.uint8)
    tone = tuple(float(v) for v in SKIN_TONES[2])
    for index in range(count):
        image = backdrop.copy()
        shift_x, shift_y = offset(index)
        for slot in range(hands):
            centre = (width * (slot + 1) / (hands + 1) + shift_x + rng.normal(0, 2),
                      height / 2 + shift_y + rng.normal(0, 2))
            angle, palm = rng.normal(0, 0.05), 28 * rng.uniform(0.95, 1.05)
            place = _placement(angle, 1.0, palm, centre)
            capsules = tuple(Capsule(place(c.start), place(c.end), c.radius * palm) for c in SHAPES[kind])
            hand = DrawnHand(centre, (PALM_AXES[0] * palm, PALM_AXES[1] * palm), angle, capsules, tone, "open")
            _draw_hand(image, hand, rng)
        noise = rng.normal(0, 4, image.shape)
        yield np.clip(image + noise, 0, 255).astype(np.uint8)[..., ::-1].copy()


def write_pose_clips(folder: Path, names: dict[str, str], count: int = 40) -> Path:
    """One clip per entry of `names` (clip name -> shape), in `folder`; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for seed, (name, kind) in enumerate(names.items()):
        write_video(folder / f"{name}.mp4", pose_frames(kind, count, seed))
    return folder


def side_by_side_frames(pairs, frames_per_pair: int, seed: int = 0, width: int = 320, height: int = 240):
    """Footage with two poses at once: for each (left shape, right shape) of `pairs`, `frames_per_pair` frames
    with one hand per half, centred at (width / 4, height / 2) and (3 * width / 4, height / 2)."""
    for number, (left, right) in enumerate(pairs):
        halves = (pose_frames(kind, frames_per_pair, seed + 2 * number + side, width // 2, height)
                  for side, kind in enumerate((left, right)))
        yield from (np.hstack(pair) for pair in zip(*halves))
