"""`python -m heatmapnet.train.release`: a training checkpoint becomes a small model with a calibrated threshold."""
import pytest
import torch

from heatmapnet.cli import run_tool
from heatmapnet.model.checkpoint import load_model, read_checkpoint, save_checkpoint
from heatmapnet.model.config import ModelConfig
from heatmapnet.model.network import HeatmapNet
from heatmapnet.train.release import main, release


@pytest.fixture
def trained(tmp_path):
    """A checkpoint as train.py leaves it: weights, decode at 0.5, validation metrics, optimiser state."""
    model = HeatmapNet(ModelConfig(backbone="mobilenet_v2", stride=8, input_width=96, input_height=64,
                                   pretrained=None))
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.rand(1, 3, 64, 96))["heatmap"].sum().backward()
    optimizer.step()
    path = tmp_path / "last.pt"
    save_checkpoint(path, model, {"threshold": 0.5, "top_k": 7, "refine": "quadratic"},
                    {"epoch": 3, "seed": 0,
                     "val": {"f1": 0.4, "best_threshold": 0.31234, "operating_threshold": 0.45678}},
                    {"optimizer": optimizer.state_dict(), "epoch": 3})
    return path, model


def test_release_drops_training_state_and_ships_the_validation_threshold(trained, tmp_path):
    path, model = trained
    out = tmp_path / "models" / "hands.pt"
    decode = release(path, out)
    shipped = read_checkpoint(out)
    assert "training_state" not in shipped
    assert out.stat().st_size < 0.6 * path.stat().st_size
    assert decode == shipped["decode"] == {"threshold": 0.457, "top_k": 7, "refine": "quadratic"}
    assert shipped["meta"]["val"]["f1"] == 0.4 and shipped["meta"]["released_from"] == str(path)
    loaded, _ = load_model(out)
    image = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(loaded(image)["heatmap"], model.eval()(image)["heatmap"])


def test_a_release_removes_the_int8_copy_of_the_model_it_replaces(trained, tmp_path, capsys):
    """precision=auto runs heatmapnet.int8.onnx where it exists: after a release it would be another model's."""
    path, _ = trained
    out = tmp_path / "shipped" / "heatmapnet.pt"
    out.parent.mkdir()
    stale = out.parent / "heatmapnet.int8.onnx"
    stale.write_bytes(b"the previous model, quantised")
    release(path, out)
    assert not stale.exists() and (out.parent / "heatmapnet.onnx").is_file()
    err = capsys.readouterr().err
    assert f"removed {stale}" in err and "python -m heatmapnet.export.quantize" in err


def test_an_explicit_threshold_overrides_the_validation_one(trained, tmp_path, capsys):
    path, _ = trained
    assert run_tool(main, [f"checkpoint={path}", f"out={tmp_path / 'a.pt'}", "threshold=0.45", "refine=argmax"]) == 0
    assert read_checkpoint(tmp_path / "a.pt")["decode"] == {"threshold": 0.45, "top_k": 7, "refine": "argmax"}
    assert "threshold 0.45 (0.45), refine argmax" in capsys.readouterr().out


@pytest.mark.parametrize("threshold, message", [
    ("1.5", "threshold must be within [0, 1], got 1.5"),
    ("best", "threshold=best: expected `validation` or a number in [0, 1]"),
    ("0.3 refine=median", "refine must be one of weighted, quadratic, quarter, argmax, got 'median'"),
])
def test_bad_settings_are_one_line(trained, tmp_path, capsys, threshold, message):
    path, _ = trained
    argv = [f"checkpoint={path}", f"out={tmp_path / 'a.pt'}", *f"threshold={threshold}".split()]
    assert run_tool(main, argv) == 2
    assert capsys.readouterr().err.strip() == f"error: {message}"
    assert not (tmp_path / "a.pt").exists()


def test_a_checkpoint_without_validation_needs_a_threshold(tmp_path, capsys):
    path = tmp_path / "plain.pt"
    save_checkpoint(path, HeatmapNet(ModelConfig(backbone="mobilenet_v2", stride=8, pretrained=None)))
    assert run_tool(main, [f"checkpoint={path}", f"out={tmp_path / 'a.pt'}"]) == 2
    assert "stores no validation threshold" in capsys.readouterr().err
