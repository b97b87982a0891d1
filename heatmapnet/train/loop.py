"""`train(cfg)`: the whole training run behind `python train.py` (and tests, which call it directly).

Builds model, data, loss and optimiser from the composed config; trains with AdamW + warm-up + cosine;
validates, logs to TensorBoard, keeps `last.pt` and `best.pt` (by validation point-F1); resumes;
starts from a trained checkpoint (`init`), optionally averages the result with it (`average_with_init`), and
then scores it beside the result on the held-out frames;
saves on Ctrl-C; runs data-parallel under `torchrun` (gloo on CPU, nccl on GPU), rank 0 logging and saving.
"""
from __future__ import annotations

import math
import os
import random
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter

from heatmapnet.config import dataclass_from, plain
from heatmapnet.data.augment import AugmentConfig
from heatmapnet.data.dataset import HandDataset, MixSampler, build_data, collate
from heatmapnet.data.replay import ReplayConfig, is_replayed
from heatmapnet.errors import UserError
from heatmapnet.model.checkpoint import read_checkpoint, save_checkpoint
from heatmapnet.model.config import ModelConfig
from heatmapnet.model.network import HeatmapNet
from heatmapnet.runtime.decode import DecodeConfig
from heatmapnet.train.average import average_with_start
from heatmapnet.train.compare import compare_with_start, comparison_table, log_comparison
from heatmapnet.train.engine import NonFiniteLoss, train_one_epoch, validate
from heatmapnet.train.losses import Criterion, LossConfig
from heatmapnet.train.schedule import ScheduleConfig
from heatmapnet.train.targets import TargetConfig
from heatmapnet.train.visuals import training_grid
from heatmapnet.writable import writable_folder


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def start_distributed(device_name: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device); joins the process group when started by torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    if use_cuda:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        return rank, world_size, torch.device("cuda", local_rank)
    return rank, world_size, torch.device("cpu")


def warmup_cosine(total_steps: int, warmup_steps: int):
    """LR multiplier: linear warm-up, then cosine decay to 0."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def train(cfg) -> dict:
    """Run training as configured; returns the final validation metrics and checkpoint paths."""
    rank, world_size, device = start_distributed(cfg.device)
    is_main = rank == 0
    torch.set_num_threads(int(cfg.threads))
    seed_everything(int(cfg.seed) + rank)

    model_config = ModelConfig.from_dict(plain(cfg.model))
    target_config = dataclass_from(TargetConfig, cfg.target, "target")
    loss_config = dataclass_from(LossConfig, cfg.loss, "loss")
    decode_config = dataclass_from(DecodeConfig, cfg.decode, "decode")
    schedule = dataclass_from(ScheduleConfig, cfg.train, "train")
    start_share = checked_start_share(cfg)
    out_dir = writable_folder(output_folder(cfg), "the training run (checkpoints, TensorBoard logs)")

    augmentation = dataclass_from(AugmentConfig, cfg.augment, "augment")
    replay = dataclass_from(ReplayConfig, cfg.get("replay"), "replay")
    data = build_data(cfg.data, model_config, target_config, augmentation, int(cfg.seed), replay)
    if len(data.train) == 0:
        raise UserError("the training split is empty: check data.root and the split settings")
    if not any(not is_replayed(sample) for sample in data.val.samples):
        raise UserError(nothing_to_validate(cfg.data))
    sampler = MixSampler(data.train_weights, int(cfg.seed), rank, world_size)
    train_loader = DataLoader(data.train, batch_size=schedule.batch_size, sampler=sampler, collate_fn=collate,
                              num_workers=schedule.num_workers, drop_last=len(sampler) > schedule.batch_size)
    val_loader = DataLoader(data.val, batch_size=schedule.batch_size, collate_fn=collate,
                            num_workers=schedule.num_workers)

    model = HeatmapNet(model_config).to(device)
    net = torch.nn.parallel.DistributedDataParallel(model) if world_size > 1 else model
    criterion = Criterion(loss_config)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=schedule.lr, weight_decay=schedule.weight_decay)
    steps_per_epoch = max(1, len(train_loader))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(
        schedule.epochs * steps_per_epoch, int(schedule.warmup_epochs * steps_per_epoch)))

    checkpoints = out_dir / "checkpoints"
    start_epoch, best_f1, train_seconds = 0, -1.0, 0.0
    if cfg.get("init") and not cfg.resume:
        init_from(cfg.init, model, model_config)
    if cfg.resume:
        start_epoch, best_f1, train_seconds = resume_from(cfg.resume, model, optimizer, scheduler, model_config)
        if start_epoch >= schedule.epochs:
            raise UserError(f"{cfg.resume} has already trained {start_epoch} epoch(s) and train.epochs is "
                            f"{schedule.epochs}: nothing to do; pass train.epochs=N with N > {start_epoch}")
    writer = SummaryWriter(out_dir / "tensorboard") if is_main else None
    if is_main:
        print(f"training {model_config.backbone} stride {model_config.stride} with {loss_config.name} "
              f"on {world_size} process(es), {device}; output in {out_dir}")
        for line in data.summary:
            print(f"  {line}")

    def save(name: str, epoch: int, metrics: dict, **extra) -> None:
        meta = {**extra, "epoch": epoch, "val": metrics, "loss": loss_config.name, "target": asdict(target_config),
                "data": plain(cfg.data), "seed": int(cfg.seed), "train_seconds": round(train_seconds, 1)}
        if replay.data:  # the replayed datasets' split, so `evaluate split=val` still finds their held-out frames
            meta["replay"] = {"data": plain(replay.data), "split_seed": replay.split_seed}
        state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                 "epoch": epoch, "best_f1": best_f1, "train_seconds": train_seconds}
        save_checkpoint(checkpoints / name, model, asdict(decode_config), meta, state)

    metrics: dict = {}
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, schedule.epochs):
            data.train.epoch = sampler.epoch = epoch
            started = time.perf_counter()
            stats = train_one_epoch(net, criterion, train_loader, optimizer, scheduler, device, epoch,
                                    show_progress=is_main, grad_clip=schedule.grad_clip)
            if world_size > 1:
                dist.barrier()
            if not is_main:
                continue
            elapsed = time.perf_counter() - started
            train_seconds += elapsed
            last_epoch = epoch == schedule.epochs - 1
            val_skipped: list[str] = []
            if (epoch + 1) % schedule.val_every == 0 or last_epoch:
                metrics, val_stats = validate(model, criterion, val_loader, device, model.stride, decode_config,
                                               target_config)
                val_skipped = val_stats.skipped
                log_validation(writer, metrics, val_stats, epoch)
                if (metrics.get("f1") or 0.0) > best_f1:  # F1 is None (undefined) on frames without hands
                    best_f1 = metrics.get("f1") or 0.0
                    save("best.pt", epoch, metrics)
                if (epoch + 1) % schedule.image_every == 0 or last_epoch:
                    writer.add_image("val/input_target_prediction_mask", training_grid(
                        val_stats.last_batch, val_stats.last_outputs, model_config.normalization), epoch)
            log_training(writer, stats, optimizer, epoch, elapsed)
            if (epoch + 1) % schedule.image_every == 0 or last_epoch:
                writer.add_image("train/input_target_prediction_mask", training_grid(
                    stats.last_batch, stats.last_outputs, model_config.normalization), epoch)
            save("last.pt", epoch + 1, metrics)
            print(epoch_line(epoch, schedule.epochs, stats, metrics, elapsed, val_skipped))
        if is_main and metrics and start_share > 0:
            metrics = average_with_init(cfg.init, start_share, model, criterion, val_loader, device, decode_config,
                                        target_config, checkpoints)
            save("last.pt", epoch + 1, metrics, averaged_with_init={"init": str(cfg.init), "share": start_share})
        if is_main and cfg.get("init") and metrics:
            compared = {}
            for part, samples in validation_parts(data.val).items():
                loader = DataLoader(HandDataset(samples, model_config, target_config, None, int(cfg.seed)),
                                    batch_size=schedule.batch_size, collate_fn=collate,
                                    num_workers=schedule.num_workers)
                scored = compare_with_start(cfg.init, model, criterion, loader, device, target_config,
                                            decode_config, metrics.get("operating_threshold"))
                lines = comparison_table(scored, Path(cfg.init).name, part)
                print("\n".join(lines))
                compared[part] = scored, lines
            log_comparison(writer, compared, out_dir, epoch)
    except NonFiniteLoss as error:
        kept = (f"the last good checkpoint is {checkpoints / 'last.pt'}" if (checkpoints / "last.pt").exists()
                else "no checkpoint was saved yet")
        raise UserError(f"{error}; stopped, {kept} (lower train.lr, or check the data and loss settings)") from None
    except KeyboardInterrupt:
        if is_main:
            save("last.pt", epoch, metrics)
            print(f"\ninterrupted: saved {checkpoints / 'last.pt'} (resume with resume={checkpoints / 'last.pt'})")
        raise
    finally:
        if writer:
            writer.close()
        if dist.is_initialized():
            dist.destroy_process_group()
    return {"metrics": metrics, "best_f1": best_f1, "last": checkpoints / "last.pt", "best": checkpoints / "best.pt"}


def checked_start_share(cfg) -> float:
    """`average_with_init`, refused before any work when it cannot be done."""
    share = float(cfg.get("average_with_init") or 0.0)
    if not 0.0 <= share <= 1.0:
        raise UserError(f"average_with_init is the starting weights' share of the result: between 0 and 1, got {share}")
    if share and not cfg.get("init"):
        raise UserError(f"average_with_init={share:g} averages the result with the weights it started from: give "
                        f"init=PATH (experiment=finetune starts from the shipped model), or average_with_init=0")
    return share


def average_with_init(init, start_share: float, model, criterion, val_loader, device, decode_config, target_config,
                      checkpoints: Path) -> dict:
    """The finished fine-tune averaged with its starting weights (WiSE-FT), validated again so its operating
    threshold is its own; the weights before averaging stay in `tuned.pt`. Returns the new metrics."""
    shutil.copyfile(checkpoints / "last.pt", checkpoints / "tuned.pt")
    average_with_start(model, read_checkpoint(init)["state_dict"], start_share)
    metrics, _ = validate(model, criterion, val_loader, device, model.stride, decode_config, target_config)
    print(f"averaged with the starting weights ({start_share:g} of them, average_with_init): val F1 "
          f"{shown(metrics.get('f1'), '.3f')}  AP {shown(metrics.get('point_ap'), '.3f')}; the fine-tuned weights "
          f"before averaging are in {checkpoints / 'tuned.pt'}")
    return metrics


def validation_parts(val: HandDataset) -> dict[str, list]:
    """The validation frames a fine-tune is compared on: the user's own, and the replayed ones (forgetting)."""
    parts = {"your frames": [s for s in val.samples if not is_replayed(s)],
             "replayed frames (the starting model's data)": [s for s in val.samples if is_replayed(s)]}
    return {part: samples for part, samples in parts.items() if samples}


def nothing_to_validate(data_config) -> str:
    """Why there are no validation frames, and what to do about it."""
    split = data_config.get("split") or {}
    by = split.get("by", "video")
    advice = {"video": "with one video, split it by time: data.split.by=time (validates on its last frames)",
              "time": "raise data.split.val_fraction or label more frames"}.get(by, "raise data.split.val_fraction")
    return (f"no validation frames: splitting by {by} with val_fraction {split.get('val_fraction')} left nothing "
            f"to validate on; {advice}, or validate on the training frames with data.validate_on_train=true")


def output_folder(cfg) -> Path:
    """Where this run writes: Hydra's run folder when Hydra runs it (`hydra.run.dir=DIR`, which defaults to
    `out_dir`, so `out_dir=DIR` works too), else `out_dir` (a config composed in a test or notebook)."""
    if HydraConfig.initialized() and HydraConfig.get().runtime.output_dir:
        return Path(HydraConfig.get().runtime.output_dir)
    return Path(cfg.out_dir)


def same_layout_weights(path, model_config: ModelConfig, verb: str, slimmer: bool = False) -> dict:
    """A checkpoint's payload, refused in one line when it holds another network than the config builds
    (backbone and stride; input size and normalisation may differ: they do not change the weights). Its left-out
    blocks (`model.skip_blocks`) must be the config's, or with `slimmer` among them (the config may leave out more)."""
    payload = read_checkpoint(path)
    saved = ModelConfig.from_dict({**payload["model_config"], "pretrained": None})
    layout = ("backbone", "stride", "size_head")
    if any(getattr(saved, key) != getattr(model_config, key) for key in layout):
        raise UserError(f"cannot {verb} {path}: it holds a {saved.backbone} stride-{saved.stride} model "
                        f"(size head {saved.size_head}), the config asks for {model_config.backbone} "
                        f"stride-{model_config.stride} (size head {model_config.size_head}); choose the matching "
                        f"model=... or another checkpoint")
    missing = sorted(set(saved.skip_blocks) - set(model_config.skip_blocks))
    if slimmer and missing:
        raise UserError(f"cannot {verb} {path}: it has no weights for its left-out blocks {missing}; skip them "
                        f"too (model.skip_blocks)")
    if not slimmer and saved.skip_blocks != model_config.skip_blocks:
        raise UserError(f"cannot {verb} {path}: it leaves out blocks {list(saved.skip_blocks)}, the config "
                        f"{list(model_config.skip_blocks)}; give the same model.skip_blocks")
    return payload


def init_from(path, model, model_config: ModelConfig) -> None:
    """Start from a trained checkpoint's weights (fine-tuning), with a fresh optimiser and schedule. A network
    that leaves out more residual blocks (`model.skip_blocks`) than the checkpoint's starts from its other layers."""
    payload = same_layout_weights(path, model_config, "start from", slimmer=True)
    wanted = model.state_dict()
    model.load_state_dict({key: value for key, value in payload["state_dict"].items() if key in wanted})
    left_out = f" (leaving out blocks {list(model_config.skip_blocks)})" if model_config.skip_blocks else ""
    print(f"starting from the weights of {path}{left_out}")


def resume_from(path, model, optimizer, scheduler, model_config: ModelConfig) -> tuple[int, float, float]:
    """Restore weights, optimiser state, epoch, best F1 and training seconds so far; refuse a checkpoint of
    another model layout."""
    payload = same_layout_weights(path, model_config, "resume from")
    model.load_state_dict(payload["state_dict"])
    state = payload.get("training_state") or {}
    if "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
    return int(state.get("epoch", 0)), float(state.get("best_f1", -1.0)), float(state.get("train_seconds", 0.0))


def log_training(writer: SummaryWriter, stats, optimizer, epoch: int, elapsed: float) -> None:
    for name, value in stats.losses.items():
        writer.add_scalar(f"train/{name}", value, epoch)
    writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], epoch)
    writer.add_scalar("train/images_per_second", stats.images / max(elapsed, 1e-9), epoch)
    writer.add_scalar("train/skipped_images", len(stats.skipped), epoch)


def log_validation(writer: SummaryWriter, metrics: dict, stats, epoch: int) -> None:
    writer.add_scalar("val/skipped_images", len(stats.skipped), epoch)
    for name, value in stats.losses.items():
        writer.add_scalar(f"val/{name}", value, epoch)
    for name, value in metrics.items():
        if isinstance(value, (int, float)) and math.isfinite(value):  # None: undefined (e.g. no detections)
            writer.add_scalar(f"val/{name}", value, epoch)


def epoch_line(epoch: int, epochs: int, stats, metrics: dict, elapsed: float, val_skipped=()) -> str:
    """One summary line per epoch (skipped training and validation images are named so the user can fix them)."""
    line = (f"epoch {epoch + 1}/{epochs}  loss {stats.losses.get('loss', float('nan')):.4f}  "
            f"{stats.images / max(elapsed, 1e-9):.1f} img/s")
    if metrics:
        line += (f"  val F1 {shown(metrics.get('f1'), '.3f')}  AP {shown(metrics.get('point_ap'), '.3f')}"
                 f"  median error {shown(metrics.get('median_error_px'), '.1f')} px")
    if stats.skipped:
        line += f"  skipped {len(stats.skipped)} unreadable image(s), e.g. {stats.skipped[0]}"
    if val_skipped:
        line += f"  skipped {len(val_skipped)} unreadable validation image(s), e.g. {val_skipped[0]}"
    return line


def shown(value, spec: str) -> str:
    """A metric for the console; undefined metrics (None) read as n/a."""
    return "n/a" if value is None else format(value, spec)
