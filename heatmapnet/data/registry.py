"""Dataset readers by name: adding a reader is one class with a `read(root)` method and a decorator.

A reader turns a folder into a list of `Sample`s (image location + hands in image pixels). Which hands
are "other" is decided by the reader from its annotations and an `OtherRule` (see coco.py).
`read_split` reads one dataset of a data config and splits it as training does (training and a fine-tune's
replay both use it).
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from heatmapnet.data.hands import Sample
from heatmapnet.data.split import split_samples
from heatmapnet.errors import UserError

READERS: dict[str, type] = {}


class Reader(Protocol):
    def read(self, root: Path) -> list[Sample]: ...


def register_reader(name: str):
    """Class decorator: make a reader available as `reader: NAME` in data configs."""

    def add(cls):
        READERS[name] = cls
        return cls

    return add


def make_reader(name: str, **options) -> Reader:
    if name not in READERS:
        raise UserError(f"unknown dataset reader {name!r}: choose one of {', '.join(sorted(READERS))}")
    try:
        return READERS[name](**options)
    except TypeError as error:  # an option this reader does not take (e.g. a COCO option on another reader)
        raise UserError(f"dataset reader {name!r} does not take the options {sorted(options)} ({error}); "
                        f"remove them from the data config") from None


def split_settings(config: dict, source: dict) -> dict:
    """How one dataset of a data config is split: the config's `split`, overridden by the dataset's own."""
    return {**config.get("split", {}), **source.get("split", {})}


def datasets_in(config: dict) -> dict[str, dict]:
    """The data config's own dataset (reader/root/options/weight) followed by any in `mix`."""
    main = {key: config[key] for key in ("reader", "root", "options", "weight", "hand_free")
            if key in config}
    return {config.get("name", main["reader"]): main, **config.get("mix", {})}


def read_split(name: str, source: dict, config: dict, seed: int) -> tuple[list[Sample], list[Sample]]:
    """One dataset of a data config, read and split (by video by default; the entry's own `split`
    overrides the config's)."""
    reader = make_reader(source["reader"], **source.get("options", {}))
    samples = reader.read(Path(source["root"]).expanduser()) if source.get("root") else reader.read(None)
    for sample in samples:
        sample.dataset = sample.dataset or name
    return split_of(samples, config, source, seed)


def split_of(samples: list[Sample], config: dict, source: dict, seed: int) -> tuple[list[Sample], list[Sample]]:
    """(train, val) of one dataset's samples as the data config splits them: with the split's own `seed` where
    it sets one (the same held-out frames whatever the run's seed), else with the run's `seed`."""
    settings = split_settings(config, source)
    own_seed = settings.pop("seed", None)
    return split_samples(samples, seed=seed if own_seed is None else int(own_seed), **settings)
