"""Faults at `python -m heatmapnet.train.release`: an unwritable output, model files that run code, NaN or
a bare marker. The checkpoint being released is never touched."""
import pytest
from fault_checks import (crafted_checkpoint, small_disk, fingerprints, marker_only_checkpoint, nan_checkpoint,
                          one_error, under_a_file)
from helpers_video import write_random_checkpoint

from heatmapnet.cli import run_tool
from heatmapnet.train.release import main


def release(capsys, *arguments) -> str:
    return one_error(run_tool(main, list(arguments)), capsys.readouterr().err)


def test_an_unwritable_output_is_refused(tmp_path, capsys):
    checkpoint = write_random_checkpoint(tmp_path / "last.pt")
    before = fingerprints(tmp_path)
    out = under_a_file(tmp_path, "shipped.pt")
    assert "cannot write the released model" in release(capsys, f"checkpoint={checkpoint}", f"out={out}",
                                                         "threshold=0.3")
    assert fingerprints(checkpoint) == before and not out.parent.is_dir()
    with small_disk(tmp_path / "read-only", "ro,size=64k") as disk:
        error = release(capsys, f"checkpoint={checkpoint}", f"out={disk / 'models' / 'shipped.pt'}", "threshold=0.3")
        assert "Read-only file system" in error and not list(disk.iterdir())


@pytest.mark.parametrize("make, phrase", [
    (nan_checkpoint, "non-finite"),
    (marker_only_checkpoint, "incomplete HeatmapNet checkpoint"),
    (lambda path: crafted_checkpoint(path, path.parent / "payload-ran"), "refusing to load"),
])
def test_broken_checkpoints_are_one_error_line_and_nothing_is_written(tmp_path, capsys, make, phrase):
    checkpoint = make(tmp_path / "last.pt")
    before = fingerprints(checkpoint)
    assert phrase in release(capsys, f"checkpoint={checkpoint}", f"out={tmp_path / 'shipped.pt'}", "threshold=0.3")
    assert fingerprints(checkpoint) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["last.pt"]  # no payload ran, no output
