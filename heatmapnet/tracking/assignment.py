"""Minimum-cost assignment of tracks to detections (the linear assignment problem).

Solved by `lap`'s Jonker-Volgenant (LAPJV) solver, the one ByteTrack and Ultralytics' trackers use: a 2.4 MB
package (BSD-2-Clause) that needs only NumPy, where scipy.optimize.linear_sum_assignment brought all of SciPy
(144 MB) into the tracking install. Both return an optimal assignment; they may differ only between equally
cheap ones.
"""
from __future__ import annotations

import lap
import numpy as np


def min_cost_pairs(cost: np.ndarray) -> list[tuple[int, int]]:
    """(row, column) pairs of the assignment of least total cost; every row or every column is assigned
    (whichever is fewer), so a rectangular matrix leaves the surplus unpaired."""
    cost = np.asarray(cost, np.float64)
    if cost.size == 0:
        return []
    if 1 in cost.shape:  # one track or one detection (most frames): the cheapest pair, without LAPJV's set-up
        row, column = divmod(int(np.argmin(cost)), cost.shape[1])
        return [(row, column)]
    _, column_of_row, _ = lap.lapjv(cost, extend_cost=cost.shape[0] != cost.shape[1])
    return [(row, int(column)) for row, column in enumerate(column_of_row) if column >= 0]
