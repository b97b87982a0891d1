"""Faults at `python -m annotator.export`: an output folder that is a file, or lies under one."""
import pytest
from annotator_scenes import two_disc_scene
from fault_checks import fingerprints, one_error, small_disk, under_a_file
from test_faults_annotator import labelled_clip

from annotator.export import main


@pytest.mark.parametrize("kind", ["coco", "targets"])
def test_an_output_that_is_a_file_is_one_error_line(tmp_path, capsys, kind):
    clip, store = labelled_clip(tmp_path, two_disc_scene(), 6)
    not_a_folder = tmp_path / "out.txt"
    not_a_folder.write_text("mine\n")
    before = fingerprints(tmp_path)
    for out in (not_a_folder, under_a_file(tmp_path, "out")):
        error = one_error(main([str(store.path), "--to", kind, str(out)]), capsys.readouterr().err)
        assert f"cannot write the {kind} export" in error and "is a file, not a folder" in error
    after = fingerprints(tmp_path)
    after.pop(str(tmp_path / "a-file"))
    assert after == before


def test_a_read_only_output_is_one_error_line(tmp_path, capsys):
    _, store = labelled_clip(tmp_path, two_disc_scene(), 6)
    with small_disk(tmp_path / "read-only", "ro,size=64k") as disk:
        error = one_error(main([str(store.path), "--to", "coco", str(disk / "coco")]), capsys.readouterr().err)
        assert "Read-only file system" in error
