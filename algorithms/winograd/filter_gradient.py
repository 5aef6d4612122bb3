"""Winograd F(3x3, m x m) for the filter gradient on the CPU (Lavin & Gray, section 5): its two transforms.

dw[k, c] = sum over tiles t of A'^T [ (G' dy_t G'^T) . (B^T x_t B) ] A', where dy_t is the m x m block of dy
that tile t's outputs received; G' (n x m) and A'^T (3 x n) are F(3, m)'s matrices from the forward's points.
gradient_transform writes G' dy_t G'^T point-major, (n^2, tiles, K), as the forward's input transform writes
V (by a kernel generated per tile, as the forward's transforms are); the sum over tiles is then one
(K x tiles)(tiles x C) GEMM per point, Z; filter_gradient_transform applies A' to Z straight into dw's
(K, C, 3, 3) layout. Both run over contiguous channels, so they vectorise, and
skip the matrices' zeros. (One GEMM with kron(A', A') in their place read Z, (n^2, K, C), through memory and
ran narrow: results/records/implementation-choices.json, row winograd-filter-gradient-kernels.)
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .kernels import GRADIENT_TRANSFORMS


@njit(inline="always", fastmath={"contract"})
def scaled_add(acc, g, row):
    """acc += g * row over contiguous channels: one term of a transform's row, skipped where g is one of the
    matrices' zeros."""
    if g != 0:
        for c in range(acc.shape[0]):
            acc[c] += g * row[c]


def gradient_transform(m: int, dy, D, tiles_h: int, tiles_w: int, first: int, last: int) -> None:
    """D[i*n + j, t, k] = (G' d G'^T)[i, j] for the m x m block d at (m*ty, m*tx) of dy (N, K, P, Q), zero
    beyond it, for the rows of tiles first .. last - 1 (a row is (b, ty)); t = (row - first, tx), counted from
    the first row's first tile in the forward's tile order. The tile-m kernel of kernels.py (codegen.py):
    each row of blocks gathered channels-last into a band in cache (no channels-last copy of the whole of dy
    passes through memory: results/records/implementation-choices.json, row
    winograd-transforms-through-row-bands), then G' unrolled from the exact matrix, its zeros and ones
    folded (a loop over G''s entries through scaled_add took 1.3-2.7x as long: row
    winograd-gradient-kernel-unrolled)."""
    GRADIENT_TRANSFORMS[m](dy, D, tiles_h, tiles_w, first, last)


@njit(parallel=True, cache=True, fastmath={"contract"})
def filter_gradient_transform(Z, AT, dw, k0):
    """dw[k0 + kk, c] = (A'^T Z_kk,c A') (r x r, r = AT's rows) for the n x n points Z[i*n + j, kk, c] of the
    block of filters k0 .. k0 + Z.shape[1] - 1; dw is (K, C, r*r), each filter's taps innermost."""
    block, C = Z.shape[1], Z.shape[2]
    r, n = AT.shape
    for kk in prange(block):
        rows = np.empty((r, n, C), dtype=np.float32)  # A'^T Z: row a, column j
        taps = np.empty((r * r, C), dtype=np.float32)
        for a in range(r):
            for j in range(n):
                acc = rows[a, j]
                acc[:] = 0
                for i in range(n):
                    scaled_add(acc, AT[a, i], Z[i * n + j, kk])
        for a in range(r):
            for b in range(r):
                acc = taps[a * r + b]
                acc[:] = 0
                for j in range(n):
                    scaled_add(acc, AT[b, j], rows[a, j])
        out = dw[k0 + kk]
        for c in range(C):
            for q in range(r * r):
                out[c, q] = taps[q, c]
