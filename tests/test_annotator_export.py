"""`python -m annotator.export`: COCO frames + json, and target maps rendered by the training encoder."""
import json

import cv2
import numpy as np
import pytest
from annotator_scenes import two_disc_scene

from annotator.export import main
from annotator.store import Store
from heatmapnet.data.hands import Hand
from heatmapnet.data.hands_json import Annotations, Marker, read_file
from heatmapnet.sources.video import Video

SCENE = two_disc_scene()


@pytest.fixture
def labels(tmp_path):
    SCENE.write(tmp_path / "clip.mp4", 8)
    path = tmp_path / "clip.hands.json"
    frames = {
        2: (Marker(1, 96.0, 83.0, 28.0), Marker(2, 226.0, 160.0, 24.0, "other", "flow")),
        5: (Marker(1, 105.0, 87.5, 28.0, "open", "flow", uncertain=True),),
        6: (),
    }
    Store(path).save(Annotations("clip.mp4", 320, 240, 10.0, 8, frames))
    return path


def test_coco_export_carries_each_hand_pose_where_the_file_names_pose_classes(labels, tmp_path):
    out = tmp_path / "coco"
    assert main([str(labels), "--to", "coco", str(out)]) == 0
    plain = json.loads((out / "annotations.json").read_text())
    assert "poses" not in plain["info"] and not any("pose" in a for a in plain["annotations"])
    annotations = read_file(labels)
    annotations.poses = ("fist", "palm")
    annotations.frames[2] = (annotations.frames[2][0].touched(pose="palm"), annotations.frames[2][1])
    Store(labels).save(annotations)
    assert main([str(labels), "--to", "coco", str(out)]) == 0
    coco = json.loads((out / "annotations.json").read_text())
    assert coco["info"]["poses"] == ["fist", "palm"]
    assert [(a["track_id"], a["pose"]) for a in coco["annotations"]] == [(1, "palm"), (2, None), (1, None)]


def test_coco_export_writes_the_labelled_frames_and_flags_other_hands(labels, tmp_path):
    out = tmp_path / "coco"
    assert main([str(labels), "--to", "coco", str(out)]) == 0
    coco = json.loads((out / "annotations.json").read_text())
    assert [(i["file_name"], i["frame_index"]) for i in coco["images"]] == [
        ("images/clip/000002.jpg", 2), ("images/clip/000005.jpg", 5), ("images/clip/000006.jpg", 6)]
    boxes = [(a["image_id"], a["track_id"], a["label"], a["uncertain"]) for a in coco["annotations"]]
    assert boxes == [(1, 1, "open", False), (1, 2, "other", False), (2, 1, "other", True)]
    assert Hand.from_bbox(coco["annotations"][0]["bbox"]) == Hand(96.0, 83.0, 56.0, 56.0)
    frame = cv2.imread(str(out / "images/clip/000002.jpg"))
    assert np.abs(frame.astype(int) - SCENE.frame(2)).mean() < 8


def test_target_export_shows_blobs_on_open_hands_and_darkens_ignored_ones(labels, tmp_path):
    out = tmp_path / "targets"
    assert main([str(labels), "--to", "targets", str(out), "--stride", "4", "--shape", "disc"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["clip_000002.png", "clip_000005.png", "clip_000006.png"]
    video = Video(labels.with_name("clip.mp4"))
    picture = cv2.imread(str(out / "clip_000002.png")).astype(int)
    frame = video.frame(2).astype(int)
    blob = picture[82, 95] - frame[82, 95]  # open hand centre: pushed to red
    assert blob[2] > 40 and blob[0] < 0
    ignored = picture[159, 225] - frame[159, 225]  # other hand: darkened, blue tint
    assert ignored.sum() < -60 and ignored[0] > ignored[2]
    assert np.array_equal(picture[20:40, 250:300], frame[20:40, 250:300])  # away from hands: the frame itself
    empty = cv2.imread(str(out / "clip_000006.png"))
    assert np.array_equal(empty, video.frame(6))


def test_export_of_a_missing_file_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope.hands.json"), "--to", "coco", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith("error: ") and not (tmp_path / "out").exists()
