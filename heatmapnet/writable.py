"""Checking, before any work starts, that results can be written where the user asked.

Export, evaluation, release, training and the annotator's export would otherwise fail with a traceback
after minutes of work. The checks create nothing: they find the nearest existing folder on the way to
the target and write, flush to disk and drop an unnamed probe block there (a full disk fails that too).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from heatmapnet.errors import UserError

PROBE_BYTES = 4096  # one block: a disk with no free block refuses it


def writable_folder(folder, purpose: str) -> Path:
    """`folder` (which may not exist yet) as a Path, or one UserError saying why `purpose` cannot go there:
    a file in the way, no permission, a read-only or full disk."""
    folder = Path(folder).expanduser()
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"cannot write {purpose} to {folder}: {existing} is a file, not a folder; "
                        f"choose another output path")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".write-probe-") as probe:
            probe.write(bytes(PROBE_BYTES))
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        raise UserError(f"cannot write {purpose} to {folder}: {error.strerror or error} in {existing}; "
                        f"choose a folder you can write to, or free some space") from None
    return folder


def writable_file(path, purpose: str) -> Path:
    """`path` as a Path when a file can be written there (its folder checked as above), else one UserError."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise UserError(f"cannot write {purpose} to {path}: it is a folder; give a file name")
    writable_folder(path.parent, purpose)
    return path
