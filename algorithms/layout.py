"""Channels-last results copied back to the caller's NCHW layout."""
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
