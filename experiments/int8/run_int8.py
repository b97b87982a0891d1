"""What static int8 quantisation costs in accuracy and gains in speed, on a validation split.

    python experiments/int8/run_int8.py checkpoint=PATH data=FOLDER [annotations=annotations.json]
        [val_fraction=0.25] [seed=0] [split=video] [frames=100] [calibration=minmax] [threads=2] [out=DIR]

The checkpoint is exported to ONNX and quantised with onnxruntime on `frames` frames of the *training*
side of the split (calibration never sees a validation frame). PyTorch, onnxruntime fp32 and
onnxruntime int8 then run the tracking detector on every validation frame, one after the other on
the same decoded image, and report point metrics at the checkpoint's threshold (point AP from
detections down to 0.05), the median end-to-end time per frame, and how many fp32 peaks int8
reproduces within one pixel. Results go to DIR/results.json and a Markdown table on stdout.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as in benchmarks/bench_runtimes.py: fair PyTorch timings

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from heatmapnet.cli import REQUIRED, parse_options, run_tool  # noqa: E402
from heatmapnet.data.coco import CocoReader  # noqa: E402
from heatmapnet.data.loading import load_rgb  # noqa: E402
from heatmapnet.data.split import split_samples  # noqa: E402
from heatmapnet.errors import UserError  # noqa: E402
from heatmapnet.evaluate.metrics import PointMetrics  # noqa: E402
from heatmapnet.export.quantize import quantize_model  # noqa: E402
from heatmapnet.export.to_onnx import export_model  # noqa: E402
from heatmapnet.runtime.detector import HandDetector  # noqa: E402
from heatmapnet.runtime.runtimes import open_runtime  # noqa: E402

RANKING_THRESHOLD = 0.05  # decode this low so point AP sees the whole ranking
AGREEMENT_PX = 1.0


def calibration_images(samples, config, count: int) -> list[np.ndarray]:
    """RGB frames at the model input size from `count` samples spread evenly over `samples`."""
    picks = np.unique(np.linspace(0, len(samples) - 1, min(count, len(samples))).round().astype(int))
    frames = []
    for index in picks:
        rgb = load_rgb(samples[index])
        if rgb is not None:
            frames.append(config.transform_for(rgb.shape[1], rgb.shape[0]).apply(rgb))
    if not frames:
        raise UserError("no readable training frame for calibration")
    return frames


def reproduced(reference: np.ndarray, candidate: np.ndarray, threshold: float) -> tuple[int, int]:
    """(reference peaks above threshold, how many have a candidate peak above threshold within AGREEMENT_PX)."""
    reference, candidate = reference[reference[:, 2] >= threshold], candidate[candidate[:, 2] >= threshold]
    if len(reference) == 0 or len(candidate) == 0:
        return len(reference), 0
    distances = np.linalg.norm(reference[:, None, :2] - candidate[None, :, :2], axis=2)
    return len(reference), int((distances.min(axis=1) <= AGREEMENT_PX).sum())


def main(argv: list[str]) -> None:
    options = parse_options(argv, {
        "checkpoint": REQUIRED, "data": REQUIRED, "annotations": "annotations.json", "val_fraction": 0.25,
        "seed": 0, "split": "video", "frames": 100, "calibration": "minmax", "threads": 2,
        "out": str(Path(__file__).resolve().parent / "results")}, "experiments/int8/run_int8.py")
    samples = CocoReader(annotations=options["annotations"]).read(Path(options["data"]))
    train, val = split_samples(samples, options["val_fraction"], options["seed"], by=options["split"])
    if not train or not val:
        raise UserError(f"the split left {len(train)} training and {len(val)} validation frames; "
                        f"change val_fraction or split")
    print(f"{len(samples)} frames: {len(train)} train (calibration), {len(val)} validation")
    cv2.setNumThreads(options["threads"])
    with tempfile.TemporaryDirectory() as folder:
        fp32 = export_model(options["checkpoint"], Path(folder) / "model.onnx")
        config = open_runtime("onnxruntime", fp32).model_config
        int8 = quantize_model(fp32, Path(folder) / "model.int8.onnx",
                              calibration_images(train, config, options["frames"]), options["calibration"])
        models = {"torch": ("torch", options["checkpoint"]), "onnxruntime fp32": ("onnxruntime", fp32),
                  "onnxruntime int8": ("onnxruntime", int8)}
        runtimes = {label: open_runtime(name, path, threads=options["threads"]) for label, (name, path) in models.items()}
    threshold = runtimes["torch"].decode_config.threshold
    detectors = {label: HandDetector(runtime, replace(runtime.decode_config, threshold=RANKING_THRESHOLD))
                 for label, runtime in runtimes.items()}
    metrics = {label: PointMetrics() for label in runtimes}
    seconds = {label: [] for label in runtimes}
    peaks, kept = 0, 0
    for sample in tqdm(val, desc="validation", unit="frame"):
        rgb = load_rgb(sample)
        if rgb is None:
            print(f"skipping unreadable {sample.image_path}")
            continue
        frame = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        found = {}
        for label, detector in detectors.items():
            started = time.perf_counter()
            found[label] = detector(frame)
            seconds[label].append(time.perf_counter() - started)
            metrics[label].update(found[label], sample.hands)
        counted = reproduced(found["onnxruntime fp32"], found["onnxruntime int8"], threshold)
        peaks, kept = peaks + counted[0], kept + counted[1]

    rows = {label: {**metrics[label].summary(threshold), "ms_per_frame": 1000 * float(np.median(seconds[label]))}
            for label in runtimes}
    results = {"checkpoint": str(options["checkpoint"]), "data": str(options["data"]), "options": options,
               "threshold": threshold, "validation_frames": len(seconds["torch"]), "runtimes": rows,
               "int8_reproduces_fp32_peaks": {"peaks": peaks, "within_1px": kept,
                                              "fraction": kept / peaks if peaks else None}}
    out = Path(options["out"]).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n| runtime | point F1 | precision | recall | point AP | median error px | ms/frame | speed vs fp32 |")
    print("|---|---|---|---|---|---|---|---|")
    for label, row in rows.items():
        cells = [row[key] for key in ("f1", "precision", "recall", "point_ap", "median_error_px")]
        print(f"| {label} | " + " | ".join("-" if v is None else f"{v:.3f}" for v in cells) +
              f" | {row['ms_per_frame']:.2f} | {rows['onnxruntime fp32']['ms_per_frame'] / row['ms_per_frame']:.2f}x |")
    share = results["int8_reproduces_fp32_peaks"]["fraction"]
    print(f"\nint8 reproduces {kept}/{peaks} fp32 peaks within {AGREEMENT_PX:g} px"
          + ("" if share is None else f" ({share:.1%})") + f"; wrote {out / 'results.json'}")


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
