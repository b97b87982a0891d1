"""The label file: atomic saves with a backup, recovery after crashes, and never overwriting what is not ours."""
import json
import os

import pytest

from annotator.store import VideoInfo, open_annotations
from heatmapnet.data.hands_json import VERSION, Marker, dumps, read_file
from heatmapnet.errors import UserError


@pytest.fixture
def video(tmp_path) -> VideoInfo:
    return VideoInfo(tmp_path / "clip.mp4", 320, 240, 10.0, 20)  # the store never opens the video itself


def labelled(video: VideoInfo, *frames: int):
    """Open the labels of `video`, put one hand on each of `frames` and save after each; return store and labels."""
    store, annotations, notes = open_annotations(video)
    for frame in frames:
        annotations.frames[frame] = (Marker(1, 50.0 + frame, 60.0, 20.0),)
        store.save(annotations)
    return store, annotations


def test_labels_are_saved_beside_the_video_and_reload_where_the_user_left_off(video):
    store, annotations = labelled(video, 0, 3)
    annotations.current_frame = 3
    store.save(annotations)
    assert store.path == video.path.with_name("clip.hands.json")
    data = json.loads(store.path.read_text())
    assert data["version"] == VERSION and data["video"] == "clip.mp4" and (data["width"], data["height"]) == (320, 240)
    assert data["frames"]["3"] == [{"id": 1, "x": 53.0, "y": 60.0, "r": 20.0, "label": "open", "source": "manual",
                                    "uncertain": False}]
    again, reloaded, notes = open_annotations(video)
    assert notes == [] and again.path == store.path
    assert reloaded.frames == annotations.frames and reloaded.current_frame == 3


def test_every_save_keeps_the_previous_version_as_backup(video):
    store, annotations = labelled(video, 0, 1, 2)
    assert sorted(read_file(store.backup).frames) == [0, 1]
    assert sorted(read_file(store.path).frames) == [0, 1, 2]
    assert not store.temp.exists()


def test_a_crash_while_writing_loses_only_the_change_being_written(video):
    store, annotations = labelled(video, 0, 1)
    annotations.frames[2] = (Marker(1, 9.0, 9.0, 9.0),)
    complete = dumps(annotations)
    store.temp.write_text(complete[: len(complete) // 2])  # what a crash in the middle of the write leaves
    _, recovered, notes = open_annotations(video)
    assert sorted(recovered.frames) == [0, 1]
    assert "interrupted save" in notes[0] and not store.temp.exists()


def test_a_crash_between_the_renames_recovers_the_newest_labels(video, monkeypatch):
    store, annotations = labelled(video, 0)
    annotations.frames[1] = (Marker(1, 9.0, 9.0, 9.0),)
    real_replace, calls = os.replace, []

    def die_on_the_second_rename(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise SystemExit("power cut")
        real_replace(source, target)

    monkeypatch.setattr("annotator.store.os.replace", die_on_the_second_rename)
    with pytest.raises(SystemExit):
        store.save(annotations)
    monkeypatch.undo()
    assert not store.path.exists() and store.temp.exists()
    again, recovered, notes = open_annotations(video)
    assert sorted(recovered.frames) == [0, 1] and "recovered" in notes[0]
    again.save(recovered)
    assert sorted(read_file(store.path).frames) == [0, 1] and not store.temp.exists()


def test_a_deleted_file_is_restored_from_its_backup(video):
    store, annotations = labelled(video, 0, 1)
    store.path.unlink()
    _, restored, notes = open_annotations(video)
    assert sorted(restored.frames) == [0] and "restored" in notes[0]


@pytest.mark.parametrize("content", [
    '{"version": 1, "video": "clip.mp4", "frames": {"0": [{"id": 1, "x": 5',  # truncated
    "\x00\x01 not json at all",
    json.dumps({"images": [], "annotations": [], "categories": []}),  # another tool's (COCO)
    json.dumps({"version": 1, "video": "other.mp4", "width": 640, "height": 480, "fps": 30, "frame_count": 5,
                "frames": {}}),  # labels of another video
])
def test_a_corrupt_or_foreign_file_is_reported_never_overwritten_and_work_goes_on_beside_it(video, content):
    path = video.path.with_name("clip.hands.json")
    path.write_text(content)
    store, annotations, notes = open_annotations(video)
    assert store.path == video.path.with_name("clip-2.hands.json")
    assert "left untouched" in notes[0] and "clip.hands.json" in notes[0]
    annotations.frames[4] = (Marker(1, 5.0, 5.0, 5.0),)
    store.save(annotations)
    store.save(annotations)
    assert path.read_text() == content
    again, reloaded, _ = open_annotations(video)  # the next start finds the new file, not a third one
    assert again.path == store.path and sorted(reloaded.frames) == [4]


def test_a_marker_with_an_impossible_value_makes_the_file_unreadable_rather_than_half_read(video):
    path = video.path.with_name("clip.hands.json")
    store, annotations = labelled(video, 0)
    data = json.loads(path.read_text())
    data["frames"]["0"][0]["label"] = "fist"
    path.write_text(json.dumps(data))
    store, _, notes = open_annotations(video)
    assert store.path.name == "clip-2.hands.json" and "'fist'" in notes[0]


def test_pose_labels_are_saved_with_the_classes_and_a_version_1_file_loads_and_gains_them(video):
    path = video.path.with_name("clip.hands.json")
    path.write_text(json.dumps({"version": 1, "video": "clip.mp4", "width": 320, "height": 240, "fps": 10.0,
                                "frame_count": 20, "current_frame": 2, "frames": {"2": [
                                    {"id": 1, "x": 50.0, "y": 60.0, "r": 20.0, "label": "open", "source": "flow",
                                     "uncertain": False}]}}))
    store, annotations, notes = open_annotations(video, poses=("fist", "palm", "none"))
    assert annotations.poses == ("fist", "palm", "none") and "pose classes: fist, palm, none" in notes[-1]
    assert annotations.markers(2) == (Marker(1, 50.0, 60.0, 20.0, "open", "flow"),)  # version 1 read as it was
    annotations.frames[2] = (annotations.markers(2)[0].touched(pose="palm"),)
    store.save(annotations)
    data = json.loads(path.read_text())
    assert data["version"] == VERSION == 2 and data["poses"] == ["fist", "palm", "none"]
    assert data["frames"]["2"][0]["pose"] == "palm"
    _, reloaded, _ = open_annotations(video)  # no --poses: the file's classes are kept
    assert reloaded.poses == annotations.poses and reloaded.frames == annotations.frames
    with pytest.raises(UserError, match="labelled palm, which the pose classes fist,none leave out"):
        open_annotations(video, poses=("fist", "none"))
    _, extended, _ = open_annotations(video, poses=("palm", "fist", "none", "ok"))  # reordering, adding: fine
    assert extended.poses == ("palm", "fist", "none", "ok") and extended.markers(2)[0].pose == "palm"
    for bad in (("fist", "fist"), ()):
        with pytest.raises(UserError, match="distinct non-empty names"):
            open_annotations(video, poses=bad)


@pytest.mark.parametrize("change, message", [
    (lambda data: data["frames"]["0"][0].update(pose="wave"), "pose 'wave', not one of the file's poses"),
    (lambda data: data.update(poses="fist"), "must be a list of distinct names"),
    (lambda data: data.update(version=VERSION + 1), "written by a newer annotator"),
])
def test_a_pose_outside_the_file_classes_or_a_newer_version_is_refused(video, change, message):
    path = video.path.with_name("clip.hands.json")
    labelled(video, 0)
    data = json.loads(path.read_text())
    data["poses"] = ["fist"]
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match=message):
        read_file(path)
