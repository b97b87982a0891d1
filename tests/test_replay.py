"""Replay during a fine-tune: a sample of the starting model's own training data joins the user's frames,
drawn only from that data's training split (split as the starting model's run split it), and a sample of
its validation split is scored beside the user's frames; absent folders are skipped, not fatal."""
import pytest

from heatmapnet.data.augment import AugmentConfig
from heatmapnet.data.dataset import build_data
from heatmapnet.data.registry import read_split
from heatmapnet.data.replay import ReplayConfig, is_replayed
from heatmapnet.errors import UserError
from heatmapnet.model.config import ModelConfig
from heatmapnet.train.loop import validation_parts
from heatmapnet.train.targets import TargetConfig

USER = {"name": "clip", "reader": "synthetic", "root": None, "options": {"count": 30, "seed": 1},
        "split": {"by": "random", "val_fraction": 0.2}}
ORIGINAL = {"name": "original", "reader": "synthetic", "root": None, "options": {"count": 200, "seed": 2},
            "split": {"by": "random", "val_fraction": 0.25}}


def built(replay: ReplayConfig | None, seed: int = 5):
    return build_data(USER, ModelConfig(pretrained=None), TargetConfig(), AugmentConfig(enabled=False), seed, replay)


def keys(samples):
    return {(s.synthetic_seed, s.dataset.removeprefix("replay:")) for s in samples}


def test_replay_draws_training_frames_of_the_original_split_and_scores_its_validation_frames():
    data = built(ReplayConfig(data=ORIGINAL, frames=2.0, val_frames=20, split_seed=0))
    user_train = [s for s in data.train.samples if not is_replayed(s)]
    replayed = [s for s in data.train.samples if is_replayed(s)]
    assert len(user_train) == 24 and len(replayed) == 48  # two replayed frames per labelled frame
    original_train, original_val = read_split("original", ORIGINAL, ORIGINAL, seed=0)  # the starting model's split
    assert keys(replayed) <= keys(original_train)  # never a frame the starting model validated on
    parts = validation_parts(data.val)
    assert [len(samples) for samples in parts.values()] == [6, 20]
    assert keys(parts["replayed frames (the starting model's data)"]) <= keys(original_val)
    # frame for frame, a replayed frame is drawn as often as a labelled one
    assert data.train_weights[len(user_train):].mean() == pytest.approx(data.train_weights[:len(user_train)].mean())


def test_the_replay_split_follows_the_starting_model_seed_not_the_fine_tune_seed():
    first = built(ReplayConfig(data=ORIGINAL, frames=1.0, val_frames=50, split_seed=0), seed=5)
    second = built(ReplayConfig(data=ORIGINAL, frames=1.0, val_frames=50, split_seed=0), seed=6)
    _, original_val = read_split("original", ORIGINAL, ORIGINAL, seed=0)
    for data in (first, second):
        assert keys([s for s in data.val.samples if is_replayed(s)]) == keys(original_val)  # all 50 of them


def test_without_replay_or_with_absent_folders_the_fine_tune_runs_on_the_user_frames(tmp_path):
    plain = built(None)
    missing = built(ReplayConfig(data={"reader": "coco", "root": str(tmp_path / "nowhere")}, frames=1.0))
    for data in (plain, missing):
        assert len(data.train) == 24 and not any(is_replayed(s) for s in data.val.samples)
    assert any("replay: skipped" in line and "folder not found" in line for line in missing.summary)


def test_negative_replay_amounts_are_refused():
    from heatmapnet.config import dataclass_from
    with pytest.raises(UserError, match="replay: replay.frames"):
        dataclass_from(ReplayConfig, {"frames": -1}, "replay")
