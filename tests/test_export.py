"""ONNX export, the onnxruntime / OpenCV DNN runtimes and int8 quantisation, checked against PyTorch."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import helper

from heatmapnet.export import quantize
from heatmapnet.export import to_onnx as export
from heatmapnet.cli import run_tool
from heatmapnet.errors import UserError
from heatmapnet.model.checkpoint import read_checkpoint
from heatmapnet.model.config import ModelConfig
from heatmapnet.runtime.decode import DecodeConfig
from heatmapnet.runtime.detector import HandDetector
from heatmapnet.runtime.preprocess import Normalization
from heatmapnet.runtime.runtimes import open_runtime
from tests.exported_models import contrasted_checkpoint, random_frames

REPO = Path(__file__).resolve().parents[1]
ONNX_RUNTIMES = ("onnxruntime", "opencv")
OTHER_SIZES = ((192, 256), (250, 330))  # (height, width), both unlike the 240 x 320 export size


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A contrasted random checkpoint and its export through the command-line entry point."""
    folder = tmp_path_factory.mktemp("export")
    checkpoint = contrasted_checkpoint(folder / "model.pt")
    assert run_tool(export.main, [f"checkpoint={checkpoint}", f"out={folder / 'model.onnx'}"]) == 0
    return checkpoint, folder / "model.onnx"


def assert_same_outputs(expected, actual):
    for want, got in zip(expected, actual):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_graph_has_named_dynamic_io_standard_ops_and_metadata(exported):
    checkpoint, path = exported
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert {node.domain for node in model.graph.node} <= {"", "ai.onnx"}
    (image,) = model.graph.input
    dims = image.type.tensor_type.shape.dim
    assert image.name == "image" and image.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert dims[1].dim_value == 3 and all(dims[i].dim_param for i in (0, 2, 3))
    assert [output.name for output in model.graph.output] == ["heatmap", "size"]
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    payload = read_checkpoint(checkpoint)
    assert (metadata["stride"], metadata["input_width"], metadata["input_height"]) == ("8", "320", "240")
    assert float(metadata["threshold"]) == payload["decode"]["threshold"]


@pytest.mark.parametrize("runtime", ONNX_RUNTIMES)
@pytest.mark.parametrize("height, width", OTHER_SIZES)
def test_runtime_matches_pytorch_on_other_input_sizes(exported, runtime, height, width):
    checkpoint, path = exported
    images = random_frames(2, height, width, seed=height)
    expected = open_runtime("torch", checkpoint)(images)
    actual = open_runtime(runtime, path, threads=2)(images)
    assert actual[0].shape == (2, 1, -(-height // 8), -(-width // 8))
    assert_same_outputs(expected, actual)


@pytest.mark.parametrize("runtime", ONNX_RUNTIMES)
def test_runtime_restores_model_and_decode_config_from_metadata(exported, runtime):
    checkpoint, path = exported
    reference = open_runtime("torch", checkpoint)
    opened = open_runtime(runtime, path)
    assert opened.model_config == reference.model_config
    assert opened.decode_config == reference.decode_config == DecodeConfig(threshold=0.6, top_k=8)


def test_decoded_peaks_identical_across_runtimes(exported):
    checkpoint, path = exported
    frames = [cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) for frame in random_frames(4, 360, 640, seed=5)]
    detectors = {name: HandDetector(open_runtime(name, checkpoint if name == "torch" else path))
                 for name in ("torch",) + ONNX_RUNTIMES}
    found = 0
    for frame in frames:
        expected = detectors["torch"](frame)
        found += len(expected)
        for name in ONNX_RUNTIMES:
            np.testing.assert_allclose(detectors[name](frame), expected, rtol=0, atol=1e-3, err_msg=name)
    assert found >= len(frames)  # the comparison covered real peaks


def test_bgr_model_without_size_head_exports_its_normalisation(tmp_path):
    config = ModelConfig(backbone="mobilenet_v3_small", stride=8, size_head=False, input_width=160, input_height=128,
                         resize="stretch", normalization=Normalization((0.4, 0.5, 0.6), (0.2, 0.25, 0.3), "bgr"))
    checkpoint = contrasted_checkpoint(tmp_path / "bgr.pt", config)
    path = export.export_model(checkpoint, tmp_path / "bgr.onnx")
    assert [output.name for output in onnx.load(str(path)).graph.output] == ["heatmap"]
    images = random_frames(1, 100, 140, seed=3)
    logits, size = open_runtime("onnxruntime", path)(images)
    assert size is None
    assert_same_outputs(open_runtime("torch", checkpoint)(images), (logits,))
    assert open_runtime("onnxruntime", path).model_config == config
    with pytest.raises(UserError, match="OpenCV DNN computes mobilenet_v3_small graphs wrongly"):
        open_runtime("opencv", path)


def test_opencv_compat_graph_has_no_clip_and_same_outputs(exported, tmp_path):
    checkpoint, _ = exported
    path = export.export_model(checkpoint, tmp_path / "compat.onnx", opencv_compat=True)
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "Clip" not in ops and "HardSigmoid" in ops
    images = random_frames(1, *OTHER_SIZES[1], seed=11)
    expected = open_runtime("torch", checkpoint)(images)
    for runtime in ONNX_RUNTIMES:
        assert_same_outputs(expected, open_runtime(runtime, path)(images))


def test_simplify_keeps_outputs(exported, tmp_path):
    pytest.importorskip("onnxsim")
    checkpoint, path = exported
    simplified = export.simplified(onnx.load(str(path)))
    export.set_metadata(simplified, {e.key: e.value for e in onnx.load(str(path)).metadata_props})
    onnx.save(simplified, str(tmp_path / "simple.onnx"))
    images = random_frames(1, *OTHER_SIZES[0], seed=2)
    assert_same_outputs(open_runtime("torch", checkpoint)(images), open_runtime("onnxruntime", tmp_path / "simple.onnx")(images))


def test_int8_model_keeps_metadata_and_stays_close_to_fp32(exported, tmp_path):
    _, path = exported
    folder = tmp_path / "frames" / "nested"
    folder.mkdir(parents=True)
    for i, frame in enumerate(random_frames(6, 300, 400, seed=20)):
        cv2.imwrite(str(folder / f"{i}.png"), frame)
    (folder / "notes.txt").write_text("not an image")
    argv = [f"model={path}", f"data={tmp_path / 'frames'}", f"out={tmp_path / 'int8.onnx'}", "frames=4"]
    assert run_tool(quantize.main, argv) == 0
    graph = onnx.load(str(tmp_path / "int8.onnx")).graph
    assert {"QuantizeLinear", "DequantizeLinear"} <= {node.op_type for node in graph.node}
    fp32, int8 = open_runtime("onnxruntime", path), open_runtime("onnxruntime", tmp_path / "int8.onnx")
    assert (int8.model_config, int8.decode_config) == (fp32.model_config, fp32.decode_config)
    images = random_frames(2, 240, 320, seed=21)
    (want, _), (got, _) = fp32(images), int8(images)
    assert np.corrcoef(want.ravel(), got.ravel())[0, 1] > 0.95
    assert np.abs(got - want).mean() < 0.25 * want.std()


@pytest.mark.parametrize("float_first, float_last", [(3, 2), (0, 0)])
def test_int8_keeps_the_chosen_end_convolutions_float(exported, tmp_path, float_first, float_last):
    _, path = exported
    cv2.imwrite(str(tmp_path / "frame.png"), random_frames(1, 240, 320, seed=23)[0])
    out = tmp_path / "int8.onnx"
    argv = [f"model={path}", f"data={tmp_path}", f"out={out}", "frames=1", f"float_first={float_first}",
            f"float_last={float_last}"]
    assert run_tool(quantize.main, argv) == 0
    graph = onnx.load(str(out)).graph
    dequantized = {output for node in graph.node if node.op_type == "DequantizeLinear" for output in node.output}
    quantized = [node.input[1] in dequantized for node in graph.node if node.op_type == "Conv"]
    expected = [False] * float_first + [True] * (len(quantized) - float_first - float_last) + [False] * float_last
    assert quantized == expected


@pytest.mark.parametrize("reduce_range", [False, True])
def test_reduce_range_keeps_the_weights_in_seven_bits(exported, tmp_path, reduce_range):
    """7-bit weights cannot saturate ONNX Runtime's u8 x s8 arithmetic on CPUs without VNNI."""
    _, path = exported
    cv2.imwrite(str(tmp_path / "frame.png"), random_frames(1, 240, 320, seed=26)[0])
    out = tmp_path / "int8.onnx"
    assert run_tool(quantize.main, [f"model={path}", f"data={tmp_path}", f"out={out}", "frames=1",
                                    f"reduce_range={str(reduce_range).lower()}"]) == 0
    graph = onnx.load(str(out)).graph
    weights = {init.name: onnx.numpy_helper.to_array(init) for init in graph.initializer
               if init.data_type == onnx.TensorProto.INT8}
    dequantized = [weights[node.input[0]] for node in graph.node
                   if node.op_type == "DequantizeLinear" and node.input[0] in weights]
    largest = max(int(np.abs(w.astype(np.int32)).max()) for w in dequantized)
    assert largest <= 64 if reduce_range else largest > 64


def test_histogram_calibration_takes_portrait_and_landscape_frames(exported, tmp_path):
    _, path = exported
    cv2.imwrite(str(tmp_path / "landscape.png"), random_frames(1, 240, 320, seed=24)[0])
    cv2.imwrite(str(tmp_path / "portrait.png"), random_frames(1, 320, 240, seed=25)[0])
    argv = [f"model={path}", f"data={tmp_path}", f"out={tmp_path / 'int8.onnx'}", "calibration=percentile"]
    assert run_tool(quantize.main, argv) == 0


def test_int8_copy_goes_beside_the_model_by_default(exported, tmp_path):
    _, path = exported
    model = tmp_path / "mine.onnx"
    model.write_bytes(path.read_bytes())
    cv2.imwrite(str(tmp_path / "frame.png"), random_frames(1, 240, 320, seed=22)[0])
    assert run_tool(quantize.main, [f"model={model}", f"data={tmp_path}", "frames=1"]) == 0
    assert onnx.load(str(tmp_path / "mine.int8.onnx")).graph.node


def test_quantize_without_images_is_a_clear_error(exported, tmp_path, capsys):
    _, path = exported
    assert run_tool(quantize.main, [f"model={path}", f"data={tmp_path}"]) == 2
    assert capsys.readouterr().err.strip() == f"error: no images (.jpg, .jpeg, .png, .bmp) under {tmp_path}: " \
                                              f"calibration needs real frames"


def test_export_command_line_errors_are_one_line(tmp_path, capsys):
    assert run_tool(export.main, ["checkpoint=x.pt", "outt=y.onnx"]) == 2
    assert run_tool(export.main, ["out=y.onnx"]) == 2
    assert run_tool(export.main, [f"checkpoint={tmp_path / 'missing.pt'}"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert "unknown option 'outt'" in lines[0] and "missing checkpoint=" in lines[1] and "not found" in lines[2]


def broken_models(folder: Path, exported_path: Path, checkpoint: Path) -> dict[str, tuple[Path, str]]:
    """Files a user might pass by mistake, each with the phrase its error must contain."""
    truncated = folder / "truncated.onnx"
    truncated.write_bytes(exported_path.read_bytes()[:5000])
    garbage = folder / "garbage.onnx"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes())
    foreign = folder / "foreign.onnx"
    identity = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                                 [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                                 [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(identity), str(foreign))
    renamed = folder / "renamed.onnx"
    model = onnx.load(str(exported_path))
    for node in model.graph.node:
        node.output[:] = ["logits" if name == "heatmap" else name for name in node.output]
    model.graph.output[0].name = "logits"
    onnx.save(model, str(renamed))
    return {
        "truncated": (truncated, "cannot read ONNX model"),
        "garbage": (garbage, "cannot read ONNX model"),
        "foreign": (foreign, "not a HeatmapNet export"),
        "renamed": (renamed, "does not have HeatmapNet's inputs/outputs"),
        "checkpoint": (checkpoint, "is a PyTorch checkpoint"),
        "missing": (folder / "missing.onnx", "model not found"),
    }


@pytest.mark.parametrize("runtime", ONNX_RUNTIMES)
def test_corrupt_or_mismatched_model_is_a_clear_error(exported, tmp_path, runtime):
    checkpoint, path = exported
    for case, (bad, phrase) in broken_models(tmp_path, path, checkpoint).items():
        with pytest.raises(UserError, match=phrase) as error:
            open_runtime(runtime, bad)
        assert "\n" not in str(error.value), case


def test_torch_runtime_rejects_onnx(exported):
    with pytest.raises(UserError, match="use runtime=onnxruntime or runtime=opencv"):
        open_runtime("torch", exported[1])


def test_importing_runtimes_does_not_load_onnxruntime():
    code = "import sys, heatmapnet.runtime.runtimes; print('onnxruntime' in sys.modules, 'heatmapnet.runtime.onnx_runtimes' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_help_prints_the_usage(capsys):
    assert run_tool(export.main, ["--help"]) == 0
    assert "python -m heatmapnet.export checkpoint=PATH out=model.onnx" in capsys.readouterr().out
