"""The annotator driven by scripted key and mouse events over a generated video; checks what lands on disk."""
import json
import math
import os

import pytest
from annotator_scenes import Disc, Scene, two_disc_scene

from annotator.session import Session
from annotator.store import VideoInfo, open_annotations
from annotator.view import TIMELINE_COLOURS, TIMELINE_HEIGHT, render
from heatmapnet.data.hands_json import Marker
from heatmapnet.data.registry import make_reader
from heatmapnet.sources.video import Video

FRAMES = 20
SCENE = two_disc_scene()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return SCENE.write(tmp_path_factory.mktemp("video") / "clip.mp4", FRAMES)


@pytest.fixture
def start(clip, tmp_path):
    """start() opens (or reopens, as after a restart) the annotator on the clip with labels in tmp_path."""
    out = tmp_path / "clip.hands.json"

    def open_session(video_path=clip, poses=None):
        video = Video(video_path)
        store, annotations, _ = open_annotations(VideoInfo.of(video), out, poses)
        return Session(video, annotations, store)

    open_session.out = out
    return open_session


def on_disk(session) -> dict:
    """The frames as saved: {frame: [hand dicts]}; reading the file checks that every change autosaved."""
    data = json.loads(session.store.path.read_text())
    return {int(frame): hands for frame, hands in data["frames"].items()}


def click(session, x, y):
    session.mouse("press", x, y)
    session.mouse("release", x, y)


def drag(session, start, end, steps=4):
    session.mouse("press", *start)
    for i in range(1, steps + 1):
        session.mouse("move", start[0] + (end[0] - start[0]) * i / steps, start[1] + (end[1] - start[1]) * i / steps)
    session.mouse("release", *end)


def label_both_discs(session):
    for disc in SCENE.discs:
        drag(session, (disc.x, disc.y), (disc.x + disc.r, disc.y))  # click at the centre, drag out to the rim


def test_clicking_adds_hands_with_stable_ids_and_saves_at_once(start):
    session = start()
    click(session, 90.5, 80.5)
    click(session, 230.5, 160.5)
    hands = on_disk(session)[0]
    assert [(h["id"], h["x"], h["y"], h["label"], h["source"]) for h in hands] == [
        (1, 90.5, 80.5, "open", "manual"), (2, 230.5, 160.5, "open", "manual")]
    assert hands[0]["r"] == hands[1]["r"] > 0


def test_drawing_moving_and_resizing_a_hand(start):
    session = start()
    drag(session, (90.0, 80.0), (90.0, 110.0))  # press on empty space and drag out: centre and radius
    (hand,) = on_disk(session)[0]
    assert (hand["x"], hand["y"], hand["r"]) == (90.0, 80.0, 30.0)
    drag(session, (95.0, 85.0), (105.0, 80.0))  # inside: move by the drag
    drag(session, (135.0, 75.0), (145.0, 75.0))  # on the rim (x = 100 + 30 + 5): resize to the pointer
    (hand,) = on_disk(session)[0]
    assert (hand["x"], hand["y"]) == (100.0, 75.0) and hand["r"] == pytest.approx(45.0)
    click(session, 300.0, 200.0)
    assert on_disk(session)[0][1]["r"] == pytest.approx(45.0)  # a new hand takes the last size
    session.key("[")  # the selected (newest) hand shrinks
    assert on_disk(session)[0][1]["r"] == pytest.approx(45.0 / 1.1)


def test_o_toggles_the_label_of_the_hand_under_the_pointer(start):
    session = start()
    click(session, 90.0, 80.0)
    click(session, 230.0, 160.0)
    session.mouse("move", 92.0, 82.0)
    session.key("o")
    assert [h["label"] for h in on_disk(session)[0]] == ["other", "open"]
    session.key("o")
    assert [h["label"] for h in on_disk(session)[0]] == ["open", "open"]
    session.mouse("move", 10.0, 10.0)  # over nothing: the selected hand (the one just toggled)
    session.key("o")
    assert [h["label"] for h in on_disk(session)[0]] == ["other", "open"]


def test_l_cycles_the_pose_through_the_file_classes_and_flow_carries_it(start):
    session = start(poses=("fist", "palm"))
    click(session, 90.0, 80.0)
    click(session, 230.0, 160.0)
    session.mouse("move", 92.0, 82.0)
    poses = []
    for _ in range(3):
        session.key("l")
        poses.append([h.get("pose") for h in on_disk(session)[0]])  # autosaved, absent while not labelled
    assert poses == [["fist", None], ["palm", None], [None, None]]
    session.key("L")  # backwards: from unlabelled to the last class
    assert [h.get("pose") for h in on_disk(session)[0]] == ["palm", None]
    session.key("u")
    assert [h.get("pose") for h in on_disk(session)[0]] == [None, None]
    session.key("l")
    session.key("2")  # flow carries each hand with its pose
    assert session.frame == 1 and [(h["source"], h.get("pose")) for h in on_disk(session)[1]] == [
        ("flow", "fist"), ("flow", None)]
    again = start()  # the classes stay in the file without --poses
    assert again.annotations.poses == ("fist", "palm") and again.annotations.markers(1)[0].pose == "fist"


def test_l_without_pose_classes_says_how_to_get_them(start):
    session = start()
    click(session, 90.0, 80.0)
    session.key("l")
    assert "--poses" in session.message and "pose" not in on_disk(session)[0][0]


def test_undo_is_multi_level_and_saved(start):
    session = start()
    click(session, 90.0, 80.0)
    click(session, 230.0, 160.0)
    session.mouse("move", 90.0, 80.0)
    session.key("o")
    session.mouse("right", 230.0, 160.0)
    assert [(h["id"], h["label"]) for h in on_disk(session)[0]] == [(1, "other")]
    session.key("u")
    assert [(h["id"], h["label"]) for h in on_disk(session)[0]] == [(1, "other"), (2, "open")]
    session.key("ctrl+z")
    assert [(h["id"], h["label"]) for h in on_disk(session)[0]] == [(1, "open"), (2, "open")]
    session.key("u")
    session.key("u")
    assert on_disk(session) == {}
    session.key("u")
    assert session.message == "nothing to undo"


def test_navigation_keys_trackbar_and_go_to(start):
    session = start()
    for key, frame in [("f", 1), ("f", 2), ("v", 12), ("v", 19), ("f", 19), ("d", 18), ("c", 8), ("c", 0), ("d", 0)]:
        session.key(key)
        assert session.frame == frame, key
    for key in "g15":
        session.key(key)
    session.key("backspace")
    session.key("7")
    session.key("enter")
    assert session.frame == 17
    session.go_to(3)  # the trackbar
    assert session.frame == 3


def test_n_jumps_to_the_next_frame_without_labels(start):
    session = start()
    click(session, 90.0, 80.0)
    for _ in range(3):
        session.key("enter")  # label-and-go fills frames 1-3
    session.go_to(0)
    session.key("n")
    assert session.frame == 4


def test_enter_accepts_and_carries_hands_to_the_next_frame_with_flow(start):
    session = start()
    label_both_discs(session)
    click(session, 90.0, 80.0)  # touching a hand without moving it changes nothing
    for frame in range(1, 6):
        session.key("enter")
        assert session.frame == frame
    saved = on_disk(session)
    assert all(h["source"] == "manual" for frame in range(5) for h in saved[frame])
    assert all(h["source"] == "flow" and not h["uncertain"] for h in saved[5])
    for hand, disc in zip(saved[5], SCENE.discs):
        assert math.hypot(hand["x"] - disc.centre(5)[0], hand["y"] - disc.centre(5)[1]) < 1.0
        assert hand["r"] == pytest.approx(disc.r, rel=0.05)


def test_p_propagates_to_the_end_and_one_undo_takes_the_whole_run_back(start):
    session = start()
    label_both_discs(session)
    session.key("p")
    while session.mode == "propagate":
        session.tick()
    assert session.frame == FRAMES - 1 and "end of the video" in session.message
    saved = on_disk(session)
    assert sorted(saved) == list(range(FRAMES))
    for frame in range(1, FRAMES):
        for hand, disc in zip(saved[frame], SCENE.discs):
            assert math.hypot(hand["x"] - disc.centre(frame)[0], hand["y"] - disc.centre(frame)[1]) < 1.0, frame
    session.key("u")
    assert sorted(on_disk(session)) == [0] and session.frame == 0


def test_any_key_stops_propagation(start):
    session = start()
    label_both_discs(session)
    session.key("p")
    session.tick()
    session.tick()
    session.key("s")
    for _ in range(3):
        session.tick()
    assert session.mode is None and session.frame == 2 and sorted(on_disk(session)) == [0, 1, 2]


def test_propagation_stops_at_a_frame_labelled_by_hand_and_leaves_it_alone(start):
    session = start()
    session.go_to(6)
    click(session, 90.0, 80.0)  # frame 6: only the first hand, placed by hand at its frame-0 spot
    session.go_to(0)
    label_both_discs(session)
    session.key("p")
    while session.mode == "propagate":
        session.tick()
    assert session.frame == 6 and "labelled by hand" in session.message
    assert [(h["x"], h["y"], h["source"]) for h in on_disk(session)[6]] == [(90.0, 80.0, "manual")]


def test_propagation_stops_where_the_flow_loses_a_hand(tmp_path):
    def board(frame):  # a grey board hides the first disc from frame 4 on
        return [(100, 40, 200, 140)] if frame >= 4 else []

    scene = Scene([Disc(90.0, 80.0, 28.0, 3.0, 1.5), Disc(230.0, 180.0, 24.0, -2.0, 0.0)])
    video = Video(scene.write(tmp_path / "hidden.mp4", 10, occluders=board))
    store, annotations, _ = open_annotations(VideoInfo.of(video))
    session = Session(video, annotations, store)
    for disc in scene.discs:
        drag(session, (disc.x, disc.y), (disc.x + disc.r, disc.y))
    session.key("p")
    while session.mode == "propagate":
        session.tick()
    assert session.frame == 4 and "lost hand 1" in session.message
    lost, kept = on_disk(session)[4]
    assert lost["uncertain"] and (lost["x"], lost["y"]) == tuple(on_disk(session)[3][0][k] for k in ("x", "y"))
    assert not kept["uncertain"]
    session.mouse("press", lost["x"], lost["y"])  # the user takes over: the hand is certain again
    session.mouse("release", lost["x"], lost["y"])
    assert not on_disk(session)[4][0]["uncertain"] and on_disk(session)[4][0]["source"] == "manual"


def test_2_and_1_carry_one_frame_forward_and_back(start):
    session = start()
    session.go_to(5)
    label_both_discs_at = [(d.centre(5), d.r) for d in SCENE.discs]
    for (x, y), r in label_both_discs_at:
        drag(session, (x, y), (x + r, y))
    session.key("2")
    assert session.frame == 6
    session.go_to(5)
    session.key("1")
    assert session.frame == 4
    saved = on_disk(session)
    for frame in (4, 6):
        for hand, disc in zip(saved[frame], SCENE.discs):
            assert math.hypot(hand["x"] - disc.centre(frame)[0], hand["y"] - disc.centre(frame)[1]) < 1.0


def test_reopening_resumes_at_the_last_frame_with_every_label(start):
    session = start()
    click(session, 90.0, 80.0)
    session.key("enter")
    session.key("enter")
    session.key("q")
    assert session.quit
    again = start()
    assert again.frame == 2 and on_disk(again) == on_disk(session) and sorted(on_disk(again)) == [0, 1, 2]


def test_after_a_crash_mid_save_the_tool_restarts_with_everything_saved_before(start, monkeypatch):
    session = start()
    label_both_discs(session)
    session.key("enter")
    before = on_disk(session)

    def power_cut(fd):  # the machine dies before the new file reaches the disk: half of it is there
        os.ftruncate(fd, os.fstat(fd).st_size // 2)
        raise SystemExit("power cut")

    monkeypatch.setattr("annotator.store.os.fsync", power_cut)
    session.mouse("move", 90.0, 80.0)
    with pytest.raises(SystemExit):
        session.key("o")
    monkeypatch.undo()
    assert session.store.temp.exists()
    again = start()
    assert on_disk(again) == before and again.frame == 1 and not again.store.temp.exists()
    again.mouse("move", 90.0, 80.0)
    again.key("o")
    assert on_disk(again)[1][0]["label"] == "other"


def test_a_frame_that_fails_to_decode_gives_a_message_and_loses_no_labels(tmp_path):
    path = SCENE.write(tmp_path / "long.mp4", 60)
    video = Video(path)
    store, annotations, _ = open_annotations(VideoInfo.of(video))
    session = Session(video, annotations, store)
    session.go_to(50)
    for disc in SCENE.discs:
        click(session, *disc.centre(50))
    os.truncate(path, os.path.getsize(path) // 3)  # the file is cut short while the tool runs
    session.key("2")
    assert session.frame == 50 and "could not be decoded" in session.message
    session.go_to(55)
    assert session.image() is None and "could not be decoded" in session.message and "labels are kept" in session.message
    assert [h["id"] for h in on_disk(session)[50]] == [1, 2]


def test_space_plays_until_the_end_or_the_next_space(start):
    session = start()
    session.key(" ")
    for _ in range(3):
        session.tick()
    session.key(" ")
    session.tick()
    assert session.frame == 3 and session.mode is None
    session.go_to(17)
    session.key(" ")
    for _ in range(5):
        session.tick()
    assert session.frame == FRAMES - 1 and session.mode is None and session.message == "end of the video"


# ---- a labelling pass that feeds training: `x` marks "no hands here", `r` / `a` review flow-carried frames

def with_both_discs_on_frame_0(session):
    session.annotations.frames[0] = tuple(Marker(i + 1, d.x, d.y, d.r) for i, d in enumerate(SCENE.discs))
    return session


def test_x_marks_a_negative_frame_that_training_learns_and_undo_restores(start):
    session = with_both_discs_on_frame_0(start())
    session.key("2")  # flow carries both hands to frame 1
    assert session.frame == 1 and len(on_disk(session)[1]) == 2
    session.key("x")
    assert on_disk(session)[1] == [] and session.frame == 2  # saved as "no hands here", on to the next frame
    assert "no hands here (2 hand(s) removed)" in session.message
    strip = render(session, session.image())[240:240 + TIMELINE_HEIGHT // 2]
    assert tuple(strip[0, 1 * 320 // FRAMES + 3]) == TIMELINE_COLOURS["no hands"]
    samples = make_reader("annotations").read(session.store.path)
    assert [(s.frame_index, len(s.hands)) for s in samples] == [(0, 2), (1, 0)]  # a negative, not skipped
    session.key("u")
    assert len(on_disk(session)[1]) == 2 and session.frame == 1


def test_review_visits_flow_frames_only_and_accept_makes_them_manual(start):
    session = with_both_discs_on_frame_0(start())
    for _ in range(3):
        session.key("2")  # frames 1-3 carried by flow
    session.go_to(9)
    session.key("x")  # a negative frame: nothing to review there
    session.go_to(0)
    session.key("r")
    assert session.frame == 1
    session.mouse("move", 5.0, 5.0)
    session.key("a")
    assert session.frame == 2 and {h["source"] for h in on_disk(session)[1]} == {"manual"}
    assert "accepted frame 1; reviewing frame 2" == session.message
    session.key("a")
    session.key("a")
    assert all(h["source"] == "manual" and not h["uncertain"] for hands in on_disk(session).values() for h in hands)
    assert session.frame == 3 and session.message == "nothing to review: no flow-carried hands left"
    session.key("r")
    assert session.frame == 3  # nothing left: stays put


def test_review_wraps_round_and_accepts_a_frame_flow_lost_a_hand_on(start):
    session = with_both_discs_on_frame_0(start())
    session.annotations.frames[4] = (Marker(1, 100.0, 86.0, 28.0, source="flow", uncertain=True),)
    session.go_to(10)
    session.key("r")
    assert session.frame == 4  # from frame 10, round past the end to frame 4
    session.key("a")
    assert on_disk(session)[4][0]["uncertain"] is False and on_disk(session)[4][0]["source"] == "manual"
