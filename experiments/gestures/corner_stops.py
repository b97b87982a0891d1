"""Does ending a stroke early at any score cut a shape at a corner stop? (the early end's score gate, issue 15)

    python experiments/gestures/corner_stops.py

EgoGestAR's clips hold one gesture each, so they cannot show the risk of a short early end in continuous use: a shape
drawn with stops at its corners, ended at a stop and named after its first sides. Here each shipped template (the
other templates as the recogniser's) is drawn 4 hand sizes wide at 3 hand sizes per second, resting 0, 0.15 or
0.25 s wherever it turns by more than 60 degrees, through the tracker and the recogniser of tests/test_gestures.py,
with the early end gated at score 0.75 (the setting before) and at 0 (any gesture). Prints the first event's tally.
"""
from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from test_gestures import FPS, SIZE, rest, run  # noqa: E402  (the tests' synthetic tracker loop)

from heatmapnet.gestures.config import GestureConfig  # noqa: E402
from heatmapnet.gestures.shapes import Templates  # noqa: E402
from heatmapnet.gestures.stage import SHIPPED_TEMPLATES  # noqa: E402

WIDTH_SIZES, SPEED_SIZES, CORNER_DEGREES = 4.0, 3.0, 60.0


def drawing(points: np.ndarray, pause: float) -> list[np.ndarray]:
    """A normalised template as hand positions (frame pixels) at a constant speed, resting `pause` s at corners."""
    xy = np.asarray(points) * WIDTH_SIZES * SIZE + [320, 240]
    headings = np.arctan2(*np.diff(xy, axis=0)[:, ::-1].T)
    turns = np.abs((np.diff(headings) + math.pi) % (2 * math.pi) - math.pi)
    corners = set(np.nonzero(turns > math.radians(CORNER_DEGREES))[0] + 1)
    positions, step = rest(0.5, xy[0]), SPEED_SIZES * SIZE / FPS
    for i in range(len(xy) - 1):
        side = xy[i + 1] - xy[i]
        count = max(1, round(float(np.hypot(*side)) / step))
        positions += [xy[i] + side * (k + 1) / count for k in range(count)]
        if i + 1 in corners:
            positions += rest(pause, xy[i + 1])
    return positions + rest(1.0, xy[-1])


def main() -> None:
    shipped = Templates.load(SHIPPED_TEMPLATES)
    print(f"`python experiments/gestures/corner_stops.py`: the {len(shipped.names)} shipped templates drawn with stops "
          f"at their corners; first event right / wrong / none\n")
    print("| corner stop (s) | early end from score 0.75 | early end at any score (0) |\n|---|---|---|")
    for pause in (0.0, 0.15, 0.25):
        cells = []
        for early_score in (0.75, 0.0):
            tally, wrong = {"right": 0, "wrong": 0, "none": 0}, []
            for index, (name, points) in enumerate(zip(shipped.names, shipped.points)):
                others = Templates()
                for other, (n, p, source) in enumerate(zip(shipped.names, shipped.points, shipped.sources)):
                    if other != index:
                        others.add(n, p, source)
                events = run(drawing(points, pause), replace(GestureConfig(), early_score=early_score), others)
                first = events[0][1]["name"] if events else None
                outcome = "right" if first == name else "none" if first is None else "wrong"
                tally[outcome] += 1
                if outcome == "wrong":
                    wrong.append(f"{name} as {first}")
            cells.append(f"{tally['right']} / {tally['wrong']} / {tally['none']}"
                         + (f" ({', '.join(wrong)})" if wrong else ""))
        print(f"| {pause:g} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
