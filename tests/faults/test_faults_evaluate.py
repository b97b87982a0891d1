"""Faults at `python -m heatmapnet.evaluate`: an unwritable report folder is refused before the run (it
used to fail after the whole evaluation), and broken model files are one error line."""
import pytest
from fault_checks import marker_only_checkpoint, nan_checkpoint, one_error, small_disk, under_a_file
from helpers_video import write_random_checkpoint

from heatmapnet.evaluate.run import main


@pytest.fixture
def no_data(tmp_path):
    """A data folder that does not exist: if the run got that far, the error would name it instead."""
    return tmp_path / "no-such-data"


def test_an_unwritable_report_folder_is_refused_first(tmp_path, capsys, no_data):
    checkpoint = write_random_checkpoint(tmp_path / "model.pt")
    out = under_a_file(tmp_path, "reports")
    error = one_error(main([f"checkpoint={checkpoint}", f"data={no_data}", f"out={out}"]), capsys.readouterr().err)
    assert "cannot write the evaluation reports" in error and "is a file, not a folder" in error
    with small_disk(tmp_path / "read-only", "ro,size=64k") as disk:
        error = one_error(main([f"checkpoint={checkpoint}", f"data={no_data}", f"out={disk}"]), capsys.readouterr().err)
        assert "Read-only file system" in error


@pytest.mark.parametrize("make, phrase", [(nan_checkpoint, "non-finite"),
                                          (marker_only_checkpoint, "incomplete HeatmapNet checkpoint")])
def test_broken_checkpoints_are_one_error_line(tmp_path, capsys, make, phrase):
    data = tmp_path / "data"
    data.mkdir()
    (data / "annotations.json").write_text('{"images": [{"id": 1, "file_name": "a.jpg", "width": 64, '
                                           '"height": 48}], "annotations": [], "categories": []}')
    checkpoint = make(tmp_path / "broken.pt")
    error = one_error(main([f"checkpoint={checkpoint}", f"data={data}", "runtime=torch", f"out={tmp_path / 'r'}"]),
                      capsys.readouterr().err)
    assert phrase in error and not (tmp_path / "r").exists()
