"""Scratch memory that a plan's stages take turns using, instead of each holding its own.

The fft plan's transforms each need two temporaries (a half-transformed block
and a re-laid-out copy of it), but the stages run one after another, so they
can share two slots sized to the largest request. On the 7x7 layer (N=8,
C=K=64, 56x56) that is 2 x 7 MiB held instead of 7 buffers of 6-7 MiB.

Users reserve at build time (so a plan's memory is all allocated, and
measured, when it is built) and take views at call time.
"""
from __future__ import annotations

import numpy as np

from convbench.core.arrays import aligned_empty


class Scratch:
    def __init__(self, slots: int = 2):
        self._sizes = [0] * slots
        self._buffers = None

    def reserve(self, slot: int, shape, dtype) -> None:
        if self._buffers is not None:
            raise RuntimeError("reserve before the first view: the slots are already allocated")
        self._sizes[slot] = max(self._sizes[slot], int(np.prod(shape)) * np.dtype(dtype).itemsize)

    def allocate(self) -> None:
        self._buffers = [aligned_empty(size, np.uint8) for size in self._sizes]

    def view(self, slot: int, shape, dtype) -> np.ndarray:
        """A C-contiguous (shape, dtype) array over the start of slot `slot`; valid until the slot's next user."""
        if self._buffers is None:
            self.allocate()
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        return self._buffers[slot][:nbytes].view(dtype).reshape(shape)
