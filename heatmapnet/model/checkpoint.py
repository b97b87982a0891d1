"""Checkpoints that carry everything needed to use them: weights, model config (normalisation and
input size included), decode settings and training metadata. Written atomically.

Model files are shared between people, so reading one never runs code: `torch.load(weights_only=True)`
unpickles only tensors and plain data (dicts, lists, numbers, strings), which is all a checkpoint holds;
anything else is refused in one line. Weights that are not finite (NaN, inf) are refused too: such a
model finds no hand at all and would otherwise fail silently.
"""
from __future__ import annotations

import os
import pickle
import re
import tempfile
from pathlib import Path

import torch

from heatmapnet.config import dataclass_from, first_line
from heatmapnet.errors import UserError
from heatmapnet.model.config import ModelConfig
from heatmapnet.model.network import HeatmapNet
from heatmapnet.runtime.decode import DecodeConfig

FORMAT = "heatmapnet-checkpoint"
VERSION = 1
REQUIRED = ("model_config", "state_dict")  # what loading needs beyond the marker


def plain_data(value):
    """Metadata as the plain types the safe loader accepts: NumPy scalars and arrays (metrics often are)
    become Python numbers and lists, so a checkpoint written here always loads again."""
    if isinstance(value, dict):
        return {plain_data(key): plain_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, torch.Tensor):  # numpy scalar, array or string
        return value.tolist()
    return value


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
        "decode": plain_data(dict(decode or {})),
        "meta": plain_data(dict(meta or {})),
    }
    if training_state:
        payload["training_state"] = training_state
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        torch.save(payload, temporary)
        os.chmod(temporary, 0o644)  # mkstemp's private mode is not what a shared model file wants
        os.replace(temporary, path)
    except (OSError, RuntimeError) as error:  # a full disk shows as either, depending on where torch notices
        kept = " (the previous copy is kept)" if path.exists() else ""
        raise UserError(f"cannot write checkpoint {path}: {first_line(error)}{kept}") from None
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def read_checkpoint(path) -> dict:
    """Read and validate a checkpoint file; every failure is one clear UserError."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path} (train one with `python train.py` or pass checkpoint=PATH)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))  # torch names the refused object in a long message
        if not found:
            raise UserError(f"cannot read checkpoint {path}: it is corrupt or not a PyTorch file "
                            f"(is it a HeatmapNet .pt file, complete?)") from None
        raise UserError(f"refusing to load {path}: it stores Python objects beyond tensors and plain data "
                        f"(it refers to {found.group(1)}), and loading those could run code; a HeatmapNet "
                        f"checkpoint never needs them, so get the file from its author again") from None
    except Exception as error:
        raise UserError(f"cannot read checkpoint {path}: {type(error).__name__}: {first_line(error)} "
                        f"(is it a HeatmapNet .pt file, complete and not corrupt?)") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a HeatmapNet checkpoint (no '{FORMAT}' marker); "
                        f"it may be a bare state dict or another project's model")
    if not isinstance(payload.get("version", 0), int) or payload.get("version", 0) > VERSION:
        raise UserError(f"{path} was written by a newer HeatmapNet (checkpoint version {payload['version']}); "
                        f"update this installation")
    missing = [key for key in REQUIRED if not isinstance(payload.get(key), dict)]
    if missing:
        raise UserError(f"{path} is an incomplete HeatmapNet checkpoint (no {' or '.join(missing)}); "
                        f"save it again from training, or use another checkpoint")
    dataclass_from(DecodeConfig, payload.get("decode") or {}, f"decode settings in {path}")
    broken = [name for name, tensor in payload["state_dict"].items()
              if not torch.is_tensor(tensor) or (tensor.is_floating_point() and not torch.isfinite(tensor).all())]
    if broken:
        raise UserError(f"{path} holds non-finite (NaN or infinite) or non-tensor weights in {len(broken)} "
                        f"tensor(s), e.g. {broken[0]}; the training run that wrote it diverged: use an earlier "
                        f"checkpoint")
    return payload


def load_weights(model: torch.nn.Module, payload: dict, mismatch: str) -> None:
    """The payload's weights into `model`; weights of another layout are one UserError: `mismatch`, then
    PyTorch's first line of detail in brackets, then what it means."""
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        detail = str(error).splitlines()[1].strip() if "\n" in str(error) else str(error)
        raise UserError(f"{mismatch} ({detail}); it was saved from another layout") from None


def load_model(path, device: str | torch.device = "cpu") -> tuple[HeatmapNet, dict]:
    """Rebuild the network from a checkpoint (no pretrained download) and return it in eval mode."""
    payload = read_checkpoint(path)
    config = ModelConfig.from_dict({**payload["model_config"], "pretrained": None})
    model = HeatmapNet(config)
    load_weights(model, payload, f"checkpoint {path} does not match a {config.backbone} stride-{config.stride} "
                                 f"HeatmapNet")
    return model.to(device).eval(), payload
