"""Fine-tuning the shipped model on a scene it has not seen: how many labelled frames, how many CPU minutes?

    nice -n 10 python experiments/finetune/run.py [frames=25,50,100,200] [seed=0] [out=outputs/finetune]

Results go to experiments/finetune/results_seed<S>.json (and .md); finished N are kept, so a rerun only adds
what is missing. Reports and runs go under `out`. A variant of the recipe: `variant=NAME overrides="k=v ..."`
(extra train.py overrides; its rows are keyed N<frames>-NAME, in results_seed<S>-NAME.json).
`select=errors` picks the labelled frames as a user who first watches the shipped model on the footage would: half
the runs start where it misses a hand or fires on something else, the rest spread evenly (the default `even`
spreads them all); watching the pool once is added to the labelling time.

The scene: webcam4's `1hand`, `hand` and `volctl` phone videos re-filmed by a filming-like transform (camera on
its side, so the frames are landscape with hands entering sideways; 426x240 like a cheap webcam; dim, warm light;
sensor noise), written as mp4 videos. Its labels are webcam4's MediaPipe boxes carried through the same
transform, standing in for what a user would place with the annotator. Per video, the first 60 % of the frames
are the labelling pool, then 30 frames are skipped, and the rest are the test frames (never labelled).

For each N, the user labels N frames of the pool in runs of 5 consecutive frames (label-and-go) spread evenly
over it, in `.hands.json` files beside the videos; then the documented command runs as is:

    python train.py experiment=finetune data=annotations data.root=LABELS threads=1 train.num_workers=0
    python -m heatmapnet.train.release checkpoint=RUN/checkpoints/last.pt out=RUN/mine.pt

(the documented recipe replays a sample of the shipped model's training data beside the labels: variant
`no_replay` turns that off) and the result is scored against the shipped model on the test frames and on the
shipped model's own validation splits (egohands4's 100 frames, 300 of webcam10's 1,449 evenly spaced, webcam4's
137, 150 of hagrid1336's 268), with
`python -m heatmapnet.evaluate`'s code. CPU minutes are
the training process's user+system time (the machine is shared, so wall time says little).
Labelling minutes use the Keystroke-Level Model figures measured on webcam4 by experiments/flow_propagation:
label-and-go 2.18 s per frame, plus per run going to its first frame (M + 5 K = 2.75 s) and placing its hands
(3.75 s each).
"""
from __future__ import annotations

import hashlib
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from annotator.store import Store  # noqa: E402
from heatmapnet.cli import parse_options, run_tool  # noqa: E402
from heatmapnet.data.coco import CocoReader  # noqa: E402
from heatmapnet.data.hands import Hand  # noqa: E402
from heatmapnet.data.hands_json import Annotations, Marker, relative_video  # noqa: E402
from heatmapnet.errors import UserError  # noqa: E402
from heatmapnet.evaluate.metrics import PointMetrics  # noqa: E402
from heatmapnet.evaluate.run import parse_args, run  # noqa: E402
from heatmapnet.model.checkpoint import load_model, read_checkpoint, save_checkpoint  # noqa: E402
from heatmapnet.pipeline import HandTracker  # noqa: E402

WEBCAM4 = REPO.parent / "shared" / "data" / "webcam4"
SHIPPED = REPO / "heatmapnet" / "shipped" / "heatmapnet.pt"
SCENE_VIDEOS = ("1hand", "hand", "volctl")  # 2hand is the shipped model's webcam4 validation video: left alone
OWN_VALIDATION = {"egohands4": [], "webcam10": ["limit=300"], "webcam4": [],  # webcam10: 300 frames evenly spaced
                  "hagrid1336": ["limit=150"]}  # hagrid1336: 150 of its 268 validation photos
POOL_FRACTION, GAP, RUN_LENGTH, FPS, SCALE = 0.6, 30, 5, 30.0, 0.5
LABEL_AND_GO_S, GO_TO_FRAME_S, ADD_HAND_S = 2.18, 2.75, 3.75


def refilm(image_bgr: np.ndarray, index: int, seed: int) -> np.ndarray:
    """The same moment filmed by another camera: on its side, low resolution, dim warm light, sensor noise."""
    rotated = cv2.rotate(image_bgr, cv2.ROTATE_90_CLOCKWISE)
    small = cv2.resize(rotated, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_AREA).astype(np.float32)
    dim = 255.0 * (small / 255.0) ** 1.4 * 0.75
    warm = dim * np.float32([0.75, 0.95, 1.15])  # BGR
    noise = np.random.default_rng([seed, index]).normal(0.0, 6.0, warm.shape).astype(np.float32)
    return np.clip(warm + noise, 0, 255).astype(np.uint8)


def refilmed_hand(hand: Hand, height: int) -> Hand:
    """A hand of the portrait frame in the rotated, scaled frame (x' = H - y, y' = x; width and height swap)."""
    return Hand((height - hand.y) * SCALE, hand.x * SCALE, hand.h * SCALE, hand.w * SCALE, hand.label)


def prepare(out: Path, seed: int) -> dict:
    """Write the scene's videos and test folder once; return per video the labelled hands of every frame."""
    samples = CocoReader(empty_images="drop").read(WEBCAM4)  # frames without a MediaPipe box: unlabelled
    scene: dict[str, dict[int, list[Hand]]] = {}
    test_images, test_boxes = [], []
    (out / "scene").mkdir(parents=True, exist_ok=True)
    for video in SCENE_VIDEOS:
        frames = sorted((s for s in samples if s.video == video), key=lambda s: s.frame_index)
        scene[video] = {s.frame_index: [refilmed_hand(h, s.height) for h in s.hands] for s in frames}
        count = 1 + max(scene[video])
        path = out / "scene" / f"{video}.mp4"
        first_test = math.ceil(POOL_FRACTION * count) + GAP
        if not path.is_file():
            writer = None
            for index in range(count):
                image = cv2.imread(str(WEBCAM4 / "images" / video / f"{index:06d}.jpg"))
                frame = refilm(image, index, seed)
                if writer is None:
                    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS,
                                             (frame.shape[1], frame.shape[0]))
                writer.write(frame)
                if index >= first_test and index in scene[video]:
                    name = f"images/{video}/{index:06d}.jpg"
                    (out / "test" / name).parent.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(out / "test" / name), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
                    test_images.append({"id": len(test_images) + 1, "file_name": name, "width": frame.shape[1],
                                        "height": frame.shape[0], "video": video, "frame_index": index})
                    test_boxes += [{"id": len(test_boxes) + 1, "image_id": len(test_images), "category_id": 1,
                                    "bbox": [h.x - h.w / 2, h.y - h.h / 2, h.w, h.h], "iscrowd": 0}
                                   for h in scene[video][index]]
            writer.release()
    if test_images:
        (out / "test" / "annotations.json").write_text(json.dumps(
            {"images": test_images, "annotations": test_boxes, "categories": [{"id": 1, "name": "hand"}]}))
    return scene


def pool(frames: dict[int, list[Hand]]) -> list[int]:
    count = 1 + max(frames)
    return [i for i in sorted(frames) if i < math.ceil(POOL_FRACTION * count) - 1]


def pool_errors(scene: dict, out: Path) -> dict[str, dict[int, int]]:
    """Per video, the shipped model's errors (missed hands + false alarms, at its threshold) on each pool frame, as
    a user watching its output over the footage would see them."""
    detector = HandTracker(str(SHIPPED), runtime="torch", threads=1).detector
    errors = {}
    for video in SCENE_VIDEOS:
        candidates, capture, index = set(pool(scene[video])), cv2.VideoCapture(str(out / "scene" / f"{video}.mp4")), 0
        errors[video] = {}
        while candidates - errors[video].keys():
            ok, frame = capture.read()
            if not ok:
                break
            if index in candidates:
                match = PointMetrics().update(detector(frame), scene[video][index])
                errors[video][index] = match.errors(SHIPPED_THRESHOLD)
            index += 1
        capture.release()
    return errors


def run_starts(candidates: list[int], runs: int, errors: dict[int, int] | None) -> list[int]:
    """Positions in `candidates` where the label-and-go runs start: spread evenly, or (with `errors`) half of them
    at the frames with the most errors first, runs not overlapping, the rest each as far from the others as it can
    be (a split by time needs labels all along the video: errors cluster where the footage gets hard)."""
    if errors is None:
        return np.linspace(0, len(candidates) - RUN_LENGTH, runs).round().astype(int).tolist()
    starts: list[int] = []
    for position in sorted(range(len(candidates)), key=lambda p: (-errors.get(candidates[p], 0), p)):
        if len(starts) == math.ceil(runs / 2) or not errors.get(candidates[position], 0):
            break
        position = min(position, len(candidates) - RUN_LENGTH)
        if all(abs(position - start) >= RUN_LENGTH for start in starts):
            starts.append(position)
    positions = range(len(candidates) - RUN_LENGTH + 1)
    while len(starts) < runs:  # each further run as far as possible from those chosen: spread over the video
        starts.append(max(positions, key=lambda p: min((abs(p - start) for start in starts), default=p)))
    return sorted(starts)


def label(scene: dict, frames: int, folder: Path, out: Path, errors: dict | None = None) -> dict:
    """`frames` labelled frames in runs of RUN_LENGTH over each video's pool, as .hands.json files; the effort
    (with `errors`: runs where the shipped model errs, plus the time to watch the pool once)."""
    folder.mkdir(parents=True, exist_ok=True)
    shares = np.diff(np.linspace(0, frames, len(SCENE_VIDEOS) + 1).round().astype(int))
    effort, labelled = 0.0, 0
    for video, share in zip(SCENE_VIDEOS, shares):
        candidates = pool(scene[video])
        runs = max(1, math.ceil(share / RUN_LENGTH))
        starts = run_starts(candidates, runs, None if errors is None else errors[video])
        if errors is not None:
            effort += len(candidates) / FPS
        last = len(candidates) - 1
        chosen = sorted({candidates[min(s + k, last)] for s in starts for k in range(RUN_LENGTH)})[:share]
        markers = {i: tuple(Marker(n + 1, h.x, h.y, h.size / 2) for n, h in enumerate(scene[video][i])) for i in chosen}
        path = folder / f"{video}.hands.json"
        count = 1 + max(scene[video])
        video_file = relative_video(path, out / "scene" / f"{video}.mp4")
        Store(path).save(Annotations(video_file, 426, 240, FPS, count, markers))
        effort += len(chosen) * LABEL_AND_GO_S + runs * GO_TO_FRAME_S
        effort += sum(ADD_HAND_S * len(scene[video][candidates[s]]) for s in starts)
        labelled += len(chosen)
    return {"frames": labelled, "labelling_minutes": round(effort / 60, 1)}


def fine_tune(labels: Path, run_dir: Path, seed: int, overrides: list[str]) -> dict:
    """The documented command (plus `overrides` for variants), timed in CPU seconds of the child processes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "train.py", "experiment=finetune", "data=annotations", f"data.root={labels}",
                    "threads=1", "train.num_workers=0", f"seed={seed}", *overrides, f"out_dir={run_dir}"],
                   cwd=REPO, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    subprocess.run([sys.executable, "-m", "heatmapnet.train.release",
                    f"checkpoint={run_dir / 'checkpoints' / 'last.pt'}", f"out={run_dir / 'mine.pt'}"],
                   cwd=REPO, check=True)
    comparison = json.loads((run_dir / "comparison.json").read_text())
    return {"cpu_minutes": round(cpu / 60, 1), "wall_minutes": round((time.perf_counter() - started) / 60, 1),
            "threshold": read_checkpoint(run_dir / "mine.pt")["decode"]["threshold"],
            "training_validation": comparison}


def with_shipped_split(checkpoint: Path, out: Path) -> Path:
    """A copy of `checkpoint` carrying the shipped model's training-data metadata (and, for a shipped fine-tune,
    the data it replayed), so that evaluate's `split=val` selects exactly the shipped model's validation frames."""
    model, payload = load_model(checkpoint)
    shipped_meta = read_checkpoint(SHIPPED)["meta"]
    meta = {**payload.get("meta", {}), "data": shipped_meta["data"], "seed": shipped_meta["seed"],
            "replay": shipped_meta.get("replay")}
    save_checkpoint(out, model, payload["decode"], meta)
    return out


def score(checkpoint: Path, name: str, out: Path) -> dict:
    """F1 etc. on the scene's test frames and on each of the shipped model's validation splits."""
    keys = ("f1", "point_ap", "precision", "recall", "median_error_px", "hands", "images")
    common = [f"checkpoint={checkpoint}", "runtime=torch", "threads=1"]
    test = run(parse_args([*common, f"data={out / 'test'}", "split_by_video=true",
                           f"out={out / 'reports' / name / 'test'}"]))
    result = {"test": {k: test["overall"][k] for k in keys},
              "test_per_video": {v: m["f1"] for v, m in test["per_video"].items()}}
    splittable = with_shipped_split(checkpoint, out / "reports" / name / "with_shipped_split.pt")
    for dataset, limit in OWN_VALIDATION.items():
        report = run(parse_args([f"checkpoint={splittable}", "runtime=torch", "threads=1", "split=val", *limit,
                                 f"data={REPO.parent / 'shared' / 'data' / dataset}",
                                 f"out={out / 'reports' / name / dataset}"]))
        result[dataset] = {k: report["overall"][k] for k in keys}
    return result


SHIPPED_THRESHOLD = read_checkpoint(SHIPPED)["decode"]["threshold"]


def shown(value, spec=".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def summary(results: dict) -> str:
    """Two Markdown tables of a results file (the shipped model, then one row per N): the new scene's test
    frames, and the shipped model's own validation splits."""
    def misses(test):
        return round(test["hands"] * (1 - (test["recall"] or 0.0)))

    order = ["shipped"] + sorted((k for k in results if k != "shipped"), key=lambda k: (int(k[1:].split("-")[0]), k))
    scene = ["| model | labelled frames | labelling min | fine-tune CPU min | threshold | test F1 | point AP | "
             "precision | recall | misses | median error px | F1 at the test's best threshold |", "|---" * 12 + "|"]
    own = ["| model | " + " | ".join(f"{d} F1 | {d} point AP" for d in OWN_VALIDATION) + " |",
           "|---" * (1 + 2 * len(OWN_VALIDATION)) + "|"]
    for key in order:
        row, test = results[key], results[key]["test"]
        best = row.get("test_best_threshold") or {}
        scene.append(f"| {key} | {row.get('frames', 0)} | {row.get('labelling_minutes', '')} | "
                     f"{row.get('cpu_minutes', '')} | {row.get('threshold', SHIPPED_THRESHOLD)} | {shown(test['f1'])} | "
                     f"{shown(test['point_ap'])} | {shown(test['precision'])} | {shown(test['recall'])} | "
                     f"{misses(test)} of {test['hands']} | {shown(test['median_error_px'], '.1f')} | "
                     f"{shown(best.get('f1'))} at {shown(best.get('threshold'), '.2f')} |")
        own.append(f"| {key} | " + " | ".join(f"{shown(row[d]['f1'])} | {shown(row[d]['point_ap'])}"
                                             for d in OWN_VALIDATION) + " |")
    return "\n".join(scene) + "\n\n" + "\n".join(own) + "\n"


def with_best_thresholds(results: dict, out: Path, seed: int) -> dict:
    """Each row's test F1 at the threshold that is best on the test frames themselves (an upper bound: what a
    well-chosen threshold would give), read from the evaluation reports."""
    for key, row in results.items():
        report = out / "reports" / ("shipped" if key == "shipped" else f"seed{seed}-{key}") / "test" / "report.json"
        if report.is_file():
            row["test_best_threshold"] = json.loads(report.read_text())["best_threshold"]
    return results


def shipped_identity() -> str:
    """The shipped checkpoint's content hash: results of another shipped model are not reused as the baseline."""
    return hashlib.sha256(SHIPPED.read_bytes()).hexdigest()[:10]


def unaveraged(run_dir: Path, out: Path, name: str) -> dict:
    """The same run's fine-tuned weights before `average_with_init` (checkpoints/tuned.pt), released at their
    own operating threshold and scored like the result: what the average changed."""
    released = run_dir / "tuned_mine.pt"
    subprocess.run([sys.executable, "-m", "heatmapnet.train.release",
                    f"checkpoint={run_dir / 'checkpoints' / 'tuned.pt'}", f"out={released}"], cwd=REPO, check=True)
    return {"threshold": read_checkpoint(released)["decode"]["threshold"], **score(released, name, out)}


def main(argv: list[str]) -> None:
    options = parse_options(argv, {"frames": "25,50,100,200", "seed": 0, "out": str(REPO / "outputs" / "finetune"),
                                   "variant": "", "overrides": "", "select": "even"}, "finetune experiment")
    if options["select"] not in ("even", "errors"):
        raise UserError(f"select must be even or errors, got {options['select']!r}")
    overrides = options["overrides"].split()  # e.g. overrides="model.freeze_layers=14" variant=head_only
    out = Path(options["out"]).absolute()
    base_path = Path(__file__).with_name(f"results_seed{options['seed']}.json")
    results_path = base_path.with_stem(f"{base_path.stem}-{options['variant']}") if options["variant"] else base_path
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    if "shipped" not in results and base_path.is_file():  # a variant reuses the shipped model's scores
        results["shipped"] = json.loads(base_path.read_text()).get("shipped")
    scene = prepare(out, 0)
    identity = shipped_identity()
    if (results.get("shipped") or {}).get("identity") != identity:
        results["shipped"] = {"identity": identity, **score(SHIPPED, "shipped", out)}
        results_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"shipped model on the refilmed scene: F1 {results['shipped']['test']['f1']:.3f}", flush=True)
    errors = None  # select=errors: the shipped model's errors on the pool, the same for every N, found once
    for frames in (int(n) for n in str(options["frames"]).split(",")):
        key = f"N{frames}" + (f"-{options['variant']}" if options["variant"] else "")
        if key in results:
            continue
        base = out / f"seed{options['seed']}" / key
        if options["select"] == "errors" and errors is None:
            errors = pool_errors(scene, out)
        effort = label(scene, frames, base / "labels", out, errors)
        tuned = fine_tune(base / "labels", base / "run", int(options["seed"]), overrides)
        tuned["overrides"] = overrides
        results[key] = {**effort, **tuned, **score(base / "run" / "mine.pt", f"seed{options['seed']}-{key}", out)}
        results_path.write_text(json.dumps(results, indent=2) + "\n")
        print(f"{key}: F1 {results[key]['test']['f1']:.3f} on the test frames, {tuned['cpu_minutes']} CPU minutes",
              flush=True)
        if (base / "run" / "checkpoints" / "tuned.pt").is_file():
            results[f"{key}-unaveraged"] = {**effort, "cpu_minutes": tuned["cpu_minutes"], **unaveraged(
                base / "run", out, f"seed{options['seed']}-{key}-unaveraged")}
            results_path.write_text(json.dumps(results, indent=2) + "\n")
    results_path.write_text(json.dumps(with_best_thresholds(results, out, int(options["seed"])), indent=2) + "\n")
    table = summary(results)
    results_path.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    sys.exit(run_tool(main))
