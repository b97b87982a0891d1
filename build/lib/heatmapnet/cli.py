"""Hydra-style `key=value` arguments for the small command-line tools (export, quantize, benchmarks).

These tools take a handful of flat options, so a tiny parser keeps them quick to start while reading
like the Hydra entry points (`python -m heatmapnet.export checkpoint=PATH out=model.onnx`).
"""
from __future__ import annotations

import sys
from typing import Callable

from heatmapnet.errors import UserError

REQUIRED = object()  # default marking an option the user must give
TRUE_WORDS, FALSE_WORDS = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


def convert(key: str, text: str, default):
    """Read `text` as the type of `default` (bool, int, float, or str when the default is str/None)."""
    if isinstance(default, bool):
        if text.lower() not in TRUE_WORDS | FALSE_WORDS:
            raise UserError(f"{key}={text}: expected true or false")
        return text.lower() in TRUE_WORDS
    if isinstance(default, (int, float)):
        try:
            return type(default)(text)
        except ValueError:
            raise UserError(f"{key}={text}: expected {type(default).__name__}") from None
    return None if text.lower() in ("null", "none") else text


def parse_options(argv: list[str], defaults: dict, program: str) -> dict:
    """`key=value` (and `--flag` for true booleans) into a dict with the types of `defaults`.

    Unknown keys and missing required options are one-line UserErrors naming the valid keys.
    """
    options = dict(defaults)
    valid = ", ".join(defaults)
    for argument in argv:
        if argument.startswith("--") and "=" not in argument:
            key, text = argument[2:].replace("-", "_"), "true"
        elif "=" in argument:
            key, text = argument.lstrip("+").split("=", 1)
        else:
            raise UserError(f"{program}: cannot read argument {argument!r}: write key=value (valid keys: {valid})")
        if key not in defaults:
            raise UserError(f"{program}: unknown option {key!r}: valid keys are {valid}")
        options[key] = convert(key, text, defaults[key])
    missing = [key for key, value in options.items() if value is REQUIRED]
    if missing:
        raise UserError(f"{program}: missing {', '.join(f'{key}=...' for key in missing)} (valid keys: {valid})")
    return options


def run_tool(main: Callable[[list[str]], None], argv: list[str] | None = None) -> int:
    """Run a tool's `main`; a UserError becomes `error: <message>` on stderr and exit status 2.

    `--help` or `-h` prints the docstring of the tool's module, which is where its usage is written.
    """
    argv = sys.argv[1:] if argv is None else argv
    if {"--help", "-h"} & set(argv):
        print((sys.modules[main.__module__].__doc__ or "").strip())
        return 0
    try:
        main(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
