"""Checking, before any work starts, that results can be written where the user asked.

Export, evaluation, release, training and the annotator's export would otherwise fail with a traceback
after minutes of work. The checks create nothing: they find the nearest existing folder on the way to
the target, and write and remove a probe file there.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from heatmapnet.errors import UserError


def writable_folder(folder, purpose: str, needed_bytes: int = 0) -> Path:
    """`folder` (which may not exist yet) as a Path, or one UserError saying why `purpose` cannot go there:
    a file in the way, no permission, a read-only or full disk."""
    folder = Path(folder).expanduser()
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"cannot write {purpose} to {folder}: {existing} is a file, not a folder; "
                        f"choose another output path")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".write-probe-"):
            pass
    except OSError as error:
        raise UserError(f"cannot write {purpose} to {folder}: {error.strerror or error} in {existing}; "
                        f"choose a folder you can write to") from None
    free = shutil.disk_usage(existing).free
    if free < needed_bytes:
        raise UserError(f"cannot write {purpose} to {folder}: only {free / 1e6:.1f} MB free on its disk, "
                        f"about {needed_bytes / 1e6:.0f} MB needed; free some space or choose another folder")
    return folder


def writable_file(path, purpose: str, needed_bytes: int = 0) -> Path:
    """`path` as a Path when a file can be written there (its folder checked as above), else one UserError."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise UserError(f"cannot write {purpose} to {path}: it is a folder; give a file name")
    writable_folder(path.parent, purpose, needed_bytes)
    return path
