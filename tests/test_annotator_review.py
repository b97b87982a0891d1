"""A labelling pass that feeds training: `x` marks "no hands here", `r`/`a` review flow-carried frames.

Driven by scripted keys over a generated clip; checks the file on disk, the timeline, and what the
`annotations` training reader makes of it.
"""
import json

import pytest
from annotator_scenes import two_disc_scene

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
def session(clip, tmp_path):
    video = Video(clip)
    store, annotations, _ = open_annotations(VideoInfo.of(video), tmp_path / "clip.hands.json")
    annotations.frames[0] = tuple(Marker(i + 1, d.x, d.y, d.r) for i, d in enumerate(SCENE.discs))
    return Session(video, annotations, store)


def on_disk(session) -> dict:
    data = json.loads(session.store.path.read_text())
    return {int(frame): hands for frame, hands in data["frames"].items()}


def test_x_marks_a_negative_frame_that_training_learns_and_undo_restores(session):
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


def test_review_visits_flow_frames_only_and_accept_makes_them_manual(session):
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


def test_review_wraps_round_and_accepts_a_frame_flow_lost_a_hand_on(session):
    session.annotations.frames[4] = (Marker(1, 100.0, 86.0, 28.0, source="flow", uncertain=True),)
    session.go_to(10)
    session.key("r")
    assert session.frame == 4  # from frame 10, round past the end to frame 4
    session.key("a")
    assert on_disk(session)[4][0]["uncertain"] is False and on_disk(session)[4][0]["source"] == "manual"
