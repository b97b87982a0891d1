"""The real `train()` through the composed Hydra config, shrunk to seconds (lightning-hydra-template style)."""
import os
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir

from heatmapnet.config import REPO
from heatmapnet.model.checkpoint import load_model, read_checkpoint
from heatmapnet.train.loop import train


def compose_train(*overrides):
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def test_default_config_composes_with_every_group():
    for overrides in (["loss=masked_bce"], ["loss=focal", "model=vgg16"], ["model=mobilenet_v3_small", "loss=mse"]):
        cfg = compose_train(*overrides)
        assert cfg.model.backbone and cfg.loss.name and cfg.data.reader


def test_one_epoch_on_synthetic_data_writes_checkpoints_and_tensorboard(tmp_path):
    cfg = compose_train("debug=tiny", f"out_dir={tmp_path}")
    result = train(cfg)
    assert result["last"].is_file() and result["best"].is_file()
    payload = read_checkpoint(result["last"])
    assert payload["model_config"]["normalization"]["mean"] == [0.485, 0.456, 0.406]
    assert payload["meta"]["loss"] == "masked_bce" and "f1" in payload["meta"]["val"]
    model, _ = load_model(result["best"])
    assert model.config.input_width == 320
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 10_000  # scalars and the image grids


def test_resume_continues_from_the_saved_epoch(tmp_path):
    first = train(compose_train("debug=tiny", f"out_dir={tmp_path / 'a'}"))
    resumed = train(compose_train("debug=tiny", "train.epochs=2", f"resume={first['last']}",
                                  f"out_dir={tmp_path / 'b'}"))
    assert read_checkpoint(resumed["last"])["meta"]["epoch"] == 2


def test_resume_refuses_another_model_layout(tmp_path):
    from heatmapnet.errors import UserError
    first = train(compose_train("debug=tiny", f"out_dir={tmp_path / 'a'}"))
    with pytest.raises(UserError, match="cannot resume"):
        train(compose_train("debug=tiny", "model=mobilenet_v3_small", f"resume={first['last']}",
                            f"out_dir={tmp_path / 'b'}"))


def test_init_starts_from_the_checkpoint_weights_with_a_fresh_schedule(tmp_path):
    first = train(compose_train("debug=tiny", f"out_dir={tmp_path / 'a'}"))
    started, _ = load_model(first["last"])
    cfg = compose_train("debug=tiny", f"init={first['last']}", "train.lr=0.0", "train.warmup_epochs=0",
                        f"out_dir={tmp_path / 'b'}")
    second = train(cfg)
    payload = read_checkpoint(second["last"])
    assert payload["meta"]["epoch"] == 1  # epochs count afresh, unlike resume
    finetuned, _ = load_model(second["last"])
    for name, value in started.state_dict().items():  # lr 0: the weights are the starting checkpoint's
        if value.dtype.is_floating_point and "running" not in name:
            assert (finetuned.state_dict()[name] == value).all(), name


def test_init_refuses_another_model_layout(tmp_path):
    from heatmapnet.errors import UserError
    first = train(compose_train("debug=tiny", f"out_dir={tmp_path / 'a'}"))
    with pytest.raises(UserError, match="cannot start from .* the config asks for mobilenet_v3_small"):
        train(compose_train("debug=tiny", "model=mobilenet_v3_small", f"init={first['last']}",
                            f"out_dir={tmp_path / 'b'}"))


def test_short_overfit_run_finds_the_hands(tmp_path):
    """A few synthetic images, trained on and validated on themselves: the pipeline can learn."""
    cfg = compose_train("model=mobilenet_v2", "data=synthetic", "data.options.count=6", "data.options.width=160",
                        "data.options.height=120", "model.input_width=160", "model.input_height=120",
                        "data.validate_on_train=true", "augment.enabled=false", "model.pretrained=null",
                        "train.epochs=80", "train.batch_size=3", "train.lr=0.001", "train.num_workers=0",
                        "train.val_every=80", "train.warmup_epochs=3", f"out_dir={tmp_path}")
    result = train(cfg)
    assert result["metrics"]["f1"] >= 0.95, result["metrics"]


def test_missing_data_root_is_one_clear_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(REPO / "train.py"), "data=coco", f"data.root={tmp_path / 'none'}",
                           f"out_dir={tmp_path / 'run'}"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error:") and len(done.stderr.strip().splitlines()) == 1
    assert str(tmp_path / "none") in done.stderr


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
                           str(REPO / "train.py"), "debug=tiny", "threads=1", f"out_dir={tmp_path}"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "checkpoints" / "last.pt").is_file()
    assert done.stdout.count("training mobilenet_v2") == 1  # only rank 0 logs
    assert "on 2 process(es)" in done.stdout


def test_hydra_run_dir_is_where_the_run_writes(tmp_path):
    """lightning-hydra-template's convention: `hydra.run.dir=DIR` puts this run's outputs in DIR."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(REPO / "train.py"), "debug=tiny", "threads=1",
                           f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, env=env,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
