"""Turn a training checkpoint into a model to ship: weights, model config and decode settings, without the
optimiser state (a third of the size), with the operating threshold chosen on the validation split.

Usage: `python -m heatmapnet.train.release checkpoint=runs/NAME/checkpoints/last.pt out=heatmapnet/shipped/heatmapnet.pt
[threshold=validation|T] [refine=weighted|quadratic|quarter|argmax] [onnx=true|false]`

Beside the `.pt` it writes the ONNX copy (`heatmapnet.onnx` next to `heatmapnet.pt`), which the default
tracking runtime (ONNX Runtime) loads directly: `python track.py checkpoint=models/mine.onnx` (or the .pt,
exported once into a cache).

Short runs leave sigmoid scores well below 0.5 on real hands, so the training default of 0.5 can miss most
of them; `threshold=validation` (the default) takes the threshold that the run's last validation stored in the
checkpoint: the highest one whose F1 is within 0.01 of the best (older checkpoints: the F1-optimal one).
That threshold is chosen on the validation frames, so F1 figures at it are optimistic for those frames.
"""
from __future__ import annotations

import sys
from pathlib import Path

from heatmapnet.cli import REQUIRED, parse_options, run_tool
from heatmapnet.errors import UserError
from heatmapnet.export.quantize import int8_name
from heatmapnet.export.to_onnx import export_model
from heatmapnet.model.checkpoint import load_model, save_checkpoint
from heatmapnet.runtime.decode import checked_refine
from heatmapnet.writable import writable_file


def operating_threshold(meta: dict, choice: str, checkpoint) -> float:
    """The threshold to ship: the one the last validation stored (top of the F1 plateau), or the user's number."""
    if choice == "validation":
        val = meta.get("val") or {}
        best = val.get("operating_threshold", val.get("best_threshold"))
        if best is None:
            raise UserError(f"{checkpoint} stores no validation threshold (was it trained with a validation split?); "
                            f"pass threshold=T")
        return round(float(best), 3)
    try:
        value = float(choice)
    except ValueError:
        raise UserError(f"threshold={choice}: expected `validation` or a number in [0, 1]") from None
    if not 0.0 <= value <= 1.0:
        raise UserError(f"threshold must be within [0, 1], got {value}")
    return value


def release(checkpoint, out, threshold: str = "validation", refine: str | None = None, onnx: bool = True) -> dict:
    """Write the shippable copy of `checkpoint` to `out` (`refine`: None keeps the checkpoint's) and, with
    `onnx`, its ONNX export beside it; returns its decode settings."""
    checked_refine(refine)
    if Path(out).suffix != ".pt":
        raise UserError(f"out={out}: name the .pt file to write (the .onnx copy is written beside it)")
    writable_file(out, "the released model")
    model, payload = load_model(checkpoint)
    meta = payload.get("meta") or {}
    decode = {**payload.get("decode", {}), "threshold": operating_threshold(meta, threshold, checkpoint)}
    if refine is not None:
        decode["refine"] = refine
    save_checkpoint(out, model, decode, {**meta, "released_from": str(checkpoint), "threshold_source": threshold})
    if onnx:
        export_model(out, onnx_copy(out))
    stale = int8_name(onnx_copy(out))
    if stale.exists():  # an int8 copy of the model just replaced: precision=auto would run it on VNNI CPUs
        stale.unlink()
        print(f"removed {stale}, the int8 copy of the replaced model; make a new one with `python -m "
              f"heatmapnet.export.quantize model={onnx_copy(out)} data=FOLDER` (until then track.py runs fp32)",
              file=sys.stderr)
    return decode


def onnx_copy(out) -> Path:
    """Where the ONNX copy of a released `.pt` goes: the same name with `.onnx`."""
    return Path(out).with_suffix(".onnx")


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"checkpoint": REQUIRED, "out": REQUIRED, "threshold": "validation",
                                   "refine": None, "onnx": True}, "release")
    decode = release(options["checkpoint"], options["out"], options["threshold"], options["refine"], options["onnx"])
    size_kb = Path(options["out"]).stat().st_size / 1024
    print(f"wrote {options['out']} ({size_kb:.0f} KB), threshold {decode['threshold']} "
          f"({options['threshold']}), refine {decode.get('refine', 'weighted')}")
    if options["onnx"]:
        print(f"wrote {onnx_copy(options['out'])} (the ONNX copy that track.py's default runtime loads)")


if __name__ == "__main__":
    sys.exit(run_tool(main))
