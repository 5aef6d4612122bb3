"""Direct convolution on the CPU: the seed's conv-layer sum, compiled with Numba.

O[n,k,p,q] = sum_c sum_r sum_s I[n, c, p*sh + r, q*sw + s] * F[k, c, r, s]
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..base import Plan
from ..padding import embed, padded_buffer


@njit(parallel=True, cache=True)
def direct_kernel(xp, w, out, stride_h, stride_w):
    """out[n, k] = sum over c, r, s of w[k, c, r, s] * shifted xp[n, c]; xp is already padded."""
    N, C = xp.shape[0], xp.shape[1]
    K, R, S = w.shape[0], w.shape[2], w.shape[3]
    P, Q = out.shape[2], out.shape[3]
    for nk in prange(N * K):
        n = nk // K
        k = nk % K
        plane = out[n, k]
        plane[:, :] = 0.0
        for c in range(C):
            image = xp[n, c]
            for r in range(R):
                for s in range(S):
                    weight = w[k, c, r, s]
                    # innermost loop runs along a row so it vectorises for stride 1
                    for p in range(P):
                        row = image[p * stride_h + r]
                        for q in range(Q):
                            plane[p, q] += weight * row[q * stride_w + s]


class DirectCPU(Plan):
    algorithm = "direct"
    backend = "cpu"

    def __init__(self, spec):
        super().__init__(spec)
        # only the rows and columns some output reads: a stride that does not
        # divide evenly leaves trailing padded rows unused
        rows = (spec.P - 1) * spec.stride_h + spec.R
        cols = (spec.Q - 1) * spec.stride_w + spec.S
        self._padded = padded_buffer((spec.N, spec.C), rows, cols)

    def run(self, x, w, out):
        embed(x, self._padded, self.spec.pad_h, self.spec.pad_w)
        direct_kernel(self._padded, w, out, self.spec.stride_h, self.spec.stride_w)
