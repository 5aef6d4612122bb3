"""Band-limiting: the FFT grid, the spectral mask M_c and the energy it keeps.

x *_c y = F^-1[(F_x . M_c) . (F_y . M_c)]   (seed, "Band-limited FFT based convolution formally")

On the one-sided rfft2 spectrum of an Lh x Lw grid, M_c keeps the coefficient
(u, v) (signed row frequency u, column frequency v >= 0) iff

    2|u| <= s * Lh   and   2v <= s * Lw,   with s = sqrt(1 - c).

So DC is always kept, u is kept iff -u is (the masked spectrum stays
Hermitian and its inverse real), a larger c keeps a subset of what a smaller
c kept, and c = 0 keeps everything. Like the proposal's code, each axis keeps about
sqrt(1 - c) of its frequencies, so about (1 - c) of the coefficients survive;
the side lengths are integers, so the achieved compression is reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from convbench.core.arrays import check_compression

from ..padding import on_grid


def next_fast_len(n: int) -> int:
    """The smallest m >= n whose only prime factors are 2, 3, 5 and 7 (sizes FFTW does fastest)."""
    m = n
    while True:
        rest = m
        for prime in (2, 3, 5, 7):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return m
        m += 1


def fft_grid(spec) -> tuple[int, int]:
    """The FFT grid (Lh, Lw) for a spec.

    Output p reads padded rows p*stride + 0 .. p*stride + E - 1 (E the filter's
    extent with its dilation, dilation*(R - 1) + 1), all below
    needed = (P - 1)*stride + E. A circular cross-correlation on a grid of
    L >= needed rows never wraps for those outputs, so the smallest fast L >= needed
    gives exact valid outputs.
    """
    rows, cols = spec.span
    return next_fast_len(rows), next_fast_len(cols)


@dataclass(frozen=True)
class Band:
    """The retained low-frequency block of a one-sided Lh x (Lw//2 + 1) spectrum."""

    grid: tuple[int, int]
    requested: float

    @cached_property
    def keep_fraction_per_axis(self) -> float:
        return math.sqrt(1.0 - self.requested)

    @cached_property
    def rows(self) -> np.ndarray:
        """Indices of the retained rows: 0..a, then Lh-a..Lh-1 (negative frequencies)."""
        Lh = self.grid[0]
        # 0, 1, ..., -2, -1 in integers: np.fft.fftfreq(Lh, 1 / Lh) is off by rounding (49.0000001 at
        # Lh = 98), which dropped the Nyquist row at compression 0 on 98- and 196-row grids (found by
        # the corpus check: a 3x3 'same' layer on 192x192 inputs read 0.07 relative error)
        index = np.arange(Lh)
        signed = np.where(index < (Lh + 1) // 2, index, index - Lh)
        return np.flatnonzero(2 * np.abs(signed) <= self.keep_fraction_per_axis * Lh)

    @cached_property
    def n_cols(self) -> int:
        """Retained columns are 0 .. n_cols - 1."""
        Lw = self.grid[1]
        return int(np.count_nonzero(2 * np.arange(Lw // 2 + 1) <= self.keep_fraction_per_axis * Lw))

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> tuple[int, int]:
        """The one-sided spectrum's shape (Lh, Lw//2 + 1)."""
        return self.grid[0], self.grid[1] // 2 + 1

    @property
    def retained(self) -> int:
        return self.n_rows * self.n_cols

    @property
    def compression(self) -> float:
        """The achieved rate: 1 - retained / total coefficients."""
        Lh, Wc = self.shape
        return 1.0 - self.retained / (Lh * Wc)

    @cached_property
    def mask(self) -> np.ndarray:
        mask = np.zeros(self.shape, dtype=bool)
        mask[np.ix_(self.rows, np.arange(self.n_cols))] = True
        return mask


def hermitian_weights(Lw: int) -> np.ndarray:
    """How many times each one-sided rfft column stands in the full spectrum (1 or 2)."""
    weights = np.full(Lw // 2 + 1, 2.0)
    weights[0] = 1.0
    if Lw % 2 == 0:
        weights[-1] = 1.0
    return weights


def retained_energy(x: np.ndarray, band: Band, pad: tuple[int, int] = (0, 0)) -> float:
    """Fraction of the spectral energy of x (zero-padded, on band.grid) that the mask keeps.

    By Parseval, sum |x|^2 = sum |F_x|^2 / (Lh*Lw) over the full spectrum; on the
    one-sided rfft2 spectrum, interior columns count twice.
    """
    Lh, Lw = band.grid
    grid = on_grid(x, band.grid, pad, dtype=np.float64)
    power = np.abs(np.fft.rfft2(grid)) ** 2 * hermitian_weights(Lw)
    total = power.sum()
    if total == 0.0:
        return 1.0
    return float(power[..., band.mask].sum() / total)


class BandLimited:
    """What every band-limited plan (CPU and GPU) shares; it sets self.band and self.spec."""

    @classmethod
    def spectral_grid(cls, spec) -> tuple[int, int]:
        """The FFT grid a plan of this class computes spec on (fft_grid)."""
        return fft_grid(spec)

    @classmethod
    def energy_retained(cls, x, spec, compression) -> float:
        """Fraction of the spectral energy of float64 input x that a plan at this compression would
        keep: the mask alone decides it, so no plan (buffers, transforms) is built."""
        return retained_energy(x, Band(fft_grid(spec), check_compression(compression)), spec.padding)

    def float64(self):
        """The band-limited map this plan computes, and its exact adjoints, in float64 (not the oracle:
        at c > 0 the plan computes another map)."""
        from .float64 import BandLimitedFloat64  # the training passes load only when asked for

        return BandLimitedFloat64(self.spec, self.band.grid, self.band.mask)

    def retained_energy(self, x) -> float:
        """Fraction of the spectral energy of (host) input x that this plan's mask keeps (Parseval)."""
        return retained_energy(np.asarray(x, dtype=np.float64), self.band, self.spec.padding)
