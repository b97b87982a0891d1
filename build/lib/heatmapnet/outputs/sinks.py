"""The outputs a run asked for (`output.*` settings), opened after every input has been checked."""
from __future__ import annotations

from heatmapnet.outputs.base import Output
from heatmapnet.outputs.files import AnnotatedVideoWriter, JsonlWriter


def make_outputs(settings) -> list[Output]:
    """One Output per `output.*` setting that is not null, checked but not opened."""
    outputs: list[Output] = []
    if settings.get("jsonl"):
        outputs.append(JsonlWriter(settings["jsonl"]))
    if settings.get("video"):
        outputs.append(AnnotatedVideoWriter(settings["video"]))
    return outputs


def open_outputs(outputs: list[Output], fps: float) -> None:
    """Open them all for a source of `fps` frames per second, or close those already open and re-raise."""
    opened = []
    try:
        for output in outputs:
            output.open(fps)
            opened.append(output)
    except BaseException:
        for output in opened:
            output.close()
        raise
