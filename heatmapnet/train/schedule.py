"""The `train:` settings (epochs, batch size, optimiser, validation cadence), range-checked once here so a
run that could not mean anything (zero epochs, a zero batch) stops before any data is read."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScheduleConfig:
    epochs: int = 30
    batch_size: int = 16
    lr: float = 0.001
    weight_decay: float = 0.0001
    warmup_epochs: float = 1
    grad_clip: float | None = 10.0  # largest gradient norm; null: no clipping
    num_workers: int = 2
    val_every: int = 1  # epochs between validations
    image_every: int = 5  # epochs between TensorBoard image grids

    def __post_init__(self):
        at_least_one = [name for name in ("epochs", "batch_size", "val_every", "image_every")
                        if not getattr(self, name) >= 1]
        if at_least_one:
            raise ValueError(f"{', '.join(at_least_one)} must be at least 1, got "
                             f"{', '.join(str(getattr(self, name)) for name in at_least_one)}")
        not_negative = [name for name in ("lr", "weight_decay", "warmup_epochs", "num_workers")
                        if not getattr(self, name) >= 0]
        if not_negative:
            raise ValueError(f"{', '.join(not_negative)} must not be negative")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be positive or null (no clipping), got {self.grad_clip}")
