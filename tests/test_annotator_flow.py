"""Optical-flow propagation on synthetic textured patches whose true positions are known."""
import math

import cv2
import numpy as np
import pytest
from annotator_scenes import Disc, Scene

from annotator.flow import track
from heatmapnet.data.hands_json import Marker


def follow(scene: Scene, markers, frames: int, occluders=lambda frame: ()):
    """Carry `markers` from frame 0 through `frames` frames; the markers after each step."""
    history, previous = [], scene.frame(0)
    for index in range(1, frames + 1):
        current = scene.frame(index, occluders(index))
        markers = track(previous, current, markers)
        history.append(markers)
        previous = current
    return history


@pytest.mark.parametrize("velocity", [(2.3, 1.4), (-4.6, 0.7), (0.0, 0.0)])
def test_a_moving_patch_is_followed_within_a_pixel_every_frame_for_ten_frames(velocity):
    scene = Scene([Disc(150.0, 110.0, 30.0, *velocity)])
    history = follow(scene, [Marker(1, 150.0, 110.0, 30.0)], 10)
    for frame, (marker,) in enumerate(history, start=1):
        x, y = scene.discs[0].centre(frame)
        assert math.hypot(marker.x - x, marker.y - y) < 1.0, f"frame {frame}"
        assert not marker.uncertain and marker.source == "flow"
        assert marker.r == pytest.approx(30.0, rel=0.05)


def test_markers_with_a_wrong_start_keep_their_offset_instead_of_snapping_or_drifting():
    scene = Scene([Disc(100.0, 120.0, 32.0, 3.0, -1.0)])
    (marker,) = follow(scene, [Marker(1, 104.0, 117.0, 32.0)], 10)[-1]
    x, y = scene.discs[0].centre(10)
    assert math.hypot(marker.x - (x + 4.0), marker.y - (y - 3.0)) < 1.0


def test_two_hands_move_independently():
    scene = Scene([Disc(80.0, 80.0, 26.0, 3.0, 0.0), Disc(240.0, 160.0, 26.0, -2.0, -2.0)])
    markers = [Marker(1, 80.0, 80.0, 26.0), Marker(2, 240.0, 160.0, 26.0)]
    last = follow(scene, markers, 10)[-1]
    for marker, disc in zip(last, scene.discs):
        assert math.hypot(marker.x - disc.centre(10)[0], marker.y - disc.centre(10)[1]) < 1.0


def test_the_radius_follows_a_zoom():
    scene = Scene([Disc(160.0, 120.0, 40.0)])
    image = scene.frame(0)
    zoom = cv2.getRotationMatrix2D((159.5, 119.5), 0.0, 1.1)  # scale 1.1 about the disc centre
    zoomed = cv2.warpAffine(image, zoom, (320, 240), flags=cv2.INTER_LINEAR)
    (marker,) = track(image, zoomed, [Marker(1, 160.0, 120.0, 40.0)])
    assert marker.r == pytest.approx(44.0, rel=0.03)
    assert math.hypot(marker.x - 160.0, marker.y - 120.0) < 0.5


def test_an_occluded_patch_is_flagged_uncertain_and_kept_where_it_was_last_seen():
    scene = Scene([Disc(100.0, 120.0, 30.0, 3.0, 0.0)])

    def occluders(frame):  # a grey board covers the patch from frame 6 on
        return [(110, 70, 220, 170)] if frame >= 6 else []

    history = follow(scene, [Marker(1, 100.0, 120.0, 30.0)], 8, occluders)
    assert not any(m.uncertain for (m,) in history[:5])
    (lost,) = history[5]
    (seen,) = history[4]
    assert lost.uncertain and (lost.x, lost.y, lost.r) == (seen.x, seen.y, seen.r)
    (still,) = history[7]
    assert still.uncertain and (still.x, still.y) == (seen.x, seen.y)


def test_a_patch_that_leaves_the_frame_becomes_uncertain():
    scene = Scene([Disc(260.0, 120.0, 30.0, 12.0, 0.0)])
    history = follow(scene, [Marker(1, 260.0, 120.0, 30.0)], 8)
    assert history[-1][0].uncertain
    assert np.isfinite(history[-1][0].x)
