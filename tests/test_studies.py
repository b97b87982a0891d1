"""The design-study runner: every run it names is a composable experiment that changes one thing, and its
tables land between the README markers."""
import importlib.util
import sys

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from heatmapnet.config import REPO
from heatmapnet.errors import UserError


@pytest.fixture(scope="module")
def studies():
    spec = importlib.util.spec_from_file_location("studies_run", REPO / "experiments" / "studies" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["studies_run"] = module
    spec.loader.exec_module(module)
    return module


def composed(run: str) -> dict:
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"experiment=study/{run}", "out_dir=unused"])
    return OmegaConf.to_container(cfg, resolve=False)


def differences(a, b, prefix=""):
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for key in sorted(set(a) | set(b))
                for d in differences(a.get(key), b.get(key), f"{prefix}{key}.")]
    return [] if a == b else [prefix.rstrip(".")]


def test_every_study_run_composes_and_changes_only_its_subject(studies):
    base = composed("base")
    assert base["model"]["backbone"] == "mobilenet_v2" and base["loss"]["name"] == "masked_bce"
    assert base["data"]["name"] == "egohands4" and base["data"]["split"]["by"] == "video"
    subjects = {"loss": ("loss", "data.options.other", "seed", "data.split.val_videos"),
                "backbone": ("model", "train.epochs", "seed", "data.split.val_videos"), "input": ("model.input_",),
                "radius": ("target",), "split": ("data.split",)}
    for study, rows in studies.STUDIES.items():
        for row in rows:
            if row.checkpoint or row.run == "base":
                continue
            changed = [key for key in differences(base, composed(row.run)) if key != "study_run"]
            assert changed, f"{row.run} is identical to base"
            allowed = subjects[study]
            assert all(key.startswith(allowed) for key in changed), f"{row.run} changes {changed}"


def test_tables_replace_only_the_text_between_their_markers(studies, tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- study:loss -->\nold table\n<!-- /study:loss -->\noutro\n")
    monkeypatch.setattr(studies, "README", readme)
    studies.write_into_readme("loss", "new table")
    assert readme.read_text() == "intro\n<!-- study:loss -->\nnew table\n<!-- /study:loss -->\noutro\n"
    with pytest.raises(UserError, match="no <!-- study:radius --> .* markers"):
        studies.write_into_readme("radius", "table")


def test_table_rows_show_missing_values_as_na(studies):
    row = {"run": "base", "label": "masked_bce", "point_ap": 0.5, "f1": 0.25, "best_f1": None,
           "best_threshold": None, "median_error_size": None, "median_error_px": None, "recall": 0.2,
           "train_minutes": 3.0, "ms_per_frame": 12.345}
    lines = studies.table([row]).splitlines()
    assert len(lines) == 3 and lines[0].count("|") == len(studies.COLUMNS) + 2
    assert lines[2] == "| `base` masked_bce | 0.500 | 0.250 | n/a | n/a | n/a | 0.200 | 12.3 |"


def test_unknown_study_is_one_clear_line(studies, capsys):
    assert studies.run_tool(studies.main, ["study=speed"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == ("error: unknown study 'speed': choose one of loss, backbone, input, radius, refinement, split "
                     "or all")
