"""`track.py` end to end: a generated video, an image folder, a real phone video where present, the
window under Xvfb, and one-line errors with exit status 2."""
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO, shared_path
from helpers_video import blob_frames, write_blob_video, write_random_checkpoint
from hydra import compose, initialize_config_dir

import track
from heatmapnet.errors import UserError
from heatmapnet.outputs.overlay import Trails, annotate, colour_for, heatmap_overlay
from heatmapnet.runtime.decode import DecodeConfig
from heatmapnet.runtime.detector import HandDetector
from heatmapnet.runtime.preprocess import FrameTransform
from heatmapnet.runtime.runtimes import open_runtime
from heatmapnet.tracking.tracker import TrackedHand, TrackerConfig

DETECTION_KEYS = {"x", "y", "score", "w", "h"}
TRACK_KEYS = {"id", "x", "y", "vx", "vy", "w", "h", "score", "age", "missed"}
POSE_KEYS = {"pose", "pose_score"}  # added to tracks and detections by the pose stage (on by default;
#                                    tests/test_pose.py checks them)
KEYPOINT_KEYS = {"keypoints", "handedness", "handedness_score"}  # the keypoint stage (on by default)


def config(*overrides):
    with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
        return compose("track", overrides=list(overrides))


def is_number(value, nullable=False):
    return (value is None and nullable) or (isinstance(value, (int, float)) and not isinstance(value, bool))


def check_record(record: dict, size_head: bool) -> None:
    """The issue's JSONL schema for one frame."""
    assert set(record) - {"file", "events"} == {"frame", "t", "width", "height", "detections", "tracks"}
    for event in record.get("events", []):  # e.g. a moving blob's stroke closed by the end of the source
        assert event["type"] == "gesture" and isinstance(event["name"], str) and is_number(event["score"])
    assert isinstance(record["frame"], int) and is_number(record["t"])
    assert isinstance(record["width"], int) and isinstance(record["height"], int)
    for detection in record["detections"]:
        assert set(detection) - POSE_KEYS == DETECTION_KEYS
        assert all(is_number(detection[k]) for k in ("x", "y", "score"))
        assert all(is_number(detection[k], nullable=not size_head) and (detection[k] is not None) == size_head
                   for k in ("w", "h"))
    for hand in record["tracks"]:
        assert set(hand) - KEYPOINT_KEYS - POSE_KEYS == TRACK_KEYS
        if "keypoints" in hand:
            assert len(hand["keypoints"]) == 21 and all(len(point) == 3 for point in hand["keypoints"])
            assert hand["handedness"] in ("left", "right")
        assert isinstance(hand["id"], int) and isinstance(hand["age"], int) and isinstance(hand["missed"], bool)
        assert all(is_number(hand[k]) for k in ("x", "y", "vx", "vy", "score"))
        assert all((hand[k] is not None) == size_head for k in ("w", "h"))


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    # An untrained network outputs ~0.1 everywhere: a low threshold gives peaks to decode and track.
    return write_random_checkpoint(tmp_path_factory.mktemp("model") / "random.pt", threshold=0.05)


def test_video_end_to_end_writes_one_valid_json_line_per_frame_and_the_annotated_video(tmp_path, checkpoint):
    video = write_blob_video(tmp_path / "clip.mp4", count=24, fps=24.0)
    cfg = config(f"checkpoint={checkpoint}", "runtime=torch", f"source={video}", "display=false", "heatmap=true",
                 f"output.jsonl={tmp_path}/out/tracks.jsonl", f"output.video={tmp_path}/out/annotated.mp4")
    summary = track.track(cfg)
    assert summary["frames"] == 24 and summary["dropped"] == 0
    assert set(summary["ms"]) == {"read", "wait", "preprocess", "model", "decode", "track", "pose", "keypoints",
                                  "gestures", "draw", "write"}  # the pipeline stages on by default
    records = read_jsonl(tmp_path / "out" / "tracks.jsonl")
    assert [r["frame"] for r in records] == list(range(24))
    np.testing.assert_allclose([r["t"] for r in records], np.arange(24) / 24.0, atol=1e-3)
    for record in records:
        check_record(record, size_head=True)
        assert (record["width"], record["height"]) == (320, 240)
    assert sum(len(r["tracks"]) for r in records) > 0
    # the detections are exactly what the detector finds on the decoded frames
    detector = HandDetector(open_runtime("torch", checkpoint, threads=2))
    capture = cv2.VideoCapture(str(video))
    for record in records[:3]:
        found = detector(capture.read()[1])
        np.testing.assert_allclose([[d[k] for k in ("x", "y", "score", "w", "h")] for d in record["detections"]],
                                   found, atol=0.01)
    output = cv2.VideoCapture(str(tmp_path / "out" / "annotated.mp4"))
    assert int(output.get(cv2.CAP_PROP_FRAME_COUNT)) == 24
    assert (output.get(cv2.CAP_PROP_FRAME_WIDTH), output.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (320, 240)


def test_image_folder_records_file_names_and_null_sizes_without_a_size_head(tmp_path):
    checkpoint = write_random_checkpoint(tmp_path / "nosize.pt", size_head=False, threshold=0.05)
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, image in enumerate(blob_frames(5, 160, 120)):
        cv2.imwrite(str(folder / f"frame_{index:03d}.png"), image)
    cfg = config(f"checkpoint={checkpoint}", f"source={folder}", "display=false", "fps=10",
                 "track.min_hits=1", f"output.jsonl={tmp_path}/tracks.jsonl")
    assert track.track(cfg)["frames"] == 5
    records = read_jsonl(tmp_path / "tracks.jsonl")
    assert [r["file"] for r in records] == [f"frame_{i:03d}.png" for i in range(5)]
    np.testing.assert_allclose([r["t"] for r in records], [0.0, 0.1, 0.2, 0.3, 0.4])
    for record in records:
        check_record(record, size_head=False)
    assert any(r["tracks"] for r in records)


def test_max_frames_and_input_size(tmp_path, checkpoint):
    video = write_blob_video(tmp_path / "clip.mp4", count=20)
    cfg = config(f"checkpoint={checkpoint}", f"source={video}", "display=false", "max_frames=6",
                 "input_size=[160,120]", f"output.jsonl={tmp_path}/tracks.jsonl")
    assert track.track(cfg)["frames"] == 6
    assert len(read_jsonl(tmp_path / "tracks.jsonl")) == 6


@pytest.mark.parametrize("look_ahead, limit, expected", [
    (True, None, [([0, 1], False), ([2, 3], False), ([4], True)]),  # a file: its end is seen one batch ahead
    (True, 3, [([0, 1], False), ([2], True)]),
    (False, 3, [([0, 1], False), ([2], True)]),  # a camera: only max_frames ends it knowingly
    (False, None, [([0, 1], False), ([2, 3], False), ([4], False)]),
])
def test_batches_say_which_one_ends_the_input(look_ahead, limit, expected):
    assert list(track.batches(iter(range(5)), 2, limit, look_ahead)) == expected


def test_config_file_lists_the_library_defaults():
    cfg = config()
    assert dict(cfg.track) | {"one_euro": dict(cfg.track.one_euro)} == dataclasses.asdict(TrackerConfig())
    assert set(cfg.decode) == {field.name for field in dataclasses.fields(DecodeConfig)}
    assert cfg.checkpoint is None and cfg.runtime == "onnxruntime" and cfg.source == 0


@pytest.mark.parametrize("override, message", [
    ("track.min_hits=abc", r"track\.min_hits: Value 'abc' of type 'str' could not be converted to Integer"),
    ("track.smoother=median", r"track: smoother must be one of"),
    ("decode.refine=centroid", r"decode: refine must be one of"),
    ("input_size=[320]", r"input_size must be \[width, height\]"),
    ("input_orientation=sideways", r"input_orientation must be one of follow, fixed"),
    ("output.video=out.gif", r"output\.video .*out\.gif: unsupported extension '\.gif'"),
    ("source=nowhere/clip.mp4", r"source not found: nowhere/clip\.mp4"),
    ("source=", r"no source given"),
    ("threads=0", r"threads must be a positive integer"),
])
def test_bad_settings_are_user_errors(checkpoint, override, message):
    with pytest.raises(UserError, match=message):
        track.track(config(f"checkpoint={checkpoint}", "display=false", override))


def test_display_true_without_a_display_says_what_to_do(checkpoint, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert track.use_display(None) is False
    with pytest.raises(UserError, match=r"no display is available .* display=false, or run under xvfb-run"):
        track.track(config(f"checkpoint={checkpoint}", "display=true"))


def run_cli(*arguments, cwd=REPO, env=None, timeout=120):
    return subprocess.run([sys.executable, str(REPO / "track.py"), *arguments], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_missing_repo_relative_checkpoint_is_one_line_from_any_directory(tmp_path):
    missing = REPO / "models" / "not-shipped.pt"  # relative paths fall back to the repo, as the default does
    result = run_cli("display=false", "checkpoint=models/not-shipped.pt", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: checkpoint not found: models/not-shipped.pt nor ")
    assert str(missing) in result.stderr
    assert "checkpoint=PATH" in result.stderr


@pytest.mark.parametrize("setting, message", [
    ("track.max_agee=3", r"error: Could not override 'track\.max_agee'\. Key 'max_agee' is not in struct"),
    ("source=[1", r"error: cannot parse the setting 'source=\[1': .* \(expected key=value\)"),
])
def test_bad_command_line_is_one_line(tmp_path, setting, message):
    result = run_cli(setting, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert re.match(message, result.stderr)


def cuda_visible() -> bool:
    import torch  # the training install is the tests' install; the tracking path itself must not import it
    return torch.cuda.is_available()


@pytest.mark.skipif(cuda_visible(), reason="a GPU is present: device=cuda works here")
@pytest.mark.parametrize("runtime, message", [
    ("torch", r"error: device=cuda but PyTorch sees no CUDA GPU .*: use device=cpu"),
    ("onnxruntime", r"error: device=cuda needs onnxruntime-gpu .*`pip install onnxruntime-gpu`, or use device=cpu"),
])
def test_device_cuda_without_a_gpu_is_one_line(tmp_path, runtime, message):
    video = write_blob_video(tmp_path / "clip.mp4", count=3)
    result = run_cli(f"source={video}", "display=false", f"runtime={runtime}", "device=cuda", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and re.match(message, result.stderr), result.stderr


@pytest.mark.skipif(cuda_visible(), reason="a GPU is present: the benchmark would run")
def test_gpu_benchmark_without_a_gpu_is_one_line():
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_gpu.py")], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: no CUDA GPU visible to PyTorch") and result.stderr.count("\n") == 1


def test_real_phone_video_runs_upright_and_prints_the_summary(tmp_path, checkpoint):
    video = shared_path("data", "webcam4", "videos", "2hand.mp4")
    result = run_cli(f"checkpoint={checkpoint}", f"source={video}", "display=false", "max_frames=12",
                     f"output.jsonl={tmp_path}/tracks.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"tracked 12 frames from {video}" in result.stderr
    assert all(f"{stage} " in result.stderr for stage in ("read", "preprocess", "model", "decode", "track", "draw"))
    records = read_jsonl(tmp_path / "tracks.jsonl")
    assert len(records) == 12 and {(r["width"], r["height"]) for r in records} == {(480, 852)}
    for record in records:
        check_record(record, size_head=True)


@pytest.mark.skipif(not (shutil.which("xvfb-run") and shutil.which("xdotool")), reason="needs xvfb-run and xdotool")
def test_window_under_xvfb_toggles_the_heatmap_and_quits_on_q(tmp_path, checkpoint):
    """A real window: `h` switches the heatmap overlay on (visible in the recorded video), `q` quits early."""
    video = write_blob_video(tmp_path / "long.mp4", count=600)
    script = tmp_path / "drive.sh"
    script.write_text(f"""
"{sys.executable}" "{REPO / 'track.py'}" checkpoint={checkpoint} source={video} display=true decode.threshold=0.5 \
    output.jsonl={tmp_path}/tracks.jsonl output.video={tmp_path}/seen.avi &
window=$(xdotool search --sync --name HeatmapNet | head -1)
sleep 1; xdotool key --window "$window" h
sleep 1; xdotool key --window "$window" q
wait $!
""")
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    result = subprocess.run(["xvfb-run", "-a", "bash", str(script)], capture_output=True, text=True, timeout=180,
                            env=env)
    assert result.returncode == 0, result.stderr
    frames = len(read_jsonl(tmp_path / "tracks.jsonl"))
    assert 0 < frames < 600  # quit before the end
    seen = cv2.VideoCapture(str(tmp_path / "seen.avi"))
    source = cv2.VideoCapture(str(video))
    differences = []
    for _ in range(frames):
        differences.append(np.abs(seen.read()[1].astype(int) - source.read()[1]).mean())
    # The first frame is shown before any key is read: plain (the codec's loss and the status line
    # only); after `h` the heatmap is blended over every pixel.
    assert differences[-1] > differences[0] + 2


def test_heatmap_overlay_lands_on_the_source_pixels_under_the_hot_cell():
    frame = np.full((852, 480, 3), 90, np.uint8)  # portrait: letterboxed into 320x240
    transform = FrameTransform(480, 852, 320, 240, "letterbox")
    target = np.array([300.0, 600.0])
    column, row = (transform.to_input(target) / 8 - 0.5).round().astype(int)
    logits = np.full((30, 40), -30.0, np.float32)
    logits[row, column] = 6.0
    blended = heatmap_overlay(frame, logits, transform, stride=8)
    changed = np.abs(blended.astype(int) - frame).sum(axis=2)
    ys, xs = np.nonzero(changed)
    weights = changed[ys, xs]
    centroid = np.array([(xs + 0.5) @ weights, (ys + 0.5) @ weights]) / weights.sum()
    cell_in_source = 8 / transform.scale[0]
    assert np.abs(centroid - target).max() < cell_in_source
    assert np.ptp(xs) < 3 * cell_in_source and np.ptp(ys) < 3 * cell_in_source  # only around that cell


def test_annotate_draws_on_a_copy_where_the_tracks_are():
    frame = np.zeros((120, 160, 3), np.uint8)
    hand = TrackedHand(id=3, x=50.0, y=60.0, vx=0.0, vy=0.0, w=40.0, h=30.0, score=0.9, age=5, missed=False)
    trails = Trails(length=5).update([hand])
    drawn = annotate(frame, np.array([[120.0, 30.0, 0.8, 20.0, 20.0]]), [hand], trails, "30 FPS")
    assert frame.max() == 0  # the input frame is untouched
    assert tuple(drawn[60, 50]) == colour_for(3)  # filled marker on the track
    assert drawn[30, 120].max() > 0  # the raw detection's dot
    assert tuple(drawn[60, 30]) == colour_for(3)  # left edge of the 40x30 box
