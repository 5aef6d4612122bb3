"""Depthwise convolution (groups = C = K) on the CPU, channels-last.

Each output channel reads one input channel, so there is no channel sum to
block over and the NCHW loop's innermost axpy runs over a single short row
per tap. Channels-last, the same sum vectorises across the channels instead:

    y[n, p, q, c] = sum_{r, s} w[r, s, c] · x[n, p·sh + r·dh, q·sw + s·dw, c]

one contiguous C-long multiply-add per tap and output position. Without
dilation, 3x3, 5x5 and 7x7 filters at stride 1, and 5x5 and 7x7 at stride 2,
run a generated kernel (depthwise_kernels.py, from depthwise_codegen.py: a
filter row for four outputs a pass); other filters add one tap a pass below,
or three from 5x5.
The input is copied into a zero-padded (N, rows, cols, C) buffer and the
output back to NCHW by layout.to_channels_first, as Winograd's transforms do.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from convbench.core.arrays import aligned_empty, aligned_zeros
from convbench.core.selection import depthwise_taps_by_three

from ..layout import to_channels_first
from ..padding import embed_channels_last
from .depthwise_kernels import KERNELS


TAPS_PER_PASS = 3  # taps added per pass over an output's channels: one load and store of its accumulator for three
POSITIONS_PER_BLOCK = 4  # output positions that share each pass's tap rows and weights


@njit(parallel=True, cache=True)
def depthwise_kernel(xh, taps, tap_rows, tap_cols, yh, stride_h, stride_w):
    """yh (N, P, Q, C) from the padded channels-last xh (N, rows, cols, C): tap t (of the R·S, flattened) weighs
    channel c by taps[t, c] and reads xh at (p·stride_h + tap_rows[t], q·stride_w + tap_cols[t]) for output
    (p, q); one tap a pass over an output's channels."""
    N, P, Q, C = yh.shape
    for row_task in prange(N * P):
        n = row_task // P
        p = row_task % P
        acc = np.empty(C, dtype=yh.dtype)  # indices, not views, inside the loops: views cost more than the sums
        for q in range(Q):
            acc[:] = 0.0
            for t in range(tap_rows.shape[0]):
                y = p * stride_h + tap_rows[t]
                x = q * stride_w + tap_cols[t]
                for c in range(C):
                    acc[c] += taps[t, c] * xh[n, y, x, c]
            yh[n, p, q, :] = acc


@njit(parallel=True, cache=True)
def depthwise_kernel_by_three(xh, taps, tap_rows, tap_cols, yh, stride_h, stride_w):
    """depthwise_kernel's sum, its taps padded with zero weights to whole passes: each pass over an output's C
    channels adds TAPS_PER_PASS taps' products, for POSITIONS_PER_BLOCK neighbouring outputs in turn, which
    share the pass's weight rows and tap offsets. Faster than one tap a pass from 5x5 filters, mixed on 3x3
    (results/records/implementation-choices.json, row direct-depthwise-taps-by-three; the choice:
    convbench.core.selection.depthwise_taps_by_three)."""
    N, P, Q, C = yh.shape
    T = taps.shape[0]
    for row_task in prange(N * P):
        n = row_task // P
        p = row_task % P
        acc = np.empty((POSITIONS_PER_BLOCK, C), dtype=yh.dtype)
        for q0 in range(0, Q, POSITIONS_PER_BLOCK):
            block = min(POSITIONS_PER_BLOCK, Q - q0)
            acc[:, :] = 0.0
            for t in range(0, T, TAPS_PER_PASS):
                w0, w1, w2 = taps[t], taps[t + 1], taps[t + 2]
                y0, y1, y2 = p * stride_h + tap_rows[t], p * stride_h + tap_rows[t + 1], p * stride_h + tap_rows[t + 2]
                for j in range(block):
                    x0 = xh[n, y0, (q0 + j) * stride_w + tap_cols[t]]
                    x1 = xh[n, y1, (q0 + j) * stride_w + tap_cols[t + 1]]
                    x2 = xh[n, y2, (q0 + j) * stride_w + tap_cols[t + 2]]
                    a = acc[j]
                    for c in range(C):
                        a[c] += w0[c] * x0[c] + w1[c] * x1[c] + w2[c] * x2[c]
            for j in range(block):
                yh[n, p, q0 + j, :] = acc[j]


class DepthwiseNHWC:
    """Buffers for one depthwise spec; __call__(x, w, out) convolves."""

    def __init__(self, spec):
        self.spec = spec
        self._xh = aligned_zeros((spec.N, *spec.span, spec.C))  # the border stays zero
        self._yh = aligned_empty((spec.N, spec.P, spec.Q, spec.K))
        taps = spec.R * spec.S
        # without dilation the generated kernel of its filter size and stride, if there is one; it reads the
        # taps (R·S, K) alone. The other kernels read each tap's offsets too, and the by-three kernel whole
        # passes of taps: the padding's weights stay zero, its offsets the first tap's.
        plain = spec.stride_h == spec.stride_w and spec.dilation == (1, 1)
        self._generated = KERNELS.get((spec.R, spec.S, spec.stride_h)) if plain else None
        self._by_three = self._generated is None and depthwise_taps_by_three(taps)
        padded = taps + -taps % TAPS_PER_PASS if self._by_three else taps
        self._taps = aligned_zeros((padded, spec.K))
        if self._generated is None:
            self._tap_rows = aligned_zeros(padded, dtype=np.int64)
            self._tap_cols = aligned_zeros(padded, dtype=np.int64)
            self._tap_rows[:taps] = np.repeat(np.arange(spec.R) * spec.dil_h, spec.S)
            self._tap_cols[:taps] = np.tile(np.arange(spec.S) * spec.dil_w, spec.R)

    def __call__(self, x, w, out):
        spec = self.spec
        embed_channels_last(x, self._xh, *spec.padding)
        self._taps[:spec.R * spec.S] = w.reshape(spec.K, -1).T
        if self._generated is not None:
            self._generated(self._xh, self._taps, self._yh)
        else:
            kernel = depthwise_kernel_by_three if self._by_three else depthwise_kernel
            kernel(self._xh, self._taps, self._tap_rows, self._tap_cols, self._yh, spec.stride_h, spec.stride_w)
        to_channels_first(self._yh, out)
