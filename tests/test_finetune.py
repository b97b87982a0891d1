"""Your footage, your model: annotator labels -> `train.py experiment=finetune data=annotations` -> release ->
`track.py`, run as the README writes the commands, on a generated clip; plus the pieces it relies on (a
one-clip split by time, frozen early layers, clear errors, older label files). No ../shared needed."""
import json
import os
import subprocess
import sys

import pytest
import torch
from annotator_scenes import Disc, Scene
from helpers_video import write_random_checkpoint
from test_train import compose_train

from annotator.store import Store
from heatmapnet.config import REPO
from heatmapnet.data.hands import Sample
from heatmapnet.data.hands_json import Annotations, Marker
from heatmapnet.data.registry import make_reader
from heatmapnet.data.split import split_samples
from heatmapnet.errors import UserError
from heatmapnet.model.checkpoint import read_checkpoint, save_checkpoint
from heatmapnet.model.config import ModelConfig
from heatmapnet.model.network import HeatmapNet
from heatmapnet.train.average import average_with_start
from heatmapnet.train.loop import train

FRAMES = 40
SCENE = Scene([Disc(90.0, 80.0, 28.0, 2.0, 0.5), Disc(230.0, 170.0, 24.0, -1.0, 0.0)])  # never close: flow keeps both
NEGATIVES = (36, 38)  # frames the user marked "no hands here" (the discs are drawn, but this is about the file)
LABELLED = 31 + len(NEGATIVES)  # frame 0, 30 frames carried by flow, the negatives
SHRINK = ("train.epochs=1", "train.batch_size=4", "train.num_workers=0", "threads=1",
          "data.split.gap_frames=3")  # a 40-frame clip: a gap of 3 frames, not a second


@pytest.fixture(scope="module")
def labelled_clip(tmp_path_factory):
    """A clip and its .hands.json: frame 0 placed by hand, the rest carried by the annotator's --propagate."""
    folder = tmp_path_factory.mktemp("footage")
    clip = SCENE.write(folder / "clip.mp4", FRAMES)
    labels = folder / "clip.hands.json"
    first = tuple(Marker(i + 1, d.x, d.y, d.r) for i, d in enumerate(SCENE.discs))
    Store(labels).save(Annotations("clip.mp4", SCENE.width, SCENE.height, 10.0, FRAMES, {0: first}))
    done = command("-m", "annotator", str(clip), "--propagate", "30", "--from", "0")
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(labels.read_text())
    assert len(data["frames"]) == 31, done.stdout  # flow carried both discs all the way
    data["frames"].update({str(i): [] for i in NEGATIVES})
    labels.write_text(json.dumps(data))
    return clip, labels


def command(*arguments, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=600)


def test_label_finetune_release_track_as_the_readme_writes_it(labelled_clip, tmp_path):
    clip, labels = labelled_clip
    run = tmp_path / "run"
    done = command(str(REPO / "train.py"), "experiment=finetune", "data=annotations", f"data.root={labels}",
                   *SHRINK, f"out_dir={run}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "starting from the weights of" in done.stdout and "heatmapnet.pt" in done.stdout
    assert "false alarms on no-hand frames" in done.stdout  # the side-by-side table
    comparison = json.loads((run / "comparison.json").read_text())["your frames"]
    assert set(comparison) == {"start", "fine-tuned"}
    assert comparison["start"]["empty_frames"] == len(NEGATIVES)  # both negatives fall in the held-out part
    assert comparison["start"]["images"] == comparison["fine-tuned"]["images"] > len(NEGATIVES)
    payload = read_checkpoint(run / "checkpoints" / "last.pt")
    assert payload["model_config"]["freeze_layers"] == 7 and payload["meta"]["data"]["split"]["by"] == "time"
    assert payload["meta"]["replay"]["split_seed"] == 0  # evaluate split=val finds the replayed sets' held-out frames
    assert payload["meta"]["averaged_with_init"]["share"] == 0.3 and "averaged with the starting weights" in done.stdout
    start = read_checkpoint(REPO / "heatmapnet" / "shipped" / "heatmapnet.pt")["state_dict"]
    tuned = read_checkpoint(run / "checkpoints" / "tuned.pt")["state_dict"]
    moved = [name for name, value in tuned.items() if value.is_floating_point() and not torch.equal(value, start[name])]
    assert moved and not any(name.startswith("backbone.body.6.") for name in moved)  # frozen early layers stay
    for name in moved:
        assert torch.allclose(payload["state_dict"][name], 0.7 * tuned[name] + 0.3 * start[name], atol=1e-6)

    mine = tmp_path / "models" / "mine.pt"
    # threshold=T: one epoch on discs may find none of them, leaving validation no threshold to choose
    done = command("-m", "heatmapnet.train.release", f"checkpoint={run / 'checkpoints' / 'last.pt'}", f"out={mine}",
                   "threshold=0.3")
    assert done.returncode == 0, done.stderr[-3000:]
    assert mine.is_file() and mine.with_suffix(".onnx").is_file()

    tracks = tmp_path / "tracks.jsonl"
    done = command(str(REPO / "track.py"), f"checkpoint={mine.with_suffix('.onnx')}", f"source={clip}",
                   "display=false", f"output.jsonl={tracks}")
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in tracks.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(FRAMES))


def test_averaging_with_the_start_mixes_floating_tensors_and_keeps_counters():
    torch.manual_seed(0)
    tuned, start = HeatmapNet(ModelConfig(pretrained=None)), HeatmapNet(ModelConfig(pretrained=None))
    start.train()(torch.rand(2, 3, 64, 64))  # BatchNorm statistics and counters differ from `tuned`'s
    before = {name: value.clone() for name, value in tuned.state_dict().items()}
    average_with_start(tuned, start.state_dict(), 0.25)
    for name, value in tuned.state_dict().items():
        expected = (0.75 * before[name] + 0.25 * start.state_dict()[name] if value.is_floating_point()
                    else before[name])
        assert torch.allclose(value, expected, atol=1e-6), name
    with pytest.raises(ValueError, match="share"):
        average_with_start(tuned, start.state_dict(), 1.5)


@pytest.mark.parametrize("setting, message", [("average_with_init=0.3", "give init=PATH"),
                                              ("average_with_init=1.5", "between 0 and 1")])
def test_averaging_that_cannot_be_done_is_refused_before_training(labelled_clip, tmp_path, setting, message):
    _, labels = labelled_clip
    with pytest.raises(UserError, match=message):
        train(compose_train("data=annotations", f"data.root={labels}", "model.pretrained=null", setting, *SHRINK,
                            f"out_dir={tmp_path}"))
    assert not (tmp_path / "checkpoints").exists()


def test_plain_training_on_one_clip_validates_on_its_last_frames(labelled_clip, tmp_path):
    """The README's `train.py data=annotations data.root=clip.hands.json`: it used to die on reader options."""
    _, labels = labelled_clip
    result = train(compose_train("data=annotations", f"data.root={labels}", "model.pretrained=null", *SHRINK,
                                 f"out_dir={tmp_path}"))
    meta = read_checkpoint(result["last"])["meta"]
    assert meta["val"]["images"] == 7 == -(-LABELLED // 5)  # the last fifth of the labelled frames (26-30, 36, 38)
    assert result["best"].is_file()


def test_one_clip_split_by_video_leaves_nothing_to_validate_a_clear_error(labelled_clip, tmp_path):
    _, labels = labelled_clip
    with pytest.raises(UserError, match="no validation frames: splitting by video .* data.split.by=time"):
        train(compose_train("data=annotations", f"data.root={labels}", "data.split.by=video",
                            "model.pretrained=null", *SHRINK, f"out_dir={tmp_path}"))
    assert not (tmp_path / "checkpoints").exists()


def test_finetune_from_a_checkpoint_of_another_architecture_is_one_error_line(labelled_clip, tmp_path):
    _, labels = labelled_clip
    other = write_random_checkpoint(tmp_path / "stride8.pt")  # mobilenet_v2 stride 8; finetune builds stride 16
    done = command(str(REPO / "train.py"), "experiment=finetune", "data=annotations", f"data.root={labels}",
                   f"init={other}", *SHRINK, f"out_dir={tmp_path / 'run'}")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot start from") and "stride-8" in lines[0]


def test_a_label_file_of_the_first_annotator_still_loads(labelled_clip, tmp_path):
    """Version 1 as first written: no current_frame, markers without source or uncertain."""
    clip, _ = labelled_clip
    old = tmp_path / "old.hands.json"
    old.write_text(json.dumps({"version": 1, "video": os.path.relpath(clip, tmp_path), "width": 320, "height": 240,
                               "fps": 10.0, "frame_count": FRAMES,
                               "frames": {"3": [{"id": 1, "x": 99.0, "y": 84.5, "r": 28.0, "label": "open"}],
                                          "5": []}}))
    samples = make_reader("annotations").read(old)
    assert [(s.frame_index, [(h.x, h.y, h.w, h.label) for h in s.hands]) for s in samples] == [
        (3, [(99.0, 84.5, 56.0, "open")]), (5, [])]


def test_split_by_time_keeps_a_gap_per_video_and_says_when_a_clip_is_too_short():
    samples = [Sample(hands=[], image_path=f"/{video}.mp4", video=video, frame_index=i, meta={"video_frame": True})
               for video, count in (("a", 100), ("b", 50)) for i in range(count)]
    train_part, val = split_samples(samples, 0.2, seed=0, by="time", gap_frames=10)
    assert sorted((s.video, s.frame_index) for s in val) == [("a", i) for i in range(80, 100)] + [
        ("b", i) for i in range(40, 50)]
    assert max(s.frame_index for s in train_part if s.video == "a") == 69
    assert max(s.frame_index for s in train_part if s.video == "b") == 29
    with pytest.raises(UserError, match="cannot split video 'b' .* by time: its 50 labelled frame"):
        split_samples(samples, 0.2, seed=0, by="time", gap_frames=40)


def test_frozen_early_layers_stay_as_loaded_while_the_rest_learns():
    model = HeatmapNet(ModelConfig(backbone="mobilenet_v2", stride=16, pretrained=None, freeze_layers=7))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    model(torch.rand(2, 3, 64, 96))["heatmap"].sum().backward()
    optimizer.step()
    after = model.state_dict()
    frozen = [k for k in after if k.startswith("backbone.body.") and int(k.split(".")[2]) < 7]
    trained = [k for k in after if k.startswith("backbone.body.7.") and "weight" in k]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)  # batch-norm statistics included
    assert trained and any(not torch.equal(before[k], after[k]) for k in trained)
    with pytest.raises(UserError, match="freeze_layers must be in \\[0, 14\\]"):
        HeatmapNet(ModelConfig(backbone="mobilenet_v2", stride=16, pretrained=None, freeze_layers=15))


def test_a_network_with_blocks_left_out_starts_from_the_full_ones_weights(labelled_clip, tmp_path):
    """Issue 11's cheaper networks: `model.skip_blocks` trains from a full checkpoint's other layers; the
    reverse (a slim checkpoint into a fuller network) has no weights to give and is refused."""
    _, labels = labelled_clip
    full = HeatmapNet(ModelConfig(stride=16))
    save_checkpoint(tmp_path / "full.pt", full)
    result = train(compose_train("experiment=finetune", "data=annotations", f"data.root={labels}",
                                 f"init={tmp_path / 'full.pt'}", "model.skip_blocks=[10,13]", *SHRINK,
                                 f"out_dir={tmp_path / 'slim'}"))
    payload = read_checkpoint(result["last"])
    assert list(payload["model_config"]["skip_blocks"]) == [10, 13]
    assert not any(key.startswith(("backbone.body.10.", "backbone.body.13.")) for key in payload["state_dict"])
    frozen = [key for key in payload["state_dict"] if key.startswith("backbone.body.0.")]  # finetune freezes it
    assert frozen and all(torch.allclose(payload["state_dict"][k].float(), full.state_dict()[k].float(), atol=1e-6)
                          for k in frozen)  # (and averages the result with its start: equal up to rounding)
    with pytest.raises(UserError, match=r"no weights for its left-out blocks \[13\]"):
        train(compose_train("experiment=finetune", "data=annotations", f"data.root={labels}",
                            f"init={result['last']}", "model.skip_blocks=[10]", *SHRINK, f"out_dir={tmp_path / 'x'}"))
    with pytest.raises(UserError, match=r"cannot resume .* leaves out blocks \[10, 13\], the config \[10\]"):
        train(compose_train("experiment=finetune", "data=annotations", f"data.root={labels}",
                            f"resume={result['last']}", "model.skip_blocks=[10]", *SHRINK, f"out_dir={tmp_path / 'x'}"))
