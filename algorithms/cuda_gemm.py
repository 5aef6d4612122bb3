"""A batched, tiled shared-memory matrix product in Numba CUDA: C[b] = A[b] @ B[b].

Each block computes a tile x tile block of one C[b]; it walks the inner
dimension a tile at a time, staging the matching tiles of A and B in shared
memory, and each thread accumulates rows_per_thread outputs of one column
(rows tid_y, tid_y + tile/rows_per_thread, ...), so a value read from the B
tile serves rows_per_thread products.
"""
from __future__ import annotations

from functools import lru_cache

from numba import cuda, float32

from .gpu import blocks


@lru_cache(maxsize=None)
def batched_gemm_kernel(tile: int, rows_per_thread: int):
    if tile % rows_per_thread:
        raise ValueError(f"tile ({tile}) must be a multiple of rows_per_thread ({rows_per_thread})")
    row_step = tile // rows_per_thread

    @cuda.jit
    def kernel(A, B, C):
        b = cuda.blockIdx.z
        rows, inner, cols = A.shape[1], A.shape[2], B.shape[2]
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        i0 = cuda.blockIdx.y * tile
        j = cuda.blockIdx.x * tile + tx
        a_tile = cuda.shared.array((tile, tile), float32)
        b_tile = cuda.shared.array((tile, tile), float32)
        acc = cuda.local.array(rows_per_thread, float32)
        for r in range(rows_per_thread):
            acc[r] = 0.0
        for l0 in range(0, inner, tile):
            for r in range(rows_per_thread):
                row = ty + r * row_step
                value = float32(0.0)
                if i0 + row < rows and l0 + tx < inner:
                    value = A[b, i0 + row, l0 + tx]
                a_tile[row, tx] = value
                value = float32(0.0)
                if l0 + row < inner and j < cols:
                    value = B[b, l0 + row, j]
                b_tile[row, tx] = value
            cuda.syncthreads()
            for l in range(tile):
                b_value = b_tile[l, tx]
                for r in range(rows_per_thread):
                    acc[r] += a_tile[ty + r * row_step, l] * b_value
            cuda.syncthreads()
        if j < cols:
            for r in range(rows_per_thread):
                i = i0 + ty + r * row_step
                if i < rows:
                    C[b, i, j] = acc[r]

    return kernel


def batched_gemm(A, B, C, tile: int = 32, rows_per_thread: int = 4) -> None:
    """C[b] = A[b] @ B[b] for device arrays A (batch, m, k), B (batch, k, n), C (batch, m, n)."""
    grid = (blocks(B.shape[2], tile), blocks(A.shape[1], tile), A.shape[0])
    batched_gemm_kernel(tile, rows_per_thread)[grid, (tile, tile // rows_per_thread)](A, B, C)
