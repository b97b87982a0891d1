"""After a fine-tune: the starting model and the fine-tuned one scored side by side on the held-out frames.

Each model is scored at the threshold a user would run it at: the starting model at the one stored in
its checkpoint, the fine-tuned model at the operating threshold its last validation chose (what
`python -m heatmapnet.train.release` ships). That threshold is picked on these same frames, so the
fine-tuned F1 is slightly optimistic; point AP does not depend on a threshold.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from heatmapnet.model.checkpoint import load_model
from heatmapnet.runtime.decode import DecodeConfig
from heatmapnet.train.engine import validate

ROWS = (  # metric key, label, format
    ("threshold", "threshold", ".3f"),
    ("f1", "F1", ".3f"),
    ("point_ap", "point AP", ".3f"),
    ("precision", "precision", ".3f"),
    ("recall", "recall", ".3f"),
    ("median_error_px", "median error (px, input)", ".1f"),
    ("empty_frame_false_alarms", "false alarms on no-hand frames", "d"),
)


def compare_with_start(start_checkpoint, model, criterion, loader, device, target, tuned_decode: DecodeConfig,
                       tuned_threshold: float | None) -> dict[str, dict]:
    """{"start": metrics, "fine-tuned": metrics} on `loader`'s frames (network-input pixels)."""
    start, payload = load_model(start_checkpoint, device)
    start_decode = DecodeConfig(**payload.get("decode", {}))
    threshold = tuned_decode.threshold if tuned_threshold is None else tuned_threshold
    scored = {}
    for name, net, decode in (("start", start, start_decode),
                              ("fine-tuned", model, replace(tuned_decode, threshold=threshold))):
        scored[name], _ = validate(net, criterion, loader, device, net.stride, decode, target)
    return scored


def comparison_table(scored: dict[str, dict], start_name: str, part: str) -> list[str]:
    """Console lines: one metric per row, the two models in columns."""
    first = next(iter(scored.values()))
    lines = [f"held-out {part}: {first.get('images', 0)} ({first.get('hands', 0)} hands, "
             f"{first.get('empty_frames', 0)} labelled 'no hands here')",
             f"{'':32}{'start (' + start_name + ')':>28}{'fine-tuned':>14}"]
    for key, label, spec in ROWS:
        values = ["n/a" if row.get(key) is None else format(row[key], spec) for row in scored.values()]
        lines.append(f"{label:32}{values[0]:>28}{values[1]:>14}")
    return lines


def log_comparison(writer, compared: dict[str, tuple[dict, list[str]]], out_dir: Path, step: int) -> None:
    """Per validation part: TensorBoard scalars `compare/<part>/<metric>/<model>` and the table as text;
    comparison.json beside the run ({part: {model: metrics}})."""
    for part, (scored, lines) in compared.items():
        tag = part.split(" (")[0].replace(" ", "_")
        for name, metrics in scored.items():
            for key, _, _ in ROWS:
                if metrics.get(key) is not None:
                    writer.add_scalar(f"compare/{tag}/{key}/{name}", metrics[key], step)
        writer.add_text(f"compare/{tag}", "\n".join(f"    {line}" for line in lines), step)
    (Path(out_dir) / "comparison.json").write_text(
        json.dumps({part: scored for part, (scored, _) in compared.items()}, indent=2) + "\n")
