"""Copies between the caller's NCHW layout and the channels-last buffers that plans compute in."""
from __future__ import annotations

from numba import njit, prange


@njit(parallel=True, cache=True)
def to_channels_first(src, dst):
    """dst[b, k, i, j] = src[b, i, j, k]: src (N, P, Q, K), any strides (a cropped view), into dst (N, K, P, Q).
    One output row (b, i) per iteration: its (Q, K) block of src is read from cache K times while each
    channel's row of Q outputs is written whole; torch's strided copy of the permuted view took 1.5-2.6x as
    long (results/records/implementation-choices.json, row channels-first-copy-numba)."""
    N, P, Q, K = src.shape
    for row in prange(N * P):
        b = row // P
        i = row % P
        block = src[b, i]
        for k in range(K):
            line = dst[b, k, i]
            for j in range(Q):
                line[j] = block[j, k]


@njit(parallel=True, cache=True)
def to_channels_last(src, dst, top, left, rows, cols):
    """dst[b, top + i, left + j, c] = src[b, c, i, j] for i < rows, j < cols: src (N, C, H, W) into dst
    (N, H', W', C). One input row (b, i) per iteration: each position's channels are stored together, loaded
    a plane apart from the rows of src, which stay in cache (torch's strided copy of the permuted view took
    1.2-1.5x as long from 64 channels: results/records/auto-rule-thresholds.json, row
    CHANNELS_LAST_COPY_BY_KERNEL_FROM)."""
    N, C = src.shape[0], src.shape[1]
    for row in prange(N * rows):
        b = row // rows
        i = row % rows
        line = dst[b, top + i]
        for j in range(cols):
            for c in range(C):
                line[left + j, c] = src[b, c, i, j]
