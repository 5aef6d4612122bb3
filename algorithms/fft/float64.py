"""The band-limited map and its exact adjoints in float64: what an fft plan computes, for gradcheck and
for convbench.nn on float64 tensors (reference.py is the forward, adjoint.py the two adjoints)."""
from __future__ import annotations

import numpy as np

from . import adjoint
from .reference import masked_spectrum_conv


class BandLimitedFloat64:
    def __init__(self, spec, grid: tuple[int, int], mask: np.ndarray):
        self.spec, self.grid, self.mask = spec, grid, mask

    def __call__(self, x, w) -> np.ndarray:
        return masked_spectrum_conv(x, w, self.spec, self.grid, self.mask)

    def backward_data(self, dy, w) -> np.ndarray:
        return adjoint.backward_data(dy, w, self.spec, self.grid, self.mask)

    def backward_filter(self, x, dy) -> np.ndarray:
        return adjoint.backward_filter(x, dy, self.spec, self.grid, self.mask)
