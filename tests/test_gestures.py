"""Gesture recognition on synthetic hand paths fed through the real tracker (Kalman velocities and all)."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from heatmapnet.errors import UserError
from heatmapnet.gestures.config import GestureConfig
from heatmapnet.gestures.recognizer import GestureRecognizer
from heatmapnet.gestures.shapes import Templates, normalise
from heatmapnet.gestures.stage import SHIPPED_TEMPLATES, GestureStage, gesture_stage
from heatmapnet.outputs.files import JsonlWriter
from heatmapnet.outputs.records import frame_record
from heatmapnet.pipeline import FrameResult
from heatmapnet.sources.capture import Frame
from heatmapnet.tracking.tracker import MultiTracker

FPS = 30.0
SIZE = 60.0  # hand size in pixels: distances below are in hand sizes
START = np.array([320.0, 240.0])
DIRECTIONS = {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}


def rest(seconds: float, at) -> list[np.ndarray]:
    return [np.asarray(at, float)] * int(round(seconds * FPS))


def move(path, seconds: float) -> list[np.ndarray]:
    """Points along `path(s)` for s in (0, 1], eased in and out like a real hand."""
    count = int(round(seconds * FPS))
    return [np.asarray(path(0.5 - 0.5 * math.cos(math.pi * (i + 1) / count)), float) for i in range(count)]


def line(start, direction, hand_sizes: float):
    end = np.asarray(start) + SIZE * hand_sizes * np.asarray(direction, float)
    return lambda s: (1 - s) * np.asarray(start) + s * end


def circle(centre, radius_sizes: float, counter_clockwise: bool):
    """A circle from its top, counter-clockwise as seen in the image (y down) or clockwise."""
    sign = -1.0 if counter_clockwise else 1.0
    radius = radius_sizes * SIZE
    return lambda s: np.asarray(centre) + radius * np.array([math.sin(sign * 2 * math.pi * s),
                                                             -math.cos(2 * math.pi * s)])


def run(points, config=None, templates=None, noise=0.6, seed=0):
    """Feed the points as detections (with pixel noise; None: no detection) through the tracker and the
    recogniser, then end the source (events released by that are emitted at time None)."""
    rng = np.random.default_rng(seed)
    tracker, recognizer, events = MultiTracker(), GestureRecognizer(config, templates), []
    for index, point in enumerate(points):
        t = index / FPS
        detections = (np.empty((0, 5)) if point is None
                      else np.array([[*(point + rng.normal(0, noise, 2)), 0.9, SIZE, SIZE]]))
        hands = tracker.update(t, detections)
        events += [(t, event) for event in recognizer.update(t, hands)]
    return events + [(None, event) for event in recognizer.finish()]


@pytest.mark.parametrize("name", DIRECTIONS)
def test_each_swipe_is_detected_once_soon_after_it_ends(name):
    swipe = move(line(START, DIRECTIONS[name], 3.0), 0.4)
    events = run(rest(0.6, START) + swipe + rest(1.0, swipe[-1]))
    assert [event["name"] for _, event in events] == [name]
    emitted, event = events[0]
    assert event["type"] == "gesture" and event["id"] == 1 and 0.5 < event["score"] <= 1
    assert 0.5 <= event["t_start"] < event["t_end"] <= 1.3  # stopped at 1.0 s; the tracker settles within 0.3 s
    assert event["t_end"] < emitted <= event["t_end"] + GestureConfig().pause + 1.5 / FPS


def test_a_clean_swipe_fires_within_a_tenth_of_a_second_of_the_hand_stopping():
    swipe = move(line(START, DIRECTIONS["left"], 3.0), 0.4)
    events = run(rest(0.6, START) + swipe + rest(1.0, swipe[-1]), templates=square_templates())
    [(emitted, event)] = events
    assert event["name"] == "left"
    assert event["t_end"] < emitted <= event["t_end"] + GestureConfig().early_pause + 1e-3  # 3 frames at 30 fps


def square(start, side_seconds: float, corner_pause: float) -> list[np.ndarray]:
    """A square drawn downwards first, then right, up and left, resting `corner_pause` at each corner."""
    points, at = [], np.asarray(start, float)
    for direction in ("down", "right", "up", "left"):
        side = move(line(at, DIRECTIONS[direction], 3.0), side_seconds)
        points += side + rest(corner_pause, side[-1])
        at = side[-1]
    return points


def square_templates() -> Templates:
    templates = Templates()
    templates.add("square", normalise(np.array(square(START, 0.5, 0.0))), "synthetic")
    return templates


def test_a_square_drawn_with_stops_at_its_corners_is_one_square_not_four_swipes():
    drawn = square(START - [80, 100], 1.0, 0.25)  # each corner: longer than early_pause, shorter than pause
    points = rest(0.5, drawn[0]) + drawn + rest(1.0, drawn[-1])
    assert [event["name"] for _, event in run(points, templates=square_templates())] == ["square"]
    # without a square to begin, each side is a swipe that ended early
    assert [event["name"] for _, event in run(points)] == ["down", "right", "up", "left"]


def test_a_hand_lost_for_a_moment_while_drawing_keeps_its_stroke():
    """The tracker coasts through missed detections: the square unseen for 0.2 s at the end of its first side is
    still one square (the stroke waits a full pause for a lost hand, as for a hand at rest)."""
    drawn = square(START, 1.0, 0.0)
    drawn = drawn[:int(FPS)] + [None] * 6 + drawn[int(FPS):]
    assert [event["name"] for _, event in run(rest(0.5, START) + drawn + rest(1.0, drawn[-1]),
                                               templates=square_templates())] == ["square"]


def test_mirror_swaps_left_and_right():
    swipe = move(line(START, DIRECTIONS["right"], 3.0), 0.4)
    events = run(rest(0.6, START) + swipe + rest(1.0, swipe[-1]), GestureConfig(mirror=True))
    assert [event["name"] for _, event in events] == ["left"]


def glide(start, direction, speed: float, seconds: float) -> list[np.ndarray]:
    """Constant speed (hand sizes per second), no easing."""
    step = SIZE * speed / FPS * np.asarray(direction, float) / np.linalg.norm(direction)
    return [np.asarray(start, float) + step * (i + 1) for i in range(int(round(seconds * FPS)))]


@pytest.mark.parametrize("speed", [0.35, 0.8])  # below move_speed; above it, but for longer than max_duration
def test_slow_drift_and_rest_produce_nothing(speed):
    drift = glide(START, (1, 0.3), speed, GestureConfig().max_duration + 2.0)
    assert run(rest(2.0, START) + drift + rest(3.0, drift[-1]), noise=1.5) == []


@pytest.mark.parametrize("pause", [0.5, 0.0])
def test_swipe_then_return_gives_one_event(pause):
    out = move(line(START, DIRECTIONS["right"], 3.0), 0.35)
    back = move(line(out[-1], DIRECTIONS["left"], 3.0), 0.5)
    events = run(rest(0.5, START) + out + rest(pause, out[-1]) + back + rest(1.0, back[-1]))
    assert [event["name"] for _, event in events] == ["right"]


def test_the_end_of_the_source_ends_an_open_stroke_under_the_same_lockouts():
    out = move(line(START, DIRECTIONS["right"], 3.0), 0.35)
    back = move(line(out[-1], DIRECTIONS["left"], 3.0), 0.5)
    [(emitted, event)] = run(rest(0.5, START) + out)  # cut while moving
    assert emitted is None and event["name"] == "right"
    events = run(rest(0.5, START) + out + rest(0.5, out[-1]) + back[:-3])  # the way back, cut: still locked out
    assert [(emitted is None, event["name"]) for emitted, event in events] == [(False, "right")]


def test_a_repeated_swipe_after_the_cooldown_fires_again_and_a_small_twitch_never():
    first = move(line(START, DIRECTIONS["up"], 3.0), 0.4)
    second = move(line(first[-1], DIRECTIONS["up"], 3.0), 0.4)
    twitch = move(line(second[-1], DIRECTIONS["left"], 0.4), 0.2)
    events = run(rest(0.5, START) + first + rest(1.0, first[-1]) + second + rest(1.0, second[-1]) + twitch
                 + rest(1.0, twitch[-1]))
    assert [event["name"] for _, event in events] == ["up", "up"]


def circle_templates() -> Templates:
    templates = Templates()
    for name, ccw in (("circlecc", True), ("circlecw", False)):
        points = np.array(move(circle(START, 1.5, ccw), 1.0))
        templates.add(name, normalise(points), "synthetic")
    return templates


@pytest.mark.parametrize("ccw, name", [(True, "circlecc"), (False, "circlecw")])
def test_drawn_circles_are_told_apart_by_direction(ccw, name):
    drawn = move(circle(START + [30, 20], 2.0, ccw), 1.2)
    events = run(rest(0.5, drawn[0]) + drawn + rest(1.0, drawn[-1]), templates=circle_templates())
    assert [event["name"] for _, event in events] == [name]


def test_a_small_drawn_shape_fires_where_a_swipe_of_its_size_does_not():
    """Shapes drawn with a fingertip are smaller than a close hand's box: a circle spanning 0.8 hand sizes is
    still a circle (it must match a template), a straight stroke of 0.8 is no swipe (those must span 1)."""
    config = GestureConfig()
    assert config.shape_min_distance < 0.8 < config.min_distance
    drawn = move(circle(START, 0.4, True), 1.2)
    events = run(rest(0.5, drawn[0]) + drawn + rest(1.0, drawn[-1]), templates=circle_templates(), noise=0.3)
    assert [event["name"] for _, event in events] == ["circlecc"]
    swipe = move(line(START, DIRECTIONS["right"], 0.8), 0.4)
    assert run(rest(0.5, START) + swipe + rest(1.0, swipe[-1]), templates=circle_templates(), noise=0.3) == []
    smaller = move(circle(START, 0.25, True), 1.2)  # 0.5 hand sizes across: below shape_min_distance
    assert run(rest(0.5, smaller[0]) + smaller + rest(1.0, smaller[-1]), templates=circle_templates(),
               noise=0.3) == []


def test_templates_round_trip_through_their_file(tmp_path):
    templates = circle_templates()
    templates.save(tmp_path / "gestures.json")
    loaded = Templates.load(tmp_path / "gestures.json")
    assert loaded.names == templates.names and loaded.sources == templates.sources
    assert np.allclose(np.stack(loaded.points), np.stack(templates.points), atol=1e-4)


@pytest.mark.parametrize("content, message", [
    ("{not json", "is corrupt"),
    (json.dumps({"hello": 1}), "is not a gesture template file"),
    (json.dumps({"format": "heatmapnet-gestures", "version": 99, "points": 32, "templates": []}), "of version 99"),
    (json.dumps({"format": "heatmapnet-gestures", "version": 1, "points": 32,
                 "templates": [{"name": "x", "points": [[0, 0]]}]}), "is corrupt"),
])
def test_bad_template_files_are_one_clear_error(tmp_path, content, message):
    path = tmp_path / "gestures.json"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        Templates.load(path)


def test_track_cli_reports_a_bad_template_file_in_one_line(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"format": "heatmapnet-gestures", "version": 0, "points": 32, "templates": []}))
    result = subprocess.run([sys.executable, str(REPO / "track.py"), f"gestures={path}", "source=0"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: ") and "of version 0" in result.stderr


def test_the_shipped_templates_cover_the_egogestar_shapes():
    stage = gesture_stage({"templates": None})
    assert stage.recognizer.templates.names and SHIPPED_TEMPLATES.is_file()
    assert {"circlecc", "carret", "tick", "del", "square", "star"} <= set(stage.recognizer.templates.names)
    assert gesture_stage(None) is None


def test_events_reach_the_jsonl_record_of_the_frame_where_the_gesture_ends(tmp_path):
    swipe = move(line(START, DIRECTIONS["left"], 3.0), 0.4)
    points = rest(0.5, START) + swipe + rest(1.0, swipe[-1])
    tracker, stage = MultiTracker(), GestureStage(GestureConfig())
    image = np.zeros((480, 640, 3), np.uint8)
    writer = JsonlWriter(tmp_path / "out.jsonl")
    writer.open(FPS)
    for index, (x, y) in enumerate(points):
        t = index / FPS
        detections = np.array([[x, y, 0.9, SIZE, SIZE]])
        result = FrameResult(detections, tracker.update(t, detections), np.zeros((1, 1)), None, t)
        stage(image, result)
        writer.write(frame_record(Frame(index, t, image), result.detections, result.tracks, result.extras,
                                  result.events))
    writer.close()
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    with_events = [record for record in records if "events" in record]
    assert len(with_events) == 1
    (event,) = with_events[0]["events"]
    assert event["name"] == "left" and event["id"] == with_events[0]["tracks"][0]["id"]
    assert event["t_end"] < with_events[0]["t"] <= event["t_end"] + GestureConfig().pause + 1.5 / FPS


def test_track_cli_puts_a_swipe_that_the_end_of_the_file_cuts_off_into_the_last_record(tmp_path):
    from helpers_video import write_video
    from pose_clips import pose_frames
    still, moving = 20, 8  # the file ends while the hand is still moving right

    def offset(index):
        return -100.0 + 25.0 * min(max(index - still, 0), moving), 0.0

    clip = write_video(tmp_path / "cut.mp4", pose_frames("open", still + moving, offset=offset))
    result = subprocess.run([sys.executable, str(REPO / "track.py"), f"source={clip}", "output.jsonl=out.jsonl",
                             "pose=null", "keypoints=null", "display=false"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(records) == still + moving and len(records[-1]["tracks"]) == 1
    assert [record["frame"] for record in records if "events" in record] == [records[-1]["frame"]]
    (event,) = records[-1]["events"]
    assert event["name"] == "right" and event["id"] == records[-1]["tracks"][0]["id"]
    assert event["t_end"] == records[-1]["t"]


def synthetic_records(points) -> list[dict]:
    """Frame records (track.py's JSONL schema) of a hand following `points`."""
    tracker, image, records = MultiTracker(), np.zeros((480, 640, 3), np.uint8), []
    for index, (x, y) in enumerate(points):
        t = index / FPS
        detections = np.array([[x, y, 0.9, SIZE, SIZE]])
        records.append(frame_record(Frame(index, t, image), detections, tracker.update(t, detections)))
    return records


def test_record_cli_adds_examples_that_the_recogniser_then_finds(tmp_path):
    from heatmapnet.cli import run_tool
    from heatmapnet.gestures.__main__ import main
    drawn = move(circle(START, 1.5, False), 1.0)
    tracks = tmp_path / "tracks.jsonl"
    tracks.write_text("".join(json.dumps(record) + "\n"
                              for record in synthetic_records(rest(0.5, drawn[0]) + drawn + rest(0.5, drawn[-1]))))
    out = tmp_path / "mine.json"
    assert run_tool(main, ["record", "spin", f"tracks={tracks}", f"out={out}"]) == 0
    assert run_tool(main, ["record", "spin", f"tracks={tracks}", f"out={out}"]) == 0  # appends
    templates = Templates.load(out)
    assert templates.names == ["spin", "spin"]
    again = move(circle(START - [50, 0], 2.5, False), 1.4)
    events = run(rest(0.5, again[0]) + again + rest(1.0, again[-1]), templates=templates)
    assert [event["name"] for _, event in events] == ["spin"]


def test_record_cli_bad_arguments_are_one_error_line(capsys):
    from heatmapnet.cli import run_tool
    from heatmapnet.gestures.__main__ import main
    for arguments in (["spin"], ["spin", "colour=red", "source=x.mp4"], ["spin", "tracks=/nowhere.jsonl"]):
        assert run_tool(main, ["record", *arguments]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert "source=clip.mp4" in lines[0] and "colour" in lines[1] and "nowhere" in lines[2]


def test_track_config_gestures_section_is_the_library_defaults_and_switches_the_stage(tmp_path):
    import dataclasses

    from hydra import compose, initialize_config_dir

    import track
    with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
        default = compose("track")
        circle_templates().save(tmp_path / "mine.json")
        alone = ["pose=null", "keypoints=null"]  # the gesture stage alone
        off = compose("track", overrides=["gestures=null", *alone])
        mine = compose("track", overrides=[f"gestures={tmp_path / 'mine.json'}", *alone])
        tuned = compose("track", overrides=["gestures.move_speed=0", *alone])
    assert dict(default.gestures) == dataclasses.asdict(GestureConfig())
    assert [stage.name for stage in track.open_tracker(default).stages] == ["pose", "keypoints", "gestures"]
    assert track.open_tracker(off).stages == []
    (stage,) = track.open_tracker(mine).stages
    assert stage.recognizer.templates.names == ["circlecc", "circlecw"]
    with pytest.raises(UserError, match="gestures: .*move_speed"):
        track.open_tracker(tuned)


def test_gestures_load_without_torch():
    code = ("import sys, heatmapnet.gestures.stage, heatmapnet.gestures.__main__, heatmapnet.outputs.overlay; "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_the_window_shows_a_gesture_for_a_moment():
    from heatmapnet.outputs.overlay import RecentGestures, annotate
    recent = RecentGestures(seconds=1.0)
    event = {"type": "gesture", "name": "left", "id": 2, "t_start": 0.5, "t_end": 0.9, "score": 0.9}
    assert recent.update(1.0, [event]) == [event]
    assert recent.update(1.9, []) == [event]
    assert recent.update(2.0, []) == []
    frame = np.full((240, 320, 3), 90, np.uint8)
    plain, labelled = annotate(frame, np.zeros((0, 5)), [], {}), annotate(frame, np.zeros((0, 5)), [], {}, None, [event])
    changed = np.argwhere((plain != labelled).any(axis=2))
    assert len(changed) and changed[:, 0].min() > 240 // 2  # drawn along the bottom
