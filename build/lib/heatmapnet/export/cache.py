"""`.pt` checkpoints given to an ONNX runtime: exported once, then reused from a cache.

The cache is `$HEATMAPNET_CACHE` or `$XDG_CACHE_HOME/heatmapnet` (default `~/.cache/heatmapnet`), in `onnx/`,
one file per checkpoint content (its SHA-256), so retraining into the same path exports again and
nothing stale is ever run.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from heatmapnet.export.to_onnx import export_model


def cache_folder() -> Path:
    base = os.environ.get("HEATMAPNET_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache") / "heatmapnet"
    return Path(base).expanduser() / "onnx"


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def exported_copy(checkpoint: Path) -> Path:
    """The cached ONNX export of `checkpoint`, made now (and said so on stderr) if missing."""
    out = cache_folder() / f"{checkpoint.stem}-{content_hash(checkpoint)}.onnx"
    if not out.is_file():
        print(f"exporting {checkpoint} to ONNX once, cached as {out}", file=sys.stderr, flush=True)
        export_model(checkpoint, out)
    return out
