"""Winograd F(m x m, 3x3) transforms on the GPU for any tile m, from cook_toom.py's matrices.

F(2x2) keeps its unrolled, multiply-free algebra (cuda.py); the larger tiles
(m = 4, 6: n = m + 2 = 6, 8) have fractional entries, so these kernels read
G, B^T and A^T from small device arrays and loop over them, with the tile in
registers (local arrays of compile-time size n x n). The layouts are cuda.py's:
U (n^2, K, C), V (n^2, C, tiles), M (n^2, K, tiles).
"""
from __future__ import annotations

from functools import lru_cache

from numba import cuda, float32


@lru_cache(maxsize=None)
def filter_transform_kernel(m: int):
    n = m + 2

    @cuda.jit
    def kernel(w, G, U):
        """U[i*n + j, k, c] = (G w[k, c] G^T)[i, j]; one thread per (k, c)."""
        K, C = w.shape[0], w.shape[1]
        index = cuda.grid(1)
        if index >= K * C:
            return
        k = index // C
        c = index % C
        left = cuda.local.array((n, 3), float32)  # G w
        for i in range(n):
            for b in range(3):
                value = float32(0.0)
                for a in range(3):
                    value += G[i, a] * w[k, c, a, b]
                left[i, b] = value
        for i in range(n):
            for j in range(n):
                value = float32(0.0)
                for b in range(3):
                    value += left[i, b] * G[j, b]
                U[i * n + j, k, c] = value

    return kernel


@lru_cache(maxsize=None)
def input_transform_kernel(m: int):
    n = m + 2

    @cuda.jit
    def kernel(x, BT, V, pad_h, pad_w, tiles_h, tiles_w):
        """V[i*n + j, c, t] = (B^T d B)[i, j], d the n x n tile at (m*ty - pad_h, m*tx - pad_w) of x,
        zero outside it; one thread per (tile, channel), tiles fastest."""
        N, C, H, W = x.shape
        t, c = cuda.grid(2)
        if t >= N * tiles_h * tiles_w or c >= C:
            return
        b = t // (tiles_h * tiles_w)
        top = ((t // tiles_w) % tiles_h) * m - pad_h
        left = (t % tiles_w) * m - pad_w
        d = cuda.local.array((n, n), float32)
        for i in range(n):
            for j in range(n):
                row, col = top + i, left + j
                d[i, j] = x[b, c, row, col] if 0 <= row < H and 0 <= col < W else float32(0.0)
        rows = cuda.local.array((n, n), float32)  # B^T d
        for i in range(n):
            for j in range(n):
                value = float32(0.0)
                for a in range(n):
                    value += BT[i, a] * d[a, j]
                rows[i, j] = value
        for i in range(n):
            for j in range(n):
                value = float32(0.0)
                for a in range(n):
                    value += rows[i, a] * BT[j, a]
                V[i * n + j, c, t] = value

    return kernel


@lru_cache(maxsize=None)
def output_transform_kernel(m: int):
    n = m + 2

    @cuda.jit
    def kernel(M, AT, out, tiles_h, tiles_w):
        """out[b, k, m*ty + i, m*tx + j] = (A^T M[:, k, t] A)[i, j], cropped to out; one thread per (tile, k)."""
        N, K, P, Q = out.shape
        t, k = cuda.grid(2)
        if t >= N * tiles_h * tiles_w or k >= K:
            return
        b = t // (tiles_h * tiles_w)
        top = ((t // tiles_w) % tiles_h) * m
        left = (t % tiles_w) * m
        rows = cuda.local.array((m, n), float32)  # A^T M
        for i in range(m):
            for j in range(n):
                value = float32(0.0)
                for a in range(n):
                    value += AT[i, a] * M[a * n + j, k, t]
                rows[i, j] = value
        for i in range(m):
            if top + i < P:
                for j in range(m):
                    if left + j < Q:
                        value = float32(0.0)
                        for a in range(n):
                            value += rows[i, a] * AT[j, a]
                        out[b, k, top + i, left + j] = value

    return kernel
