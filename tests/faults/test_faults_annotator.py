"""Faults at `python -m annotator`: SIGKILL during headless propagation (what was carried is saved as it
goes), and a label file of another recording with the same name and size (left untouched)."""
import json
import os
import random
import signal
import subprocess
import sys
import time

from annotator_scenes import Disc, Scene, two_disc_scene
from conftest import REPO
from fault_checks import fingerprints

from annotator.store import Store, VideoInfo, open_annotations
from heatmapnet.data.hands_json import Annotations, Marker, read_file
from heatmapnet.sources.video import Video

SLOW = Scene([Disc(150.0, 110.0, 30.0, 0.3, 0.1)])  # stays in view and trackable for hundreds of frames


def labelled_clip(folder, scene: Scene, frames: int, name: str = "clip.mp4"):
    clip = scene.write(folder / name, frames)
    video = Video(clip)
    store = Store(clip.with_suffix(".hands.json"))
    disc = scene.discs[0]
    store.save(Annotations(name, video.width, video.height, video.fps, video.frame_count,
                           {0: (Marker(1, disc.x, disc.y, disc.r),)}, first_frame=VideoInfo.of(video).first_frame))
    video.close()
    return clip, store


def saved_frames(store: Store) -> set[int]:
    try:
        return set(read_file(store.path).frames)
    except Exception:  # caught between writes: the next poll sees the file
        return set()


def test_sigkill_during_propagation_keeps_what_was_carried(tmp_path):
    clip, store = labelled_clip(tmp_path, SLOW, 160)
    video_before = fingerprints(clip)
    process = subprocess.Popen([sys.executable, "-m", "annotator", str(clip), "--propagate", "150", "--from", "0"],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        seen: set[int] = set()
        deadline = time.monotonic() + 120
        while len(seen) < 2 and process.poll() is None and time.monotonic() < deadline:
            seen = saved_frames(store)
            time.sleep(0.01)
        assert process.poll() is None, "propagation ended before its first incremental save was seen"
        assert len(seen) > 1  # saved while still running
        time.sleep(random.Random(17).uniform(0.0, 0.3))  # then kill it at some moment after that
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    _, annotations, notes = open_annotations(VideoInfo.of(Video(clip)))  # what the next session finds
    assert set(annotations.frames) >= seen and min(annotations.frames) == 0
    assert sorted(annotations.frames) == list(range(len(annotations.frames)))  # no hole
    assert fingerprints(clip) == video_before
    assert all("left untouched" not in note for note in notes)


def test_labels_of_another_recording_with_the_same_name_and_size_are_left_alone(tmp_path):
    """Another take saved under the same name: other frame count, or same count and other pictures."""
    scene = two_disc_scene()
    clip, store = labelled_clip(tmp_path, scene, 12)
    labels_before = fingerprints(store.path)

    scene.write(clip, 20)  # a longer take, same name and size
    _, annotations, notes = open_annotations(VideoInfo.of(Video(clip)))
    assert any("another recording" in note and "12 frames" in note for note in notes), notes
    assert fingerprints(store.path) == labels_before and not annotations.frames

    other = Scene([Disc(100.0, 100.0, 20.0)], seed=7)  # same length, different pictures
    other.write(clip, 12)
    store2, annotations, notes = open_annotations(VideoInfo.of(Video(clip)))
    assert any("first frame looks different" in note for note in notes), notes
    assert fingerprints(store.path) == labels_before and store2.path.name == "clip-2.hands.json"


def test_a_label_file_from_before_the_fingerprint_still_opens_and_gains_one(tmp_path):
    clip, store = labelled_clip(tmp_path, two_disc_scene(), 12)
    data = json.loads(store.path.read_text())
    del data["first_frame"]
    store.path.write_text(json.dumps(data))
    found, annotations, notes = open_annotations(VideoInfo.of(Video(clip)))
    assert found.path == store.path and list(annotations.frames) == [0] and not notes
    assert annotations.first_frame and len(bytes.fromhex(annotations.first_frame)) == 256
