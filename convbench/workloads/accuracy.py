"""Accuracy against compression, for real: a small CNN trained on scikit-learn's bundled digits.

The proposal trains ResNet-18 on CIFAR-10 with band-limited convolutions (93.69% at
c = 0, 91.95% at c ~ 0.49). This is the same experiment in miniature, small
enough to run here in about a minute: 8x8 digits (1797 images, shipped with
scikit-learn, no download), two 3x3 convolutions whose forward and backward
passes are convbench's band-limited fft (convbench.nn.Conv2d), a linear
classifier, a fixed seed, the same initial weights for every run, and torch's
own Conv2d as the baseline.

What it cannot show: CIFAR-10's or ImageNet's accuracies, or the GPU time and
memory the proposal measures; an 8x8 image has a 10x10 FFT grid, so each
compression step drops whole rows of a small spectrum.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from convbench import nn as cnn
from convbench.core.errors import ConvError

COMPRESSIONS = (0.0, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class AccuracyRow:
    model: str               # "torch" or "fft"
    compression: float       # requested (0 for torch)
    achieved: float          # the first layer's achieved rate (the block has integer sides)
    test_accuracy: float
    seconds_per_epoch: float
    epochs: int
    # the rise of the process's peak resident memory during the timed epochs (what training allocates
    # beyond the model and its plans, which the untimed first batches built); None where Linux's
    # counters are missing
    peak_memory_bytes: int | None = None


def digits(seed: int = 0):
    """(x_train, y_train, x_test, y_test): 8x8 digits scaled to [0, 1], a fixed 80/20 split."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ConvError("convbench accuracy needs scikit-learn (its bundled digits): "
                        "pip install 'convbench[accuracy]'") from err
    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    order = np.random.default_rng(seed).permutation(len(images))
    split = int(0.8 * len(images))
    train, test = order[:split], order[split:]
    return (torch.from_numpy(images[train]), torch.from_numpy(data.target[train]),
            torch.from_numpy(images[test]), torch.from_numpy(data.target[test]))


def network(compression: float | None) -> torch.nn.Module:
    """conv(1->16) -> ReLU -> conv(16->32) -> ReLU -> 2x2 average pool -> linear(512 -> 10).
    compression None: torch's Conv2d; else convbench's band-limited fft at that rate."""
    def conv(c_in, c_out):
        if compression is None:
            return torch.nn.Conv2d(c_in, c_out, 3, padding=1)
        return cnn.Conv2d(c_in, c_out, 3, padding=1, algorithm="fft", compression=compression)
    return torch.nn.Sequential(conv(1, 16), torch.nn.ReLU(), conv(16, 32), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
                               torch.nn.Flatten(), torch.nn.Linear(32 * 4 * 4, 10))


# measures the memory a function allocates while it runs it, or returns None (convbench.measure.timing's
# peak_rss_or_none; passed in, as measuring sits above the workloads)
PeakMemory = Callable[[Callable[[], None]], "int | None"]


def train_and_test(compression: float | None, epochs: int = 5, batch: int = 64, seed: int = 0,
                   peak_memory: PeakMemory | None = None) -> AccuracyRow:
    return trained(compression, epochs, batch, seed, peak_memory)[1]


def trained(compression: float | None, epochs: int = 5, batch: int = 64, seed: int = 0,
            peak_memory: PeakMemory | None = None, on_step: Callable[[torch.nn.Module, int], None] | None = None):
    """(the trained network, its AccuracyRow): the experiment, with the model kept (convbench robustness).
    peak_memory, if given, runs the timed epochs and measures what they allocate. on_step, if given, sees
    the model before the first step (step 0) and after each optimiser step (1, 2, ...), its gradients
    still in place (convbench learning-order; its time is in the epochs' then)."""
    x_train, y_train, x_test, y_test = digits(seed)
    torch.manual_seed(seed)  # the same initial weights for every run (both layer kinds draw alike)
    model = network(compression)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    shuffle = torch.Generator().manual_seed(seed)
    # untimed: build the plans (FFTW planning, compiled kernels) for the two batch sizes an epoch sees
    for size in {batch, len(x_train) % batch or batch}:
        torch.nn.functional.cross_entropy(model(x_train[:size]), y_train[:size]).backward()
    optimiser.zero_grad()
    timed = []
    steps = itertools.count()
    if on_step:
        on_step(model, next(steps))

    def train():
        start = time.perf_counter()
        for _ in range(epochs):
            for index in torch.randperm(len(x_train), generator=shuffle).split(batch):
                optimiser.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x_train[index]), y_train[index])
                loss.backward()
                optimiser.step()
                if on_step:
                    on_step(model, next(steps))
        timed.append((time.perf_counter() - start) / epochs)

    memory = peak_memory(train) if peak_memory else train()
    seconds = timed[0]
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    achieved = 0.0
    if compression is not None:
        from convbench.interface.api import plan
        from convbench.core.spec import ConvSpec

        achieved = plan(ConvSpec(N=1, C=1, H=8, W=8, K=16, R=3, S=3, padding=1), "fft", compression=compression).compression
    return model, AccuracyRow("torch" if compression is None else "fft", compression or 0.0, achieved, accuracy,
                              seconds, epochs, memory)


def accuracy_table(compressions=COMPRESSIONS, epochs: int = 5, seed: int = 0,
                   peak_memory: PeakMemory | None = None) -> list[AccuracyRow]:
    """torch's Conv2d, then the band-limited fft at each compression: test accuracy, time per epoch (and the
    memory training allocates, with peak_memory)."""
    return [train_and_test(c, epochs, seed=seed, peak_memory=peak_memory) for c in (None, *compressions)]


COSTS = {"seconds_per_epoch": "time per epoch", "peak_memory_bytes": "memory"}


def pareto_front(rows: list[AccuracyRow], cost: str = "seconds_per_epoch") -> list[AccuracyRow]:
    """The rows no other row beats: none has at most its cost (time per epoch, or memory) and at least its test
    accuracy, and is better in one of them. Ordered by cost; rows without the cost measured are left out."""
    measured = [row for row in rows if getattr(row, cost) is not None]

    def beaten(row):
        return any(getattr(other, cost) <= getattr(row, cost) and other.test_accuracy >= row.test_accuracy
                   and (getattr(other, cost) < getattr(row, cost) or other.test_accuracy > row.test_accuracy)
                   for other in measured)
    return sorted((row for row in measured if not beaten(row)), key=lambda row: getattr(row, cost))


def tuning_verdict(rows: list[AccuracyRow]) -> str:
    """Does the compression rate tune accuracy against time, as the proposal's "accuracy vs performance"
    slide shows? Read from the front of the fft's rates alone (torch is a reference, not a rate): it does
    when a rate above 0 is on that front, faster than the rates more accurate than it: a choice to make. It
    does not when c = 0 beats every compressed rate (compression then buys no time here)."""
    front = pareto_front([row for row in rows if row.model == "fft"])
    compressed = [row for row in front if row.compression > 0]
    if not compressed:
        return ("does not hold here: no compression rate above 0 is faster at any accuracy than c = 0 "
                "(its time per epoch did not fall with the compression on this problem)")
    return (f"holds here: among the fft's rates, the front of time per epoch against accuracy runs through c = "
            f"{', '.join(f'{c:g}' for c in sorted(row.compression for row in front))}: a compression rate to choose, each point on "
            f"it faster or more accurate than the others")
