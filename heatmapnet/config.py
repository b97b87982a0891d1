"""Glue between Hydra/OmegaConf configs and the library's dataclasses, and the entry-point error wrapper."""
from __future__ import annotations

import functools
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import NoReturn

from hydra.errors import HydraException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from heatmapnet.errors import UserError

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
    unknown keys and values its own range checks refuse are one-line UserErrors naming the section."""
    if config is None:
        return cls()
    if isinstance(config, cls):
        return config
    values = plain(config)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(f"unknown key(s) {unknown} in `{section}` config: valid keys are {sorted(known)}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:  # the dataclass's __post_init__ range checks
        raise UserError(f"{section}: {first_line(error)}") from None


def typed(default, overrides, key: str):
    """`overrides` merged onto a dataclass (class or instance) with type checks; errors name `key`."""
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(default), overrides))
    except OmegaConfBaseException as error:
        full_key = getattr(error, "full_key", None)
        raise UserError(f"{key}{'.' + full_key if full_key else ''}: {first_line(error)}") from None
    except ValueError as error:  # the dataclass's own range checks
        raise UserError(f"{key}: {first_line(error)}") from None


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def fail(message) -> NoReturn:
    """End an entry point with one `error:` line on stderr and exit status 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def exits_cleanly(main):
    """Wrap the function under @hydra.main: a UserError becomes one `error:` line, not a failed-job report."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as error:
            fail(error)

    return wrapper


def run_entry_point(hydra_main, script: str) -> None:
    """Run a @hydra.main function so that bad settings, too, end in one `error:` line (exit status 2)."""
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let composition errors reach us instead of Hydra's multi-line report
    try:
        hydra_main()
    except OverrideParseException as error:
        fail(f"cannot parse the setting {error.override!r}: {first_line(error)} (expected key=value)")
    except (HydraException, OmegaConfBaseException) as error:
        cause = f" {first_line(error.__cause__)}" if error.__cause__ else ""
        fail(f"{first_line(error)}{cause} (list the settings with `python {script} --cfg job`)")
    except OSError as error:
        if error.filename is None:  # not about a path the user chose: a bug, keep the traceback
            raise
        fail(f"{error.strerror}: {error.filename} (where it is an output folder, such as out_dir= and Hydra's "
             f"run folder in it, choose one you can write to)")
    except KeyboardInterrupt:
        sys.exit(130)
