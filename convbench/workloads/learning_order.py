"""Which frequencies a CNN learns first: the proposal's claim that low frequency coefficients are learned
first during training, on the digits CNN of convbench accuracy.

While the network trains, every few steps each conv layer's weight change since initialisation and its
gradient are taken to the layer's FFT grid (the filters zero-padded to the padded input's size, where the
band-limited convolution multiplies them) and split into frequency bands: rings of the 2-D DFT by the
frequency's radius. A band's progress is the share of its final change it has made: the projection of the
change so far on the final change, within the band, over the final change's energy there (1 at the end;
a band that wanders and comes back does not count as arrived). A band has settled from the first record
after which its progress stays within SETTLED of 1. The claim holds when the bands settle in the order of
their frequencies, low first: the order is read from the measured records, never assumed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from convbench import nn as cnn
from convbench.workloads.accuracy import trained

COMPRESSIONS = (0.0, 0.5)  # the fft models trained beside torch's: exact, and a rate that drops frequencies
BANDS = 4          # rings of the DFT, by radius, from the zero frequency to the corner
SETTLED = 0.1      # a band has settled once its progress stays within this of 1 (its final change)
DIGITS_GRID = 10   # the digits' 8x8 planes padded by 1: the FFT grid of both conv layers


@dataclass
class History:
    """One model's training, recorded every few steps: per conv layer, the weight change's projection on the
    final change and the gradient's energy, each per band."""
    model: str                      # "torch" or "fft c=..."
    compression: float
    grid: int                       # the FFT grid the changes are taken to
    bands: int                      # rings of frequency radius
    steps: list[int] = field(default_factory=list)
    changes: dict[str, list[np.ndarray]] = field(default_factory=dict)    # layer -> per record, the change's spectrum
    gradients: dict[str, list[np.ndarray]] = field(default_factory=dict)  # layer -> per record, energy per band


def band_of_each_frequency(grid: int, bands: int = BANDS) -> np.ndarray:
    """(grid, grid) ints: the band of each 2-D DFT frequency, rings of equal width in radius from 0 to the
    corner's (frequencies in cycles per sample, |f| <= 1/2 on each axis)."""
    f = np.fft.fftfreq(grid)
    radius = np.hypot(f[:, None], f[None, :])
    return np.minimum((radius / (np.sqrt(0.5) / bands)).astype(int), bands - 1)


def spectrum(weights: torch.Tensor, grid: int) -> np.ndarray:
    """(K, C, grid, grid) complex: each filter zero-padded to the grid, its 2-D DFT."""
    return np.fft.fft2(weights.detach().double().numpy(), s=(grid, grid))


def by_band(values: np.ndarray, bands: np.ndarray) -> np.ndarray:
    """Real values per frequency (..., grid, grid), summed over the leading axes and within each band."""
    return np.bincount(bands.ravel(), weights=values.reshape(-1, bands.size).sum(0), minlength=bands.max() + 1)


def band_energy(transformed: np.ndarray, bands: np.ndarray) -> np.ndarray:
    """The energy (sum of squared magnitudes) of a spectrum in each band."""
    return by_band(np.abs(transformed) ** 2, bands)


def progress(changes: list[np.ndarray], bands: np.ndarray) -> np.ndarray:
    """(records, bands): the share of its final change each band has made at each record: Re<change, final>
    over |final|^2, within the band."""
    final = changes[-1]
    last = band_energy(final, bands)
    last = np.where(last > 0, last, np.nan)
    return np.array([by_band((change * np.conj(final)).real, bands) / last for change in changes])


def settled_at(steps: list[int], shares: np.ndarray, within: float = SETTLED) -> np.ndarray:
    """Per band, the first step from which its progress stays within `within` of 1 (the last step at worst)."""
    close = np.abs(shares - 1) <= within
    settled = []
    for band in range(shares.shape[1]):
        stays = np.flip(np.cumprod(np.flip(close[:, band])))  # True from the first record after which all are
        settled.append(steps[int(np.argmax(stays))] if stays.any() else steps[-1])
    return np.array(settled)


def layer_progress(history: History, layer: str) -> np.ndarray:
    """(records, bands): one layer's progress, on the grid and bands it was recorded with."""
    return progress(history.changes[layer], band_of_each_frequency(history.grid, history.bands))


def band_order(history: History, layer: str) -> np.ndarray:
    """The step at which each band of one layer settled."""
    return settled_at(history.steps, layer_progress(history, layer))


def order_verdict(settled: np.ndarray) -> str:
    """The claim read from one layer's settling steps, band 0 the lowest."""
    if np.all(np.diff(settled) >= 0) and settled[-1] > settled[0]:
        return "holds"
    if settled[0] < settled[-1]:
        return "holds partly"  # the lowest band before the highest, not every band in order
    if settled[0] == settled[-1]:
        return "cannot be told"  # the lowest and highest settled at the same record
    return "does not hold"


def gradient_shares(history: History, layer: str) -> np.ndarray:
    """(records, bands): the share of the gradient's energy in each band at each record."""
    energy = np.array(history.gradients[layer])
    total = energy.sum(1, keepdims=True)
    return energy / np.where(total > 0, total, np.nan)


def learning_order_verdict(verdicts: list[str]) -> str:
    """The claim over every (model, layer): holds where each holds; partly where the lowest band settled
    first in each, or where some hold; not where none does."""
    counted = ", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(verdicts))
    if verdicts and all(v == "holds" for v in verdicts):
        return f"holds here: in every layer of every model the bands settled in the order of their frequencies ({counted})"
    if verdicts and all(v in ("holds", "holds partly") for v in verdicts):
        return (f"holds partly here: in every layer of every model the lowest band settled before the highest, "
                f"not every band in order ({counted})")
    if any(v in ("holds", "holds partly") for v in verdicts):
        return f"holds partly here: in some layers the lowest band settled first, not in others ({counted})"
    return f"does not hold here: in no layer did the lowest band settle before the highest ({counted})"


def record_training(compression: float | None, epochs: int = 5, every: int = 5, grid: int = DIGITS_GRID,
                    bands: int = BANDS, seed: int = 0) -> History:
    """Train the digits CNN (torch's Conv2d for compression None, else the band-limited fft) and record its
    conv layers every `every` steps, and after the last."""
    history = History("torch" if compression is None else f"fft c={compression:g}", compression or 0.0, grid, bands)
    band_index = band_of_each_frequency(grid, bands)
    start: dict[str, torch.Tensor] = {}

    def convs(model):
        found = [m for m in model if isinstance(m, (torch.nn.Conv2d, cnn.Conv2d))]
        return {f"conv{i + 1}": layer for i, layer in enumerate(found)}

    def record(model, step):
        history.steps.append(step)
        for name, layer in convs(model).items():
            history.changes.setdefault(name, []).append(spectrum(layer.weight - start[name], grid))
            gradient = layer.weight.grad if layer.weight.grad is not None else torch.zeros_like(layer.weight)
            history.gradients.setdefault(name, []).append(band_energy(spectrum(gradient, grid), band_index))

    last = 0

    def on_step(model, step):
        nonlocal last
        if step == 0:  # before the first step: the initial weights
            start.update({name: layer.weight.detach().clone() for name, layer in convs(model).items()})
        elif step % every == 0:
            record(model, step)
        last = step

    model, _ = trained(compression, epochs, seed=seed, on_step=on_step)
    if history.steps[-1:] != [last]:  # the final weights: the reference every band's progress is measured against
        record(model, last)
    return history
