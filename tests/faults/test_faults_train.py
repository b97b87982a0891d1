"""Faults at `train.py`: meaningless settings, unwritable output, model files that run code or hold NaN,
a resume past the end, a loss that turns non-finite (the last good checkpoint is kept)."""
import re

import pytest
import torch
from fault_checks import (crafted_checkpoint, fill, fingerprints, good_checkpoint, nan_checkpoint, one_error,
                          run_entry, small_disk, small_model, under_a_file)
from test_train import compose_train as compose_real_train

from heatmapnet.errors import UserError
from heatmapnet.model.checkpoint import load_model, save_checkpoint
from heatmapnet.train.loop import train


def compose_train(*overrides):
    return compose_real_train("debug=tiny", "model=mobilenet_v2", *overrides)  # the layout of small_model()


def test_zero_epochs_is_one_error_line_from_the_entry_point(tmp_path):
    result = run_entry("train.py", "debug=tiny", "train.epochs=0", f"out_dir={tmp_path / 'run'}")
    one_error(result.returncode, result.stderr, "train: epochs must be at least 1")
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.parametrize("override, message", [
    ("train.batch_size=0", "train: batch_size must be at least 1"),
    ("train.lr=-0.1", "train: lr must not be negative"),
    ("train.grad_clip=0", "train: grad_clip must be positive or null"),
    ("decode.threshold=2", "decode: threshold must be within [0, 1]"),
    ("decode.top_k=0", "decode: top_k must be at least 1"),
])
def test_meaningless_settings_stop_before_any_work(tmp_path, override, message):
    with pytest.raises(UserError) as error:
        train(compose_train(override, f"out_dir={tmp_path / 'run'}"))
    assert str(error.value).startswith(message)
    assert not (tmp_path / "run").exists()


def test_an_output_folder_that_cannot_be_written_is_refused_first(tmp_path):
    out = under_a_file(tmp_path, "run")
    with pytest.raises(UserError, match=r"cannot write the training run .* is a file, not a folder"):
        train(compose_train(f"out_dir={out}"))
    with small_disk(tmp_path / "read-only", "ro,size=64k") as disk:
        with pytest.raises(UserError, match=r"cannot write the training run .*Read-only file system"):
            train(compose_train(f"out_dir={disk / 'run'}"))


def test_a_disk_that_fills_up_keeps_the_previous_checkpoint(tmp_path):
    with small_disk(tmp_path / "disk", "size=1m") as disk:
        previous = good_checkpoint(tmp_path / "previous.pt")
        last = disk / "last.pt"
        last.write_bytes(b"the previous epoch's checkpoint")  # stands in for it: a real one would not fit
        fill(disk)
        with pytest.raises(UserError, match=r"cannot write checkpoint .*last\.pt.* \(the previous copy is kept\)"):
            save_checkpoint(last, load_model(previous)[0])
        assert last.read_bytes() == b"the previous epoch's checkpoint"
        assert sorted(path.name for path in disk.iterdir()) == ["filler", "last.pt"]  # no temporary file left


def test_resume_past_the_planned_epochs_is_refused(tmp_path):
    checkpoint = good_checkpoint(tmp_path / "last.pt", epoch=3)
    before = fingerprints(checkpoint)
    with pytest.raises(UserError, match=r"already trained 3 epoch\(s\) and train.epochs is 2: nothing to do"):
        train(compose_train("train.epochs=2", f"resume={checkpoint}", f"out_dir={tmp_path / 'run'}"))
    assert fingerprints(checkpoint) == before


def test_init_from_a_crafted_or_diverged_checkpoint_is_refused(tmp_path):
    payload_ran = tmp_path / "payload-ran"
    crafted = crafted_checkpoint(tmp_path / "crafted.pt", payload_ran)
    with pytest.raises(UserError, match="refusing to load"):
        train(compose_train(f"init={crafted}", f"out_dir={tmp_path / 'run'}"))
    assert not payload_ran.exists()
    with pytest.raises(UserError, match="non-finite"):
        train(compose_train(f"init={nan_checkpoint(tmp_path / 'nan.pt')}", f"out_dir={tmp_path / 'run'}"))
    assert not list((tmp_path / "run").rglob("*.pt"))


def test_a_loss_that_turns_non_finite_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    """Finite weights so large that the forward pass overflows: the loss is NaN on the first batch."""
    model = small_model()
    with torch.no_grad():
        model.heatmap_head.weight.fill_(3e38)
    exploding = tmp_path / "exploding.pt"
    save_checkpoint(exploding, model)
    run = tmp_path / "run"
    last = good_checkpoint(run / "checkpoints" / "last.pt")
    before = fingerprints(last)
    with pytest.raises(UserError) as error:
        train(compose_train(f"init={exploding}", f"out_dir={run}"))
    message = str(error.value)
    assert re.search(r"the training loss became (nan|inf) \(gradient norm (nan|inf)\) at epoch 1, batch 1", message)
    assert f"the last good checkpoint is {last}" in message
    assert fingerprints(last) == before and not (run / "checkpoints" / "best.pt").exists()
