"""Weight-space averaging of a fine-tuned model with the model it started from (WiSE-FT, Wortsman et al. 2022).

Fine-tuning on a new scene costs a little on the old ones; since both sets of weights share one
initialisation, interpolating between them keeps most of the gain and most of what the start knew
(measured in experiments/finetune and experiments/egocentric).
"""
from __future__ import annotations

import torch


def average_with_start(model: torch.nn.Module, start_state: dict, start_share: float) -> None:
    """In place: every floating tensor (weights and BatchNorm statistics) becomes
    (1 - start_share) x its fine-tuned value + start_share x its starting value; counters stay as they are."""
    if not 0.0 <= start_share <= 1.0:
        raise ValueError(f"the starting model's share must lie in [0, 1], got {start_share}")
    tuned = model.state_dict()
    model.load_state_dict({name: ((1 - start_share) * value.float() + start_share * start_state[name].float()
                                  ).to(value.dtype) if value.is_floating_point() else value
                           for name, value in tuned.items()})
