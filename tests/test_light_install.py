"""The tracking path runs on the tracking install (requirements.txt): track.py, the HandTracker API, the annotator
and evaluation of an .onnx model never import torch, nor SciPy, filterpy or matplotlib, which only the training
install has (each checked in a fresh interpreter, since the test process has them loaded)."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO
from helpers_video import write_blob_video

from heatmapnet import pipeline
from heatmapnet.errors import UserError
from heatmapnet.pipeline import HandTracker, chosen_precision, shipped_model
from heatmapnet.runtime.detector import HandDetector
from heatmapnet.runtime.runtimes import has_int8_dot_product, open_runtime

TRAINING_ONLY = ("torch", "scipy", "filterpy", "matplotlib")
ASSERT_NONE_LOADED = f"""
loaded = sorted(m for m in sys.modules if m.split('.')[0] in {TRAINING_ONLY!r})
assert not loaded, loaded[:5]
"""


def run_python(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys\n" + code + ASSERT_NONE_LOADED], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_track_py_on_the_default_runtime_never_imports_the_training_install(tmp_path):
    video = write_blob_video(tmp_path / "clip.mp4", count=8)
    code = f"""
sys.argv = ["track.py", "source={video}", "display=false", "output.jsonl={tmp_path / 'out.jsonl'}"]
sys.path.insert(0, {str(REPO)!r})
import runpy
runpy.run_path({str(REPO / 'track.py')!r}, run_name="__main__")
"""
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 8
    default = "heatmapnet.int8.onnx" if has_int8_dot_product() else "heatmapnet.onnx"  # precision=auto
    assert f"(onnxruntime, {default})" in result.stderr


def test_auto_precision_takes_the_int8_copy_only_for_the_shipped_model_on_a_vnni_cpu(monkeypatch, tmp_path):
    for vnni, expected in ((True, "heatmapnet.int8.onnx"), (False, "heatmapnet.onnx")):
        monkeypatch.setattr(pipeline, "has_int8_dot_product", lambda: vnni)
        assert HandTracker().model_path.name == expected
        assert HandTracker(precision="fp32").model_path.name == "heatmapnet.onnx"
        assert HandTracker(precision="int8").model_path.name == "heatmapnet.int8.onnx"
        # your own checkpoint, PyTorch, a GPU: as given (no int8 copy of theirs exists, or it would not help)
        assert chosen_precision("auto", "mine.onnx", "onnxruntime", "cpu") == "fp32"
        assert chosen_precision("auto", None, "torch", "cpu") == "fp32"
        assert chosen_precision("auto", None, "onnxruntime", "cuda") == "fp32"
    with pytest.raises(UserError, match="precision must be one of auto, fp32, int8"):
        HandTracker(precision="fp16")
    monkeypatch.setattr(pipeline, "has_int8_dot_product", lambda: True)
    monkeypatch.setattr(pipeline, "SHIPPED", tmp_path)  # a release removed the int8 copy of the model it replaced
    (tmp_path / "heatmapnet.onnx").write_bytes(b"")
    assert chosen_precision("auto", None, "onnxruntime", "cpu") == "fp32"


def test_api_annotator_and_onnx_evaluation_never_import_the_training_install(tmp_path):
    code = f"""
sys.path.insert(0, {str(REPO)!r})
import numpy as np
from heatmapnet import HandTracker
HandTracker()(np.zeros((240, 320, 3), np.uint8), 0.0)
import annotator.__main__, annotator.export, annotator.view, heatmapnet.evaluate.run
"""
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr


def test_api_gives_the_same_tracks_as_track_py(tmp_path):
    video = write_blob_video(tmp_path / "clip.mp4", count=20)
    settings = ["decode.threshold=0.05", "track.min_hits=2"]
    subprocess.run([sys.executable, str(REPO / "track.py"), f"source={video}", "display=false",
                    f"output.jsonl={tmp_path / 'tracks.jsonl'}", *settings], check=True, capture_output=True)
    records = [json.loads(line) for line in (tmp_path / "tracks.jsonl").read_text().splitlines()]
    tracker = HandTracker(decode={"threshold": 0.05}, track={"min_hits": 2})
    capture = cv2.VideoCapture(str(video))
    for record in records:
        hands = tracker(capture.read()[1], record["t"])
        assert [hand.id for hand in hands] == [track["id"] for track in record["tracks"]]
        for hand, track in zip(hands, record["tracks"]):
            assert (hand.x, hand.y) == pytest.approx((track["x"], track["y"]), abs=0.05)
            # the JSONL rounds frame times to 0.1 ms, which moves the filtered values a little
            assert (hand.vx, hand.vy) == pytest.approx((track["vx"], track["vy"]), rel=0.01, abs=0.05)


def test_a_pt_checkpoint_under_onnxruntime_is_exported_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("HEATMAPNET_CACHE", str(tmp_path / "cache"))
    first = HandTracker(shipped_model("torch"))
    cached = list((tmp_path / "cache" / "onnx").glob("heatmapnet-*.onnx"))
    assert len(cached) == 1 and first.runtime.name == "onnxruntime"
    stamp = cached[0].stat().st_mtime_ns
    HandTracker(shipped_model("torch"))
    assert cached[0].stat().st_mtime_ns == stamp  # reused, not exported again
    frame = cv2.GaussianBlur(np.random.default_rng(1).integers(0, 256, (240, 320, 3), np.uint8), (0, 0), 2)
    torch_detector = HandDetector(open_runtime("torch", shipped_model("torch")))
    np.testing.assert_allclose(first.detector(frame), torch_detector(frame), atol=1e-2)
