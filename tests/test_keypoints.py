"""Keypoints and left/right per tracked hand (heatmapnet/keypoints/): codecs, crops, augmentation, checkpoints,
export parity, the tracking stage and its smoothing, the JSONL schema, and a network that learns a few crops."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO, shared_path
from helpers_video import write_video
from hydra import compose, initialize_config_dir

import track
import train as train_entry
from heatmapnet.errors import UserError
from heatmapnet.keypoints import codec, crops
from heatmapnet.keypoints.config import CODECS, KeypointConfig
from heatmapnet.keypoints.data import CACHE_SIZE, CropCache, KeypointAugment, cache_crops, read_hands, training_crop
from heatmapnet.keypoints.export import export_keypoints, largest_differences
from heatmapnet.keypoints.layout import COUNT, anatomical_right, handedness_name
from heatmapnet.keypoints.model_file import open_keypoints, shipped_keypoints
from heatmapnet.keypoints.network import KeypointNet
from heatmapnet.keypoints.stage import KeypointStage
from heatmapnet.keypoints.torch_model import load_keypoints, save_keypoints
from heatmapnet.keypoints.train import fit
from heatmapnet.model.checkpoint import read_checkpoint
from heatmapnet.outputs.records import frame_record, number, numbers
from heatmapnet.pipeline import FrameResult
from heatmapnet.runtime.preprocess import FrameTransform
from heatmapnet.sources.capture import Frame
from heatmapnet.tracking.tracker import TrackedHand

RNG = np.random.default_rng(0)
EXTRA_KEYS = {"keypoints", "handedness", "handedness_score"}


def hand_points(size: int = 64, count: int = 5) -> np.ndarray:
    """Random points well inside a crop (count x 21 x 2)."""
    return RNG.uniform(0.1 * size, 0.9 * size, (count, COUNT, 2)).astype(np.float32)


@pytest.mark.parametrize("name", CODECS)
def test_codec_decodes_its_own_targets_back_to_the_points(name):
    config = KeypointConfig(codec=name)
    points = hand_points()
    targets = [codec.encode(config, p) for p in points]
    outputs = {key: np.stack([t[key] for t in targets]) for key in targets[0]}
    if name == "simcc":  # a network that reproduces the label distribution: logits = log of it
        outputs = {key: np.log(np.maximum(value, 1e-12)) for key, value in outputs.items()}
    if name == "regression":  # + a confident visibility logit
        outputs["points"] = np.concatenate([outputs["points"], np.full((5, COUNT, 1), 8.0, np.float32)], -1)
    decoded = codec.decode(config, outputs)
    tolerance = {"simcc": 0.5 / config.simcc_split + 1e-4, "heatmap": 0.05, "regression": 1e-4}[name]
    assert np.abs(decoded[..., :2] - points).max() <= tolerance
    assert decoded[..., 2].min() > 0.75  # the training label itself: (near) full confidence


def test_simcc_decoding_follows_a_moved_peak_and_scores_a_flat_one_low():
    config = KeypointConfig()
    bins = config.crop_size * config.simcc_split
    flat = {"simcc_x": np.zeros((1, COUNT, bins)), "simcc_y": np.zeros((1, COUNT, bins))}
    assert codec.decode(config, flat)[..., 2].max() < 0.1
    moved = {key: value.copy() for key, value in flat.items()}
    moved["simcc_x"][0, 3, 40] = moved["simcc_y"][0, 3, 100] = 20.0
    assert np.allclose(codec.decode(config, moved)[0, 3, :2], [20.25, 50.25])


def test_crop_maps_points_to_the_pixels_they_mark_and_back():
    frame = np.zeros((240, 320, 3), np.uint8)
    cv2.circle(frame, (200, 80), 3, (255, 255, 255), -1)  # covers continuous point (200.5, 80.5)
    matrix = crops.crop_matrix(190.0, 90.0, 60.0, 64, angle_deg=25.0)
    crop = crops.warp(frame, matrix, 64)
    x, y = crops.apply(matrix, np.array([200.5, 80.5]))
    assert crop[int(y), int(x)].min() > 200  # the dot is where the matrix says
    assert np.allclose(crops.to_frame(matrix, crops.apply(matrix, np.array([[12.0, 34.0]]))), [[12.0, 34.0]])


def synthetic_cache(right: bool) -> CropCache:
    """One cached hand: a bright dot at each of two labelled points on a dark crop."""
    image = np.zeros((CACHE_SIZE, CACHE_SIZE, 3), np.uint8)
    points = np.full((COUNT, 2), CACHE_SIZE / 2, np.float32)
    points[0], points[4] = (30.5, 50.5), (60.5, 40.5)
    for x, y in points[[0, 4]]:
        cv2.circle(image, (int(x), int(y)), 2, (255, 255, 255), -1)
    return CropCache(image[None], points[None], np.ones((1, COUNT), bool), np.array([right]), np.array(["test"]))


@pytest.mark.parametrize("right", [False, True])
def test_flip_augmentation_mirrors_image_and_points_swaps_handedness_and_keeps_point_order(right):
    cache = synthetic_cache(right)
    plain_crop = training_crop(cache, 0, 64, KeypointAugment(), None)
    still = KeypointAugment(shift=0.0, scale=(1.0, 1.0), rotation=0.0, brightness=0, contrast=0, saturation=0,
                            hue=0, flip_prob=1.0)
    image, points, visible, is_right = training_crop(cache, 0, 64, still, np.random.default_rng(1))
    assert plain_crop[3] == right and is_right == (not right)
    np.testing.assert_allclose(points[:, 0], 64 - plain_crop[1][:, 0], atol=1e-4)  # mirrored about the centre
    np.testing.assert_allclose(points[:, 1], plain_crop[1][:, 1], atol=1e-4)
    np.testing.assert_allclose(image, plain_crop[0][:, ::-1], atol=2)  # the picture moved with the points
    for index in (0, 4):  # point i is still the point drawn for i
        x, y = points[index]
        assert image[int(y), int(x)].max() > 150
    assert visible.all()


def test_handedness_conventions():
    assert anatomical_right("Left") and not anatomical_right("Right")  # MediaPipe on unmirrored images
    assert anatomical_right("Right", image_mirrored=True)
    assert handedness_name(0.9) == ("right", 0.9)
    assert handedness_name(0.9, frames_mirrored=True)[0] == "left"


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("keypoints") / "random.pt"
    save_keypoints(path, KeypointNet(KeypointConfig()), {})
    return path


def test_checkpoint_of_another_layout_is_one_clear_error(tmp_path, random_checkpoint):
    payload = torch.load(random_checkpoint, weights_only=False)
    payload["model_config"]["codec"] = "heatmap"
    torch.save(payload, tmp_path / "other.pt")
    with pytest.raises(UserError, match=r"does not fit a heatmap mobilenet_v2 keypoint network .*another layout"):
        load_keypoints(tmp_path / "other.pt")
    detector = REPO / "heatmapnet" / "shipped" / "heatmapnet.pt"
    with pytest.raises(UserError, match="hand-detector checkpoint, not a keypoint model"):
        load_keypoints(detector)
    with pytest.raises(UserError, match="not a HeatmapNet keypoint model"):
        open_keypoints(REPO / "heatmapnet" / "shipped" / "heatmapnet.onnx")


def test_export_runs_the_same_under_onnxruntime_opencv_and_torch(tmp_path, random_checkpoint):
    exported = export_keypoints(random_checkpoint, tmp_path / "random.onnx")
    differences = largest_differences(random_checkpoint, exported)
    assert set(differences) == {"onnxruntime", "opencv"} and max(differences.values()) < 1e-4
    assert open_keypoints(exported).config == read_config_of(random_checkpoint)


def read_config_of(checkpoint) -> KeypointConfig:
    return KeypointConfig.from_dict({**read_checkpoint(checkpoint)["model_config"], "pretrained": None})


def test_shipped_onnx_is_the_shipped_checkpoint():
    differences = largest_differences(shipped_keypoints("torch"), shipped_keypoints("onnxruntime"))
    assert max(differences.values()) < 1e-3


def frame_with_hand():
    """A real webcam4 frame and its labelled hand (box, points, anatomical right)."""
    root = shared_path("data", "webcam4")
    sample = next(s for s in read_hands([{"name": "webcam4", "root": str(root)}]) if s.video == "hand")
    return cv2.imread(sample.image_path), sample.meta["hands"][0]


def tracked(box, hand_id: int = 1) -> TrackedHand:
    x, y, w, h = box
    return TrackedHand(hand_id, x, y, 0.0, 0.0, w, h, 0.9, 5, False)


def test_stage_finds_the_labelled_points_and_smoothing_stills_a_still_hand():
    frame, (box, points, _, right) = frame_with_hand()
    model = open_keypoints("shipped", threads=2)
    raw_stage, smooth_stage = KeypointStage(model, None), KeypointStage(model)
    noise = np.random.default_rng(0)
    tracks, steps = [], {"raw": [], "smooth": []}
    for index in range(12):  # the same hand, with sensor noise and a box that wobbles like a tracked one
        noisy = np.clip(frame + noise.normal(0, 4, frame.shape), 0, 255).astype(np.uint8)
        wobble = (box[0] + noise.normal(0, 2), box[1] + noise.normal(0, 2), box[2], box[3])
        for name, stage in (("raw", raw_stage), ("smooth", smooth_stage)):
            result = FrameResult(np.zeros((0, 5)), [tracked(wobble)], np.zeros((1, 1)),
                                 FrameTransform(1, 1, 1, 1), t=index / 30)
            stage(noisy, result)
            steps[name].append(np.array(result.extras[1]["keypoints"]))
        tracks.append(result)
    extra = tracks[-1].extras[1]
    assert set(extra) == EXTRA_KEYS and extra["handedness"] == ("right" if right else "left")
    error = np.linalg.norm(steps["raw"][0][:, :2] - points, axis=1)
    assert np.median(error) < 0.2 * max(box[2], box[3])  # agrees with MediaPipe on this frame
    jitter = {name: np.sqrt(np.mean(np.diff(np.array(values)[:, :, :2], axis=0) ** 2)) for name, values in steps.items()}
    assert jitter["smooth"] < 0.5 * jitter["raw"]


def test_jsonl_record_with_and_without_keypoints():
    frame = Frame(3, 0.1, np.zeros((240, 320, 3), np.uint8))
    hand = tracked((100.0, 120.0, 60.0, 70.0), hand_id=7)
    bare = frame_record(frame, np.zeros((0, 5)), [hand])
    assert not EXTRA_KEYS & set(bare["tracks"][0])
    result = FrameResult(np.zeros((0, 5)), [hand], np.zeros((1, 1)), FrameTransform(320, 240, 320, 240), t=0.1)
    KeypointStage(open_keypoints("shipped", threads=1))(frame.image, result)
    record = json.loads(json.dumps(frame_record(frame, np.zeros((0, 5)), [hand], result.extras)))
    entry = record["tracks"][0]
    assert entry["id"] == 7 and EXTRA_KEYS <= set(entry)
    assert len(entry["keypoints"]) == COUNT and all(len(p) == 3 for p in entry["keypoints"])
    assert all(0 <= score <= 1 for _, _, score in entry["keypoints"])
    assert entry["handedness"] in ("left", "right") and 0.5 <= entry["handedness_score"] <= 1


def test_track_cli_writes_keypoints_unless_turned_off(tmp_path):
    frame, _ = frame_with_hand()
    video = write_video(tmp_path / "hand.mp4", [frame] * 8, fps=30.0)
    with_points, without = tmp_path / "with.jsonl", tmp_path / "without.jsonl"
    for setting, out in (("keypoints=shipped", with_points), ("keypoints=null", without)):
        with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
            cfg = compose("track", overrides=[f"source={video}", "display=false", "track.min_hits=1", setting,
                                              f"output.jsonl={out}"])
        summary = track.track(cfg)
        assert ("keypoints" in summary["ms"]) == (out == with_points)
    tracks = [hand for line in with_points.read_text().splitlines() for hand in json.loads(line)["tracks"]]
    assert tracks and all(EXTRA_KEYS <= set(hand) for hand in tracks)
    bare = [hand for line in without.read_text().splitlines() for hand in json.loads(line)["tracks"]]
    assert bare and not any(EXTRA_KEYS & set(hand) for hand in bare)


def test_train_dispatches_tasks_and_refuses_unknown_ones():
    from heatmapnet.keypoints.train import train as keypoint_train
    from heatmapnet.train.loop import train as heatmap_train
    assert train_entry.task_function("keypoints") is keypoint_train
    assert train_entry.task_function("heatmap") is heatmap_train
    with pytest.raises(UserError, match="unknown task 'poses'"):
        train_entry.task_function("poses")


def test_network_learns_a_few_labelled_crops():
    root = shared_path("data", "webcam4")
    weights = shared_path("weights", "mobilenet_v2_imagenet.pth")
    samples = [s for s in read_hands([{"name": "webcam4", "root": str(root)}]) if s.video == "volctl"][:6]
    config = KeypointConfig(pretrained=str(weights))
    cache = cache_crops(samples, config)
    torch.set_num_threads(2)
    schedule = {"steps": 120, "batch_size": len(cache), "lr": 0.003, "weight_decay": 0.0, "warmup_steps": 5}
    model, report, _ = fit(config, cache, cache, schedule, KeypointAugment(enabled=False), seed=0)
    assert report["pck"] >= 0.95 and report["handedness"] == 1.0


def test_keypoint_values_are_rounded_like_every_other_record_number_and_nan_becomes_null():
    values = np.random.default_rng(3).normal(0, 300, (21, 3))
    values[4, 1] = np.nan
    values[7, 2] = np.inf
    expected = [[number(x), number(y), number(s, 3)] for x, y, s in values]
    assert numbers(values, (2, 2, 3)) == expected
