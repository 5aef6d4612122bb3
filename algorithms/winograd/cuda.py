"""Winograd F(m x m, 3x3) on the GPU, m = 2, 4 or 6: four Numba CUDA kernels.

filter transform U = G g G^T (a thread per filter) -> input transform
V = B^T d B (a thread per channel and tile, reading the input with its zero
padding in place) -> 16 (K x C)(C x T) products (the tiled shared-memory
batched GEMM of algorithms/cuda_gemm.py) -> output transform A^T m A (a thread
per filter and tile, cropping the half tile an odd P or Q leaves).

Not fused: the transforms are a small share of the FLOPs, and keeping V and M
in global memory lets the GEMM use its own tiling. The kernels here are F(2x2)'s,
unrolled; F(4x4) and F(6x6) run cuda_matrices.py's, which loop over the matrices,
with the same layouts and the same GEMM (36 and 64 products instead of 16).
"""
from __future__ import annotations

from numba import cuda, float32

import numpy as np

from ..cuda_gemm import batched_gemm
from ..gpu import CudaPlan, blocks, empty, from_host
from ..gpu.gradients import REDUCTION_THREADS
from .cook_toom import winograd_matrices
from .cpu import check_tile, check_winograd_spec, winograd_supports
from . import cuda_matrices
from .f2x2 import at_combine, bt_combine, make_output_tile_writer


@cuda.jit(device=True, inline=True)
def _g_apply(g0, g1, g2):
    return g0, (g0 + g1 + g2) * float32(0.5), (g0 - g1 + g2) * float32(0.5), g2


# the CPU's definitions of the B^T and A^T algebra (transforms.py), compiled for the GPU
_bt_apply = cuda.jit(device=True, inline=True)(bt_combine)
_at_apply = cuda.jit(device=True, inline=True)(at_combine)
_write_output_tile = cuda.jit(device=True, inline=True)(make_output_tile_writer(_at_apply))


@cuda.jit
def filter_transform_kernel(w, U):
    """U[i*4 + j, k, c] = (G w[k, c] G^T)[i, j]; one thread per (k, c)."""
    K, C = w.shape[0], w.shape[1]
    index = cuda.grid(1)
    if index >= K * C:
        return
    k = index // C
    c = index % C
    a00, a10, a20, a30 = _g_apply(w[k, c, 0, 0], w[k, c, 1, 0], w[k, c, 2, 0])
    a01, a11, a21, a31 = _g_apply(w[k, c, 0, 1], w[k, c, 1, 1], w[k, c, 2, 1])
    a02, a12, a22, a32 = _g_apply(w[k, c, 0, 2], w[k, c, 1, 2], w[k, c, 2, 2])
    U[0, k, c], U[1, k, c], U[2, k, c], U[3, k, c] = _g_apply(a00, a01, a02)
    U[4, k, c], U[5, k, c], U[6, k, c], U[7, k, c] = _g_apply(a10, a11, a12)
    U[8, k, c], U[9, k, c], U[10, k, c], U[11, k, c] = _g_apply(a20, a21, a22)
    U[12, k, c], U[13, k, c], U[14, k, c], U[15, k, c] = _g_apply(a30, a31, a32)


@cuda.jit
def input_transform_kernel(x, V, pad_h, pad_w, tiles_h, tiles_w):
    """V[i*4 + j, c, t] = (B^T d B)[i, j] for tile t = (n, ty, tx); d is read from x
    with zeros where the 4x4 tile lies in the padding or past the input."""
    N, C, H, W = x.shape
    t, c = cuda.grid(2)  # t fastest: neighbouring threads write neighbouring V entries
    if t >= N * tiles_h * tiles_w or c >= C:
        return
    n = t // (tiles_h * tiles_w)
    ty = (t // tiles_w) % tiles_h
    tx = t % tiles_w
    d = cuda.local.array((4, 4), float32)
    for i in range(4):
        row = 2 * ty + i - pad_h
        for j in range(4):
            col = 2 * tx + j - pad_w
            d[i, j] = x[n, c, row, col] if row >= 0 and row < H and col >= 0 and col < W else float32(0.0)
    # B^T d: rows combined, a column at a time; then (B^T d) B: columns combined, a row at a time
    b = cuda.local.array((4, 4), float32)
    for j in range(4):
        b[0, j], b[1, j], b[2, j], b[3, j] = _bt_apply(d[0, j], d[1, j], d[2, j], d[3, j])
    for i in range(4):
        V[4 * i, c, t], V[4 * i + 1, c, t], V[4 * i + 2, c, t], V[4 * i + 3, c, t] = \
            _bt_apply(b[i, 0], b[i, 1], b[i, 2], b[i, 3])


@cuda.jit
def output_transform_kernel(M, out, tiles_h, tiles_w):
    """out[n, k, 2*ty + i, 2*tx + j] = (A^T m A)[i, j]; one thread per (k, tile)."""
    N, K = out.shape[0], out.shape[1]
    t, k = cuda.grid(2)
    if t >= N * tiles_h * tiles_w or k >= K:
        return
    n = t // (tiles_h * tiles_w)
    ty = (t // tiles_w) % tiles_h
    tx = t % tiles_w
    _write_output_tile(M, out, n, k, t, 2 * ty, 2 * tx)


class WinogradCUDA(CudaPlan):
    algorithm = "winograd"
    dilation_needs = "adjacent taps (its tiles overlap by R - 1 = 2)"
    supports = classmethod(lambda cls, spec, **options: winograd_supports(spec))

    def __init__(self, spec, tile: int = 2, block: int = 256, transform_block=(32, 8), gemm_tile: int = 32,
                 gemm_rows_per_thread: int = 8, reduction_threads: int = REDUCTION_THREADS):
        self.tile = check_tile(tile)
        self.reduction_threads = reduction_threads
        check_winograd_spec(spec, self.tile)
        super().__init__(spec)
        self.block = block
        self.transform_block = tuple(transform_block)
        self.gemm_tile = gemm_tile
        self.gemm_rows_per_thread = gemm_rows_per_thread
        self.tiles_h = -(-spec.P // tile)
        self.tiles_w = -(-spec.Q // tile)
        self.tiles = spec.N * self.tiles_h * self.tiles_w
        n2 = (tile + 2) ** 2
        self._U = empty((n2, spec.K, spec.C))
        self._V = empty((n2, spec.C, self.tiles))
        self._M = empty((n2, spec.K, self.tiles))
        if tile != 2:
            AT, G, BT = (from_host(a) for a in winograd_matrices(tile).as_arrays(np.float32))
            self._matrices = {"AT": AT, "G": G, "BT": BT}
            self._filter_kernel = cuda_matrices.filter_transform_kernel(tile)
            self._input_kernel = cuda_matrices.input_transform_kernel(tile)
            self._output_kernel = cuda_matrices.output_transform_kernel(tile)

    def _grid2(self, rows: int):
        bx, by = self.transform_block
        return (blocks(self.tiles, bx), blocks(rows, by)), (bx, by)

    def transform_filter(self, w):
        count = self.spec.K * self.spec.C
        if self.tile == 2:
            self._launch(filter_transform_kernel, count, w, self._U)
        else:
            self._launch(self._filter_kernel, count, w, self._matrices["G"], self._U)
        return self._U

    def transform_input(self, x) -> None:
        spec = self.spec
        grid, block = self._grid2(spec.C)
        if self.tile == 2:
            input_transform_kernel[grid, block](x, self._V, spec.pad_h, spec.pad_w, self.tiles_h, self.tiles_w)
        else:
            self._input_kernel[grid, block](x, self._matrices["BT"], self._V, spec.pad_h, spec.pad_w,
                                            self.tiles_h, self.tiles_w)

    def contract(self, U) -> None:
        batched_gemm(U, self._V, self._M, self.gemm_tile, self.gemm_rows_per_thread)

    def transform_output(self, out) -> None:
        grid, block = self._grid2(self.spec.K)
        if self.tile == 2:
            output_transform_kernel[grid, block](self._M, out, self.tiles_h, self.tiles_w)
        else:
            self._output_kernel[grid, block](self._M, self._matrices["AT"], out, self.tiles_h, self.tiles_w)
