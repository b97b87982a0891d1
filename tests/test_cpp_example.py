"""The C++ example (examples/cpp) built with CMake and run on a generated video, against the Python pipeline.

Skips cleanly where cmake, a C++ compiler or OpenCV's development files (Debian: libopencv-dev) are missing.
"""
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from heatmapnet.export.to_onnx import export_model
from heatmapnet.runtime.detector import HandDetector
from heatmapnet.runtime.runtimes import open_runtime
from tests.exported_models import contrasted_checkpoint, random_frames

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cpp"
HAND = re.compile(r"\((-?[\d.]+), (-?[\d.]+)\) ([\d.]+) \[([\d.]+) x ([\d.]+)\]")
FRAMES = 6
SIZES = [(640, 360), (360, 640)]  # letterboxed to 320 x 240, and portrait to 240 x 320 (the input follows the frame):
#   resize, padding, orientation and the way back are all exercised


@pytest.fixture(scope="module")
def tracker(tmp_path_factory) -> Path:
    """Configure and build the example; skip when the toolchain or OpenCV is not installed."""
    if shutil.which("cmake") is None or not (shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")):
        pytest.skip("cmake or a C++ compiler is not installed")
    build = tmp_path_factory.mktemp("cpp-build")
    configure = subprocess.run(["cmake", "-S", str(EXAMPLE), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"],
                               capture_output=True, text=True)
    if configure.returncode != 0 and "OpenCV" in configure.stdout + configure.stderr:
        pytest.skip("OpenCV development files are not installed (Debian: apt-get install libopencv-dev)")
    assert configure.returncode == 0, configure.stdout + configure.stderr
    compiled = subprocess.run(["cmake", "--build", str(build), "--config", "Release", "-j", "2"],
                              capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    # single-config generators put it in build/, multi-config ones (Visual Studio) in build/Release/
    return next(path for path in build.rglob("heatmapnet_track*") if path.is_file() and path.suffix in ("", ".exe"))


def opencv_before_4_7(tracker: Path) -> bool:
    """Whether the example was built against an OpenCV that needs `opencv_compat=true` exports."""
    version = subprocess.run([str(tracker), "--version"], capture_output=True, text=True, check=True).stdout
    major, minor = (int(part) for part in re.match(r"OpenCV (\d+)\.(\d+)", version).groups())
    return (major, minor) < (4, 7)


def write_video(path: Path, width: int, height: int) -> Path:
    """A lossless (FFV1) clip, so the C++ and Python programs decode exactly the same pixels."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 10, (width, height))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write FFV1 video")
    for frame in random_frames(FRAMES, height, width, seed=9):
        writer.write(frame)
    writer.release()
    return path


def parse_hands(stdout: str) -> list[np.ndarray]:
    """`frame N: (x, y) score [w x h]; ...` lines -> one (hands x 5) array per frame."""
    lines = [line for line in stdout.splitlines() if line.startswith("frame ")]
    return [np.array([[float(v) for v in hand] for hand in HAND.findall(line)]).reshape(-1, 5) for line in lines]


@pytest.mark.parametrize("width, height", SIZES)
def test_cpp_example_finds_the_same_hands_as_python(tracker, tmp_path, width, height):
    checkpoint = contrasted_checkpoint(tmp_path / "model.pt")
    model = export_model(checkpoint, tmp_path / "model.onnx", opencv_compat=opencv_before_4_7(tracker))
    video = write_video(tmp_path / "clip.avi", width, height)
    result = subprocess.run([str(tracker), str(model), str(video), "--threads", "2"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    cpp_frames = parse_hands(result.stdout)
    detector = HandDetector(open_runtime("torch", checkpoint))
    capture = cv2.VideoCapture(str(video))
    python_frames = []
    while (frame := capture.read()[1]) is not None:
        python_frames.append(detector(frame))
    assert len(cpp_frames) == len(python_frames) == FRAMES
    for index, (cpp, python) in enumerate(zip(cpp_frames, python_frames)):
        assert len(cpp) == len(python) > 0, f"frame {index}"
        np.testing.assert_allclose(cpp[:, :2], python[:, :2], atol=0.5, err_msg=f"positions, frame {index}")
        np.testing.assert_allclose(cpp[:, 2], python[:, 2], atol=1e-3, err_msg=f"scores, frame {index}")
        np.testing.assert_allclose(cpp[:, 3:], python[:, 3:], atol=0.5, err_msg=f"sizes, frame {index}")


def test_cpp_example_rejects_a_model_that_is_not_an_export(tracker, tmp_path):
    checkpoint = contrasted_checkpoint(tmp_path / "model.pt")
    video = write_video(tmp_path / "clip.avi", *SIZES[0])
    result = subprocess.run([str(tracker), str(checkpoint), str(video)], capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert re.match(r"error: (cannot read ONNX model|not a HeatmapNet export)", result.stderr.strip().splitlines()[-1])
