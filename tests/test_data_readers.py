"""Dataset readers and pixel loading on generated files, their errors on bad input, and the shared sets."""
import json
import multiprocessing

import cv2
import numpy as np
import pytest
import scipy.io
from conftest import shared_path
from omegaconf import OmegaConf

from heatmapnet.data import loading
from heatmapnet.data.coco import CocoReader, OtherRule
from heatmapnet.data.egohands import EgoHandsReader
from heatmapnet.data.hands import OPEN, OTHER, Hand, Sample
from heatmapnet.data.loading import load_rgb
from heatmapnet.errors import UserError


def write_rgb(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def pattern(height, width, seed):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def coco_document():
    """Three images: one with hands of every kind, one that MediaPipe did not label, one without hands."""
    images = [
        {"id": 10, "file_name": "img/a.png", "width": 64, "height": 48, "video": "v1", "frame_index": 3},
        {"id": 11, "file_name": "img/b.png", "width": 64, "height": 48, "video": "v1", "frame_index": 4,
         "mediapipe_found": False},
        {"id": 12, "file_name": "img/c.png", "width": 64, "height": 48},
    ]
    keypoints_past_edge = [50, 30, 2, 70, 40, 2, 55, 45, 2]  # the hand continues 10 px past the right border
    annotations = [
        {"image_id": 10, "bbox": [10, 8, 20, 16]},  # plain open hand
        {"image_id": 10, "bbox": [40, 4, 5, 5]},  # sqrt(25) = 5 px: small
        {"image_id": 10, "bbox": [2, 30, 20, 14], "iscrowd": 1},
        {"image_id": 10, "bbox": [30, 20, 10, 10], "label": "other"},
        {"image_id": 10, "bbox": [50, 28, 14, 18], "keypoints": keypoints_past_edge},
        {"image_id": 10, "bbox": [-4, 40, 12, 12]},  # reaches past the left and bottom borders
    ]
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "hand"}]}


@pytest.fixture
def coco_root(tmp_path):
    root = tmp_path / "handset"
    for index, name in enumerate("abc"):
        write_rgb(root / "img" / f"{name}.png", pattern(48, 64, index))
    (root / "annotations.json").write_text(json.dumps(coco_document()))
    return root


def test_coco_reader_reads_images_hands_and_grouping(coco_root):
    samples = CocoReader().read(coco_root)
    assert [s.meta["image_id"] for s in samples] == [10, 12]  # the unlabelled image is dropped by default
    first, empty = samples
    assert first.image_path == str(coco_root / "img" / "a.png") and first.image_path.startswith("/")
    assert (first.width, first.height, first.video, first.frame_index) == (64, 48, "v1", 3)
    assert first.dataset == "handset" and empty.hands == [] and empty.video is None
    assert first.hands[0] == Hand(20.0, 16.0, 20.0, 16.0, OPEN)
    assert first.hands[-1] == Hand(4.0, 44.0, 8.0, 8.0, OPEN)  # boxes are visible extents: clipped
    # the default rule only honours explicit flags: iscrowd and label "other"
    assert [h.label for h in first.hands] == [OPEN, OPEN, OTHER, OTHER, OPEN, OPEN]


def test_other_rule_marks_small_and_cut_hands(coco_root):
    samples = CocoReader(other={"min_size_px": 6, "max_cut_fraction": 0.35}).read(coco_root)
    # keypoints reach x = 70 of a 64 px image: 6 of the 20 px extent (0.3) are outside, not above 0.35;
    # the box past two borders keeps 8 x 8 of 12 x 12 (0.56 cut)
    assert [h.label for h in samples[0].hands] == [OPEN, OTHER, OTHER, OTHER, OPEN, OTHER]
    samples = CocoReader(other=OtherRule(max_cut_fraction=0.25, flags=())).read(coco_root)
    assert [h.label for h in samples[0].hands] == [OPEN, OPEN, OPEN, OTHER, OTHER, OTHER]
    hydra_node = OmegaConf.create({"other": {"flags": ["iscrowd"], "min_size_px": 6}})
    samples = CocoReader(**hydra_node).read(coco_root)
    assert [h.label for h in samples[0].hands] == [OPEN, OTHER, OTHER, OTHER, OPEN, OPEN]


def test_unlabelled_and_empty_image_options(coco_root):
    ids = lambda samples: [s.meta["image_id"] for s in samples]  # noqa: E731
    assert ids(CocoReader(unlabelled_images="keep").read(coco_root)) == [10, 11, 12]
    assert ids(CocoReader(empty_images="drop").read(coco_root)) == [10]
    assert ids(CocoReader(unlabelled_images="keep", empty_images="drop", name="x").read(coco_root)) == [10]
    assert CocoReader(name="mine").read(coco_root)[0].dataset == "mine"


def test_load_rgb_returns_the_written_pixels(coco_root):
    sample = CocoReader().read(coco_root)[0]
    image = load_rgb(sample)
    assert image.dtype == np.uint8 and image.shape == (48, 64, 3)
    np.testing.assert_array_equal(image, pattern(48, 64, 0))


def test_load_rgb_gives_none_for_missing_or_broken_images(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    for path in (tmp_path / "missing.jpg", broken, tmp_path):
        assert load_rgb(Sample(hands=[], image_path=str(path))) is None
    assert load_rgb(Sample(hands=[], image_path=str(tmp_path / "missing.mp4"), frame_index=0,
                           meta={"video_frame": True})) is None


@pytest.fixture
def barcode_video(tmp_path):
    """12 frames; frame i has a bright bar on rows 4i..4i+3."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    assert writer.isOpened()
    for index in range(12):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[4 * index:4 * index + 4] = 255
        writer.write(frame)
    writer.release()
    return str(path)


def bar_index(path, index):
    frame = load_rgb(Sample(hands=[], image_path=path, frame_index=index, meta={"video_frame": True}))
    assert frame.shape == (48, 64, 3)
    return int(np.argmax(frame[..., 1].mean(axis=1))) // 4


def test_load_rgb_reads_video_frames_in_any_order(barcode_video):
    """Sequential reads, seeks back and forth, and past the end."""
    assert [bar_index(barcode_video, i) for i in (0, 1, 2, 9, 3, 4, 11, 5)] == [0, 1, 2, 9, 3, 4, 11, 5]
    assert load_rgb(Sample(hands=[], image_path=barcode_video, frame_index=12, meta={"video_frame": True})) is None


def videos_in_use_then_frame(path, index):
    return len(loading._videos.videos), bar_index(path, index)


def test_a_forked_worker_opens_its_own_video(barcode_video):
    """DataLoader workers fork: a child must neither use nor release the parent's open decoder."""
    assert bar_index(barcode_video, 5) == 5
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply_async(videos_in_use_then_frame, (barcode_video, 2))
        assert child.get(timeout=60) == (0, 2)
    assert bar_index(barcode_video, 6) == 6


BAD_COCO = [
    ("not json {", "is not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    (json.dumps({"annotations": []}), "expected 'images' to be a list"),
    (json.dumps({"images": [{"id": 1, "width": 4, "height": 4}], "annotations": []}), "has no 'file_name'"),
    (json.dumps({"images": [{"id": 1, "file_name": "a", "width": 0, "height": 4}], "annotations": []}),
     "expected positive integers"),
    (json.dumps({"images": [{"id": 1, "file_name": "a", "width": 4, "height": 4}] * 2, "annotations": []}),
     "repeats image id"),
    (json.dumps({"images": [], "annotations": [{"image_id": 1, "bbox": [0, 0, 1, 1]}]}), "not in 'images'"),
    (json.dumps({"images": [{"id": 1, "file_name": "a", "width": 4, "height": 4}],
                 "annotations": [{"image_id": 1}]}), "has no 'bbox'"),
    (json.dumps({"images": [{"id": 1, "file_name": "a", "width": 4, "height": 4}],
                 "annotations": [{"image_id": 1, "bbox": [0, 0, 1]}]}), "expected [x, y, w, h]"),
    (json.dumps({"images": [{"id": 1, "file_name": "a", "width": 4, "height": 4}],
                 "annotations": [{"image_id": 1, "bbox": [0, 0, 0, 2]}]}), "zero or negative size"),
    (json.dumps({"images": [{"id": 1, "file_name": "a", "width": 4, "height": 4}],
                 "annotations": [{"image_id": 1, "bbox": [5, 0, 2, 2]}]}), "outside its 4 x 4 image"),
    (json.dumps({"images": [{"id": 1, "file_name": "a", "width": 4, "height": 4}],
                 "annotations": [{"image_id": 1, "bbox": [0, 0, 2, 2], "label": "fist"}]}), "has label 'fist'"),
    (json.dumps({"images": [{"id": 1, "file_name": "a", "width": 4, "height": 4}],
                 "annotations": [{"image_id": 1, "bbox": [0, 0, 2, 2], "keypoints": [1, 2]}]}), "malformed keypoints"),
]


@pytest.mark.parametrize("text, message", BAD_COCO)
def test_coco_reader_rejects_malformed_annotations_in_one_line(tmp_path, text, message):
    (tmp_path / "annotations.json").write_text(text)
    with pytest.raises(UserError) as error:
        CocoReader().read(tmp_path)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(tmp_path / "annotations.json") in str(error.value)


def test_coco_reader_names_missing_folder_file_and_bad_options(tmp_path):
    with pytest.raises(UserError, match="no dataset folder at .*nowhere"):
        CocoReader().read(tmp_path / "nowhere")
    with pytest.raises(UserError, match="no annotation file at .*labels.json"):
        CocoReader(annotations="labels.json").read(tmp_path)
    with pytest.raises(UserError, match="unknown key.* in `other-rule` config"):
        CocoReader(other={"min_size": 3})
    with pytest.raises(UserError, match="max_cut_fraction"):
        CocoReader(other={"max_cut_fraction": 1.5})
    with pytest.raises(UserError, match="unlabelled_images must be one of keep, drop"):
        CocoReader(unlabelled_images="negative")


def egohands_polygons(frames):
    """A polygons.mat struct array (1 x frames) with the four EgoHands fields, all empty."""
    record = np.zeros((1, frames), dtype=[(name, "O") for name in ("myleft", "myright", "yourleft", "yourright")])
    for index in range(frames):
        for name in record.dtype.names:
            record[0, index][name] = np.zeros((0, 0))
    return record


@pytest.fixture
def egohands_root(tmp_path):
    """Two videos in the original release layout: 3 and 2 frames of 80 x 60."""
    base = tmp_path / "egohands_data" / "_LABELLED_SAMPLES"
    first = egohands_polygons(3)
    first[0, 0]["myleft"] = np.array([[11.5, 21.5], [31.5, 21.5], [21.5, 41.5]])  # MATLAB pixel coordinates
    first[0, 0]["yourright"] = np.array([[60.5, 5.5], [90.5, 5.5], [70.5, 15.5]])  # past the right border (80)
    first[0, 2]["myright"] = np.array([[2.5, 2.5], [4.5, 2.5], [3.5, 4.5]])  # 2 x 2 px: tiny
    second = egohands_polygons(2)
    second[0, 1]["yourleft"] = np.array([[40.5, 30.5], [50.5, 30.5], [45.5, 50.5], [40.5, 40.5]])
    for video, polygons in (("CARDS_X_B_T", first), ("CHESS_Y_S_T", second)):
        for index in range(polygons.shape[1]):
            write_rgb(base / video / f"frame_{100 * index + 7:04d}.jpg", pattern(60, 80, index))
        scipy.io.savemat(str(base / video / "polygons.mat"), {"polygons": polygons})
    return tmp_path / "egohands_data"


def test_egohands_reader_boxes_are_polygon_extents(egohands_root):
    samples = EgoHandsReader().read(egohands_root)
    assert [(s.video, s.frame_index) for s in samples] == [
        ("CARDS_X_B_T", 7), ("CARDS_X_B_T", 107), ("CARDS_X_B_T", 207), ("CHESS_Y_S_T", 7), ("CHESS_Y_S_T", 107)]
    assert all((s.width, s.height, s.dataset) == (80, 60, "egohands") for s in samples)
    assert samples[0].image_path.endswith("_LABELLED_SAMPLES/CARDS_X_B_T/frame_0007.jpg")
    # extents shifted by -0.5 from MATLAB's pixel-centre coordinates; the second box is clipped at x = 80
    assert samples[0].hands == [Hand(21.0, 31.0, 20.0, 20.0), Hand(70.0, 10.0, 20.0, 10.0)]
    assert samples[1].hands == [] and samples[2].hands == [Hand(3.0, 3.0, 2.0, 2.0)]
    assert samples[4].hands == [Hand(45.0, 40.0, 10.0, 20.0)]
    assert load_rgb(samples[4]).shape == (60, 80, 3)


def test_egohands_reader_applies_the_other_rule(egohands_root):
    hands = [h for s in EgoHandsReader(other={"min_size_px": 4, "max_cut_fraction": 0.25}).read(egohands_root)
             for h in s.hands]
    # the right-border box loses 10 of 30 px (1/3 > 0.25); the 2 x 2 box is below 4 px
    assert [h.label for h in hands] == [OPEN, OTHER, OTHER, OPEN]


def test_egohands_reader_errors(egohands_root, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no EgoHands videos under"):
        EgoHandsReader().read(tmp_path / "empty")
    video = egohands_root / "_LABELLED_SAMPLES" / "CHESS_Y_S_T"
    write_rgb(video / "frame_0500.jpg", pattern(60, 80, 9))
    with pytest.raises(UserError, match="has 2 frame entries but the folder has 3"):
        EgoHandsReader().read(egohands_root)
    (video / "polygons.mat").unlink()
    with pytest.raises(UserError, match="no polygons.mat at"):
        EgoHandsReader().read(egohands_root)


def test_shared_egohands4_reads_and_loads_every_image():
    root = shared_path("data", "egohands4")
    samples = CocoReader().read(root)
    assert len(samples) == 400 and sum(len(s.hands) for s in samples) == 1148
    assert len({s.video for s in samples}) == 4
    for sample in samples:
        image = load_rgb(sample)
        assert image is not None, sample.image_path
        assert image.shape == (sample.height, sample.width, 3)
        assert all(0 <= h.x <= sample.width and 0 <= h.y <= sample.height for h in sample.hands)


@pytest.mark.parametrize("name, images, hands", [("webcam10", 5602, 6239), ("webcam4", 1100, 1143)])
def test_shared_machine_labelled_sets_read(name, images, hands):
    samples = CocoReader().read(shared_path("data", name))
    # webcam10's 24 images without MediaPipe labels are dropped, not kept as negatives
    assert len(samples) == images and sum(len(s.hands) for s in samples) == hands
    for sample in samples[:: len(samples) // 5]:
        assert load_rgb(sample).shape == (sample.height, sample.width, 3)


def test_shared_webcam4_video_frames_match_the_extracted_frames():
    """Upright (rotation tag honoured) and the requested frame: closer to its JPEG than to the neighbours'."""
    root = shared_path("data", "webcam4")
    for video, index in (("hand", 40), ("volctl", 7), ("hand", 12), ("hand", 13)):
        frame = load_rgb(Sample(hands=[], image_path=str(root / "videos" / f"{video}.mp4"), frame_index=index,
                                meta={"video_frame": True}))
        differences = [np.abs(frame.astype(np.int16) - load_rgb(
            Sample(hands=[], image_path=str(root / "images" / video / f"{i:06d}.jpg")))).mean()
            for i in (index - 1, index, index + 1)]
        assert np.argmin(differences) == 1, (video, index, differences)


def test_frame_step_keeps_every_nth_frame_of_each_video_and_every_frame_without_one(tmp_path):
    images = [{"id": i, "file_name": f"{i}.png", "width": 8, "height": 8, "video": video}
              for i, video in enumerate(["a"] * 5 + ["b"] * 3 + [None] * 2)]
    annotations = [{"image_id": i, "bbox": [1, 1, 4, 4]} for i in range(len(images))]
    (tmp_path / "annotations.json").write_text(json.dumps({"images": images, "annotations": annotations}))
    kept = [s.meta["image_id"] for s in CocoReader(frame_step=2).read(tmp_path)]
    assert kept == [0, 2, 4, 5, 7, 8, 9]
    assert len(CocoReader().read(tmp_path)) == len(images)
    with pytest.raises(UserError, match="frame_step"):
        CocoReader(frame_step=0)
