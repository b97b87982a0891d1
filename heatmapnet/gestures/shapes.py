"""Drawn shapes: strokes normalised for position and scale (not rotation, not direction) and matched against
a few recorded examples per shape, and the versioned template file that holds those examples.

Unlike the $1 recogniser, nothing is rotated: a stroke drawn leftwards stays unlike one drawn rightwards,
and a counter-clockwise circle unlike a clockwise one. Scaling keeps the aspect ratio (one factor, the
larger side), so a straight line is not blown up into a square. Examples named `none` are movements that
must not fire (a match with one rejects the stroke).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from heatmapnet.errors import UserError

FORMAT = "heatmapnet-gestures"
VERSION = 1
POINTS = 32  # points per normalised stroke
REJECT = "none"  # examples of movement that is no gesture


def resample(xy: np.ndarray, count: int = POINTS) -> np.ndarray:
    """`count` points equally spaced along the path (by arc length)."""
    steps = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    targets = np.linspace(0.0, along[-1], count)
    return np.stack([np.interp(targets, along, xy[:, 0]), np.interp(targets, along, xy[:, 1])], axis=1)


def normalise(xy: np.ndarray, mirror: bool = False, count: int = POINTS) -> np.ndarray | None:
    """The stroke resampled, centred on its centroid and scaled so its larger side is 1 (None: no extent)."""
    points = resample(np.asarray(xy, np.float64), count)
    if mirror:
        points[:, 0] = -points[:, 0]
    extent = float(np.max(points.max(axis=0) - points.min(axis=0)))
    if extent <= 0:
        return None
    return (points - points.mean(axis=0)) / extent


BEGINNINGS = np.linspace(0.2, 0.9, 15)  # fractions of a template's path: how it looks while still being drawn


def beginning(points: np.ndarray, fraction: float) -> np.ndarray | None:
    """The first `fraction` of a path (by arc length), normalised like a stroke."""
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    cut = fraction * along[-1]
    end = [np.interp(cut, along, points[:, 0]), np.interp(cut, along, points[:, 1])]
    return normalise(np.vstack([points[along < cut], end]))


@dataclass
class Templates:
    """Named examples of normalised strokes (each POINTS x 2)."""

    names: list[str] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # where each example came from (clip, time)

    def add(self, name: str, normalised: np.ndarray, source: str = "") -> None:
        self.names.append(name)
        self.points.append(np.asarray(normalised, np.float64))
        self.sources.append(source)

    def __len__(self) -> int:
        return len(self.names)

    def match(self, normalised: np.ndarray) -> tuple[str, float]:
        """The nearest example's name and its mean point distance (in stroke extents)."""
        if not self.names:
            return REJECT, float("inf")
        distances = np.linalg.norm(np.stack(self.points) - normalised[None], axis=2).mean(axis=1)
        best = int(np.argmin(distances))
        return self.names[best], float(distances[best])

    def beginnings(self) -> tuple[np.ndarray, np.ndarray]:
        """Every example's beginnings (BEGINNINGS of its path): their names (K) and points (K x POINTS x 2)."""
        names, points = [], []
        for name, example in zip(self.names, self.points):
            for fraction in BEGINNINGS:
                start = beginning(example, fraction)
                if start is not None:
                    names.append(name)
                    points.append(start)
        return np.array(names, dtype=object), np.array(points).reshape(-1, POINTS, 2)

    def save(self, path) -> None:
        """JSON with one template per line (readable, diffable)."""
        header = json.dumps({"format": FORMAT, "version": VERSION, "points": POINTS})[:-1]
        templates = ",\n".join(json.dumps({"name": name, "source": source, "points": np.round(points, 4).tolist()})
                                for name, points, source in zip(self.names, self.points, self.sources))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{header}, \"templates\": [\n{templates}\n]}}\n")

    @classmethod
    def load(cls, path) -> "Templates":
        """Read a template file; a missing, corrupt or foreign file, or another version, is one UserError."""
        path = Path(path)
        hint = "record templates with `python -m heatmapnet.gestures record NAME source=clip.mp4`"
        try:
            payload = json.loads(path.read_text())
        except FileNotFoundError:
            raise UserError(f"gesture template file not found: {path} ({hint})") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UserError(f"gesture template file {path} is corrupt ({error}); {hint}") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise UserError(f"{path} is not a gesture template file (no \"format\": \"{FORMAT}\"); {hint}")
        if payload.get("version") != VERSION or payload.get("points") != POINTS:
            raise UserError(f"{path} is a gesture template file of version {payload.get('version')!r} with "
                            f"{payload.get('points')!r} points; this version reads version {VERSION} with {POINTS} "
                            f"points: record the templates again ({hint})")
        templates = cls()
        try:
            for entry in payload["templates"]:
                points = np.asarray(entry["points"], np.float64)
                if points.shape != (POINTS, 2) or not np.isfinite(points).all() or not str(entry["name"]):
                    raise ValueError(f"template {entry.get('name')!r} has points of shape {points.shape}")
                templates.add(str(entry["name"]), points, str(entry.get("source", "")))
        except (KeyError, TypeError, ValueError) as error:
            raise UserError(f"gesture template file {path} is corrupt ({error}); {hint}") from None
        return templates
