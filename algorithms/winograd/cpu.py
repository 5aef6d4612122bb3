"""Winograd F(m x m, 3x3) on the CPU, m = 2, 4 or 6: Numba transforms around (m+2)^2 BLAS matrix products."""
from __future__ import annotations

import numpy as np
import torch

from convbench.core.arrays import aligned_empty, aligned_zeros
from convbench.core.errors import ConvError
from convbench.core import selection
from convbench.core.selection import (winograd_filter_block, winograd_thread_filters, winograd_thread_gradient,
                                      winograd_thread_rows, winograd_tile_rows)

from .. import blas
from ..base import StagedPlan
from ..blas import copy, diagonal_blocks, grouped_product, matmul
from ..work import FLOAT, Work, gemm_flops
from .by_threads import FiltersByThread, RowsByThread
from .cook_toom import TILES, winograd_matrices
from .filter_gradient import filter_gradient_transform, gradient_transform
from .kernels import INPUT_FROM_NCHW, OUTPUT_TO_NCHW
from .transforms import (filter_transform, filter_transform_block, filter_transform_channel_major, finish_output,
                         flipped_filter_transform, input_source, input_transform, inverse_tile_rows, output_sink,
                         output_transform, transform_tile_rows)


def winograd_supports(spec) -> bool:
    return (spec.R, spec.S) == (3, 3) and spec.stride == (1, 1)


def check_winograd_spec(spec, tile: int = 2) -> None:
    if not winograd_supports(spec):
        raise ConvError(f"algorithm='winograd': Winograd F({tile}x{tile},3x3) needs a 3x3 filter and stride 1; "
                        f"got w filter {spec.R}x{spec.S} and stride {spec.stride}")


def check_tile(tile) -> int:
    if tile not in TILES:
        raise ConvError(f"tile must be one of {', '.join(map(str, TILES))} (the m of Winograd F(m x m, 3x3)); "
                        f"got tile={tile!r}")
    return tile


class WinogradCPU(StagedPlan):
    """Stages, each a method so it can be timed alone: filter transform G g G^T ->
    input transform B^T d B -> n^2 (T x C)(C x K) GEMMs -> output transform A^T m A,
    with n = tile + 2 and T the number of tile x tile output tiles.

    tile=2 (the default, the mission's F(2x2,3x3)) spends 16 multiplies per 4
    outputs, tile=4 36 per 16, tile=6 64 per 36; the error against float64
    grows with the tile (the matrices' entries grow with the points).

    Where the transformed filters outgrow the caches (many channels, big tiles: selection.
    winograd_filter_block), a call runs the filter transform and the contraction by blocks of
    filters, each block multiplied while its transform is still in cache. Where the transformed
    inputs do (big images, few channels: selection.winograd_tile_rows), it runs the input
    transform, the contraction and the output transform by blocks of tile rows, each block's
    transforms multiplied and inverted while in cache. Where the GEMMs run on oneDNN 2 with two threads or
    more (selection.winograd_thread_rows), a forward's stages are not shared among the threads at all: each
    thread runs its own rows of tiles through all three (by_threads.py). stages() times the separate stages
    all the same.
    """

    algorithm = "winograd"
    backend = "cpu"
    takes_groups = True  # the contraction runs the diagonal blocks only (grouped_product)
    dilation_needs = "adjacent taps (its tiles overlap by R - 1 = 2)"
    supports = classmethod(lambda cls, spec, **options: winograd_supports(spec))

    @classmethod
    def planned_bytes(cls, spec, tile: int = 2, **options) -> int:
        """The transformed tiles of the inputs and outputs and the transformed filters (float32), as __init__
        and the first call make them (without groups and filter blocks, w's channel-major copy too)."""
        if not isinstance(tile, int) or tile < 1:
            return 0  # refused by check_tile, by name
        n, tiles = tile + 2, spec.N * -(-spec.P // tile) * -(-spec.Q // tile)
        block = winograd_filter_block(n * n, spec.K, spec.C_per_group, spec.groups)
        filters = spec.K * spec.C_per_group if block == spec.K else block * (spec.C_per_group + tiles)
        by_channel = 9 * spec.K * spec.C if block == spec.K and spec.groups == 1 else 0
        return (n * n * (tiles * (spec.C + spec.K) + filters) + by_channel) * 4

    def __init__(self, spec, tile: int = 2):
        self.tile = check_tile(tile)
        check_winograd_spec(spec, self.tile)
        super().__init__(spec)
        self.spreads_non_finite = f"its whole {tile}x{tile} output tile, in every output channel"
        n = tile + 2
        G = winograd_matrices(tile).as_arrays(np.float32)[1]
        self._GG = np.kron(G, G)
        self.tiles_h = -(-spec.P // tile)
        self.tiles_w = -(-spec.Q // tile)
        tiles = spec.N * self.tiles_h * self.tiles_w
        # channels-last copies, for the tiles whose kernels do not read (write) NCHW (transforms.input_source):
        # padded so that the last tile is whole where the tile does not divide the output
        self._xh = (None if tile in INPUT_FROM_NCHW else
                    aligned_zeros((spec.N, tile * self.tiles_h + 2, tile * self.tiles_w + 2, spec.C)))
        self._yh = None if tile in OUTPUT_TO_NCHW else aligned_empty((spec.N, spec.P, spec.Q, spec.K))
        self._V = aligned_empty((n * n, tiles, spec.C))
        self._M = aligned_empty((n * n, tiles, spec.K))
        self._U = None  # all the transformed filters: made by transform_filter, which a blocked call skips
        self.filter_block = winograd_filter_block(n * n, spec.K, spec.C_per_group, spec.groups)
        if self.filter_block < spec.K:  # one block of transformed filters, and its product
            self._U_block = aligned_empty(n * n * self.filter_block * spec.C)
            self._M_block = aligned_empty(n * n * tiles * self.filter_block)
        self.tile_rows = winograd_tile_rows(n * n, self.tiles_w, spec.N * self.tiles_h, spec.C,
                                            self.filter_block < spec.K, spec.groups, blas.engine())

    def stage_work(self) -> dict:
        """The transforms counted as the dense products they are written as (G g G^T by the
        (n^2 x 9) Kronecker matrix; B^T d B and A^T m A as two small matrix products each)."""
        spec, m = self.spec, self.tile
        n = m + 2
        tiles, Cg = self._V.shape[1], spec.C_per_group
        V, M = (FLOAT * a.size for a in (self._V, self._M))
        U = FLOAT * n * n * spec.K * Cg
        return {"filter transform": Work(FLOAT * spec.K * Cg * 9 + U, gemm_flops(n * n, spec.K * Cg, 9)),
                "input transform": Work(FLOAT * spec.N * spec.C * spec.H * spec.W + V,
                                        tiles * spec.C * (gemm_flops(n, n, n) * 2)),
                "contraction": Work(V + U + M, n * n * gemm_flops(tiles, spec.K, Cg)),
                "output transform": Work(M + FLOAT * spec.N * spec.K * spec.P * spec.Q,
                                         tiles * spec.K * (gemm_flops(m, n, n) + gemm_flops(m, m, n)))}

    def transform_filter(self, w):
        """U (n^2, K, C/groups); without groups a view of a channel-major buffer (n^2, C, K), as the
        contraction's GEMMs read it."""
        n, spec = self.tile + 2, self.spec
        if spec.groups > 1:
            if self._U is None:
                self._U = aligned_empty((n * n, spec.K, spec.C_per_group))
            return filter_transform(w, self._GG, self._U)
        if self._U is None:
            self._U, self._w_by_channel = aligned_empty((n * n, spec.C, spec.K)), aligned_empty((spec.C, spec.K, 3, 3))
        return filter_transform_channel_major(w, self._GG, self._U, self._w_by_channel)

    def run(self, x, w, out, flipped: bool = False):
        """The forward; flipped: of DataGradient.flipped(w), read from w, the forward's filter of the convolution
        whose data gradient this plan computes (no groups)."""
        if self.filter_block < self.spec.K:
            by_thread = self._by_thread_filters()
            if not (by_thread and by_thread.own_input):
                self.transform_input(x)
            if by_thread:
                by_thread.forward(x, self._xh, self._yh, self._V, w, flipped, out, self.spec.padding)
                self._V_holds_input = not by_thread.own_input
                return
            self.contract_by_filter_blocks(w, flipped)
            self.transform_output(out)
        elif flipped:
            self.run_stages(x, self._transform_flipped_filter(w), out)
        else:
            super().run(x, w, out)

    def run_stages(self, x, transformed_filter, out) -> None:
        by_thread = self._by_thread()
        if by_thread:
            by_thread.forward(x, self._xh, self._yh, transformed_filter.transpose(0, 2, 1), out, self.spec.padding)
            self._V_holds_input = False
            return
        if self.tile_rows == self.spec.N * self.tiles_h:
            super().run_stages(x, transformed_filter, out)
            return
        self.run_by_tile_blocks(x, transformed_filter, out)

    def _by_thread(self) -> RowsByThread | None:
        """Where each thread runs its own rows of tiles through the stages (selection.winograd_thread_rows), the
        runner for this pool's blocks (by_threads.py), made on the first call that takes it; else None."""
        spec = self.spec
        block = winograd_thread_rows(self._V.shape[0], self.tiles_w, spec.N * self.tiles_h, spec.C, spec.K,
                                     self.filter_block < spec.K, spec.groups, blas.engine(), torch.get_num_threads())
        if not block:
            return None
        runner = getattr(self, "_rows_by_thread", None)
        if runner is None or runner.block != block:
            runner = self._rows_by_thread = RowsByThread(self.tile, self._V.shape[0], spec.C, spec.K, self.tiles_h,
                                                         self.tiles_w, spec.N * self.tiles_h, block)
        return runner

    def _by_thread_filters(self) -> FiltersByThread | None:
        """Where each thread runs its own share of the blocked filters (selection.winograd_thread_filters), the
        runner for this pool's blocks (by_threads.py), made on the first call that takes it; else None."""
        spec = self.spec
        block = winograd_thread_filters(self._V.shape[0], spec.C, spec.K, self.filter_block < spec.K, spec.groups,
                                        blas.engine(), torch.get_num_threads())
        if not block:
            return None
        own_input = selection.WINOGRAD_THREAD_FILTERS_OWN_INPUT
        runner = getattr(self, "_filters_by_thread", None)
        if runner is None or (runner.block, runner.own_input) != (block, own_input):
            runner = self._filters_by_thread = FiltersByThread(self.tile, self._V.shape[0], spec.C, spec.K,
                                                               self.tiles_h, self.tiles_w, spec.N * self.tiles_h,
                                                               block, own_input)
        return runner

    def run_by_tile_blocks(self, x, U, out) -> None:
        """The input transform, the contraction and the output transform of a block of tile rows at a time,
        the block's transforms (in the first bytes of V and M) still in cache from one stage to the next: the
        same products as the stages (results/records/implementation-choices.json, row winograd-tile-blocks).
        V then holds the last block only, so a backward-filter pass transforms x again."""
        m, dst, filters = self.tile, output_sink(self.tile, out, self._yh), U.transpose(0, 2, 1)
        for first, last, V, M in self._input_by_tile_blocks(x, self._M):
            matmul(V, filters, out=M)
            inverse_tile_rows(m, M, dst, self.tiles_h, self.tiles_w, first, last)
        finish_output(m, self._yh, out)

    def _input_by_tile_blocks(self, x, products: np.ndarray):
        """For each block of tile rows, (first row, last row + 1, V, P): the block's input transform, made, in the
        first bytes of V, and a view of the first bytes of products (points, the block's tiles, its last axis)
        for what the block's products write. V holds no whole transform afterwards."""
        spec, m = self.spec, self.tile
        points, rows = self._V.shape[0], spec.N * self.tiles_h
        src = input_source(m, x, self._xh, spec.padding)
        for first in range(0, rows, self.tile_rows):
            last = min(rows, first + self.tile_rows)
            tiles = (last - first) * self.tiles_w
            V = self._V.reshape(-1)[:points * tiles * spec.C].reshape(points, tiles, spec.C)
            transform_tile_rows(m, src, V, self.tiles_h, self.tiles_w, first, last, spec.padding)
            yield first, last, V, products.reshape(-1)[:points * tiles * products.shape[-1]].reshape(points, tiles, -1)
        self._V_holds_input = False

    def contract_by_filter_blocks(self, w, flipped: bool = False) -> None:
        """M[:, :, block] = V @ U[:, block]^T for each block of filters, U[:, block] transformed just before
        (the same products as transform_filter then contract, with the transformed filters never all in
        memory at once: results/records/implementation-choices.json, row winograd-filter-blocks).
        flipped: w is the forward's filter of the convolution whose data gradient this plan computes."""
        points, tiles, C = self._V.shape
        for k0 in range(0, self.spec.K, self.filter_block):
            block = min(self.filter_block, self.spec.K - k0)
            U = self._U_block[:points * block * C].reshape(points, block, C)
            M = self._M_block[:points * tiles * block].reshape(points, tiles, block)
            filter_transform_block(self.tile, w, k0, U, flipped)
            matmul(self._V, U.transpose(0, 2, 1), out=M)
            copy(self._M[:, :, k0:k0 + block], M)

    def _backward_data(self, dy, w, reuse_forward=False):
        """The forward pass of the data-gradient problem (Plan._backward_data), its filter transform reading
        the forward's w with its taps reversed and its channels swapped: without groups, no flipped copy
        of w is made (it took a fifth of the pass on 512 x 512 filters: results/records/
        implementation-choices.json, row winograd-data-gradient-flipped-transform)."""
        if self.spec.groups > 1:
            return super()._backward_data(dy, w, reuse_forward)
        problem, forward = self._data_gradient_plan()
        dx = aligned_empty(problem.spec.output_shape)
        forward.run(problem.prepare(dy), w, dx, flipped=True)
        return dx

    def _transform_flipped_filter(self, w):
        """flipped_filter_transform into this plan's own buffers, made on the first call."""
        if getattr(self, "_U_flipped", None) is None:
            n = self.tile + 2
            self._U_flipped = aligned_empty((n * n, self.spec.C, self.spec.K))
            self._GG_reversed = np.ascontiguousarray(self._GG[:, ::-1])
        return flipped_filter_transform(w, self._GG_reversed, self._U_flipped)

    def transform_input(self, x):
        input_transform(self.tile, x, self._xh, self._V, self.tiles_h, self.tiles_w, self.spec.padding)
        self._V_holds_input = True

    def contract(self, U):
        # M[i] (tiles x K) = V[i] (tiles x C) @ U[i]^T, its diagonal blocks only with groups
        grouped_product(self._V, U, self.spec.groups, out=self._M)

    def transform_output(self, out):
        output_transform(self.tile, self._M, self._yh, out, self.tiles_h, self.tiles_w)

    # -- backward-filter: Winograd F(3x3, m x m) (Lavin & Gray, section 5) -----------------
    def _backward_filter(self, x, dy, reuse_forward=False):
        """dw[k, c] = sum over tiles t of A'^T [ (G' dy_t G'^T) . (B^T x_t B) ] A', with F(3, m)'s
        matrices from the same points: its B^T is the forward's (it depends on the points only),
        so x_t's transform is the forward's input transform; dy_t is the m x m block of dy that
        tile t's outputs received, and the sum over tiles is one (K x T)(T x C) GEMM per point
        (with groups, its diagonal blocks only): filter_gradient.py. Without groups the GEMMs and
        A' run by the forward's blocks of filters, each block's products transformed while in cache.
        (Backward-data needs nothing of its own: it is this plan's forward pass with the filter
        flipped and channel-swapped, Plan._backward_data.)"""
        spec, m = self.spec, self.tile
        if self._D is None:  # dy's transform
            n = m + 2
            self._D = aligned_empty((n * n, self._V.shape[1], spec.K))
        dw = aligned_empty((spec.K, spec.C_per_group, 3, 3))
        taps = dw.reshape(spec.K, spec.C_per_group, 9)
        rows = spec.N * self.tiles_h
        reused = reuse_forward and self._V_holds_input
        by_thread = (not reused and winograd_thread_gradient(self._V.shape[0], spec.C, spec.K)
                     and self._by_thread())
        if by_thread:  # each thread its own rows' transforms and their sum (by_threads.py)
            by_thread.filter_gradient(x, self._xh, dy, taps, spec.padding)
            return dw
        if not reused and self.tile_rows < rows and self.filter_block == spec.K and spec.groups == 1:
            filter_gradient_transform(m, self._gradient_by_tile_blocks(x, dy), taps, 0)
            return dw
        # (Plan._check_reuse saw that the last forward was on this x, its buffers intact; one run by
        # blocks of tile rows left only its last block's transform)
        if not reused:
            self.transform_input(x)  # V (n^2, T, C) = B^T x_t B; else the forward's, still in its buffer
        gradient_transform(m, dy, self._D, self.tiles_h, self.tiles_w, 0, rows)
        by_filter = self._D.transpose(0, 2, 1)  # (n^2, K, T)
        if spec.groups > 1:
            filter_gradient_transform(m, diagonal_blocks(by_filter, self._V, spec.groups), taps, 0)
            return dw
        Z = aligned_empty((by_filter.shape[0], self.filter_block, spec.C))
        for k0 in range(0, spec.K, self.filter_block):
            block = Z[:, :min(self.filter_block, spec.K - k0)]
            matmul(by_filter[:, k0:k0 + block.shape[1]], self._V, out=block)
            filter_gradient_transform(m, block, taps, k0)
        return dw

    def _gradient_by_tile_blocks(self, x, dy) -> np.ndarray:
        """Z (n^2, K, C) = sum over tiles of D_t^T V_t, a block of tile rows at a time: the block's input and dy
        transforms (in the first bytes of V and D) multiplied and summed into Z while still in cache, where
        the whole transforms passed through memory between the stages (results/records/
        implementation-choices.json, row winograd-filter-gradient-tile-blocks). V then holds no whole transform."""
        if getattr(self, "_Z", None) is None:
            self._Z = torch.empty(self._V.shape[0], self.spec.K, self.spec.C)
        for first, last, V, D in self._input_by_tile_blocks(x, self._D):
            gradient_transform(self.tile, dy, D, self.tiles_h, self.tiles_w, first, last)
            blas.product(torch.from_numpy(D).transpose(1, 2), torch.from_numpy(V), self._Z, accumulate=first > 0)
        return self._Z.numpy()

    _D = None  # made by the first backward-filter call
    _V_holds_input = False  # whether V holds the transform of every tile of the last x transformed
