"""Fine-tune the hand model on egocentric pointing hands and check it on serials it never saw.

The shipped model scores a pointing hand seen from behind (egogestar_dev, a finger drawing in the air)
at 0.02 or less in many clips, so the tracker loses the hand that draws the gesture. `hand_labels.csv`
holds 147 hands placed by eye on two frames of every clip (see README.md). This script:

1. writes the labels of the chosen training serials as `.hands.json` files (the annotator's format),
2. fine-tunes with the documented recipe (`experiment=finetune`, replay of the shipped model's own data),
   validating on whole clips (`data.split.by=video`: two frames per clip are too few to split by time),
3. releases the result and scores it beside the starting model on the held-out serials' hands
   (`heatmapnet.evaluate`, each model at its own threshold),
4. scores it on the starting model's held-out frames of its own datasets and their hand-free crops (the
   forgetting check), beside the starting model's own scores there.

The starting model is the shipped one unless `start=PATH` says otherwise (the runs in README.md started from
2eb4c07's: `git show 2eb4c07:heatmapnet/shipped/heatmapnet.pt > runs/shipped_2eb4c07.pt`, then
`start=runs/shipped_2eb4c07.pt`); results files call it `shipped`.

    S="start=runs/shipped_2eb4c07.pt threshold=0.3"
    python experiments/egocentric/run.py name=serials1-4 train_serials=1,2,3,4 test_serials=5,6,7 gestures=true $S
    python experiments/egocentric/run.py name=serials1-4_avg0.7 weights_from=serials1-4 mix=0.7 \
        train_serials=1,2,3,4 test_serials=5,6,7 gestures=true $S            # also mix=0.5
    python experiments/egocentric/run.py name=all train_serials=1,2,3,4,5,6,7 $S
    python experiments/egocentric/run.py name=all_avg0.7 weights_from=all mix=0.7 train_serials=1,2,3,4,5,6,7 $S

`threshold=` goes to `release` (default: chosen on the fine-tune's validation); a rerun of a name keeps its
trained weights and only releases and scores again; `weights_from=NAME` takes another run's trained weights;
`mix=M` ships M x fine-tuned + (1 - M) x starting weights (WiSE-FT, `experiments/generalisation/average.py`).

Outputs go to `outputs/egocentric/<name>/` (git-ignored); the scores to `results_<name>.json`.
`python experiments/egocentric/run.py table` writes the table of every results file into README.md.
"""
from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from annotator.store import Store, VideoInfo  # noqa: E402
from experiments.generalisation.run import DATASETS, held_out  # noqa: E402
from experiments.gestures.cache_tracks import cache_folder  # noqa: E402
from experiments.gestures.run import leave_one_serial_out, load_clips, tracker_coverage, variants  # noqa: E402
from heatmapnet.data.hands_json import Annotations, Marker, relative_video  # noqa: E402
from heatmapnet.evaluate.run import parse_args  # noqa: E402
from heatmapnet.evaluate.run import run as run_evaluate  # noqa: E402
from heatmapnet.sources.video import Video  # noqa: E402

HERE = Path(__file__).resolve().parent
CLIPS = ROOT.parent / "shared" / "data" / "egogestar_dev"
SHIPPED = ROOT / "heatmapnet" / "shipped" / "heatmapnet.pt"
DATA = ROOT.parent / "shared" / "data"


def labels_by_clip() -> dict[str, list[tuple[int, float, float, float]]]:
    clips = defaultdict(list)
    with (HERE / "hand_labels.csv").open() as file:
        for row in csv.DictReader(file):
            clips[row["clip"]].append((int(row["frame"]), float(row["x"]), float(row["y"]), float(row["r"])))
    return clips


def serial(clip: str) -> int:
    return int(clip.rsplit("_", 1)[1])


def write_label_files(clips: dict, serials: set[int], folder: Path) -> int:
    """One `.hands.json` per clip of `serials`, as the annotator would save it (manual markers)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for clip, hands in clips.items():
        if serial(clip) not in serials:
            continue
        video_file = CLIPS / "videos" / f"{clip}.mp4"
        info = VideoInfo.of(Video(video_file))
        path = folder / f"{clip}.hands.json"
        markers = {frame: (Marker(1, x, y, r),) for frame, x, y, r in hands}
        Store(path).save(Annotations(relative_video(path, video_file), info.width, info.height, info.fps,
                                     info.frame_count, markers, first_frame=info.first_frame))
        count += len(markers)
    return count


def write_coco(clips: dict, serials: set[int], folder: Path) -> int:
    """The labelled frames of `serials` as a COCO folder for `heatmapnet.evaluate` (box = the marker's circle)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for clip, hands in sorted(clips.items()):
        if serial(clip) not in serials:
            continue
        video = Video(CLIPS / "videos" / f"{clip}.mp4")
        for frame, x, y, r in hands:
            name = f"images/{clip}_{frame:04d}.jpg"
            cv2.imwrite(str(folder / name), video.frame(frame), [cv2.IMWRITE_JPEG_QUALITY, 95])
            images.append({"id": len(images) + 1, "file_name": name, "width": video.width, "height": video.height,
                           "video": clip})
            annotations.append({"id": len(annotations) + 1, "image_id": len(images), "category_id": 1,
                                "bbox": [x - r, y - r, 2 * r, 2 * r], "label": "open"})
    (folder / "annotations.json").write_text(json.dumps(
        {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "hand"}]}))
    return len(images)


def run(command: list[str], log: Path | None = None) -> str:
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if log:
        log.write_text(done.stdout + done.stderr)
    if done.returncode:
        sys.exit(f"error: {' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def evaluate(checkpoint: Path, folder: Path, label: str) -> dict:
    report = run_evaluate(parse_args([f"checkpoint={checkpoint}", f"data={folder}",
                                      f"out={folder.parent / f'eval_{label}'}", "threads=2"]))
    return {**report["overall"], "threshold": report["decode"]["threshold"], "recall_by_size": report["recall_by_size"]}


def scores_on_old_sets(model: Path, start: Path, out: Path) -> dict:
    """F1 on the frames `start` held out of each of its datasets, and false alarms per hand-free crop of them."""
    return {f"{dataset}_{kind}": held_out(model, DATA / dataset, out / f"eval_{dataset}_{kind}", start, threads=2,
                                          hand_free=crops)
            for dataset, hand_free in DATASETS.items() for kind, crops in (("val", None), ("hand_free", hand_free))}


def forgetting(model: Path, start: Path, out: Path) -> dict:
    """The forgetting check: the fine-tuned model's scores on the starting model's held-out frames and hand-free
    crops, beside the starting model's own (computed once per starting model, cached in outputs/egocentric)."""
    digest = hashlib.sha1(start.read_bytes()).hexdigest()[:10]
    cache = ROOT / "outputs" / "egocentric" / f"start-{digest}"
    if not (cache / "scores.json").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "scores.json").write_text(json.dumps(scores_on_old_sets(start, start, cache)))
    before = json.loads((cache / "scores.json").read_text())
    after = scores_on_old_sets(model, start, out)
    table = {}
    for dataset in DATASETS:
        free_before, free_after = before[f"{dataset}_hand_free"], after[f"{dataset}_hand_free"]
        table[dataset] = {"f1": after[f"{dataset}_val"]["f1"], "shipped_f1": before[f"{dataset}_val"]["f1"],
                          "false_alarms_per_image": free_after["fp"] / max(free_after["frames"], 1),
                          "shipped_false_alarms_per_image": free_before["fp"] / max(free_before["frames"], 1),
                          "hand_free_frames": free_after["frames"], "val_frames": after[f"{dataset}_val"]["frames"]}
        print(dataset, table[dataset], flush=True)
    return table


def gesture_scores(model: Path, test_serials: set[int]) -> dict:
    """The gesture study's chosen variant on tracks of `model`: templates leave one serial out, as in
    experiments/gestures/; accuracy over every serial and over the serials the detector never trained on."""
    onnx = model.with_suffix(".onnx")
    run([sys.executable, "experiments/gestures/cache_tracks.py", "--checkpoint", str(onnx)])
    clips = load_clips(cache_folder(onnx), DATA)
    config, with_none, _ = variants()["chosen"]
    answers = leave_one_serial_out(clips, config, with_none)["answers"]

    def right(serials=None) -> float | None:
        chosen = [a for a in answers if serials is None or serial(a["clip"]) in serials]
        return sum(a["answer"] == a["label"] for a in chosen) / len(chosen) if chosen else None

    coverage = tracker_coverage(clips)
    return {"settings": asdict(config), "accuracy": right(), "accuracy_test_serials": right(test_serials),
            "no_track_clips": coverage["no_track"], "main_track_frame_share_median":
            coverage["main_track_frame_share_median"]}


def shown(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def gestures(result: dict) -> str:
    if "gestures" not in result:
        return "-"
    before, after = result["gestures_start"], result["gestures"]
    return (f"{shown(before['accuracy_test_serials'])} ({before['accuracy']:.3f}) → "
            f"**{shown(after['accuracy_test_serials'])}** ({after['accuracy']:.3f})")


def table() -> str:
    """One row per results file: held-out egocentric F1 and the forgetting check, each beside the shipped model's."""
    lines = ["| run | trained on serials | mix | held-out serials: F1 (P / R), shipped → this | "
             + " | ".join(f"{d} F1" for d in DATASETS) + " | false alarms / hand-free crop"
             + " | gestures right, held-out serials (all serials), start → this |",
             "|---" * (6 + len(DATASETS)) + "|"]
    for path in sorted(HERE.glob("results_*.json")):
        result = json.loads(path.read_text())
        held_out = "-"
        if result.get("finetuned"):
            before, after = result["shipped"], result["finetuned"]
            held_out = (f"{result['test_serials']}: {before['f1']:.3f} ({before['precision']:.2f} / "
                        f"{before['recall']:.2f}) → **{after['f1']:.3f}** ({after['precision']:.2f} / "
                        f"{after['recall']:.2f})")
        rows = result["forgetting"]
        alarms = sum(rows[d]["false_alarms_per_image"] * rows[d]["hand_free_frames"] for d in DATASETS)
        shipped_alarms = sum(rows[d]["shipped_false_alarms_per_image"] * rows[d]["hand_free_frames"] for d in DATASETS)
        crops = sum(rows[d]["hand_free_frames"] for d in DATASETS)
        lines.append(f"| `{path.stem[len('results_'):]}` | {','.join(map(str, result['train_serials']))} | "
                     f"{result.get('mix', 1.0)} | {held_out} | "
                     + " | ".join(f"{rows[d]['shipped_f1']:.3f} → {rows[d]['f1']:.3f}" for d in DATASETS)
                     + f" | {shipped_alarms / crops:.3f} → {alarms / crops:.3f} ({crops}) | {gestures(result)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    if sys.argv[1:] == ["table"]:
        readme = HERE / "README.md"
        text = readme.read_text()
        start, end = text.index("<!-- results -->") + len("<!-- results -->\n"), text.index("<!-- /results -->")
        readme.write_text(text[:start] + table() + text[end:])
        return
    args = dict(arg.split("=", 1) for arg in sys.argv[1:])
    name = args["name"]
    train_serials = {int(s) for s in args["train_serials"].split(",") if s}
    test_serials = {int(s) for s in args.get("test_serials", "").split(",") if s}
    extra = args.get("overrides", "").split()
    threshold = args.get("threshold", "validation")
    mix = float(args.get("mix", 1.0))
    start = Path(args.get("start", SHIPPED)).resolve()
    out = ROOT / "outputs" / "egocentric" / name
    clips = labels_by_clip()
    labelled = write_label_files(clips, train_serials, out / "labels")
    print(f"{labelled} labelled frames of serials {sorted(train_serials)}", flush=True)
    trained = ROOT / "outputs" / "egocentric" / args.get("weights_from", name)
    last = trained / "run" / "checkpoints" / "last.pt"
    if not last.is_file():  # a rerun (another threshold or mix) keeps the trained weights
        run([sys.executable, "train.py", "experiment=finetune", "data=annotations", f"data.root={out / 'labels'}",
             "data.split.by=video", f"init={start}", f"out_dir={out / 'run'}", "threads=2",
             "average_with_init=0", *extra],  # `mix` below does the averaging, so a name holds the plain fine-tune
            out / "train_output.txt")
    if mix < 1.0:  # WiSE-FT: the starting and the fine-tuned weights, interpolated
        averaged = out / "averaged.pt"
        run([sys.executable, "experiments/generalisation/average.py", f"before={start}", f"after={last}",
             f"mix={mix}", f"out={averaged}"])
        last = averaged
    model = out / "heatmapnet.pt"
    run([sys.executable, "-m", "heatmapnet.train.release", f"checkpoint={last}", f"out={model}",
         f"threshold={threshold}"])
    result = {"train_serials": sorted(train_serials), "test_serials": sorted(test_serials), "labelled": labelled,
              "overrides": extra, "threshold": threshold, "mix": mix,
              "weights_from": args.get("weights_from", name),
              "start": str(start.relative_to(ROOT)) if start.is_relative_to(ROOT) else str(start), "model": str(model.relative_to(ROOT))}
    if test_serials:
        test = out / "test_coco"
        result["test_frames"] = write_coco(clips, test_serials, test)
        for label, checkpoint in (("shipped", start), ("finetuned", model)):
            metrics = evaluate(checkpoint, test, label)
            result[label] = metrics
            print(label, result[label], flush=True)
    result["forgetting"] = forgetting(model, start, out)
    if args.get("gestures", "false") == "true":
        result["gestures"] = gesture_scores(model, test_serials)
        result["gestures_start"] = gesture_scores(start, test_serials)
    (HERE / f"results_{name}.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
