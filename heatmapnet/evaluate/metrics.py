"""Detection metrics for hand points (and boxes from the size head), accumulated image by image.

Matching (one rule for AP, P/R/F1 and box AP): detections are taken in descending score order
(COCO style); each one claims the not-yet-claimed `open` hand that it matches best. A point matches a
hand when their distance is at most 0.5 * sqrt(w * h) of the hand's box ("best" = smallest distance in
hand sizes); a box matches when IoU >= the IoU threshold ("best" = highest IoU). A detection that
matches no free open hand but does match an `other` hand is ignored (neither TP nor FP, like COCO
crowd regions, and an `other` hand may absorb several detections); `other` hands are never misses.
An `other` hand absorbs detections out to `ignore_radius(hand)` pixels when that is larger than its
match radius: validation passes the loss's ignore region, so a detection in an area the model was told
"anything goes" is not counted against it.

Greedy-by-score rather than Hungarian because the decisions for a detection depend only on the
detections scored above it: the matching at any operating threshold is a prefix of the matching of
the whole ranking, so one matching per image serves AP, P/R/F1 at every threshold and the F1-optimal
threshold. Feed detections decoded at a low threshold (e.g. 0.05) so AP sees the whole ranking.

AP is COCO's 101-point interpolated AP: precision made non-increasing in recall, sampled at recall
0, 0.01, ..., 1 (0 where a recall is never reached). Quantities that are undefined (no hands, no
detections, no matched pairs, no sizes) are None, never a made-up 0 or 1.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Callable

import numpy as np

from heatmapnet.data.hands import OPEN, Hand

FALSE_ALARM = -1  # per-detection outcome: matches nothing
IGNORED = -2  # per-detection outcome: matches only an `other` hand
MATCH_RADIUS = 0.5  # match radius in hand sizes (sqrt(w * h) of the ground-truth box)
BOX_IOUS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2))  # COCO's IoU thresholds; the first is AP@0.5
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
SIZE_BUCKETS = (24.0, 48.0, 96.0)  # hand-size bucket edges: sqrt(w * h) in pixels of the network input


def greedy_match(cost: np.ndarray, allowed: np.ndarray, is_open: np.ndarray) -> np.ndarray:
    """Outcome per detection (rows of `cost`, already in descending score order): hand index, or
    FALSE_ALARM / IGNORED. `cost` (D x H) ranks candidate hands (lower is better); `allowed` says which
    detection-hand pairs match at all; `is_open` (H) separates open hands from `other` ones."""
    outcome = np.full(cost.shape[0], FALSE_ALARM, dtype=int)
    free = is_open.copy()
    for d in range(cost.shape[0]):
        candidates = np.flatnonzero(allowed[d] & free)
        if candidates.size:
            best = candidates[np.argmin(cost[d, candidates])]
            outcome[d] = best
            free[best] = False
        elif np.any(allowed[d] & ~is_open):
            outcome[d] = IGNORED
    return outcome


def centre_distances(detections: np.ndarray, hands: list[Hand]) -> np.ndarray:
    """Pixel distance from each detection (rows x, y, ...) to each hand centre (D x H)."""
    centres = np.array([(hand.x, hand.y) for hand in hands], dtype=float).reshape(-1, 2)
    return np.hypot(detections[:, None, 0] - centres[None, :, 0], detections[:, None, 1] - centres[None, :, 1])


def box_ious(detections: np.ndarray, hands: list[Hand]) -> np.ndarray:
    """IoU of the boxes centred on each detection (w, h in columns 3, 4) with each hand's box (D x H)."""
    def corners(xywh):
        return np.stack([xywh[:, 0] - xywh[:, 2] / 2, xywh[:, 1] - xywh[:, 3] / 2,
                         xywh[:, 0] + xywh[:, 2] / 2, xywh[:, 1] + xywh[:, 3] / 2], axis=1)

    a = corners(detections[:, [0, 1, 3, 4]].astype(float))
    b = corners(np.array([(h.x, h.y, h.w, h.h) for h in hands], dtype=float).reshape(-1, 4))
    width = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    height = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass
class ImageMatch:
    """The point matching of one image: detections sorted by descending score and, per detection,
    the index of the hand it hit (or FALSE_ALARM / IGNORED). Drawing and per-frame ranking use it."""

    detections: np.ndarray
    hands: list[Hand]
    outcome: np.ndarray

    def hits(self, threshold: float) -> np.ndarray:
        """Indices of detections at or above `threshold` that matched an open hand."""
        return np.flatnonzero((self.detections[:, 2] >= threshold) & (self.outcome >= 0))

    def false_alarms(self, threshold: float) -> np.ndarray:
        return np.flatnonzero((self.detections[:, 2] >= threshold) & (self.outcome == FALSE_ALARM))

    def misses(self, threshold: float) -> list[int]:
        """Indices of open hands that no detection at or above `threshold` matched."""
        found = set(self.outcome[self.hits(threshold)].tolist())
        return [i for i, hand in enumerate(self.hands) if hand.label == OPEN and i not in found]

    def errors(self, threshold: float) -> int:
        """False alarms plus misses: how bad this frame is at the operating threshold."""
        return len(self.false_alarms(threshold)) + len(self.misses(threshold))


def interpolated_ap(is_hit: np.ndarray, positives: int) -> float | None:
    """COCO 101-point AP of a ranking (True = true positive, False = false positive, best first)."""
    if positives == 0:
        return None
    true_positives = np.cumsum(is_hit)
    precision = true_positives / np.arange(1, len(is_hit) + 1)
    recall = true_positives / positives
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    index = np.searchsorted(recall, RECALL_POINTS, side="left")
    reached = index < len(envelope)
    return float(envelope[index[reached]].sum() / len(RECALL_POINTS))


def ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator > 0 else None


class PointMetrics:
    """Accumulates point (and box) matches over images; `summary(threshold)` reports them.

    update() once per image with all detections decoded at a low threshold, as rows (x, y, score, w, h)
    in the same pixels as the hands; w, h NaN when the model has no size head.
    """

    def __init__(self, ignore_radius: Callable[[Hand], float] | None = None):
        self.ignore_radius = ignore_radius
        self.images = 0
        self.open_hands = 0
        self.has_sizes = True
        # per detection, one array per image: score; point outcome coded 1 hit / 0 false alarm / -1 ignored;
        # centre error of its match in px and in hand sizes (NaN unless a hit); box outcomes per IoU threshold
        self._parts: dict[str, list[np.ndarray]] = {"score": [], "point": [], "error_px": [], "error_size": [],
                                                    "box": []}

    def update(self, detections: np.ndarray, hands: list[Hand]) -> ImageMatch:
        """Match one image's detections to its hands and remember the outcome."""
        detections = np.asarray(detections, dtype=float).reshape(-1, 5)
        detections = detections[np.argsort(-detections[:, 2], kind="stable")]
        is_open = np.array([hand.label == OPEN for hand in hands], dtype=bool)
        sizes = np.array([hand.size for hand in hands], dtype=float)
        distances = centre_distances(detections, hands)
        radius = MATCH_RADIUS * sizes
        if self.ignore_radius is not None:
            wider = np.array([self.ignore_radius(hand) for hand in hands], dtype=float).reshape(-1)
            radius = np.where(is_open, radius, np.maximum(radius, wider))
        outcome = greedy_match(distances / np.maximum(sizes, 1e-12), distances <= radius, is_open)

        hit = np.flatnonzero(outcome >= 0)
        error_px = np.full(len(detections), np.nan)
        error_px[hit] = distances[hit, outcome[hit]]
        hand_size = np.full(len(detections), np.nan)
        hand_size[hit] = sizes[outcome[hit]]
        self._parts["score"].append(detections[:, 2])
        self._parts["point"].append(self._code(outcome))
        self._parts["error_px"].append(error_px)
        self._parts["error_size"].append(error_px / hand_size)

        self.has_sizes &= not np.isnan(detections[:, 3:5]).any()
        if self.has_sizes:
            ious = box_ious(detections, hands)
            codes = [self._code(greedy_match(-ious, ious >= t, is_open)) for t in BOX_IOUS]
            self._parts["box"].append(np.stack(codes, axis=1))
        self.images += 1
        self.open_hands += int(is_open.sum())
        return ImageMatch(detections, list(hands), outcome)

    @staticmethod
    def _code(outcome: np.ndarray) -> np.ndarray:
        return np.where(outcome >= 0, 1, np.where(outcome == IGNORED, -1, 0))

    def _column(self, name: str) -> np.ndarray:
        """One per-detection quantity over all images so far."""
        parts = self._parts[name]
        if parts:
            return np.concatenate(parts)
        return np.zeros((0, len(BOX_IOUS)) if name == "box" else 0)

    def _ranking(self) -> np.ndarray:
        """Permutation putting all detections in descending score order."""
        return np.argsort(-self._column("score"), kind="stable")

    def summary(self, threshold: float) -> dict:
        """Point AP (whole ranking), P/R/F1 and median centre error at `threshold`, counts, box AP."""
        points = self._column("point")
        kept = self._column("score") >= threshold
        tp = int(np.sum(kept & (points == 1)))
        fp = int(np.sum(kept & (points == 0)))
        fn = self.open_hands - tp
        errors_px = self._column("error_px")[kept & (points == 1)]
        errors_size = self._column("error_size")[kept & (points == 1)]
        order = self._ranking()
        return {
            "threshold": float(threshold),
            "point_ap": self._ap(points[order]),
            "precision": ratio(tp, tp + fp),
            "recall": ratio(tp, self.open_hands),
            "f1": ratio(2 * tp, 2 * tp + fp + fn),
            "median_error_px": float(np.median(errors_px)) if errors_px.size else None,
            "median_error_size": float(np.median(errors_size)) if errors_size.size else None,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "ignored": int(np.sum(kept & (points == -1))),
            "hands": self.open_hands,
            "images": self.images,
            **self._box_aps(order),
        }

    def _ap(self, ranked_codes: np.ndarray) -> float | None:
        """AP of a ranking coded 1 (hit) / 0 (false alarm) / -1 (ignored, dropped from the ranking)."""
        return interpolated_ap(ranked_codes[ranked_codes >= 0] == 1, self.open_hands)

    def _box_aps(self, order: np.ndarray) -> dict:
        """Box AP@0.5 and AP@[.5:.95]; None when any detection came without a size."""
        if not self.has_sizes or self.open_hands == 0:
            return {"box_ap50": None, "box_ap": None}
        boxes = self._column("box")[order]
        aps = [self._ap(boxes[:, i]) for i in range(len(BOX_IOUS))]
        return {"box_ap50": aps[0], "box_ap": float(np.mean(aps))}

    def best_threshold(self, tolerance: float = 0.0) -> float | None:
        """The F1-optimal operating threshold on the accumulated data (None without any hit).

        Returned halfway between the lowest score kept and the next lower score, so it does not sit
        exactly on a detection; at the lowest decoded score when keeping everything is best. The highest
        threshold whose F1 is within `tolerance` of the best wins: F1 curves are often flat over a wide
        range, and the highest threshold on the plateau gives the fewest false alarms on unseen scenes.
        """
        order = self._ranking()
        scores, points = self._column("score")[order], self._column("point")[order]
        scores, hits = scores[points >= 0], points[points >= 0] == 1
        if not hits.any():
            return None
        tp = np.cumsum(hits)
        fp = np.cumsum(~hits)
        # a threshold can only fall between distinct scores: F1 counts at the last of each run of ties
        last_of_tie = np.append(scores[1:] != scores[:-1], True)
        f1 = np.where(last_of_tie, 2 * tp / (tp + fp + self.open_hands), -1.0)
        best = int(np.flatnonzero(f1 >= f1.max() - tolerance)[0])
        if best + 1 < len(scores):
            return float((scores[best] + scores[best + 1]) / 2)
        return float(scores[best])


def size_bucket_names(edges: tuple[float, ...] = SIZE_BUCKETS) -> list[str]:
    """'<24', '24-48', ..., '>=96' for the bucket edges."""
    bounds = [f"{edge:g}" for edge in edges]
    return [f"<{bounds[0]}", *(f"{a}-{b}" for a, b in zip(bounds, bounds[1:])), f">={bounds[-1]}"]


def recall_by_size(matches: Iterable[tuple[ImageMatch, float]], threshold: float,
                   edges: tuple[float, ...] = SIZE_BUCKETS) -> dict[str, dict]:
    """Recall of open hands at `threshold` per hand-size bucket. Each image's match comes with the factor
    from its hands' pixels to the network input's, because what limits a small hand is how many input
    pixels (stride cells) it covers. {bucket: {"hands", "found", "recall"}}, recall None for an empty bucket."""
    hands = np.zeros(len(edges) + 1, int)
    found = np.zeros(len(edges) + 1, int)
    for match, scale in matches:
        missed = set(match.misses(threshold))
        for index, hand in enumerate(match.hands):
            if hand.label != OPEN:
                continue
            bucket = int(np.searchsorted(edges, hand.size * scale, side="right"))
            hands[bucket] += 1
            found[bucket] += index not in missed
    return {name: {"hands": int(n), "found": int(f), "recall": ratio(f, n)}
            for name, n, f in zip(size_bucket_names(edges), hands, found)}


def false_alarms_per_image(matches: list[ImageMatch], threshold: float) -> float | None:
    """Detections at or above `threshold` that match no hand, per image: on hand-free images, every
    detection is one (the hard-negative metric)."""
    return ratio(sum(len(match.false_alarms(threshold)) for match in matches), len(matches))
