"""Config dataclasses from Hydra nodes: one place that turns a mapping into a frozen options record."""
from __future__ import annotations

from dataclasses import fields

from ..errors import UserError


def options_from(cls, options, what: str):
    """An instance of dataclass `cls` from an instance, a mapping of its fields (a Hydra config node)
    or None (the defaults); unknown keys are a UserError naming the valid ones."""
    if options is None:
        return cls()
    if isinstance(options, cls):
        return options
    names = {field.name for field in fields(cls)}
    unknown = set(options) - names
    if unknown:
        raise UserError(f"unknown {what} option(s) {sorted(unknown)}: expected {sorted(names)}")
    return cls(**dict(options))
