"""Glue between Hydra/OmegaConf configs and the library's dataclasses, and the entry-point error wrapper."""
from __future__ import annotations

import functools
import sys
from dataclasses import fields
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from .errors import UserError

REPO = Path(__file__).resolve().parents[1]

if not OmegaConf.has_resolver("repo"):
    # `${repo:}` in configs: paths that work whatever directory the user runs from
    OmegaConf.register_new_resolver("repo", lambda: str(REPO))


def plain(config) -> dict:
    """A resolved plain dict from a DictConfig (or a dict)."""
    if isinstance(config, DictConfig):
        return OmegaConf.to_container(config, resolve=True)
    return dict(config)


def dataclass_from(cls, config, section: str):
    """Build a dataclass from a config section (a mapping, an instance, or None for the defaults);
    unknown keys are a one-line UserError naming the valid ones."""
    if config is None:
        return cls()
    if isinstance(config, cls):
        return config
    values = plain(config)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(f"unknown key(s) {unknown} in `{section}` config: valid keys are {sorted(known)}")
    return cls(**values)


def exits_cleanly(main):
    """Run an entry point so that user mistakes print one `error:` line and exit with status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)

    return wrapper
