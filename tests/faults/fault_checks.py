"""What every fault-injection test asserts, and the bad inputs they share.

A fault ends in exactly one `error: ...` line and exit status 2 (or a documented `warning:` line),
leaves its inputs byte-identical and leaves no partial output behind.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO

from heatmapnet.model.checkpoint import FORMAT, VERSION, save_checkpoint
from heatmapnet.model.config import ModelConfig
from heatmapnet.model.network import HeatmapNet


def one_error(status: int, stderr: str, *phrases: str) -> str:
    """Exit status 2 and exactly one `error:` line (which contains every phrase, case-insensitively); no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert status == 2, f"exit status {status}, stderr:\n{stderr}"
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    for phrase in phrases:
        assert phrase.lower() in errors[0].lower(), errors[0]
    return errors[0]


def run_entry(*arguments: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """An entry point in a fresh interpreter (for what only a real process shows: exit status, crashes)."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *arguments], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env=environment)


def fingerprints(*paths: Path) -> dict[str, str]:
    """sha256 of every file under `paths` (files or folders), to show inputs come out byte-identical."""
    files = [p for path in paths for p in ([path] if path.is_file() else sorted(path.rglob("*"))) if p.is_file()]
    return {str(file): hashlib.sha256(file.read_bytes()).hexdigest() for file in files}


def under_a_file(tmp_path: Path, name: str = "out") -> Path:
    """An output path no one can create, even root (for whom chmod blocks nothing): its parent is a file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way\n")
    return blocker / name


@contextlib.contextmanager
def small_disk(path: Path, options: str = "size=64k"):
    """A real tmpfs mounted at `path` (e.g. `ro`, or a tiny `size=` to fill up): read-only and full disks stop
    root too. Skips where mounting is not allowed (not root, no mount tool, a container without the right)."""
    path.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    if mount is None or subprocess.run([mount, "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                                       capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): no read-only or full disk to test with")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def fill(disk: Path) -> None:
    """Fill a small disk up completely."""
    with open(disk / "filler", "wb", buffering=0) as file:
        with contextlib.suppress(OSError):
            while True:
                file.write(bytes(4096))
                file.flush()
                os.fsync(file.fileno())


def small_model() -> HeatmapNet:
    return HeatmapNet(ModelConfig(backbone="mobilenet_v2", pretrained=None, size_head=True))


def good_checkpoint(path: Path, **training_state) -> Path:
    save_checkpoint(path, small_model(), decode={"threshold": 0.5}, training_state=training_state or None)
    return path


def nan_checkpoint(path: Path) -> Path:
    """A checkpoint whose head diverged: the shape of a real one, NaN in its weights."""
    model = small_model()
    with torch.no_grad():
        model.heatmap_head.weight.fill_(float("nan"))
    save_checkpoint(path, model, decode={"threshold": 0.5})
    return path


def marker_only_checkpoint(path: Path) -> Path:
    torch.save({"format": FORMAT, "version": VERSION}, path)
    return path


class Payload:
    """Unpickling this creates `target`: proof that loading ran code stored in the file."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return os.mkdir, (str(self.target),)


def crafted_checkpoint(path: Path, target: Path) -> Path:
    """A file that looks like a HeatmapNet checkpoint and runs code when unpickled without weights_only."""
    model = small_model()
    torch.save({"format": FORMAT, "version": VERSION, "model_config": model.config.to_dict(),
                "state_dict": model.state_dict(), "decode": {}, "meta": {"note": Payload(target)}}, path)
    return path
