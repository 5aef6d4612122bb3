"""Winograd F(2x2, 3x3): the matrices and the three transforms.

Y = A^T [ (G g G^T) . (B^T d B) ] A  for a 3x3 filter g and a 4x4 input tile d.

The seed's slide prints G with its middle rows swapped (and its m3 formula as
(g0 - (g1 + g2)) / 2). Paired with its own B^T that does not reproduce direct
convolution; the G below (Lavin & Gray) does, and
tests/test_winograd.py checks it on a single tile in float64.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..blas import matmul

TILE_IN = 4   # m + r - 1
TILE_OUT = 2  # m

BT = np.array([[1, 0, -1, 0],
               [0, 1, 1, 0],
               [0, -1, 1, 0],
               [0, 1, 0, -1]], dtype=np.float64)

G = np.array([[1.0, 0.0, 0.0],
              [0.5, 0.5, 0.5],
              [0.5, -0.5, 0.5],
              [0.0, 0.0, 1.0]], dtype=np.float64)

AT = np.array([[1, 1, 1, 0],
               [0, 1, -1, -1]], dtype=np.float64)


FILTER_TRANSFORM = np.kron(G, G)  # (16, 9): U[4i + j] = sum_rs G[i, r] G[j, s] g[r, s]


def filter_transform(w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """U[i*4 + j, k, c] = (G w[k, c] G^T)[i, j], laid out as 16 (K, C) matrices.

    One (16, 9) x (9, K·C) GEMM: memory-bound, and BLAS streams it well
    (1.7 ms on ResNet-18's 512x512 layer; a Numba loop storing the 16 planes
    took 6 ms, numpy's einsum 39 ms).
    """
    K, C = w.shape[:2]
    U = np.empty((16, K, C), dtype=w.dtype) if out is None else out
    matmul(FILTER_TRANSFORM.astype(w.dtype), w.reshape(K * C, 9).T, out=U.reshape(16, K * C))
    return U


# The combinations below are plain Python, compiled here for the CPU and in
# cuda.py for the GPU, so both backends run one definition of the algebra.

def bt_combine(d0, d1, d2, d3):
    """B^T d for one column of 4: rows of B^T written out, no multiplies."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


def at_combine(m0, m1, m2, m3):
    """A^T m for one column of 4."""
    return m0 + m1 + m2, m1 - m2 - m3


def make_output_tile_writer(at_apply):
    """write(M, out, n, k, t, p, q): out[n, k, p:p+2, q:q+2] = A^T m A for tile t of M,
    skipping the row or column that an odd P or Q leaves outside out.
    at_apply is at_combine compiled for the target that compiles the writer."""
    def write_output_tile(M, out, n, k, t, p, q):
        P, Q = out.shape[2], out.shape[3]
        # A^T m: combine rows of the 4x4 tile, one column at a time
        b00, b10 = at_apply(M[0, k, t], M[4, k, t], M[8, k, t], M[12, k, t])
        b01, b11 = at_apply(M[1, k, t], M[5, k, t], M[9, k, t], M[13, k, t])
        b02, b12 = at_apply(M[2, k, t], M[6, k, t], M[10, k, t], M[14, k, t])
        b03, b13 = at_apply(M[3, k, t], M[7, k, t], M[11, k, t], M[15, k, t])
        y00, y01 = at_apply(b00, b01, b02, b03)
        y10, y11 = at_apply(b10, b11, b12, b13)
        out[n, k, p, q] = y00
        if q + 1 < Q:
            out[n, k, p, q + 1] = y01
        if p + 1 < P:
            out[n, k, p + 1, q] = y10
            if q + 1 < Q:
                out[n, k, p + 1, q + 1] = y11
    return write_output_tile


_bt_apply = njit(inline="always")(bt_combine)
_at_apply = njit(inline="always")(at_combine)
_write_output_tile = njit(inline="always")(make_output_tile_writer(_at_apply))


@njit(parallel=True, cache=True)
def input_transform(xp, V, tiles_h, tiles_w, strips):
    """V[i*4 + j, c, t] = (B^T d B)[i, j] for tile t = (n, ty, tx) of xp[n, c].

    strips: scratch of shape (N*C, 4, xp.shape[3]), so no plane allocates.

    Tiles are 4x4 and overlap by 2; xp must hold 2*tiles + 2 rows and columns.
    B^T d is done for a whole strip of 4 rows at once (contiguous, so it
    vectorises), then the column combinations write each V plane in order:
    2-5x faster than tile by tile on this machine.
    """
    N, C = xp.shape[0], xp.shape[1]
    width = xp.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        image = xp[n, c]
        strip = strips[nc]
        for ty in range(tiles_h):
            d0, d1, d2, d3 = image[2 * ty], image[2 * ty + 1], image[2 * ty + 2], image[2 * ty + 3]
            for x in range(width):
                strip[0, x], strip[1, x], strip[2, x], strip[3, x] = _bt_apply(d0[x], d1[x], d2[x], d3[x])
            t0 = (n * tiles_h + ty) * tiles_w
            for i in range(4):
                row = strip[i]
                v0, v1, v2, v3 = V[4 * i, c], V[4 * i + 1, c], V[4 * i + 2, c], V[4 * i + 3, c]
                for tx in range(tiles_w):
                    x = 2 * tx
                    v0[t0 + tx], v1[t0 + tx], v2[t0 + tx], v3[t0 + tx] = _bt_apply(row[x], row[x + 1], row[x + 2], row[x + 3])


@njit(parallel=True, cache=True)
def output_transform(M, out, tiles_h, tiles_w):
    """out[n, k, 2*ty + i, 2*tx + j] = (A^T m A)[i, j], skipping the row or column
    that an odd P or Q leaves outside the output."""
    N, K = out.shape[0], out.shape[1]
    for nk in prange(N * K):
        n = nk // K
        k = nk % K
        for ty in range(tiles_h):
            for tx in range(tiles_w):
                t = (n * tiles_h + ty) * tiles_w + tx
                _write_output_tile(M, out, n, k, t, 2 * ty, 2 * tx)
