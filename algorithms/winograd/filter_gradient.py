"""Winograd F(3x3, m x m) for the filter gradient on the CPU (Lavin & Gray, section 5): its two Numba transforms.

dw[k, c] = sum over tiles t of A'^T [ (G' dy_t G'^T) . (B^T x_t B) ] A', where dy_t is the m x m block of dy
that tile t's outputs received; G' (n x m) and A'^T (3 x n) are F(3, m)'s matrices from the forward's points.
gradient_transform writes G' dy_t G'^T point-major, (n^2, tiles, K), as the forward's input transform writes
V; the sum over tiles is then one (K x tiles)(tiles x C) GEMM per point, Z; filter_gradient_transform applies
A' to Z straight into dw's (K, C, 3, 3) layout. Both run over contiguous channels, so they vectorise, and
skip the matrices' zeros. (One GEMM with kron(A', A') in their place read Z, (n^2, K, C), through memory and
ran narrow: results/records/implementation-choices.json, row winograd-filter-gradient-kernels.)
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .transforms import scaled_add


@njit(parallel=True, cache=True, fastmath={"contract"})
def gradient_transform(dy, G, D, tiles_h, tiles_w, first, last):
    """D[i*n + j, t, k] = (G d G^T)[i, j] for the m x m block d at (m*ty, m*tx) of dy (N, K, P, Q), zero
    beyond it, for the rows of tiles first .. last - 1 (a row is (b, ty)); t = (row - first, tx), counted from
    the first row's first tile in the forward's tile order. Each row of blocks is gathered channels-last into
    a band in cache first, so the sums run over contiguous channels (and no channels-last copy of the whole
    of dy passes through memory: results/records/implementation-choices.json, row
    winograd-transforms-through-row-bands)."""
    N, K, P, Q = dy.shape
    n, m = G.shape
    for block_row in prange(last - first):
        row = first + block_row
        b = row // tiles_h
        y0 = m * (row % tiles_h)
        band = np.zeros((m, m * tiles_w, K), dtype=np.float32)
        for r in range(min(m, P - y0)):
            for col in range(Q):
                for k in range(K):
                    band[r, col, k] = dy[b, k, y0 + r, col]
        columns = np.empty((n, m, K), dtype=np.float32)  # G d: row i, column a
        for tx in range(tiles_w):
            t = block_row * tiles_w + tx
            x0 = m * tx
            for i in range(n):
                for a in range(m):
                    acc = columns[i, a]
                    acc[:] = 0
                    for r in range(m):
                        scaled_add(acc, G[i, r], band[r, x0 + a])
            for i in range(n):
                for j in range(n):
                    acc = D[i * n + j, t]
                    acc[:] = 0
                    for a in range(m):
                        scaled_add(acc, G[j, a], columns[i, a])


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
