"""Winograd F(m x m, 3 x 3) on the CPU: the three transforms, for any tile from cook_toom.py.

Y = A^T [ (G g G^T) . (B^T d B) ] A  for a 3x3 filter g and an n x n input
tile d (n = m + 2), tiles overlapping by 2. The filter transform is one GEMM
with kron(G, G); the input and output transforms are Numba kernels unrolled
from the exact matrices, one per tile (kernels.py, written by codegen.py).
"""
from __future__ import annotations

import numpy as np

from ..blas import matmul
from .kernels import INPUT_TRANSFORMS, OUTPUT_TRANSFORMS


def filter_transform(w: np.ndarray, GG: np.ndarray, out: np.ndarray) -> np.ndarray:
    """U[i*n + j, k, c] = (G w[k, c] G^T)[i, j], laid out as n^2 (K, C) matrices.

    GG = kron(G, G), (n^2, 9). One (n^2, 9) x (9, K·C) GEMM: memory-bound, and
    BLAS streams it well (F(2x2) on ResNet-18's 512x512 layer: 1.7 ms; a Numba
    loop storing the 16 planes took 6 ms, numpy's einsum 39 ms).
    """
    K, C = w.shape[:2]
    matmul(GG, w.reshape(K * C, 9).T, out=out.reshape(GG.shape[0], K * C))
    return out


def input_transform(m: int, xp, V, tiles_h: int, tiles_w: int, strips) -> None:
    """V[i*n + j, c, t] = (B^T d B)[i, j] for tile t = (b, ty, tx): d = xp[b, c, m*ty:m*ty+n, m*tx:m*tx+n]."""
    INPUT_TRANSFORMS[m](xp, V, tiles_h, tiles_w, strips)


def output_transform(m: int, M, out, tiles_h: int, tiles_w: int, rows) -> None:
    """out[b, k, m*ty + i, m*tx + j] = (A^T M[:, k, t] A)[i, j], cropped to out."""
    OUTPUT_TRANSFORMS[m](M, out, tiles_h, tiles_w, rows)
