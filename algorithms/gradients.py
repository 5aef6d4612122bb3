"""The two backward passes that every algorithm can share, as they are written in the field.

backward-data as a forward convolution: dx = conv(dy dilated by the stride,
the filter flipped and with its channels swapped), stride 1, with the padding
that makes the output the input's size. An algorithm runs it with its own
forward pass (direct, Winograd, tiled FFT): DataGradient holds the derived
shape and the two re-laid-out operands.

backward-filter as GEMMs: dw[:, :, r, s] = sum over (n, p, q) of dy times
the strided window of the padded input that tap (r, s) read, one
(K x N·P·Q)(N·P·Q x C) product per tap, on torch's BLAS (blas.py's pool).
"""
from __future__ import annotations

import numpy as np
import torch

from convbench.spec import ConvSpec


class DataGradient:
    """dx for `spec` as a stride-1 forward convolution of shape `self.spec`:
    input prepare(dy) (N, K, H', W'), filters flipped(w) (C, K, R, S), output (N, C, H, W)."""

    def __init__(self, spec: ConvSpec):
        self.source = spec
        # dy dilated by the stride, with the rows and columns the stride skipped at the end
        # (H + 2·pad - R + 1 positions in all), then padded by R - 1 - pad: the full
        # correlation, read at the input's positions. Padding beyond R - 1 crops dy instead.
        self.span = (spec.H + 2 * spec.pad_h - spec.R + 1, spec.W + 2 * spec.pad_w - spec.S + 1)
        self.crop = (max(0, spec.pad_h - spec.R + 1), max(0, spec.pad_w - spec.S + 1))
        pad = (max(0, spec.R - 1 - spec.pad_h), max(0, spec.S - 1 - spec.pad_w))
        height, width = self.span[0] - 2 * self.crop[0], self.span[1] - 2 * self.crop[1]
        self.spec = ConvSpec(N=spec.N, C=spec.K, H=height, W=width, K=spec.C, R=spec.R, S=spec.S, padding=pad)
        self._dilated = None if spec.stride == (1, 1) and self.crop == (0, 0) else \
            np.zeros((spec.N, spec.K, *self.span), dtype=np.float32)

    def prepare(self, dy: np.ndarray) -> np.ndarray:
        if self._dilated is None:
            return dy
        sh, sw = self.source.stride
        self._dilated[:, :, :(self.source.P - 1) * sh + 1:sh, :(self.source.Q - 1) * sw + 1:sw] = dy
        (top, left), (height, width) = self.crop, (self.spec.H, self.spec.W)
        return np.ascontiguousarray(self._dilated[:, :, top:top + height, left:left + width])

    @staticmethod
    def flipped(w: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


def filter_gradient_gemm(x: np.ndarray, dy: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """dw (K, C, R, S), one GEMM per tap (r, s) over the strided input window it read."""
    xp = torch.nn.functional.pad(torch.from_numpy(x), (spec.pad_w, spec.pad_w, spec.pad_h, spec.pad_h))
    dy_t = torch.from_numpy(dy)
    dw = torch.empty(spec.filter_shape, dtype=torch.float32)
    rows, cols = (spec.P - 1) * spec.stride_h + 1, (spec.Q - 1) * spec.stride_w + 1
    for r in range(spec.R):
        for s in range(spec.S):
            window = xp[:, :, r:r + rows:spec.stride_h, s:s + cols:spec.stride_w]  # (N, C, P, Q)
            dw[:, :, r, s] = torch.tensordot(dy_t, window, dims=([0, 2, 3], [0, 2, 3]))
    return dw.numpy()
