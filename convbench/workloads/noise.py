"""Robustness to noise, in miniature: the proposal's claim on the digits CNN of convbench accuracy.

Each model (torch's Conv2d, and convbench's band-limited fft at each compression, trained alike) classifies
the test digits with Gaussian noise of standard deviation sigma added (clipped to [0, 1], as images are),
from sigma 0 up to where every model is at chance. White noise spreads its energy over all frequencies; a
band-limited convolution passes only the low ones, so the claim is that a more band-limited model loses
less accuracy to the same noise.

What is compared is sigma_half, the noise a model bears before it has lost half the way from its clean
accuracy to chance (a model that starts lower is not counted as less robust for that alone), over a few
training seeds: each seed draws the split and the initial weights, the same for every model, so that a
rate is compared with c = 0 seed by seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from convbench.workloads.accuracy import COMPRESSIONS, digits, trained

# up to where the digits are at chance: clipping to [0, 1] leaves a pixel's value some sway on which side it
# clips to until sigma is several times the pixels' range
SIGMAS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
SEEDS = 3        # training seeds per model
NOISE_DRAWS = 3  # noise draws per sigma and seed, the same draws for every model


@dataclass(frozen=True)
class NoiseRow:
    model: str          # "torch" or "fft c=..."
    compression: float  # 0 for torch
    seed: int           # of the split and the initial weights
    sigma: float
    accuracy: float     # on the noisy test digits, the mean over the noise draws


@dataclass(frozen=True)
class Chance:
    accuracy: float  # of always answering the test set's most frequent class
    images: int      # in the test set

    @classmethod
    def of(cls, labels: torch.Tensor) -> "Chance":
        return cls(torch.bincount(labels).max().item() / len(labels), len(labels))

    def reached(self, accuracy: float) -> bool:
        """Whether an accuracy is within two binomial standard errors of chance on this many test images."""
        p = self.accuracy
        return accuracy <= p + 2 * np.sqrt(p * (1 - p) / self.images)


def noisy(x: torch.Tensor, sigma: float, draw: int) -> torch.Tensor:
    """x plus Gaussian noise of standard deviation sigma, clipped to [0, 1]; draw seeds the noise."""
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(draw)) * sigma
    return (x + noise).clamp(0, 1)


def noise_accuracy(compressions=COMPRESSIONS, sigmas=SIGMAS, epochs: int = 5, test_images: int | None = None,
                   draws: int = NOISE_DRAWS, seeds: int = SEEDS) -> tuple[list[NoiseRow], Chance]:
    """(each model's test accuracy at each sigma, per training seed; chance on the test sets: the highest
    of the seeds' splits). torch's model first."""
    sigmas = sorted({0.0, *map(float, sigmas)})  # sigma 0 is each model's clean accuracy, which sigma_half needs
    rows, chances = [], []
    for seed in range(seeds):
        _, _, x_test, y_test = digits(seed)
        if test_images:
            x_test, y_test = x_test[:test_images], y_test[:test_images]
        chances.append(Chance.of(y_test))
        for name, compression in [("torch", None), *((f"fft c={c:g}", c) for c in compressions)]:
            model = trained(compression, epochs, seed=seed)[0].eval()
            with torch.no_grad():
                for sigma in sigmas:
                    correct = [(model(noisy(x_test, sigma, 1000 * seed + draw)).argmax(1) == y_test).float().mean().item()
                               for draw in range(draws)]
                    rows.append(NoiseRow(name, compression or 0.0, seed, sigma, float(np.mean(correct))))
    return rows, Chance(max(c.accuracy for c in chances), min(c.images for c in chances))


def mean_curve(rows: list[NoiseRow]) -> dict[float, float]:
    """One model's accuracy at each sigma, the mean over its seeds."""
    sigmas = sorted({row.sigma for row in rows})
    return {s: float(np.mean([row.accuracy for row in rows if row.sigma == s])) for s in sigmas}


def sigma_half(curve: dict[float, float], chance: float) -> float:
    """The sigma at which an accuracy curve ({sigma: accuracy}, sigma 0 its clean accuracy) has fallen half
    the way from the clean accuracy to chance, interpolated linearly between the measured sigmas; nan where
    it never falls that far."""
    ordered = sorted(curve.items())
    half = chance + (ordered[0][1] - chance) / 2
    for (before, high), (after, low) in zip(ordered, ordered[1:]):
        if low <= half:
            return after if high == low else before + (high - half) / (high - low) * (after - before)
    return float("nan")


def sigmas_half(rows: list[NoiseRow], chance: float) -> dict[str, dict[int, float]]:
    """Each model's sigma_half per seed, models in the rows' order."""
    found: dict[str, dict[int, float]] = {}
    for model in dict.fromkeys(row.model for row in rows):
        own = [row for row in rows if row.model == model]
        found[model] = {seed: sigma_half({row.sigma: row.accuracy for row in own if row.seed == seed}, chance)
                        for seed in dict.fromkeys(row.seed for row in own)}
    return found


def at_chance_from(curve: dict[float, float], chance: Chance) -> float:
    """The least sigma from which an accuracy curve stays at chance; nan if it never gets there."""
    ordered = sorted(curve.items())
    for index, (sigma, _) in enumerate(ordered):
        if all(chance.reached(accuracy) for _, accuracy in ordered[index:]):
            return sigma
    return float("nan")


def noise_verdict(rows: list[NoiseRow], chance: float) -> str:
    """Does band-limiting make the model more robust to noise? The fft's rates against c = 0 (the same
    network, split and initial weights, only the band differs), seed by seed: a rate bears more noise when its
    sigma_half is above c = 0's in every seed, less when below in every seed. It holds when the highest rate
    bears more and none bears less; partly when some rate bears more; not when none does."""
    half = sigmas_half(rows, chance)
    by_rate = {row.compression: half[row.model] for row in rows if row.model != "torch"}
    if 0.0 not in by_rate or len(by_rate) < 2 or any(np.isnan(v) for seeds in by_rate.values() for v in seeds.values()):
        return ("cannot be judged here: it needs c = 0 and a rate above it, each falling half way to chance "
                "within the measured sigmas")
    base = by_rate[0.0]
    more = [rate for rate, seeds in by_rate.items() if rate > 0 and all(seeds[s] > base[s] for s in base)]
    less = [rate for rate, seeds in by_rate.items() if rate > 0 and all(seeds[s] < base[s] for s in base)]
    listed = "; ".join(f"c = {rate:g}: {np.mean(list(seeds.values())):.2f}" for rate, seeds in sorted(by_rate.items()))
    torch_half = f"; torch's Conv2d {np.mean(list(half['torch'].values())):.2f}" if "torch" in half else ""
    spelled = f"(sigma half, the mean of {len(base)} seeds: {listed}{torch_half})"

    def rates(found):
        return ", ".join(f"c = {rate:g}" for rate in sorted(found)) + (" bear" if len(found) > 1 else " bears")
    if max(by_rate) in more and not less:
        return f"holds here: the most band-limited model bears more noise than c = 0 in every seed, none less {spelled}"
    if more:
        return (f"holds partly here: {rates(more)} more noise than c = 0 in every seed"
                + (f", {rates(less)} less" if less else "") + f" {spelled}")
    return ("does not hold here: no rate above 0 bears more noise than c = 0 in every seed"
            + (f"; {rates(less)} less" if less else "") + f" {spelled}")
