import math

import pytest
import torch

from heatmapnet.train.losses import (
    Criterion,
    LossConfig,
    bce,
    focal,
    masked_bce,
    mse,
    size_l1,
)


def bce_value(logit, target):
    p = 1 / (1 + math.exp(-logit))
    return -(target * math.log(p) + (1 - target) * math.log(1 - p))


@pytest.fixture
def small():
    logits = torch.tensor([[[[2.0, -1.0], [0.5, -3.0]]]])
    target = torch.tensor([[[[1.0, 0.0], [0.5, 0.0]]]])
    mask = torch.tensor([[[[1.0, 1.0], [1.0, 0.0]]]])
    return logits, target, mask


def test_masked_bce_matches_hand_computed_values(small):
    logits, target, mask = small
    terms = [bce_value(2.0, 1.0), bce_value(-1.0, 0.0), bce_value(0.5, 0.5)]
    assert masked_bce(logits, target, mask, normalize="mean").item() == pytest.approx(sum(terms) / 3, rel=1e-5)
    assert masked_bce(logits, target, mask, normalize="positives").item() == pytest.approx(sum(terms) / 1.5, rel=1e-5)
    weighted = bce_value(2.0, 1.0) * 3 + bce_value(-1.0, 0.0) + bce_value(0.5, 0.5) * 2
    assert masked_bce(logits, target, mask, pos_weight=3.0, normalize="mean").item() == pytest.approx(weighted / 3,
                                                                                                      rel=1e-5)


def test_unmasked_bce_counts_every_pixel(small):
    logits, target, mask = small
    everything = [bce_value(2.0, 1.0), bce_value(-1.0, 0.0), bce_value(0.5, 0.5), bce_value(-3.0, 0.0)]
    assert bce(logits, target, mask, normalize="mean").item() == pytest.approx(sum(everything) / 4, rel=1e-5)


def test_masked_bce_gives_exactly_zero_gradient_on_ignored_pixels(small):
    logits, target, mask = small
    logits = logits.clone().requires_grad_(True)
    masked_bce(logits, target, mask).backward()
    assert logits.grad[0, 0, 1, 1].item() == 0.0
    assert torch.all(logits.grad[mask.bool()] != 0)


def test_mse_on_sigmoid_with_and_without_mask(small):
    logits, target, mask = small
    sq = [(1 / (1 + math.exp(-v)) - t) ** 2 for v, t in [(2.0, 1.0), (-1.0, 0.0), (0.5, 0.5), (-3.0, 0.0)]]
    assert mse(logits, target, mask).item() == pytest.approx(sum(sq[:3]) / 3, rel=1e-5)
    assert mse(logits, target, torch.ones_like(mask)).item() == pytest.approx(sum(sq) / 4, rel=1e-5)


def test_focal_matches_centernet_formula_and_honours_mask(small):
    logits, target, mask = small
    centres = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    p = [1 / (1 + math.exp(-v)) for v in (2.0, -1.0, 0.5, -3.0)]
    positive = -((1 - p[0]) ** 2) * math.log(p[0])
    negatives = -(p[1] ** 2) * math.log(1 - p[1]) - ((1 - 0.5) ** 4) * (p[2] ** 2) * math.log(1 - p[2])
    assert focal(logits, target, mask, centres).item() == pytest.approx(positive + negatives, rel=1e-4)
    grad_logits = logits.clone().requires_grad_(True)
    focal(grad_logits, target, mask, centres).backward()
    assert grad_logits.grad[0, 0, 1, 1].item() == 0.0


def test_size_l1_only_at_centres():
    predicted = torch.zeros(1, 2, 2, 2)
    target = torch.full((1, 2, 2, 2), 5.0)
    target[0, :, 0, 0] = torch.tensor([3.0, 4.0])
    centres = torch.zeros(1, 1, 2, 2)
    centres[0, 0, 0, 0] = 1
    assert size_l1(predicted, target, centres).item() == pytest.approx(3.5)


@pytest.mark.parametrize("name", ["masked_bce", "bce", "mse", "focal"])
def test_criterion_combines_terms_with_size_weight(name):
    torch.manual_seed(0)
    outputs = {"heatmap": torch.randn(2, 1, 4, 4), "size": torch.randn(2, 2, 4, 4)}
    targets = {"heatmap": torch.rand(2, 1, 4, 4), "mask": torch.ones(2, 1, 4, 4),
               "size": torch.rand(2, 2, 4, 4), "size_mask": torch.zeros(2, 1, 4, 4)}
    targets["size_mask"][:, :, 1, 1] = 1
    terms = Criterion(LossConfig(name=name, size_weight=0.5))(outputs, targets)
    assert terms["loss"].item() == pytest.approx((terms["heatmap"] + 0.5 * terms["size"]).item(), rel=1e-6)


@pytest.mark.parametrize("name", ["mse", "focal"])
def test_use_mask_false_supervises_the_ignored_pixels_too(name):
    """The ablation switch: with use_mask=false an `other` hand's pixels get a gradient, with true none."""
    outputs = {"heatmap": torch.zeros(1, 1, 4, 4, requires_grad=True)}
    targets = {"heatmap": torch.zeros(1, 1, 4, 4), "mask": torch.ones(1, 1, 4, 4), "size_mask": torch.zeros(1, 1, 4, 4)}
    targets["heatmap"][0, 0, 1, 1], targets["size_mask"][0, 0, 1, 1] = 1.0, 1.0
    targets["mask"][0, 0, 3, 3] = 0.0
    gradients = {}
    for use_mask in (True, False):
        outputs["heatmap"].grad = None
        Criterion(LossConfig(name=name, use_mask=use_mask, size_weight=0.0))(outputs, targets)["loss"].backward()
        gradients[use_mask] = outputs["heatmap"].grad[0, 0, 3, 3].item()
    assert gradients[True] == 0.0 and gradients[False] > 0.0


def test_unknown_loss_is_a_clear_error():
    from heatmapnet.errors import UserError
    with pytest.raises(UserError, match="unknown loss 'dice'"):
        LossConfig(name="dice")
