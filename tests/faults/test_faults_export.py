"""Faults at `python -m heatmapnet.export` (and `heatmapnet.export.quantize`'s input): an output path that
cannot be written (refused before the 16 s of exporting), model files that run code, NaN or a bare marker."""
import pytest
from fault_checks import (crafted_checkpoint, fill, small_disk, fingerprints, marker_only_checkpoint, nan_checkpoint,
                          one_error, under_a_file)
from helpers_video import write_random_checkpoint

from heatmapnet.cli import run_tool
from heatmapnet.export.to_onnx import main


def export(capsys, *arguments) -> str:
    status = run_tool(main, list(arguments))
    return one_error(status, capsys.readouterr().err)


def test_an_unwritable_output_is_refused_before_exporting(tmp_path, capsys):
    checkpoint = write_random_checkpoint(tmp_path / "model.pt")
    before = fingerprints(checkpoint)
    error = export(capsys, f"checkpoint={checkpoint}", f"out={under_a_file(tmp_path) / 'model.onnx'}")
    assert "cannot write the ONNX model" in error and "is a file, not a folder" in error
    folder = tmp_path / "folder.onnx"
    folder.mkdir()
    assert "it is a folder; give a file name" in export(capsys, f"checkpoint={checkpoint}", f"out={folder}")
    assert fingerprints(checkpoint) == before
    assert sorted(path.name for path in tmp_path.rglob("*") if path.is_file()) == ["a-file", "model.pt"]


@pytest.mark.parametrize("make, phrase", [
    (nan_checkpoint, "non-finite"),
    (marker_only_checkpoint, "incomplete HeatmapNet checkpoint"),
])
def test_broken_checkpoints_are_one_error_line(tmp_path, capsys, make, phrase):
    checkpoint = make(tmp_path / "broken.pt")
    assert phrase in export(capsys, f"checkpoint={checkpoint}", f"out={tmp_path / 'model.onnx'}")
    assert not (tmp_path / "model.onnx").exists()


def test_a_crafted_checkpoint_never_runs_its_code(tmp_path, capsys):
    payload_ran = tmp_path / "payload-ran"
    checkpoint = crafted_checkpoint(tmp_path / "crafted.pt", payload_ran)
    assert "refusing to load" in export(capsys, f"checkpoint={checkpoint}", f"out={tmp_path / 'model.onnx'}")
    assert not payload_ran.exists() and not (tmp_path / "model.onnx").exists()


def test_a_full_disk_is_refused_before_exporting(tmp_path, capsys):
    checkpoint = write_random_checkpoint(tmp_path / "model.pt")
    with small_disk(tmp_path / "disk") as disk:
        fill(disk)
        error = export(capsys, f"checkpoint={checkpoint}", f"out={disk / 'model.onnx'}")
        assert "No space left on device" in error
        assert [path.name for path in disk.iterdir()] == ["filler"]
