"""`python -m annotator` without a window: headless propagation and its error messages."""
import json
import math
import subprocess
import sys

import pytest
from annotator_scenes import two_disc_scene
from conftest import REPO

from annotator.__main__ import main
from annotator.store import Store
from heatmapnet.data.hands_json import Annotations, Marker
from heatmapnet.sources.video import Video

SCENE = two_disc_scene()


@pytest.fixture
def clip(tmp_path):
    return SCENE.write(tmp_path / "clip.mp4", 20)


def label_frame(clip, frame: int, labels=None) -> Store:
    """A label file for `clip` with both discs marked by hand on `frame`."""
    video = Video(clip)
    store = Store(labels or clip.with_suffix(".hands.json"))
    markers = tuple(Marker(i + 1, *disc.centre(frame), disc.r) for i, disc in enumerate(SCENE.discs))
    store.save(Annotations("clip.mp4", video.width, video.height, video.fps, video.frame_count, {frame: markers}))
    return store


def saved_frames(store: Store) -> dict:
    return {int(k): v for k, v in json.loads(store.path.read_text())["frames"].items()}


def test_propagate_carries_the_last_labelled_frame_forward_and_saves(clip, capsys):
    store = label_frame(clip, 3)
    assert main([str(clip), "--propagate", "10"]) == 0
    assert "frames 4-13" in capsys.readouterr().out
    frames = saved_frames(store)
    assert sorted(frames) == list(range(3, 14))
    for frame in range(4, 14):
        for hand, disc in zip(frames[frame], SCENE.discs):
            assert hand["source"] == "flow" and not hand["uncertain"]
            assert math.hypot(hand["x"] - disc.centre(frame)[0], hand["y"] - disc.centre(frame)[1]) < 1.0


def test_propagate_from_a_chosen_frame_to_a_chosen_file_stops_at_the_end(clip, tmp_path, capsys):
    store = label_frame(clip, 15, tmp_path / "elsewhere.json")
    assert main([str(clip), "--out", str(store.path), "--propagate", "50", "--from", "15"]) == 0
    assert "stopped: reached the end of the video" in capsys.readouterr().out
    assert sorted(saved_frames(store)) == [15, 16, 17, 18, 19]


@pytest.mark.parametrize("arguments, message", [
    (["--propagate", "5"], "no labelled frame to propagate from"),
    (["--propagate", "5", "--from", "4"], "frame 4 has no hands"),
    (["--propagate", "0", "--from", "4"], "--propagate needs a number of frames >= 1"),
])
def test_propagate_without_something_to_carry_says_what_to_do(clip, capsys, arguments, message):
    assert main([str(clip), *arguments]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: ") and message in error


def test_an_unreadable_video_exits_with_one_line_and_creates_nothing(tmp_path):
    bogus = tmp_path / "clip.mp4"
    bogus.write_text("these are not video frames\n" * 50)
    result = subprocess.run([sys.executable, "-m", "annotator", str(bogus), "--propagate", "3"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: cannot read video {bogus}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_without_a_display_the_window_is_refused_with_the_headless_alternative(clip, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main([str(clip)]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: no display") and "--propagate N" in error


def test_a_corrupt_label_file_is_kept_and_the_work_goes_to_a_new_file(clip, capsys):
    corrupt = clip.with_suffix(".hands.json")
    corrupt.write_text('{"version": 1, "frames": {"0": [{"id"')
    label_frame(clip, 0, clip.with_name("clip-2.hands.json"))
    assert main([str(clip), "--propagate", "2"]) == 0
    captured = capsys.readouterr()
    assert "clip.hands.json is not valid JSON" in captured.err and "left untouched" in captured.err
    assert corrupt.read_text() == '{"version": 1, "frames": {"0": [{"id"'
    assert sorted(saved_frames(Store(clip.with_name("clip-2.hands.json")))) == [0, 1, 2]


def test_poses_given_once_are_kept_in_the_file_and_carried_with_the_hands(clip):
    store = label_frame(clip, 3)
    assert main([str(clip), "--poses", "fist, palm,none", "--propagate", "2"]) == 0
    data = json.loads(store.path.read_text())
    assert data["poses"] == ["fist", "palm", "none"]
    data["frames"]["5"][0]["pose"] = "palm"
    store.path.write_text(json.dumps(data))
    assert main([str(clip), "--propagate", "2"]) == 0  # no --poses: the file's classes and labels stay
    data = json.loads(store.path.read_text())
    assert data["poses"] == ["fist", "palm", "none"] and [h.get("pose") for h in data["frames"]["7"]] == ["palm", None]


def test_poses_that_drop_a_class_in_use_are_refused_with_one_line(clip, capsys):
    store = label_frame(clip, 3)
    assert main([str(clip), "--poses", "fist,palm", "--propagate", "1"]) == 0
    data = json.loads(store.path.read_text())
    data["frames"]["3"][0]["pose"] = "fist"
    store.path.write_text(json.dumps(data))
    before = store.path.read_text()
    capsys.readouterr()
    assert main([str(clip), "--poses", "palm", "--propagate", "1"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("error: hands in this file are labelled fist") and store.path.read_text() == before
