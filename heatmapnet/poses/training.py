"""`train(cfg)` for `python train.py experiment=pose` (task `pose`): the pose classifier, end to end.

Gathers samples (data.py: class folders of crops, detector false alarms and hand-free patches as the garbage
class; clips.py: a clip per pose cut by the tracker; labelled.py: annotator files with per-hand pose labels),
splits them by group (photo, or clip time), trains the
small CNN with jittered crops (the same cut as at run time), prints per-class precision/recall and the
confusion matrix, and writes `pose.pt`, `pose.onnx` (ready for `track.py pose=...`), `confusion.png` and
`report.json` to `out_dir`.
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from heatmapnet.config import dataclass_from, plain
from heatmapnet.errors import UserError
from heatmapnet.poses.classifier import PoseClassifier, PoseModelInfo
from heatmapnet.poses.crops import crop_matrix, cut
from heatmapnet.poses.data import (
    CropSample,
    background_patches,
    mine_false_alarms,
    photo_gesture_samples,
    read_crop_folders,
)
from heatmapnet.poses.export import export_pose, save_pose_checkpoint
from heatmapnet.poses.network import PoseNet, PoseNetConfig
from heatmapnet.poses.report import confusion, confusion_png, summary, text_matrix


def gather(cfg, seed: int = 0) -> list[CropSample]:
    """Every training sample the `pose` config names."""
    size, none, repeat = cfg.crop_size, cfg.none_class, cfg.get("photo_repeat", 1)
    if not (isinstance(repeat, int) and repeat >= 1):
        raise UserError(f"pose.photo_repeat must be a whole number >= 1, got {repeat!r}")
    per_gesture = cfg.get("photos_per_gesture")
    if not (per_gesture is None or (isinstance(per_gesture, int) and per_gesture >= 1)):
        raise UserError(f"pose.photos_per_gesture must be a whole number >= 1 or null (all), got {per_gesture!r}")
    samples: list[CropSample] = []
    if cfg.crops:
        samples += read_crop_folders(cfg.crops, size, cfg.crops_per_class, cfg.crop_box_scale)
    for root in cfg.false_alarms or ():
        samples += mine_false_alarms(root, none, size, limit=cfg.false_alarm_images, detector=cfg.get("detector"))
    for root in cfg.backgrounds or ():
        samples += background_patches(root, none, size, limit=cfg.false_alarm_images, seed=seed)
    if cfg.clips:
        from heatmapnet.poses.clips import clip_samples
        samples += clip_samples(cfg.clips, none, size, cfg.val_fraction, cfg.nothing_clips, cfg.get("detector"))
    if cfg.annotations:
        from heatmapnet.poses.labelled import labelled_samples
        samples += labelled_samples(cfg.annotations, size, cfg.val_fraction)
    judge = (PoseClassifier(Path(str(cfg.two_hand_judge)).expanduser())
             if cfg.get("two_hand_judge") and cfg.get("photos") else None)
    for root in cfg.get("photos") or ():
        photos = photo_gesture_samples(detector_training_photos(root, cfg.get("detector")), size,
                                       {s.label for s in samples} or None, judge, none, per_gesture)
        samples += [replace(sample, repeat=repeat) for sample in photos]
    if not samples:
        raise UserError("no pose training data: set pose.crops (class folders of hand crops), pose.clips "
                        "(a folder of clips, one per pose), pose.annotations (annotator files with pose labels) "
                        "or pose.photos (COCO folders with a gesture per image)")
    return samples


def detector_training_photos(root, detector=None) -> list:
    """The photos of a COCO folder that the hand detector (`detector`: a .pt; None: the shipped one) trained on,
    as its checkpoint records the split: the photos it held out stay unseen by the pose model too, so
    experiments/poses/heldout.py still checks both on new people."""
    from heatmapnet.evaluate.run import parse_args, training_split
    from heatmapnet.pipeline import shipped_model

    root = Path(str(root)).expanduser()
    checkpoint = detector or shipped_model("torch")  # the .pt: it holds the training split
    return training_split(parse_args([f"checkpoint={checkpoint}", f"data={root}", "split=train"]), root)


def split(samples: list[CropSample], val_fraction: float, seed: int) -> tuple[list, list]:
    """Fixed splits where the source set one (clips: by time), the rest by group at random; a training sample
    appears `repeat` times (validation counts each once)."""
    groups = sorted({s.group for s in samples if s.split is None})
    random.Random(seed).shuffle(groups)
    held_out = set(groups[:round(val_fraction * len(groups))])
    val = [s for s in samples if s.split == "val" or (s.split is None and s.group in held_out)]
    train = [s for s in samples if s.split == "train" or (s.split is None and s.group not in held_out)]
    return [s for s in train for _ in range(s.repeat)], val


class CropDataset(Dataset):
    """Crops cut as at run time; training jitters scale, centre, rotation, mirror side, resolution and colour."""

    def __init__(self, samples, classes, size: int, scale: float, augment: dict | None, seed: int = 0):
        self.samples, self.size, self.scale, self.augment = samples, size, scale, augment
        self.labels = np.array([classes.index(s.label) for s in samples])
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        sample, a, rng = self.samples[index], self.augment, self.rng
        x, y, w, h = sample.box
        side = self.scale * max(w, h)
        if a:
            side *= math.exp(rng.uniform(*np.log(a["scale"])))
            x, y = x + rng.uniform(-1, 1) * a["shift"] * side, y + rng.uniform(-1, 1) * a["shift"] * side
            matrix = crop_matrix(x, y, side, self.size, rng.uniform(-1, 1) * a["rotation"],
                                 a["flip"] and rng.random() < 0.5)
        else:
            matrix = crop_matrix(x, y, side, self.size)
        crop = cut(sample.image, matrix, self.size)
        if a and a["low_res_prob"] > 0 and rng.random() < a["low_res_prob"]:  # far hands: few pixels, enlarged
            small = max(8, round(self.size * rng.uniform(a["low_res"], 1.0)))
            crop = cv2.resize(cv2.resize(crop, (small, small), interpolation=cv2.INTER_AREA), (self.size, self.size),
                              interpolation=cv2.INTER_LINEAR)
        crop = crop[..., ::-1].astype(np.float32) / 255
        if a:
            crop = (crop - 0.5) * (1 + rng.uniform(-1, 1) * a["contrast"]) + 0.5 + rng.uniform(-1, 1) * a["brightness"]
        return torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)).clip(0, 1)), int(self.labels[index])


def predict(model, loader) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, predicted labels) over a loader."""
    truth, predicted = [], []
    model.eval()
    with torch.inference_mode():
        for crops, labels in loader:
            predicted.append(model(crops).argmax(1).numpy())
            truth.append(labels.numpy())
    return np.concatenate(truth), np.concatenate(predicted)


def train(cfg) -> dict:
    """Train, report and export the pose model described by `cfg.pose`; returns paths and validation figures."""
    torch.set_num_threads(cfg.threads)
    pose = cfg.pose
    random.seed(cfg.seed), np.random.seed(cfg.seed), torch.manual_seed(cfg.seed)
    out = Path(cfg.out_dir)
    started = time.perf_counter()
    samples = gather(pose, cfg.seed)
    classes = sorted({s.label for s in samples})
    if pose.none_class not in classes:
        raise UserError(f"no samples of the garbage class {pose.none_class!r}: add a `{pose.none_class}` folder or "
                        f"clip, or false alarms (pose.false_alarms / pose.backgrounds)")
    if len(classes) < 2:
        raise UserError(f"only one class ({classes[0]}) in the pose data: a classifier needs at least two")
    train_samples, val_samples = split(samples, pose.val_fraction, cfg.seed)
    print(f"pose data: {len(train_samples)} training / {len(val_samples)} validation crops, classes "
          + ", ".join(f"{c} {sum(s.label == c for s in samples)}" for c in classes))
    info = PoseModelInfo(tuple(classes), pose.none_class, pose.crop_size, pose.crop_scale)
    config = dataclass_from(PoseNetConfig, pose.model, "pose.model")
    model = PoseNet(config, len(classes))
    train_set = CropDataset(train_samples, classes, pose.crop_size, pose.crop_scale, plain(pose.augment), cfg.seed)
    loader = DataLoader(train_set, batch_size=pose.batch_size, shuffle=True, num_workers=0, drop_last=True)
    val_loader = DataLoader(CropDataset(val_samples, classes, pose.crop_size, pose.crop_scale, None),
                            batch_size=128) if val_samples else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=pose.lr, weight_decay=pose.weight_decay)
    steps = max(1, pose.epochs * len(loader))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, pose.lr, total_steps=steps, pct_start=0.1)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=0.05)
    for epoch in range(1, pose.epochs + 1):
        model.train()
        losses, hits, seen = [], 0, 0
        for crops, labels in tqdm(loader, desc=f"epoch {epoch}/{pose.epochs}", unit="batch", disable=None,
                                  leave=False):
            logits = model(crops)
            loss = criterion(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            hits += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
        line = f"epoch {epoch}/{pose.epochs}: loss {np.mean(losses):.3f}, training accuracy {hits / max(seen, 1):.3f}"
        if val_loader is not None:
            truth, predicted = predict(model, val_loader)
            line += f", validation accuracy {np.mean(truth == predicted):.3f}"
        print(line + f" ({time.perf_counter() - started:.0f} s)", flush=True)
    result = {"classes": classes, "train_crops": len(train_samples), "val_crops": len(val_samples),
              "train_seconds": round(time.perf_counter() - started, 1)}
    if val_loader is not None:
        matrix = confusion(truth, predicted, len(classes))
        result["val"] = summary(matrix, classes)
        print("validation per class (recall on the diagonal; rows = truth):\n" + text_matrix(matrix, classes))
        print("per class: " + ", ".join(f"{row['class']} {row['recall']:.2f}" for row in result["val"]["per_class"]
                                        if row["recall"] is not None))
        result["confusion_png"] = str(confusion_png(matrix, classes, out / "confusion.png",
                                                    f"pose validation: accuracy {result['val']['accuracy']:.3f}"))
    result["checkpoint"] = str(save_pose_checkpoint(out / "pose.pt", model, info, result))
    result["onnx"] = str(export_pose(model, info, out / "pose.onnx"))
    (out / "report.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {result['onnx']} (use it: python track.py pose={result['onnx']}) and {out / 'report.json'}")
    return result
