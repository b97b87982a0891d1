"""The outputs a run asked for (`output.*` settings), opened after every input has been checked."""
from __future__ import annotations

from heatmapnet.outputs.base import Output
from heatmapnet.outputs.files import AnnotatedVideoWriter, JsonlWriter
from heatmapnet.outputs.osc import OscOutput
from heatmapnet.outputs.websocket import WebSocketOutput


def make_outputs(settings) -> list[Output]:
    """One Output per `output.*` setting that is not null, checked but not opened."""
    outputs: list[Output] = []
    if settings.get("jsonl"):
        outputs.append(JsonlWriter(settings["jsonl"]))
    if settings.get("video"):
        outputs.append(AnnotatedVideoWriter(settings["video"]))
    if settings.get("osc"):
        outputs.append(OscOutput(settings["osc"], mode=settings.get("osc_mode", "bundle"),
                                 units=settings.get("osc_units", "normalized"), hands=settings.get("osc_hands", 2)))
    if settings.get("websocket"):
        outputs.append(WebSocketOutput(settings["websocket"], jpeg_fps=settings.get("websocket_jpeg", 0)))
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
