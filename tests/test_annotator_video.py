"""Frame access: exact frames in any order, and clear errors for files that are not (or no longer) videos."""
import os

import cv2
import numpy as np
import pytest
from annotator_scenes import two_disc_scene
from conftest import shared_path

from heatmapnet.errors import UserError
from heatmapnet.sources.video import FrameError, Video


def test_random_access_returns_the_frame_a_sequential_decode_gives(tmp_path):
    path = two_disc_scene().write(tmp_path / "clip.mp4", 40)
    capture, decoded = cv2.VideoCapture(str(path)), []
    while (frame := capture.read())[0]:
        decoded.append(frame[1])
    video = Video(path, cache_size=4)
    assert (video.frame_count, video.width, video.height) == (40, 320, 240)
    for index in [39, 0, 21, 20, 19, 38, 2, 30]:
        assert np.array_equal(video.frame(index), decoded[index]), index


def test_a_phone_video_with_a_timestamp_gap_is_still_frame_accurate():
    """OpenCV's frame-number seek lands one frame early in 1hand.mp4 from frame 257 on; the index must not."""
    path = shared_path("data", "webcam4", "videos", "1hand.mp4")
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    decoded = [capture.read()[1] for _ in range(263)][255:]
    video = Video(path, cache_size=1)
    assert (video.frame_count, video.width, video.height) == (324, 480, 852)
    for index in [262, 257, 260, 255, 258]:
        assert np.array_equal(video.frame(index), decoded[index - 255]), index


def test_a_header_that_promises_more_frames_than_decode_is_corrected():
    video = Video(shared_path("data", "webcam4", "videos", "2hand.mp4"))  # the header says 138
    assert video.frame_count == 137
    with pytest.raises(FrameError, match="outside the video"):
        video.frame(137)


@pytest.mark.parametrize("content, message", [(None, "does not exist"), (b"not a video at all" * 100, "cannot read video")])
def test_what_is_not_a_video_is_refused_with_one_clear_line(tmp_path, content, message):
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message) as error:
        Video(path)
    assert "\n" not in str(error.value)


def test_a_file_cut_short_after_opening_raises_frame_error_for_the_lost_frames_only(tmp_path):
    path = two_disc_scene().write(tmp_path / "clip.mp4", 60)
    video = Video(path, cache_size=1)
    os.truncate(path, os.path.getsize(path) // 3)
    with pytest.raises(FrameError, match="frame 55 of clip.mp4 could not be decoded"):
        video.frame(55)
    assert video.frame(3).shape == (240, 320, 3)
