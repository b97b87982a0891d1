"""Drawing, offscreen: markers by label and state, the timeline strip, help, and key code names."""
import math

import numpy as np
import pytest
from annotator_scenes import two_disc_scene

from annotator.session import HELP, Session
from annotator.store import VideoInfo, open_annotations
from annotator.view import (
    OPEN_COLOUR,
    OTHER_COLOUR,
    STATUS_HEIGHT,
    TIMELINE_COLOURS,
    TIMELINE_HEIGHT,
    UNCERTAIN_COLOUR,
    key_name,
    render,
)
from heatmapnet.data.hands_json import Marker
from heatmapnet.sources.video import Video


@pytest.fixture
def session(tmp_path):
    video = Video(two_disc_scene().write(tmp_path / "clip.mp4", 40))
    store, annotations, _ = open_annotations(VideoInfo.of(video))
    annotations.frames = {
        0: (Marker(1, 90.0, 80.0, 28.0), Marker(2, 230.0, 160.0, 24.0, "other")),
        1: (Marker(1, 93.0, 81.5, 28.0, source="flow", uncertain=True),),
        2: (Marker(1, 96.0, 83.0, 28.0, source="flow"),),
    }
    return Session(video, annotations, store)


def ring(image, marker, scale=1.0, count=72):
    """Pixels on a marker's circle as drawn at `scale`."""
    return np.array([image[round((marker.y + marker.r * math.sin(a)) * scale - 0.5),
                           round((marker.x + marker.r * math.cos(a)) * scale - 0.5)]
                     for a in np.linspace(0, 2 * math.pi, count, endpoint=False)]).astype(int)


def share_near(pixels, colour, tolerance=50) -> float:
    return float(np.mean(np.abs(pixels - colour).max(axis=1) < tolerance))


def test_markers_are_drawn_by_label_and_the_frame_is_left_alone_elsewhere(session):
    image = render(session, session.image())
    assert image.shape == (240 + TIMELINE_HEIGHT + STATUS_HEIGHT, 320, 3)
    open_hand, other_hand = session.markers
    assert share_near(ring(image, open_hand), OPEN_COLOUR) > 0.8
    assert share_near(ring(image, other_hand), OTHER_COLOUR) > 0.8
    assert np.array_equal(image[200:240, 0:150], session.image()[200:240, 0:150])


def test_an_uncertain_marker_is_dashed_red(session):
    session.go_to(1)
    pixels = ring(render(session, session.image()), session.markers[0])
    assert 0.3 < share_near(pixels, UNCERTAIN_COLOUR) < 0.7  # dashes and gaps


def test_drawing_follows_the_display_scale(session):
    image = render(session, session.image(), scale=0.5)
    assert image.shape[:2] == (120 + TIMELINE_HEIGHT + STATUS_HEIGHT, 160)
    assert share_near(ring(image, session.markers[0], scale=0.5), OPEN_COLOUR) > 0.8


def test_the_timeline_shows_how_each_stretch_of_frames_is_labelled(session):
    strip = render(session, session.image())[240:240 + TIMELINE_HEIGHT // 2]
    column = lambda frame: strip[0, frame * 320 // 40 + 3]  # eight columns per frame; the cursor sits on frame 0
    assert tuple(column(1)) == TIMELINE_COLOURS["uncertain"]
    assert tuple(column(2)) == TIMELINE_COLOURS["flow"]
    assert tuple(column(10)) == TIMELINE_COLOURS[None]
    session.go_to(20)
    strip = render(session, session.image())[240:240 + TIMELINE_HEIGHT // 2]
    assert tuple(strip[0, 4]) == TIMELINE_COLOURS["manual"]


def test_help_lists_every_key_over_a_darkened_frame(session):
    plain = render(session, session.image())
    session.key("?")
    helped = render(session, session.image())
    rows = np.flatnonzero((helped[:, 120:] > 200).any(axis=(1, 2)))  # rows with bright text
    lines = 1 + np.count_nonzero(np.diff(rows) > 3)  # bands of text rows, one per line
    assert lines == len(HELP) and helped[:240].mean() < plain[:240].mean() * 0.6
    session.key("esc")  # closes help, does not quit
    assert not session.show_help and not session.quit


@pytest.mark.parametrize("code, name", [(13, "enter"), (27, "esc"), (8, "backspace"), (65361, "left"),
                                        (65363, "right"), (ord("o"), "o"), (ord("?"), "?"), (ord(" "), " "),
                                        (0x1000000, None), (-1 & 0xFFFF, None)])
def test_key_codes_become_session_key_names(code, name):
    assert key_name(code) == name
