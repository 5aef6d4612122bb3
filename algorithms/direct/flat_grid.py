"""The flat padded grid both of direct's GEMM paths compute on (gemm.py channel-major,
channels_last.py channels-last): every image's padded rows end to end, so the input tap (r, s)
reads for position j lies r·dil_h·cols + s·dil_w positions further on, and a run of positions is
a plain slice."""
from __future__ import annotations

import numpy as np
import torch


class FlatGrid:
    """rows, cols: the padded rows and columns some output reads (spec.span); positions: N·rows·cols;
    length: positions and the tail that keeps the last run's shifted slices in bounds; offsets: how
    far on each tap reads, in the filters' (r, s) order."""

    def __init__(self, spec):
        self.spec = spec
        self.rows, self.cols = spec.span
        self.positions = spec.N * self.rows * self.cols
        self.length = self.positions + (spec.extent_h - 1) * self.cols + spec.extent_w
        self.offsets = [r * spec.dil_h * self.cols + s * spec.dil_w for r in range(spec.R) for s in range(spec.S)]

    def valid_positions(self) -> torch.Tensor:
        """Flat positions of the valid (at a stride, the strided) outputs, in (n, p, q) order."""
        spec = self.spec
        p, q = np.meshgrid(np.arange(spec.P), np.arange(spec.Q), indexing="ij")
        image = (p * spec.stride_h * self.cols + q * spec.stride_w).ravel()
        return torch.from_numpy((np.arange(spec.N)[:, None] * (self.rows * self.cols) + image).ravel())
