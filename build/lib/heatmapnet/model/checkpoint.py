"""Checkpoints that carry everything needed to use them: weights, model config (normalisation and
input size included), decode settings and training metadata. Written atomically."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from heatmapnet.errors import UserError
from heatmapnet.model.config import ModelConfig
from heatmapnet.model.network import HeatmapNet

FORMAT = "heatmapnet-checkpoint"
VERSION = 1


def save_checkpoint(path, model: HeatmapNet, decode: dict | None = None, meta: dict | None = None,
                    training_state: dict | None = None) -> None:
    """Write a checkpoint via a temporary file and rename, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "decode": dict(decode or {}),
        "meta": dict(meta or {}),
    }
    if training_state:
        payload["training_state"] = training_state
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        torch.save(payload, temporary)
        os.chmod(temporary, 0o644)  # mkstemp's private mode is not what a shared model file wants
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def read_checkpoint(path) -> dict:
    """Read and validate a checkpoint file; every failure is one clear UserError."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path} (train one with `python train.py` or pass checkpoint=PATH)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise UserError(f"cannot read checkpoint {path}: {type(error).__name__}: {error} "
                        f"(is it a HeatmapNet .pt file, complete and not corrupt?)") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a HeatmapNet checkpoint (no '{FORMAT}' marker); "
                        f"it may be a bare state dict or another project's model")
    if payload.get("version", 0) > VERSION:
        raise UserError(f"{path} was written by a newer HeatmapNet (checkpoint version {payload['version']}); "
                        f"update this installation")
    return payload


def load_model(path, device: str | torch.device = "cpu") -> tuple[HeatmapNet, dict]:
    """Rebuild the network from a checkpoint (no pretrained download) and return it in eval mode."""
    payload = read_checkpoint(path)
    config = ModelConfig.from_dict({**payload["model_config"], "pretrained": None})
    model = HeatmapNet(config)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        detail = str(error).splitlines()[1].strip() if "\n" in str(error) else str(error)
        raise UserError(f"checkpoint {path} does not match a {config.backbone} stride-{config.stride} HeatmapNet "
                        f"({detail}); it was saved from another model layout") from None
    return model.to(device).eval(), payload
