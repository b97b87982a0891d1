"""The outputs a run asked for (`output.*` settings), opened after every input has been checked."""
from __future__ import annotations

from pathlib import Path

from heatmapnet.errors import UserError
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


def same_file(a: Path, b: Path) -> bool:
    a, b = Path(a).expanduser(), Path(b).expanduser()
    if a.exists() and b.exists():
        return a.samefile(b)
    return a.resolve() == b.resolve()


def refuse_overwriting(outputs: list[Output], inputs: dict[str, Path]) -> None:
    """One error line when an output file is one of the run's inputs (`inputs`: what -> path), or when two
    outputs name the same file: checked before anything is opened, so nothing is lost."""
    files = [(output, output.file_path) for output in outputs if output.file_path is not None]
    for output, path in files:
        for what, source in inputs.items():
            if source is not None and same_file(path, source):
                raise UserError(f"the output {path} is the {what} of this run: writing it would destroy it; "
                                f"choose another output file")
    for index, (_, path) in enumerate(files):
        if any(same_file(path, other) for _, other in files[:index]):
            raise UserError(f"two outputs write {path}: give each its own file")


def open_outputs(outputs: list[Output], fps: float) -> None:
    """Open them all for a source of `fps` frames per second, or close those already open and re-raise."""
    opened = []
    try:
        for output in outputs:
            output.open(fps)
            opened.append(output)
    except BaseException:
        for output in opened:
            output.close(completed=False)
        raise
