"""Winograd F(m x m, 3 x 3) on the CPU: the three transforms, for any tile from cook_toom.py.

Y = A^T [ (G g G^T) . (B^T d B) ] A  for a 3x3 filter g and an n x n input
tile d (n = m + 2), tiles overlapping by 2. The filter transform is one GEMM
with kron(G, G); the input and output transforms are Numba kernels unrolled
from the exact matrices, one per tile (kernels.py, written by codegen.py),
on channels-last data so that they vectorise over the channels: V and M are
(n^2, tiles, channels).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..blas import matmul
from ..layout import to_channels_first
from ..padding import embed_channels_last
from .kernels import INPUT_TRANSFORMS, OUTPUT_TRANSFORMS


def filter_transform(w: np.ndarray, GG: np.ndarray, out: np.ndarray) -> np.ndarray:
    """U[i*n + j, k, c] = (G w[k, c] G^T)[i, j], laid out as n^2 (K, C) matrices.

    GG = kron(G, G), (n^2, 9). One (n^2, 9) x (9, K·C) GEMM: memory-bound, and
    BLAS streams it faster than a Numba loop or numpy's einsum
    (results/records/implementation-choices.json, row winograd-filter-transform-one-gemm).
    """
    K, C = w.shape[:2]
    matmul(GG, w.reshape(K * C, 9).T, out=out.reshape(GG.shape[0], K * C))
    return out


@njit(parallel=True, cache=True, fastmath={"contract"})
def filter_transform_block(w, k0, GG, out):
    """out[i, kk, c] = sum_j GG[i, j] w[k0 + kk, c, j], for the filters k0 .. k0 + out.shape[1] - 1: one block
    of the transform, written where the next GEMM reads it while it is in cache. Each filter's nine taps are
    first laid out tap-major (9, C), so the sum runs over contiguous channels; GG's zeros are skipped."""
    block, C, points = out.shape[1], w.shape[1], GG.shape[0]
    for kk in prange(block):
        k = k0 + kk
        taps = np.empty((9, C), dtype=np.float32)
        for c in range(C):
            for j in range(9):
                taps[j, c] = w[k, c, j // 3, j % 3]
        row = np.empty(C, dtype=np.float32)
        for i in range(points):
            row[:] = 0
            for j in range(9):
                g = GG[i, j]
                if g != 0:
                    tap = taps[j]
                    for c in range(C):
                        row[c] += g * tap[c]
            out[i, kk, :] = row


def input_transform(m: int, x, xh, V, tiles_h: int, tiles_w: int, pad: tuple[int, int]) -> None:
    """V[i*n + j, t, c] = (B^T d B)[i, j] for tile t = (b, ty, tx), d the n x n tile at (m*ty, m*tx)
    of the zero-padded input. x (N, C, H, W) is first copied channels-last into the padded xh
    (N, rows, cols, C) by torch, whose strided copies are parallel; xh's border stays zero."""
    embed_channels_last(x, xh, *pad)
    INPUT_TRANSFORMS[m](xh, V, tiles_h, tiles_w)


def output_transform(m: int, M, yh, out, tiles_h: int, tiles_w: int) -> None:
    """out[b, k, m*ty + i, m*tx + j] = (A^T M[:, t, k] A)[i, j], cropped to out; through the
    channels-last yh (N, P, Q, K), copied back to out's (N, K, P, Q)."""
    OUTPUT_TRANSFORMS[m](M, yh, tiles_h, tiles_w)
    to_channels_first(yh, out)
