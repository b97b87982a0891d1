"""One propagation step: a frame's markers carried to its neighbour with optical flow and merged there.

Shared by the window (`2`, `1`, Enter, `p`) and headless `--propagate`, so both make the same
decisions. Merging never overrides the user: a manual marker on the target frame is kept, and a
frame the user labelled by hand gets no new hands, only refreshed flow markers of the same ids.
"""
from __future__ import annotations

from dataclasses import dataclass

from heatmapnet.data.hands_json import FLOW, MANUAL, Annotations, Marker

from .flow import FlowConfig, track


@dataclass(frozen=True)
class Step:
    target: int  # the frame that was written (the source frame when nothing was carried)
    changed: bool
    stop: str | None  # why automatic propagation must not go on from `target`, if it must not


def carry(video, annotations: Annotations, frame: int, direction: int, config: FlowConfig = FlowConfig()) -> Step:
    """Carry the markers of `frame` to `frame + direction`; raises FrameError if a frame does not decode."""
    target = frame + direction
    if not 0 <= target < annotations.frame_count:
        return Step(frame, False, "reached the end of the video")
    markers = annotations.markers(frame)
    if not markers:
        return Step(frame, False, f"frame {frame} has no hands to carry")
    by_hand = annotations.is_labelled_by_hand(target)
    moved = track(video.frame(frame), video.frame(target), markers, config)
    merged = merge(annotations.markers(target), moved, add_new=not by_hand)
    annotations.frames[target] = merged
    lost = [m.id for m in merged if m.source == FLOW and m.uncertain]
    if lost:
        stop = f"flow lost hand {', '.join(map(str, lost))} at frame {target}: move it to the hand, or delete it"
    elif by_hand:
        stop = f"frame {target} is labelled by hand"
    else:
        stop = None
    return Step(target, True, stop)


def merge(existing, moved, add_new: bool) -> tuple[Marker, ...]:
    """Markers of a frame after flow brings `moved` there: manual markers win, flow markers are refreshed."""
    result = {m.id: m for m in existing}
    for marker in moved:
        current = result.get(marker.id)
        if current is None and add_new or current is not None and current.source != MANUAL:
            result[marker.id] = marker
    return tuple(result[i] for i in sorted(result))
