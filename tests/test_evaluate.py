"""`python -m heatmapnet.evaluate` end to end on a tiny generated COCO folder with a random-weight model."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from heatmapnet.model.checkpoint import save_checkpoint
from heatmapnet.model.config import ModelConfig
from heatmapnet.model.network import HeatmapNet

FRAMES_PER_VIDEO = 3
VIDEOS = ("kitchen", "desk")


@pytest.fixture(scope="module")
def evaluate():
    import heatmapnet.evaluate.run

    return heatmapnet.evaluate.run


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Two videos of 160x120 frames with skin-coloured blobs as hands, one of them an `other` hand."""
    root = tmp_path_factory.mktemp("coco")
    (root / "images").mkdir()
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for video in VIDEOS:
        for frame in range(FRAMES_PER_VIDEO):
            image_id = len(images) + 1
            canvas = rng.integers(40, 90, (120, 160, 3), dtype=np.uint8)
            for k, (x, y) in enumerate(rng.uniform(25, 95, (2, 2))):
                w, h = rng.uniform(16, 30, 2)
                cv2.ellipse(canvas, (int(x), int(y)), (int(w / 2), int(h / 2)), 0, 0, 360, (120, 160, 220), -1)
                annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                    "bbox": [x - w / 2, y - h / 2, w, h], "ignore": image_id == 1 and k == 1})
            name = f"images/{video}_{frame}.jpg"
            cv2.imwrite(str(root / name), canvas)
            images.append({"id": image_id, "file_name": name, "width": 160, "height": 120, "video": video,
                           "frame_index": frame})
    (root / "annotations.json").write_text(json.dumps({"images": images, "annotations": annotations,
                                                       "categories": [{"id": 1, "name": "hand"}]}))
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "random.pt"
    config = ModelConfig(backbone="mobilenet_v2", stride=8, input_width=96, input_height=64, pretrained=None)
    torch.manual_seed(0)  # the same random weights whatever ran before: detections do not depend on test order
    save_checkpoint(path, HeatmapNet(config), decode={"threshold": 0.3, "top_k": 5})
    return path


OPEN_HANDS = len(VIDEOS) * FRAMES_PER_VIDEO * 2 - 1


def test_evaluate_writes_consistent_reports_and_a_sample_sheet(evaluate, dataset, checkpoint, tmp_path, capsys):
    out = tmp_path / "report"
    code = evaluate.main([f"checkpoint={checkpoint}", f"data={dataset}", "split_by_video=true", f"out={out}",
                          "threshold=0.1", "samples=5"])
    assert code == 0
    assert "frames per second" in capsys.readouterr().out

    report = json.loads((out / "report.json").read_text())
    overall = report["overall"]
    assert report["frames"] == overall["images"] == len(VIDEOS) * FRAMES_PER_VIDEO
    assert overall["hands"] == OPEN_HANDS and overall["tp"] + overall["fn"] == OPEN_HANDS
    assert overall["threshold"] == 0.1 and report["threshold_source"] == "argument"
    assert report["decode"]["top_k"] == 5 and report["decode"]["decode_threshold"] == 0.05
    # at most top_k detections per frame reach the counts
    assert overall["tp"] + overall["fp"] + overall["ignored"] <= 5 * report["frames"]
    for key in ("point_ap", "precision", "recall", "f1", "median_error_px", "median_error_size", "box_ap50", "box_ap"):
        assert key in overall
    assert overall["point_ap"] is not None and overall["box_ap50"] is not None  # the model has a size head

    assert sorted(report["per_video"]) == sorted(VIDEOS)
    for key in ("tp", "fp", "fn", "ignored", "hands", "images"):
        assert sum(video[key] for video in report["per_video"].values()) == overall[key]
    assert report["speed"]["fps"] > 0 and report["speed"]["ms"]["infer"] > 0
    assert report["model"]["input_width"] == 96

    markdown = (out / "report.md").read_text()
    assert "## Per video" in markdown and "| kitchen |" in markdown and "samples.png" in markdown

    sheet = cv2.imread(str(out / "samples.png"))
    assert sheet.shape == (2 * 240, 4 * 320, 3)  # 5 tiles in rows of 4
    assert sheet[:, 3 * 320:].max() > 0 and sheet[240:, 320:].max() == 0  # 5th tile drawn, the rest padding


def test_threshold_defaults_to_the_checkpoint_and_limit_spreads_frames(evaluate, dataset, checkpoint, tmp_path):
    out = tmp_path / "limited"
    assert evaluate.main([f"checkpoint={checkpoint}", f"data={dataset}", f"out={out}", "limit=2", "samples=0"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["frames"] == 2 and report["per_video"] == {}
    assert report["overall"]["threshold"] == 0.3 and report["threshold_source"] == "checkpoint"
    assert report["decode"]["refine"] == "weighted"  # the checkpoint's (default) refinement
    assert cv2.imread(str(out / "samples.png")).shape == (240, 320, 3)


@pytest.mark.parametrize("arguments, message", [
    (["data={data}"], "checkpoint=... is required"),
    (["checkpoint={tmp}/missing.pt", "data={data}"], "checkpoint not found"),
    (["checkpoint={checkpoint}", "data={tmp}/nowhere"], "data folder not found"),
    (["checkpoint={checkpoint}", "data={data}", "annotations=other.json"], "no other.json in"),
    (["checkpoint={checkpoint}", "data={data}", "thresold=0.3"], "bad argument: Key 'thresold'"),
    (["checkpoint={checkpoint}", "data={data}", "limit=many"], "bad argument"),
    (["checkpoint={checkpoint}", "data={data}", "threshold=0.01"], "decode_threshold (0.05) must not exceed"),
    (["checkpoint={checkpoint}", "{data}"], "arguments are key=value"),
    (["checkpoint={checkpoint}", "data={data}", "refine=median"], "refine must be one of weighted, quadratic"),
])
def test_mistakes_give_one_clear_line(evaluate, dataset, checkpoint, tmp_path, capsys, arguments, message):
    argv = [a.format(data=dataset, checkpoint=checkpoint, tmp=tmp_path) for a in arguments]
    assert evaluate.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message in error and "\n" not in error


def test_refine_overrides_the_checkpoints_refinement(evaluate, checkpoint, tmp_path):
    """Overlapping 60 px hands every 20 px: a peak of the random model anywhere on the frame lies within 15 px of a
    hand centre, inside the 30 px match radius, so both refinements match hands and their errors can be compared."""
    root = tmp_path / "hand_grid"
    grid = [(x, y) for x in range(10, 160, 20) for y in range(10, 120, 20)]
    (root / "images").mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "frame.jpg"), np.random.default_rng(1).integers(0, 255, (120, 160, 3), np.uint8))
    (root / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "images/frame.jpg", "width": 160, "height": 120}],
        "annotations": [{"id": k + 1, "image_id": 1, "bbox": [x - 30, y - 30, 60, 60]}
                        for k, (x, y) in enumerate(grid)],
        "categories": [{"id": 1, "name": "hand"}]}))
    reports = {}
    for refine in ("argmax", "quadratic"):
        out = tmp_path / refine
        assert evaluate.main([f"checkpoint={checkpoint}", f"data={root}", f"out={out}", "samples=0",
                              "threshold=0.05", f"refine={refine}"]) == 0
        reports[refine] = json.loads((out / "report.json").read_text())
    assert reports["argmax"]["decode"]["refine"] == "argmax"
    assert reports["quadratic"]["decode"]["refine"] == "quadratic"
    assert min(reports["argmax"]["overall"]["tp"], reports["quadratic"]["overall"]["tp"]) > 0
    assert reports["argmax"]["overall"]["median_error_px"] != reports["quadratic"]["overall"]["median_error_px"]


def test_help_prints_the_usage(evaluate, capsys):
    assert evaluate.main(["--help"]) == 0
    assert "checkpoint=PATH data=FOLDER" in capsys.readouterr().out


def test_split_val_evaluates_only_the_frames_training_held_out(evaluate, dataset, tmp_path):
    from heatmapnet.data.coco import CocoReader
    from heatmapnet.data.registry import datasets_in
    from heatmapnet.data.split import split_samples

    data = {"name": "blobs", "reader": "coco", "root": str(dataset), "options": {}, "split": {"by": "video",
                                                                                              "val_fraction": 0.5}}
    path = tmp_path / "trained.pt"
    config = ModelConfig(backbone="mobilenet_v2", stride=8, input_width=96, input_height=64, pretrained=None)
    save_checkpoint(path, HeatmapNet(config), decode={"threshold": 0.3}, meta={"data": data, "seed": 3})
    _, expected = split_samples(CocoReader().read(dataset), seed=3, **data["split"])
    assert list(datasets_in(data)) == ["blobs"]
    assert evaluate.main([f"checkpoint={path}", f"data={dataset}", "split=val", f"out={tmp_path / 'r'}"]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["frames"] == len(expected) == FRAMES_PER_VIDEO  # one whole video of the two


def test_split_needs_a_checkpoint_trained_on_that_folder(evaluate, dataset, checkpoint, capsys):
    assert evaluate.main([f"checkpoint={checkpoint}", f"data={dataset}", "split=val"]) == 2
    assert "split=val needs the training metadata" in capsys.readouterr().err


def test_hand_free_crops_count_every_detection_as_a_false_alarm_per_image(evaluate, dataset, checkpoint, tmp_path):
    assert evaluate.main([f"checkpoint={checkpoint}", f"data={dataset}", "hand_free=1", "threshold=0.05",
                          f"out={tmp_path}"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    overall = report["overall"]
    assert report["frames"] > 0 and overall["hands"] == 0 and overall["tp"] == 0
    assert report["false_alarms_per_image"] == pytest.approx(overall["fp"] / report["frames"])
    assert "False alarms per image" in (tmp_path / "report.md").read_text()


def test_recall_by_size_counts_every_open_hand_once(evaluate, dataset, checkpoint, tmp_path):
    assert evaluate.main([f"checkpoint={checkpoint}", f"data={dataset}", f"out={tmp_path}"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    buckets = report["recall_by_size"]
    assert sum(b["hands"] for b in buckets.values()) == report["overall"]["hands"] == OPEN_HANDS
    assert sum(b["found"] for b in buckets.values()) == report["overall"]["tp"]
    assert buckets["<24"]["hands"] == OPEN_HANDS  # 16-30 px blobs in 160x120 frames shrink to 8-16 px at 96x64


def test_split_from_takes_the_held_out_frames_of_another_checkpoint(evaluate, dataset, checkpoint, tmp_path):
    data = {"name": "blobs", "reader": "coco", "root": str(dataset), "options": {}, "split": {"by": "video",
                                                                                              "val_fraction": 0.5}}
    trained = tmp_path / "trained.pt"
    config = ModelConfig(backbone="mobilenet_v2", stride=8, input_width=96, input_height=64, pretrained=None)
    save_checkpoint(trained, HeatmapNet(config), decode={"threshold": 0.3}, meta={"data": data, "seed": 3})
    assert evaluate.main([f"checkpoint={checkpoint}", f"data={dataset}", "split=val", f"split_from={trained}",
                          f"out={tmp_path / 'r'}"]) == 0
    assert json.loads((tmp_path / "r" / "report.json").read_text())["frames"] == FRAMES_PER_VIDEO


def test_split_follows_a_dataset_that_moved_by_its_folder_name(evaluate, dataset, tmp_path):
    """A run trained on a copy of the folder (the frames packed for a GPU machine) splits the original the same way."""
    from heatmapnet.data.coco import CocoReader
    from heatmapnet.data.split import split_samples

    split = {"by": "video", "val_fraction": 0.5}
    moved = {"name": "blobs", "reader": "coco", "root": str(tmp_path / "elsewhere" / dataset.name), "options": {},
             "split": split}
    path = tmp_path / "trained.pt"
    config = ModelConfig(backbone="mobilenet_v2", stride=8, input_width=96, input_height=64, pretrained=None)
    save_checkpoint(path, HeatmapNet(config), decode={"threshold": 0.3}, meta={"data": moved, "seed": 3})
    _, expected = split_samples(CocoReader().read(dataset), seed=3, **split)
    assert evaluate.main([f"checkpoint={path}", f"data={dataset}", "split=val", f"out={tmp_path / 'r'}"]) == 0
    assert json.loads((tmp_path / "r" / "report.json").read_text())["frames"] == len(expected) == FRAMES_PER_VIDEO
    renamed = {**moved, "root": str(tmp_path / "other_name")}
    save_checkpoint(path, HeatmapNet(config), decode={"threshold": 0.3}, meta={"data": renamed, "seed": 3})
    assert evaluate.main([f"checkpoint={path}", f"data={dataset}", "split=val", f"out={tmp_path / 'r'}"]) == 2


def test_a_fine_tune_finds_the_held_out_frames_of_the_data_it_replayed(evaluate, dataset, tmp_path):
    """A fine-tune on the user's own clip replays the starting model's data split as the start split it
    (`replay.split_seed`): `split=val` on that data is the starting model's held-out frames, not the fine-tune's."""
    from heatmapnet.data.coco import CocoReader
    from heatmapnet.data.split import split_samples

    split = {"by": "video", "val_fraction": 0.5}
    original = {"name": "blobs", "reader": "coco", "root": str(dataset), "options": {}, "split": split}
    own = {"name": "clip", "reader": "annotations", "root": str(tmp_path / "clip.hands.json"), "options": {}}
    path = tmp_path / "finetuned.pt"
    config = ModelConfig(backbone="mobilenet_v2", stride=8, input_width=96, input_height=64, pretrained=None)
    held_out = {seed: {s.video for s in split_samples(CocoReader().read(dataset), seed=seed, **split)[1]}
                for seed in range(8)}
    seeds = [min(held_out), next(seed for seed in held_out if held_out[seed] != held_out[min(held_out)])]
    for split_seed in seeds:  # each start's split, whatever the fine-tune's own seed (9)
        save_checkpoint(path, HeatmapNet(config), decode={"threshold": 0.3},
                        meta={"data": own, "seed": 9, "replay": {"data": original, "split_seed": split_seed}})
        out = tmp_path / f"r{split_seed}"
        assert evaluate.main([f"checkpoint={path}", f"data={dataset}", "split=val", "split_by_video=true",
                              f"out={out}"]) == 0
        report = json.loads((out / "report.json").read_text())
        assert report["frames"] == FRAMES_PER_VIDEO and set(report["per_video"]) == held_out[split_seed]
