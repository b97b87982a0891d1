"""Copy the frames a training config reads into a small folder that can travel to a GPU machine.

    python experiments/generalisation/pack_frames.py experiment=generalise_long out=gpu_pack/data [quality=75]

Only the frames the config's data selects (training and validation, after `frame_step` and the drop rules) are
copied, re-encoded as WebP at `quality` (a third smaller than JPEG at the same look) under their original names
(OpenCV reads an image by its content, not its extension) and with their pixel size unchanged, so each
dataset's annotation files are copied as they are and every box, and every size rule in pixels, stays valid; with `paths.data=<out>` the same config then reads the same frames
and makes the same splits (each split depends on the frames' names and order, not on their folder). Videos are
not packed: configs that read frames of videos need the originals.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import cv2
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from heatmapnet.cli import REQUIRED, parse_options, run_tool  # noqa: E402
from heatmapnet.config import dataclass_from, plain  # noqa: E402
from heatmapnet.data.augment import AugmentConfig  # noqa: E402
from heatmapnet.data.dataset import build_data  # noqa: E402
from heatmapnet.errors import UserError  # noqa: E402
from heatmapnet.model.config import ModelConfig  # noqa: E402
from heatmapnet.train.targets import TargetConfig  # noqa: E402


def main(argv: list[str]) -> None:
    own = [a for a in argv if a.split("=", 1)[0] in ("out", "quality")]
    overrides = [a for a in argv if a not in own]  # the rest compose the training config, as train.py's do
    options = parse_options(own, {"out": REQUIRED, "quality": 75}, "pack_frames")
    out = Path(options["out"]).resolve()
    with initialize_config_dir(str(REPO / "configs"), version_base=None):
        cfg = compose("train", overrides=overrides)
    data_root = Path(cfg.paths.data).resolve()
    data = build_data(cfg.data, ModelConfig.from_dict({**plain(cfg.model), "pretrained": None}),
                      dataclass_from(TargetConfig, cfg.target, "target"),
                      dataclass_from(AugmentConfig, cfg.augment, "augment"), int(cfg.seed))
    frames = {Path(s.image_path).resolve() for s in data.train.samples + data.val.samples if s.image_path}
    if any(s.meta.get("video_frame") for s in data.train.samples + data.val.samples):
        raise UserError("this config reads frames of videos; pack_frames copies image files only")
    datasets = {frame.relative_to(data_root).parts[0] for frame in frames}
    for name in sorted(datasets):
        for json_file in (data_root / name).glob("*.json"):
            target = out / name / json_file.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(json_file, target)
    total = 0
    for frame in sorted(frames):
        target = out / frame.relative_to(data_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        image = cv2.imread(str(frame), cv2.IMREAD_COLOR)
        encoded = cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, int(options["quality"])])[1]
        target.write_bytes(encoded.tobytes())
        total += target.stat().st_size
    print(f"packed {len(frames)} frames of {', '.join(sorted(datasets))} into {out}: {total / 2**20:.1f} MiB")


if __name__ == "__main__":
    sys.exit(run_tool(main))
