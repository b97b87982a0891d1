"""Evaluate a checkpoint on a COCO hand dataset folder, through the same detector that tracking uses.

    python -m heatmapnet.evaluate checkpoint=PATH data=FOLDER [annotations=annotations.json]
        [split_by_video=true] [split=all|train|val] [out=DIR] [threshold=T] [decode_threshold=0.05]
        [limit=N] [runtime=onnxruntime|opencv|torch] [threads=N] [samples=12] [refine=weighted|quadratic|quarter|argmax]
        [split_from=CHECKPOINT] [hand_free=N]

`split=val` (or `train`) evaluates only the frames the checkpoint held out (or trained on): the
folder's reader options and the split are taken from the training config stored in the checkpoint
(or in `split_from`, to compare another model on the same frames).
`hand_free=N` evaluates hand-free crops of the frames with at least N labelled hands instead
(heatmapnet/data/hand_free.py: 1 for manual labels, 2 for MediaPipe's): every detection there is a
false alarm, reported per image. Recall is also reported per hand size in input pixels (<24, 24-48,
48-96, >=96).

Writes report.json, report.md and samples.png (worst frames first: hits green, misses red, false
alarms orange, `other` hands grey) to `out` (default outputs/evaluate/<data>-<checkpoint>).
Detections are decoded at `decode_threshold` (0.05) so point AP sees the whole ranking; precision,
recall and F1 use the operating `threshold` (default: the one stored in the checkpoint).
Speed is the median per-frame time of the detector stages (image loading excluded), `threads` threads.
"""
from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from tqdm import tqdm

from heatmapnet.data.coco import CocoReader
from heatmapnet.data.hand_free import HandFreeConfig, hand_free_crops
from heatmapnet.data.hands import OPEN, Sample
from heatmapnet.data.loading import load_rgb
from heatmapnet.data.registry import datasets_in, make_reader, split_of
from heatmapnet.errors import UserError
from heatmapnet.evaluate.metrics import (ImageMatch, PointMetrics, false_alarms_per_image, recall_by_size,
                                         size_bucket_names)
from heatmapnet.runtime.decode import checked_refine
from heatmapnet.runtime.detector import HandDetector
from heatmapnet.runtime.preprocess import FrameTransform
from heatmapnet.runtime.runtimes import default_threads, open_runtime
from heatmapnet.writable import writable_folder

NO_VIDEO = "(no video)"
STAGES = ("prepare", "infer", "decode")
HIT, MISS, FALSE_ALARM, IGNORED_HAND = (0, 200, 0), (0, 0, 255), (0, 165, 255), (150, 150, 150)  # BGR
TILE = (320, 240)


@dataclass
class EvaluateConfig:
    checkpoint: str = MISSING
    data: str = MISSING
    annotations: str = "annotations.json"  # relative to `data`
    split_by_video: bool = False
    split: str = "all"  # all | train | val (the checkpoint's own training split of this folder)
    out: Optional[str] = None
    threshold: Optional[float] = None  # operating threshold; None: the checkpoint's
    decode_threshold: float = 0.05  # nothing below it reaches the metrics
    limit: Optional[int] = None  # evaluate N frames spread evenly over the dataset
    runtime: Optional[str] = None  # None: onnxruntime for .onnx files, torch for .pt checkpoints
    threads: Optional[int] = None  # None: every core (at most 8), as in tracking
    samples: int = 12  # frames on the sample sheet
    refine: Optional[str] = None  # sub-pixel refinement; None: the checkpoint's
    split_from: Optional[str] = None  # checkpoint whose training split `split` refers to; None: `checkpoint`
    hand_free: Optional[int] = None  # evaluate hand-free crops of frames with >= this many labelled hands
    input_size: Optional[list[int]] = None  # network input [width, height]; None: the model's (as track.py)
    input_orientation: Optional[str] = None  # follow | fixed; None: the model's (as track.py)


def parse_args(argv: list[str]) -> EvaluateConfig:
    """key=value arguments -> a checked EvaluateConfig (every mistake is one UserError line)."""
    malformed = [arg for arg in argv if "=" not in arg]
    if malformed:
        raise UserError(f"arguments are key=value, got {malformed[0]!r} (see `python -m heatmapnet.evaluate --help`)")
    try:
        config = OmegaConf.merge(OmegaConf.structured(EvaluateConfig), OmegaConf.from_dotlist(argv))
    except OmegaConfBaseException as error:
        raise UserError(f"bad argument: {str(error).splitlines()[0]}; valid keys are "
                        f"{', '.join(EvaluateConfig.__dataclass_fields__)}") from None
    for key in ("checkpoint", "data"):
        if OmegaConf.is_missing(config, key):
            raise UserError(f"{key}=... is required: python -m heatmapnet.evaluate checkpoint=PATH data=FOLDER")
    config = OmegaConf.to_object(config)
    if config.threshold is not None and not 0.0 <= config.threshold <= 1.0:
        raise UserError(f"threshold must be within [0, 1], got {config.threshold}")
    if not 0.0 <= config.decode_threshold <= 1.0:
        raise UserError(f"decode_threshold must be within [0, 1], got {config.decode_threshold}")
    if config.limit is not None and config.limit < 1:
        raise UserError(f"limit must be a positive number of frames, got {config.limit}")
    checked_refine(config.refine)
    if config.hand_free is not None and config.hand_free < 1:
        raise UserError(f"hand_free must be a number of labelled hands >= 1, got {config.hand_free}")
    if config.samples < 0 or (config.threads is not None and config.threads < 1):
        raise UserError(f"samples must be >= 0 and threads >= 1, got samples={config.samples}, threads={config.threads}")
    return config


def load_samples(config: EvaluateConfig) -> list[Sample]:
    root = Path(config.data).expanduser()
    if not root.is_dir():
        raise UserError(f"data folder not found: {root} (pass data=FOLDER holding {config.annotations} and its images)")
    if not (root / config.annotations).is_file():
        raise UserError(f"no {config.annotations} in {root} (pass annotations=FILE relative to the data folder)")
    if config.split == "all":
        samples = CocoReader(annotations=config.annotations).read(root)
    else:
        samples = training_split(config, root)
    if config.hand_free is not None:
        samples = hand_free_crops(samples, HandFreeConfig(min_hands=config.hand_free))
    if not samples:
        raise UserError(f"{root / config.annotations} lists no usable images"
                        + ("" if config.hand_free is None else f" with {config.hand_free}+ hands to crop around"))
    if config.limit and config.limit < len(samples):
        picks = np.linspace(0, len(samples) - 1, config.limit).round().astype(int)
        samples = [samples[i] for i in np.unique(picks)]
    return samples


def training_split(config: EvaluateConfig, root: Path) -> list[Sample]:
    """This folder's train or val frames exactly as the checkpoint's training run split them."""
    if config.split not in ("train", "val"):
        raise UserError(f"split must be all, train or val, got {config.split!r}")
    from heatmapnet.model.checkpoint import read_checkpoint  # a .pt's training metadata: needs PyTorch

    checkpoint = config.split_from or config.checkpoint
    meta = read_checkpoint(checkpoint).get("meta", {})
    if not meta.get("data"):
        raise UserError(f"split={config.split} needs the training metadata of a .pt checkpoint; "
                        f"{checkpoint} has none (use split=all)")
    # its own data, then the data a fine-tune replayed (split as the starting model split it)
    configs = [(meta["data"], int(meta.get("seed", 0)))]
    if meta.get("replay"):
        configs.append((meta["replay"]["data"], int(meta["replay"]["split_seed"])))
    for data, seed in configs:
        source = trained_source(datasets_in(data).values(), root)
        if source is not None:
            samples = make_reader(source["reader"], **source.get("options", {})).read(root)
            train, val = split_of(samples, data, source, seed)
            return val if config.split == "val" else train
    raise UserError(f"{checkpoint} was not trained on {root}, so it has no {config.split} split of it "
                    f"(use split=all)")


def trained_source(sources, root: Path) -> dict | None:
    """The training data entry that read this folder: the one with its path, else the only one with its folder
    name (a run on a copy of the data, e.g. the frames packed for a GPU machine: a split depends on the frames'
    names and order, not on where the folder lies)."""
    sources = [source for source in sources if source.get("root")]
    for source in sources:
        if Path(source["root"]).resolve() == root.resolve():
            return source
    same_name = [source for source in sources if Path(source["root"]).name == root.resolve().name]
    return same_name[0] if len(same_name) == 1 else None


def runtime_for(model) -> str:
    """The runtime a model file needs when none is named: ONNX Runtime for exports, PyTorch for checkpoints."""
    return "onnxruntime" if Path(str(model)).suffix == ".onnx" else "torch"


@dataclass
class FrameResult:
    sample: Sample
    match: ImageMatch


def run(config: EvaluateConfig, pooled: PointMetrics | None = None) -> dict:
    """Detect on every frame, accumulate metrics overall and per video, write the three report files.
    `pooled` also receives every frame's outcome, to pool several datasets' evaluations."""
    out = writable_folder(config.out or default_out(config), "the evaluation reports")
    samples = load_samples(config)
    runtime = open_runtime(config.runtime or runtime_for(config.checkpoint), config.checkpoint, threads=config.threads)
    runtime.set_input(config.input_size, config.input_orientation)
    threshold = runtime.decode_config.threshold if config.threshold is None else config.threshold
    if config.decode_threshold > threshold:
        raise UserError(f"decode_threshold ({config.decode_threshold}) must not exceed threshold ({threshold})")
    refine = config.refine or runtime.decode_config.refine
    detector = HandDetector(runtime, replace(runtime.decode_config, threshold=config.decode_threshold, refine=refine))

    overall, per_video = PointMetrics(), defaultdict(PointMetrics)
    timings: dict[str, list[float]] = {stage: [] for stage in STAGES}
    results, unreadable = [], []
    for sample in tqdm(samples, desc="evaluate", unit="frame"):
        rgb = load_rgb(sample)
        if rgb is None:
            unreadable.append(sample.image_path)
            continue
        detections = timed_detect(detector, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), timings)
        results.append(FrameResult(sample, overall.update(detections, sample.hands)))
        if config.split_by_video:
            per_video[sample.video or NO_VIDEO].update(detections, sample.hands)
        if pooled is not None:
            pooled.update(detections, sample.hands)
    if not results:
        raise UserError(f"none of the {len(samples)} images could be read (first: {unreadable[0]})")

    best = overall.best_threshold()
    report = {
        "checkpoint": str(Path(config.checkpoint).expanduser().absolute()),
        "data": str(Path(config.data).expanduser().absolute()),
        "annotations": config.annotations,
        "runtime": runtime.name,
        "threads": config.threads or default_threads(),
        "model": {key: runtime.model_config.to_dict()[key]
                  for key in ("backbone", "stride", "input_width", "input_height", "resize", "orientation",
                              "size_head")},
        "decode": {**asdict(detector.decode_config), "threshold": threshold, "decode_threshold": config.decode_threshold},
        "threshold_source": "checkpoint" if config.threshold is None else "argument",
        "frames": len(results),
        "unreadable": unreadable,
        "overall": overall.summary(threshold),
        "false_alarms_per_image": false_alarms_per_image([result.match for result in results], threshold),
        "recall_by_size": recall_by_size(((result.match, input_scale(result.sample, runtime.model_config))
                                          for result in results), threshold),
        "best_threshold": None if best is None else {"threshold": best, "f1": overall.summary(best)["f1"]},
        "per_video": {video: metrics.summary(threshold) for video, metrics in sorted(per_video.items())},
        "speed": speed_summary(timings),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    (out / "report.md").write_text(markdown_report(report))
    cv2.imwrite(str(out / "samples.png"), sample_sheet(worst_first(results, threshold, config.samples), threshold))
    report["out"] = str(out)
    return report


def input_scale(sample: Sample, model_config) -> float:
    """Frame pixels -> network-input pixels (the geometric mean of the two axes' factors)."""
    sx, sy = model_config.transform_for(sample.width, sample.height).scale
    return float((sx * sy) ** 0.5)


def timed_detect(detector: HandDetector, frame_bgr: np.ndarray, timings: dict[str, list[float]]) -> np.ndarray:
    """HandDetector's own stages, one by one, so each can be timed (same result as detector(frame))."""
    start = time.perf_counter()
    image = detector.prepare(frame_bgr)
    prepared = time.perf_counter()
    logits, size = detector.infer(image)
    inferred = time.perf_counter()
    detections = detector.decode(logits, size, detector.transform_for(frame_bgr))
    decoded = time.perf_counter()
    for stage, (begin, end) in zip(STAGES, ((start, prepared), (prepared, inferred), (inferred, decoded))):
        timings[stage].append(1000.0 * (end - begin))
    return detections


def speed_summary(timings: dict[str, list[float]]) -> dict:
    """Median milliseconds per stage (robust to the first, slow call) and the frame rates they imply."""
    total = np.sum([timings[stage] for stage in STAGES], axis=0)
    ms = {stage: float(np.median(timings[stage])) for stage in STAGES}
    ms["total"] = float(np.median(total))
    return {"ms": ms, "fps": 1000.0 / ms["total"], "model_fps": 1000.0 / ms["infer"]}


def default_out(config: EvaluateConfig) -> Path:
    return Path("outputs") / "evaluate" / f"{Path(config.data).expanduser().absolute().name}-{Path(config.checkpoint).stem}"


def worst_first(results: list[FrameResult], threshold: float, count: int) -> list[FrameResult]:
    """The `count` frames with the most misses + false alarms (dataset order among equals)."""
    return sorted(results, key=lambda result: -result.match.errors(threshold))[:count]


def draw_frame(result: FrameResult, threshold: float) -> np.ndarray:
    """One sheet tile: the frame letterboxed to TILE with its hands and detections drawn on top."""
    sample, match = result.sample, result.match
    frame = cv2.cvtColor(load_rgb(sample), cv2.COLOR_RGB2BGR)
    transform = FrameTransform(frame.shape[1], frame.shape[0], *TILE)
    tile = transform.apply(frame)
    scale = transform.scale

    def point(x, y):
        return tuple(int(round(v)) for v in transform.to_input((x, y)))

    def box(hand, colour, thickness):
        half = hand.w * scale[0] / 2, hand.h * scale[1] / 2
        cx, cy = transform.to_input((hand.x, hand.y))
        cv2.rectangle(tile, (int(cx - half[0]), int(cy - half[1])), (int(cx + half[0]), int(cy + half[1])),
                      colour, thickness)

    missed = set(match.misses(threshold))
    for index, hand in enumerate(match.hands):
        box(hand, IGNORED_HAND if hand.label != OPEN else MISS if index in missed else HIT, 1 if hand.label != OPEN else 2)
    for d in match.hits(threshold):
        hand = match.hands[match.outcome[d]]
        cv2.line(tile, point(hand.x, hand.y), point(*match.detections[d, :2]), HIT, 1)
        cv2.circle(tile, point(*match.detections[d, :2]), 4, HIT, -1)
    for d in match.false_alarms(threshold):
        cv2.drawMarker(tile, point(*match.detections[d, :2]), FALSE_ALARM, cv2.MARKER_TILTED_CROSS, 12, 2)
    caption = (f"{sample.video or ''} {'' if sample.frame_index is None else sample.frame_index}  "
               f"miss {len(missed)}  false {len(match.false_alarms(threshold))}")
    cv2.rectangle(tile, (0, 0), (TILE[0], 16), (0, 0, 0), -1)
    cv2.putText(tile, caption.strip(), (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def sample_sheet(results: list[FrameResult], threshold: float, columns: int = 4) -> np.ndarray:
    """Tiles in rows of `columns`, padded with black; a single black tile when there is nothing to show."""
    tiles = [draw_frame(result, threshold) for result in results] or [np.zeros((TILE[1], TILE[0], 3), np.uint8)]
    columns = min(columns, len(tiles))
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % columns)
    return np.vstack([np.hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)])


COLUMNS = (("frames", "images", "{}"), ("hands", "hands", "{}"), ("point AP", "point_ap", "{:.3f}"),
           ("precision", "precision", "{:.3f}"), ("recall", "recall", "{:.3f}"), ("F1", "f1", "{:.3f}"),
           ("median error px", "median_error_px", "{:.1f}"), ("median error / size", "median_error_size", "{:.3f}"),
           ("box AP50", "box_ap50", "{:.3f}"), ("box AP", "box_ap", "{:.3f}"),
           ("TP", "tp", "{}"), ("FP", "fp", "{}"), ("FN", "fn", "{}"))


def metrics_table(rows: dict[str, dict]) -> list[str]:
    """Markdown table of metric summaries, one row per name; undefined values shown as '-'."""
    lines = ["| | " + " | ".join(title for title, _, _ in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, summary in rows.items():
        cells = ["-" if summary[key] is None else form.format(summary[key]) for _, key, form in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown_report(report: dict) -> str:
    model, speed, decode = report["model"], report["speed"], report["decode"]
    best = report["best_threshold"]
    lines = [
        f"# Evaluation of `{Path(report['checkpoint']).name}` on `{Path(report['data']).name}`",
        "",
        f"- checkpoint: `{report['checkpoint']}`",
        f"- data: `{report['data']}` ({report['annotations']}), {report['frames']} frames"
        + (f", {len(report['unreadable'])} unreadable" if report["unreadable"] else ""),
        f"- model: {model['backbone']} stride {model['stride']}, input {model['input_width']}x{model['input_height']} "
        f"({model['resize']}), runtime {report['runtime']}, {report['threads']} threads",
        f"- operating threshold {decode['threshold']} (from the {report['threshold_source']}); "
        f"AP over detections decoded down to {decode['decode_threshold']}, refine {decode['refine']}, top {decode['top_k']}",
        "- matching: a detection hits a hand within 0.5*sqrt(w*h) of its centre, one-to-one, greedy by score; "
        "`other` hands are ignored",
        "",
        "## Overall",
        "",
        *metrics_table({"all": report["overall"]}),
        "",
        "F1-optimal threshold on this data: "
        + ("-" if best is None else f"{best['threshold']:.3f} (F1 {best['f1']:.3f})"),
        "",
        f"False alarms per image at the operating threshold: {report['false_alarms_per_image']:.3f}",
        "",
        "## Recall by hand size (sqrt(w*h) in network-input pixels)",
        "",
        "| | " + " | ".join(size_bucket_names()) + " |",
        "|---" * (len(size_bucket_names()) + 1) + "|",
        "| hands | " + " | ".join(str(bucket["hands"]) for bucket in report["recall_by_size"].values()) + " |",
        "| recall | " + " | ".join("-" if bucket["recall"] is None else f"{bucket['recall']:.3f}"
                                  for bucket in report["recall_by_size"].values()) + " |",
        "",
    ]
    if report["per_video"]:
        lines += ["## Per video", "", *metrics_table(report["per_video"]), ""]
    lines += [
        "## Speed (median per frame, image loading excluded)",
        "",
        "| prepare ms | infer ms | decode ms | total ms | FPS | model-only FPS |",
        "|---|---|---|---|---|---|",
        f"| {speed['ms']['prepare']:.2f} | {speed['ms']['infer']:.2f} | {speed['ms']['decode']:.2f} | "
        f"{speed['ms']['total']:.2f} | {speed['fps']:.1f} | {speed['model_fps']:.1f} |",
        "",
        "## Sample frames, worst first",
        "",
        "Green: hits (box and detection); red: missed hands; orange crosses: false alarms; grey: `other` hands.",
        "",
        "![samples](samples.png)",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if {"-h", "--help", "help"} & set(argv):
        print(__doc__)
        return 0
    try:
        report = run(parse_args(argv))
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(metrics_table({"all": report["overall"], **report["per_video"]})))
    print(f"{report['speed']['fps']:.1f} frames per second; reports in {report['out']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
