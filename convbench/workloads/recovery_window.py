"""The recovery window: how strong a lossy input channel must be to give an attacked digit its class back,
and how strong it may be before it breaks clean digits, as the attack grows.

The proposal's claim: "the recovery window shrinks with higher adversarial distortion". Here, in miniature:
the plain digits CNN of convbench accuracy (torch's Conv2d), the test digits it classifies right, each at
its minimal adversarial (robustness.py: the least PGD epsilon that fools it, L-infinity, white-box, the
attacker not seeing the channel), and that perturbation scaled up by each factor of DISTORTIONS (the
proposal's "higher adversarial distortion": the same direction, further past the decision boundary);
each channel of CHANNELS (robustness.py's lossy channels) at each of its strengths. At each
(channel, strength):
- clean kept: the fraction of the clean digits the channel leaves right;
- recovered, at each distortion: the fraction of the digits the attack fooled whose class the channel gives back.

The window at a distortion is the strengths that recover most fooled digits (RECOVERS) and keep clean ones
(KEEPS_CLEAN). The claim holds for a channel when its window never widens as the distortion grows and is
narrower at the largest than at the smallest.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from convbench.workloads.accuracy import digits, trained
from convbench.workloads.robustness import (accuracy, classified_right, fft_compression, feature_squeezing, foolbox,
                                           gaussian_noise, minimal_adversarial)

DISTORTIONS = (1.0, 1.5, 2.0, 3.0)  # multiples of each digit's minimal adversarial perturbation
# The window's two edges, definitions rather than measurements: "recovers most examples" is more than half
# of the fooled digits given back; "without breaking clean ones" is at most a tenth of the clean digits lost.
RECOVERS = 0.5
KEEPS_CLEAN = 0.9


@dataclass(frozen=True)
class Channel:
    strength: str                          # what its strength is, for the chart's axis
    strengths: tuple                       # from the weakest to the strongest
    apply: Callable[[torch.Tensor, float], torch.Tensor]
    stronger_is_lower: bool = False        # feature squeezing: fewer bits is stronger


CHANNELS = {
    # the rates that keep different bands of an 8x8 digit (0.75 keeps what 0.5 does, 0.9 what 0.85 does)
    "FFT compression": Channel("compression rate c", (0.0, 0.25, 0.5, 0.85, 0.95),
                               lambda x, c: fft_compression(x, c)),
    "Gaussian noise": Channel("sigma", (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5), lambda x, s: gaussian_noise(x, s)),
    "feature squeezing": Channel("bits", (8, 5, 4, 3, 2, 1), lambda x, b: feature_squeezing(x, int(b)),
                                 stronger_is_lower=True),
}


@dataclass(frozen=True)
class RecoveryRow:
    channel: str
    strength: float
    distortion: float  # the multiple of the minimal adversarial perturbation; 0.0: the clean digits
    fraction: float    # distortion 0: clean digits kept right; else fooled digits given back (nan: none fooled)
    digits: int        # how many digits the fraction is of


def recovery(distortions=DISTORTIONS, channels: dict | None = None, epochs: int = 5, pgd_steps: int = 20,
             test_images: int | None = None, seed: int = 0) -> list[RecoveryRow]:
    """Each channel at each strength on the clean digits the plain model classifies right (distortion 0),
    and on those of them that each distortion of their minimal adversarial fools."""
    channels = CHANNELS if channels is None else channels
    foolbox()  # the clear error first, before any training
    _, _, x_test, y_test = digits(seed)
    if test_images:
        x_test, y_test = x_test[:test_images], y_test[:test_images]
    model = trained(None, epochs, seed=seed)[0].eval()
    right = classified_right(model, x_test, y_test)
    x, y = x_test[right], y_test[right]
    minimal, epsilon = minimal_adversarial(model, x, y, "PGD", pgd_steps)
    found = ~torch.isnan(epsilon)  # a digit no epsilon of the grid fools has no minimal adversarial
    x, y, perturbation = x[found], y[found], (minimal - x)[found]
    fooled = {}  # distortion -> (the digits it fools, their classes): the same for every channel
    for scale in distortions:
        images = (x + scale * perturbation).clamp(0, 1)
        wrong = ~classified_right(model, images, y)
        fooled[scale] = (images[wrong], y[wrong])
    rows = []
    for name, channel in channels.items():
        for strength in channel.strengths:
            rows.append(RecoveryRow(name, strength, 0.0, accuracy(model, channel.apply(x, strength), y), len(y)))
            for distortion, (images, classes) in fooled.items():
                fraction = accuracy(model, channel.apply(images, strength), classes) if len(classes) else float("nan")
                rows.append(RecoveryRow(name, strength, distortion, fraction, len(classes)))
    return rows


def _keeps_clean(rows: list[RecoveryRow], channel: str) -> set[float]:
    """The channel's strengths that keep at least KEEPS_CLEAN of the clean digits right."""
    return {row.strength for row in rows
            if row.channel == channel and row.distortion == 0.0 and row.fraction >= KEEPS_CLEAN}


def window(rows: list[RecoveryRow], channel: str, distortion: float) -> list[float]:
    """The channel's strengths that recover more than RECOVERS of the digits fooled at `distortion` and keep
    at least KEEPS_CLEAN of the clean ones."""
    keeping = _keeps_clean(rows, channel)
    return [row.strength for row in rows
            if row.channel == channel and row.distortion == distortion and row.fraction > RECOVERS
            and row.strength in keeping]


def window_sizes(rows: list[RecoveryRow]) -> dict[str, dict[float, int]]:
    """{channel: {distortion: how many of its strengths are in the window}}, distortions in increasing order."""
    distortions = sorted({row.distortion for row in rows if row.distortion > 0})
    return {channel: {d: len(window(rows, channel, d)) for d in distortions}
            for channel in dict.fromkeys(row.channel for row in rows)}


def shrinks(sizes: dict[float, int]) -> bool:
    """Never wider at a larger distortion, and narrower at the largest than at the smallest."""
    widths = [sizes[d] for d in sorted(sizes)]
    return len(widths) > 1 and all(b <= a for a, b in zip(widths, widths[1:])) and widths[-1] < widths[0]


def best_recovery(rows: list[RecoveryRow], channel: str, distortion: float) -> float:
    """The most fooled digits the channel gives back at `distortion` at a strength that keeps KEEPS_CLEAN of
    the clean ones (the window's height; nan where no strength keeps them)."""
    keeping = _keeps_clean(rows, channel)
    kept = [row.fraction for row in rows if row.channel == channel and row.distortion == distortion
            and row.strength in keeping and not np.isnan(row.fraction)]
    return max(kept, default=float("nan"))


def recovery_verdict(rows: list[RecoveryRow]) -> str:
    """Holds where every channel's window shrinks; a channel with no window at any distortion cannot
    judge it, and is named with the most it recovers."""
    sizes = window_sizes(rows)
    judged = [channel for channel, per_channel in sizes.items() if any(per_channel.values())]
    if not judged:
        return "cannot be judged: no channel recovers most fooled digits at any distortion without breaking clean ones"
    holds = [channel for channel in judged if shrinks(sizes[channel])]
    unjudged = [f"{channel} has no window at any distortion (it gives back at most "
                f"{100 * max(best_recovery(rows, channel, d) for d in sizes[channel]):.0f}% of the fooled digits)"
                for channel in sizes if channel not in judged]
    others = "; " + "; ".join(unjudged) if unjudged else ""
    if len(holds) == len(judged):
        return (f"holds{' partly' if unjudged else ''}: the window shrinks as the distortion grows for "
                f"{', '.join(holds)}{others}")
    if holds:
        return (f"holds partly: the window shrinks for {', '.join(holds)}, not for "
                f"{', '.join(c for c in judged if c not in holds)}{others}")
    return f"does not hold: no channel's window shrinks as the distortion grows{others}"


def fraction_table(rows: list[RecoveryRow]) -> dict[tuple[str, float, float], float]:
    """{(channel, strength, distortion): fraction}: what the asv track reads."""
    return {(row.channel, row.strength, row.distortion): row.fraction for row in rows}

