"""Forward latency per backbone at 320x240 (batch 1) and training throughput, on `--threads` threads.

    python benchmarks/bench_backbones.py [--threads 2] [--repeats 50]

Prints milliseconds per frame for every backbone variant next to the reference torchvision
MobileNetV2 features[:14] measured in the same run (DESIGN.md quotes ~12.5 ms for it on this machine),
and training images/s (forward + backward + AdamW step, batch 8) for vgg16 and mobilenet_v2.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torchvision import models

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heatmapnet.model.backbones import SPECS  # noqa: E402
from heatmapnet.model.config import ModelConfig  # noqa: E402
from heatmapnet.model.network import HeatmapNet  # noqa: E402


def median_ms(run, repeats: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def forward_ms(module: torch.nn.Module, repeats: int) -> float:
    module.eval()
    image = torch.randn(1, 3, 240, 320)
    with torch.inference_mode():
        return median_ms(lambda: module(image), repeats)


def training_images_per_second(config: ModelConfig, steps: int, batch: int = 8) -> float:
    model = HeatmapNet(config).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    images = torch.randn(batch, 3, 240, 320)

    def step():
        loss = model(images)["heatmap"].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return batch / (median_ms(step, steps, warmup=2) / 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    reference_model = models.mobilenet_v2().features[:14]
    forward_ms(reference_model, args.repeats)  # the first model timed in a process pays one-off set-up costs
    reference = forward_ms(reference_model, args.repeats)
    print(f"forward at 320x240, batch 1, {args.threads} threads (median of {args.repeats})")
    print(f"{'model':<28}{'ms':>8}{'x reference':>14}")
    print(f"{'reference mnv2 features[:14]':<28}{reference:>8.2f}{1.0:>14.2f}")
    for name, spec in SPECS.items():
        for stride in spec.cuts:
            ms = forward_ms(HeatmapNet(ModelConfig(backbone=name, stride=stride)), args.repeats)
            print(f"{f'{name} stride {stride}':<28}{ms:>8.2f}{ms / reference:>14.2f}")

    print("\ntraining throughput at 320x240, batch 8 (forward + backward + AdamW step)")
    for name, freeze in (("mobilenet_v2", False), ("vgg16", True)):
        rate = training_images_per_second(ModelConfig(backbone=name, freeze_backbone=freeze), max(3, args.repeats // 10))
        print(f"{name:<28}{rate:>8.1f} images/s")


if __name__ == "__main__":
    main()
