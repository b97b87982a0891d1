"""Faults at `track.py`'s inputs: sources (negative camera, truncated video, streams) and model files
(crafted pickles, NaN weights, a bare format marker), and settings that make a run meaningless.

Output-file faults (an output that is an input, concurrent writers) belong to the outputs' own tests.
"""
import functools
import http.server
import re
import threading

import pytest
from conftest import shared_path
from fault_checks import crafted_checkpoint, fingerprints, marker_only_checkpoint, nan_checkpoint, one_error, run_entry
from helpers_video import write_blob_video, write_random_checkpoint

from heatmapnet.errors import UserError
from heatmapnet.pipeline import HandTracker
from heatmapnet.sources.capture import StreamSource, open_source


def test_a_negative_camera_index_is_one_error_line_not_a_crash():
    """`cv2.VideoCapture(-1)` segfaulted (exit 139, nothing printed)."""
    result = run_entry("track.py", "source=-1", "display=false")
    one_error(result.returncode, result.stderr, "camera index -1", "numbered from 0")
    with pytest.raises(UserError, match="negative"):
        open_source("-1")


def read_all(source) -> int:
    count = 0
    while source.read() is not None:
        count += 1
    return count


def test_a_truncated_video_warns_and_counts_the_missing_frames(tmp_path, capfd):
    whole = write_blob_video(tmp_path / "whole.avi", count=40)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # the index at the end is gone too
    before = fingerprints(cut)
    source = open_source(str(cut))
    read = read_all(source)
    source.close()
    assert 0 < read < 40 and source.frame_count == 40
    assert source.frames_missing == 40 - read
    warnings = [line for line in capfd.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and f"ended after {read} of the 40 frames" in warnings[0]
    assert fingerprints(cut) == before

    complete = open_source(str(whole))
    assert read_all(complete) == 40 and complete.frames_missing == 0
    complete.close()
    assert "warning" not in capfd.readouterr().err


def test_an_intact_video_one_frame_short_of_its_announced_count_is_not_called_truncated(capfd):
    """webcam4's 2hand.mp4 announces 138 frames and decodes 137, like many intact files."""
    source = open_source(str(shared_path("data", "webcam4", "videos", "2hand.mp4")))
    assert read_all(source) == source.frame_count - 1 and source.frames_missing == 0
    source.close()
    assert "warning" not in capfd.readouterr().err


@pytest.fixture
def http_folder(tmp_path):
    """A real HTTP server on the loopback interface serving tmp_path."""
    quiet = type("QuietHandler", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *args: None})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_a_url_source_is_read_as_a_live_stream(tmp_path, http_folder, capfd):
    write_blob_video(tmp_path / "clip.avi", count=12)
    source = open_source(f"{http_folder}/clip.avi")
    assert isinstance(source, StreamSource) and source.live
    assert read_all(source) == 12
    source.close()
    assert "ended or stopped delivering frames after 12 frame(s)" in capfd.readouterr().err
    with pytest.raises(UserError, match=r"cannot open stream http://127\.0\.0\.1:\d+/missing\.avi \(unreachable"):
        open_source(f"{http_folder}/missing.avi")


def test_model_files_that_run_code_are_refused_and_the_code_never_runs(tmp_path):
    payload_ran = tmp_path / "payload-ran"
    checkpoint = crafted_checkpoint(tmp_path / "shared-model.pt", payload_ran)
    before = fingerprints(checkpoint)
    with pytest.raises(UserError, match=r"refusing to load .*it refers to posix\.mkdir"):
        HandTracker(str(checkpoint), runtime="torch")
    assert not payload_ran.exists()
    assert fingerprints(checkpoint) == before


@pytest.mark.parametrize("make, message", [
    (nan_checkpoint, "non-finite (NaN or infinite)"),
    (marker_only_checkpoint, "incomplete HeatmapNet checkpoint (no model_config or state_dict)"),
])
@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_broken_checkpoints_are_refused_at_load(tmp_path, monkeypatch, make, message, runtime):
    """NaN weights tracked with 0 detections and exit 0; a bare marker was a KeyError."""
    monkeypatch.setenv("HEATMAPNET_CACHE", str(tmp_path / "cache"))
    checkpoint = make(tmp_path / "broken.pt")
    with pytest.raises(UserError, match=re.escape(message)):
        HandTracker(str(checkpoint), runtime=runtime)
    assert not list(tmp_path.rglob("*.onnx"))  # no ONNX copy of it cached


@pytest.mark.parametrize("decode, message", [
    ({"threshold": 2.0}, "decode: threshold must be within [0, 1]"),
    ({"threshold": -1.0}, "decode: threshold must be within [0, 1]"),
    ({"top_k": 0}, "decode: top_k must be at least 1"),
    ({"top_k": -1}, "decode: top_k must be at least 1"),
])
def test_meaningless_decode_settings_are_refused(tmp_path, decode, message):
    checkpoint = write_random_checkpoint(tmp_path / "model.pt")
    with pytest.raises(UserError) as error:
        HandTracker(str(checkpoint), runtime="torch", decode=decode)
    assert str(error.value).startswith(message)
