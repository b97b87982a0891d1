"""Frame sources: every kind of source, timestamps, the capture thread's drop policy, and every bad source."""
import time

import cv2
import numpy as np
import pytest
from conftest import shared_path
from helpers_video import blob_frames, write_blob_video

from heatmapnet.errors import UserError
from heatmapnet.sources.capture import CaptureThread, open_source


def read_all(source):
    with CaptureThread(source) as capture:
        return list(capture)


def test_video_file_gives_every_frame_in_order_with_timestamps(tmp_path):
    source = open_source(write_blob_video(tmp_path / "clip.mp4", count=25, fps=25.0))
    assert not source.live and source.fps == pytest.approx(25.0) and source.frame_count == 25
    frames = read_all(source)
    assert [f.index for f in frames] == list(range(25))
    np.testing.assert_allclose([f.t for f in frames], np.arange(25) / 25.0, atol=1e-3)
    assert frames[0].image.shape == (240, 320, 3) and frames[0].name is None
    expected = list(blob_frames(25))  # the decoded content is the written content (mp4v is lossy)
    assert np.abs(frames[12].image.astype(int) - expected[12]).mean() < 12


def test_image_folder_is_read_in_name_order_at_the_configured_rate(tmp_path):
    images = list(blob_frames(4, 64, 48))
    for name, image in zip(["b.png", "a.jpg", "c.PNG", "0.bmp"], images):
        cv2.imwrite(str(tmp_path / name), image)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub.png").mkdir()  # a folder with an image-like name is not an image
    frames = read_all(open_source(tmp_path, fps=10.0))
    assert [f.name for f in frames] == ["0.bmp", "a.jpg", "b.png", "c.PNG"]
    np.testing.assert_allclose([f.t for f in frames], [0.0, 0.1, 0.2, 0.3])
    assert np.array_equal(frames[2].image, images[0])  # b.png, lossless


def test_single_image_is_one_frame(tmp_path):
    path = tmp_path / "hand.png"
    cv2.imwrite(str(path), next(blob_frames(1)))
    frames = read_all(open_source(str(path)))
    assert len(frames) == 1 and frames[0].name == "hand.png" and frames[0].t == 0.0


def test_files_never_drop_frames_even_for_a_slow_consumer(tmp_path):
    source = open_source(write_blob_video(tmp_path / "clip.mp4", count=12))
    with CaptureThread(source, queue_size=1) as capture:
        indices = []
        for frame in capture:
            time.sleep(0.01)
            indices.append(frame.index)
    assert indices == list(range(12)) and capture.dropped == 0


def test_live_policy_hands_over_the_newest_frame_and_counts_the_dropped(tmp_path):
    source = open_source(write_blob_video(tmp_path / "clip.mp4", count=40))
    with CaptureThread(source, drop_stale=True) as capture:
        indices = []
        for frame in capture:
            time.sleep(0.02)  # a consumer far slower than decoding
            indices.append(frame.index)
    assert capture.dropped > 0
    assert len(indices) + capture.dropped == 40
    assert indices == sorted(indices) and indices[-1] == 39  # in order, and the last frame is never lost


def test_errors_on_the_capture_thread_reach_the_consumer(tmp_path):
    cv2.imwrite(str(tmp_path / "0.png"), next(blob_frames(1)))
    (tmp_path / "1.png").write_bytes(b"\x89PNG truncated")
    with CaptureThread(open_source(tmp_path)) as capture:
        frames = iter(capture)
        assert next(frames).name == "0.png"
        with pytest.raises(UserError, match=r"cannot read image .*1\.png"):
            next(frames)


def test_stopping_early_ends_the_thread(tmp_path):
    source = open_source(write_blob_video(tmp_path / "clip.mp4", count=30))
    with CaptureThread(source, queue_size=1) as capture:
        next(iter(capture))
    assert not capture.thread.is_alive()


def test_rotated_phone_video_is_decoded_upright():
    """The webcam4 mp4s store landscape frames with a rotation tag; the stored JPEGs are the upright view."""
    video = shared_path("data", "webcam4", "videos", "2hand.mp4")
    reference = cv2.imread(str(shared_path("data", "webcam4", "images", "2hand", "000005.jpg")))
    source = open_source(video)
    with CaptureThread(source) as capture:
        frames = [frame for frame, _ in zip(capture, range(6))]
    assert frames[5].image.shape == reference.shape == (852, 480, 3)
    assert np.abs(frames[5].image.astype(int) - reference).mean() < 6
    assert frames[5].t == pytest.approx(5 / source.fps, abs=1e-3)


@pytest.mark.parametrize("make, message", [
    (lambda tmp: 7, r"camera 7 is not available"),
    (lambda tmp: "7", r"camera 7 is not available"),
    (lambda tmp: tmp / "missing.mp4", r"source not found: .*missing\.mp4"),
    (lambda tmp: (tmp / "bad.mp4").write_bytes(b"\x00garbage" * 500) and tmp / "bad.mp4",
     r"video .*bad\.mp4 cannot be opened as a video \(unreadable, corrupt"),
    (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", r"no images \(.*\) in folder .*empty"),
    (lambda tmp: (tmp / "notes.txt").write_text("hi") and tmp / "notes.txt", r"unsupported source extension '\.txt'"),
    (lambda tmp: (tmp / "broken.jpg").write_bytes(b"not a jpeg") and tmp / "broken.jpg", r"cannot read image"),
])
def test_bad_sources_fail_with_one_clear_line(tmp_path, capfd, make, message):
    with pytest.raises(UserError, match=message) as error:
        read_all(open_source(make(tmp_path)))
    assert "\n" not in str(error.value)
    assert capfd.readouterr().err == ""  # no OpenCV/FFmpeg chatter around our message


def test_truncated_video_is_reported_as_unreadable(tmp_path):
    data = write_blob_video(tmp_path / "clip.mp4", count=10).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    with pytest.raises(UserError, match=r"video .*cut\.mp4"):
        open_source(tmp_path / "cut.mp4")


def test_video_without_frames_is_reported(tmp_path):
    path = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    writer.release()  # a valid container holding no frame
    with pytest.raises(UserError, match=r"video .*empty\.avi has no frame that can be decoded \(empty"):
        open_source(path)
