"""Depthwise convolution (groups = C = K) on the CPU, channels-last.

Each output channel reads one input channel, so there is no channel sum to
block over and the NCHW loop's innermost axpy runs over a single short row
per tap. Channels-last, the same sum vectorises across the channels instead:

    y[n, p, q, c] = sum_{r, s} w[r, s, c] · x[n, p·sh + r·dh, q·sw + s·dw, c]

one contiguous C-long multiply-add per tap and output position. The input is
copied into a zero-padded (N, rows, cols, C) buffer and the output back to
NCHW by layout.to_channels_first, as Winograd's transforms do.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..layout import to_channels_first
from ..padding import embed_channels_last


@njit(parallel=True, cache=True)
def depthwise_kernel(xh, taps, yh, stride_h, stride_w, dil_h, dil_w):
    """yh (N, P, Q, C) from the padded channels-last xh (N, rows, cols, C) and taps (R, S, C)."""
    N, P, Q, C = yh.shape
    R, S = taps.shape[0], taps.shape[1]
    for row_task in prange(N * P):
        n = row_task // P
        p = row_task % P
        acc = np.empty(C, dtype=yh.dtype)  # indices, not views, inside the loops: views cost more than the sums
        for q in range(Q):
            acc[:] = 0.0
            for r in range(R):
                y = p * stride_h + r * dil_h
                for s in range(S):
                    x = q * stride_w + s * dil_w
                    for c in range(C):
                        acc[c] += taps[r, s, c] * xh[n, y, x, c]
            yh[n, p, q, :] = acc


class DepthwiseNHWC:
    """Buffers for one depthwise spec; __call__(x, w, out) convolves."""

    def __init__(self, spec):
        self.spec = spec
        self._xh = np.zeros((spec.N, *spec.span, spec.C), dtype=np.float32)  # the border stays zero
        self._yh = np.empty((spec.N, spec.P, spec.Q, spec.K), dtype=np.float32)
        self._taps = np.empty((spec.R, spec.S, spec.K), dtype=np.float32)

    def __call__(self, x, w, out):
        spec = self.spec
        embed_channels_last(x, self._xh, *spec.padding)
        self._taps[...] = w[:, 0].transpose(1, 2, 0)
        depthwise_kernel(self._xh, self._taps, self._yh, spec.stride_h, spec.stride_w, spec.dil_h, spec.dil_w)
        to_channels_first(self._yh, out)
