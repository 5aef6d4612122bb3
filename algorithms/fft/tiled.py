"""Tiled FFT convolution on the CPU (overlap-save, NNPACK's ft8x8 / ft16x16 / ..., Zlateski et al.).

The padded input is cut into T x T tiles that overlap by R - 1 rows and S - 1
columns; each tile's circular cross-correlation with the filter (zero-padded
to T x T) is exact on its first (T - R + 1) x (T - S + 1) outputs, which are
the output tile. Per tile and channel:

    X = rfft2(tile)              (T x (T/2 + 1) complex)
    W = conj(rfft2(filter)) / T^2
    Y[k] = sum_c W[k, c] X[c]    one (tiles x C)(C x K) complex GEMM per frequency
    out tile = irfft2(Y)[:T - R + 1, :T - S + 1]

The filter spectrum is K·C·T·(T/2 + 1) complex numbers, not the whole image's,
so it and a block of tiles' spectra can stay in cache. Tiled FFT is exact:
band-limiting (compression) belongs to the whole-image FFT.

A dilated filter is zero-padded to T x T with its taps dilation apart, so the
tiles overlap by its extent (dilation·(R - 1)). With groups, each frequency's
product is block-diagonal: one (tiles x C/g)(C/g x K/g) GEMM per group, or an
elementwise product when depthwise; the zero blocks are never formed.

The spectra are (frequency, tile, channel), so each frequency's GEMM operand is
contiguous. Tiles 8, 16 and 32 transform with generated kernels (tile_codegen.py)
that read x and write out NCHW themselves, a row of tiles at a time through a
channels-last band in cache; tile 64 keeps FFTW, which reads the overlapping
tiles straight out of a padded copy (a strided view: its r2c transforms leave
their input alone) and inverse-transforms whole tiles that a second pass cuts
into the output (results/records/implementation-choices.json, row
tiled-fft-generated-transforms).

Running the stages a block of tiles at a time (so that a block's spectra stay
in L2, as NNPACK blocks tiles) was within the noise of running each stage over
every tile, measured with FFTW's transforms; so each stage runs over every tile
(results/records/implementation-choices.json, row tiled-fft-unblocked).

The complex products are one complex GEMM (cgemm) per frequency, or, where the GEMMs run on oneDNN 2
and there are many tiles, one real GEMM on the filters' real embedding (complex_product.py). The Gauss
trick (3 real GEMMs on split real and imaginary planes instead of 4 real
multiplies per product) was slower here: 144 frequencies of (64 x 64)(64 x 200),
cgemm 3.9 ms, Gauss 5.6-5.7 ms before even splitting the planes. Every frequency is multiplied, though
the rows below T/2 of columns 0 and T/2 are conjugates of those above: skipping them took more GEMM
calls than it saved (results/records/implementation-choices.json, row tiled-fft-all-frequencies-multiplied).
"""
from __future__ import annotations

import numpy as np
import pyfftw
import torch
from numba import njit, prange
from numpy.lib.stride_tricks import as_strided

from convbench.core.arrays import aligned_empty, aligned_zeros
from convbench.core.errors import ConvError
from convbench.core.selection import (FFT_TILES, complex_product_embedded, embedding_block_frequencies,
                                      products_on_split_planes, tiled_dy_by_kernel, tiled_filter_by_dft)

from ..base import StagedPlan
from .. import blas
from ..blas import copy, diagonal_blocks, grouped_product
from ..complex_product import conjugate_transposed_product, embedding_shape, split_product, times_transposed
from ..padding import embed
from ..work import COMPLEX, FLOAT, Work, fft_flops, gemm_flops
from . import wisdom
from .bandlimit import Band
from .dft import InverseSupportDFT, SupportDFT, support_dft_flops
from .tile_codegen import GENERATED_TILES
from .tile_kernels import INPUT_TRANSFORMS, OUTPUT_TRANSFORMS

TILES = FFT_TILES  # the tile sizes offered (one list, in convbench.core.selection)


def tiled_supports(spec, tile: int = 16) -> bool:
    return spec.stride == (1, 1) and max(spec.extent_h, spec.extent_w) < tile


def check_tiled(spec, compression, tile) -> None:
    """ConvError unless the tiled FFT (either backend) can compute spec with these options."""
    if compression != 0.0:
        raise ConvError(f"compression must be 0 with tile={tile}: band-limiting applies to the whole-image "
                        f"FFT (leave tile out); tiled FFT is exact. Got compression={compression!r}")
    if tile not in TILES:
        raise ConvError(f"tile must be one of {', '.join(map(str, TILES))} (T x T FFT tiles); got tile={tile!r}")
    if not tiled_supports(spec, tile):
        raise ConvError(f"algorithm='fft' with tile={tile} needs stride 1 and a filter (with its dilation) "
                        f"smaller than the tile; got w filter {spec.R}x{spec.S}, extent "
                        f"{spec.extent_h}x{spec.extent_w} and stride {spec.stride}")



@njit(parallel=True, cache=True)
def scatter_tiles(planes, out, step_h, step_w):
    """out[n, k, ty*step_h + i, tx*step_w + j] = planes[n, k, ty, tx, i, j] for i < step_h, j < step_w, inside out."""
    N, K, tiles_h, tiles_w = planes.shape[:4]
    P, Q = out.shape[2], out.shape[3]
    for nkt in prange(N * K * tiles_h):
        n = nkt // (K * tiles_h)
        k = (nkt // tiles_h) % K
        ty = nkt % tiles_h
        for tx in range(tiles_w):
            rows = min(step_h, P - ty * step_h)
            cols = min(step_w, Q - tx * step_w)
            out[n, k, ty * step_h:ty * step_h + rows, tx * step_w:tx * step_w + cols] = planes[n, k, ty, tx, :rows, :cols]


class TiledFFTCPU(StagedPlan):
    """FFT convolution on T x T tiles (tile=T, one of 8, 16, 32, 64), exact; stride 1, filters
    (with their dilation) smaller than T."""

    algorithm = "fft"
    backend = "cpu"
    takes_groups = takes_dilation = True
    supports = classmethod(lambda cls, spec, tile=16, **options: tiled_supports(spec, tile))

    @classmethod
    def planned_bytes(cls, spec, compression=0.0, tile: int = 16, **options) -> int:
        """The tiles' spectra (inputs, outputs: complex64) and the filters' (T x T/2+1 each, and the real
        embedding of a block of frequencies' filters, twice their size, where the products take it), as __init__
        makes them."""
        if not isinstance(tile, int) or tile < max(spec.extent_h, spec.extent_w):
            return 0  # refused by check_tiled, by name
        tiles = spec.N * -(-spec.P // (tile - spec.extent_h + 1)) * -(-spec.Q // (tile - spec.extent_w + 1))
        frequencies, filters = tile * (tile // 2 + 1), spec.K * spec.C_per_group
        embedded = complex_product_embedded(blas.engine(), tiles, spec.groups)
        block = min(frequencies, embedding_block_frequencies(spec.K, spec.C_per_group)) if embedded else 0
        return (frequencies * (tiles * (spec.C + spec.K) + filters) + 2 * block * filters) * 8

    def __init__(self, spec, compression=0.0, tile: int = 16, planner_effort=None, threads=None):
        check_tiled(spec, compression, tile)
        super().__init__(spec)
        self.spreads_non_finite = f"every output of its {tile}x{tile} tiles, in every output channel"
        planner_effort = wisdom.check_effort(planner_effort)
        wisdom.load()
        T = self.tile = tile
        N, C, K, Cg = spec.N, spec.C, spec.K, spec.C_per_group
        self.step_h, self.step_w = T - spec.extent_h + 1, T - spec.extent_w + 1  # outputs per tile
        th, tw = self.tiles_h, self.tiles_w = -(-spec.P // self.step_h), -(-spec.Q // self.step_w)
        self.tiles = N * th * tw
        Fc = T // 2 + 1
        # Two FFTW threads (unlike the whole-image plan): each execute is one large batch of small
        # transforms, which one thread leaves far slower
        # (results/records/implementation-choices.json, row fft-tiled-two-fftw-threads).
        flags, threads = (planner_effort,), threads or 2
        # spectra (T, Fc, N, th, tw, channels): (frequency, tile, channel)
        self._X = aligned_empty((T, Fc, N, th, tw, C), dtype=np.complex64)
        self._Y = aligned_empty((T, Fc, N, th, tw, K), dtype=np.complex64)
        if T not in GENERATED_TILES:
            self._padded = aligned_zeros((N, C, (th - 1) * self.step_h + T, (tw - 1) * self.step_w + T),
                                                dtype=np.float32)
            s = self._padded.strides
            tiles = as_strided(self._padded, (N, C, th, tw, T, T), (s[0], s[1], self.step_h * s[2],
                                                                     self.step_w * s[3], s[2], s[3]), writeable=False)
            self._out_tiles = aligned_empty((N, K, th, tw, T, T), dtype=np.float32)
            by_tile = (2, 5, 3, 4, 0, 1)  # (n, channel, ty, tx, T, Fc) view of a spectrum
            self._forward = pyfftw.FFTW(tiles, self._X.transpose(by_tile), axes=(4, 5), flags=flags,
                                        threads=threads)
            self._inverse = pyfftw.FFTW(self._Y.transpose(by_tile), self._out_tiles, axes=(4, 5),
                                        direction="FFTW_BACKWARD", flags=flags, threads=threads)
        self._filter_dft = self._filter_grid = None
        if T in GENERATED_TILES:  # the input's kernel on the flipped taps, each filter one tile of its extent
            self._filter_grid = aligned_zeros((K, Cg, spec.extent_h, spec.extent_w), dtype=np.float32)
            self._W = aligned_empty((T * Fc, K, Cg), dtype=np.complex64)
        elif tiled_filter_by_dft(T, support_dft_flops(1, spec.R, spec.S, T, Fc), fft_flops(T * T, real=True),
                                 blas.engine()):
            self._taps = aligned_empty((K, Cg, spec.R, spec.S), dtype=np.float32)
            self._filter_dft = SupportDFT(Band((T, T), 0.0), K * Cg, (spec.R, spec.S), step=spec.dilation,
                                          scale=1.0 / T**2)
        else:
            self._filters = aligned_zeros((K, Cg, T, T), dtype=np.float32)
            self._W = aligned_empty((T, Fc, K, Cg), dtype=np.complex64)
            self._filter_fft = pyfftw.FFTW(self._filters, self._W.transpose(2, 3, 0, 1), axes=(2, 3),
                                           flags=flags, threads=threads)
        self._embedding = None  # a block of frequencies' real embedding of the filters, where the products take it
        if complex_product_embedded(blas.engine(), self.tiles, spec.groups):
            self._embedding = aligned_empty(embedding_shape(min(T * Fc, embedding_block_frequencies(K, Cg)), K, Cg),
                                       dtype=np.float32)
        self._fftw_flags, self._fftw_threads = flags, threads
        if planner_effort != "FFTW_ESTIMATE":
            wisdom.save()

    @property
    def filter_transform(self) -> str:
        """'kernel' (the generated transform), 'dft' or 'fft' (FFTW): the filter transform this plan took,
        as the whole-image plan names its own."""
        if self._filter_grid is not None:
            return "kernel"
        return "fft" if self._filter_dft is None else "dft"

    def stage_work(self) -> dict:
        spec, T = self.spec, self.tile
        F, Cg, t = T * (T // 2 + 1), spec.C_per_group, self.tiles
        rfft2 = fft_flops(T * T, real=True)  # one T x T real 2-D transform
        X, Y, W = COMPLEX * F * spec.C * t, COMPLEX * F * spec.K * t, COMPLEX * F * spec.K * Cg
        filter_flops = self._filter_dft.flops if self._filter_dft is not None else spec.K * Cg * rfft2
        return {"filter transform": Work(FLOAT * spec.K * Cg * spec.R * spec.S + W, filter_flops),
                "input transform": Work(FLOAT * spec.N * spec.C * spec.H * spec.W + X, spec.C * t * rfft2),
                "contraction": Work(W + X + Y, F * gemm_flops(spec.K, t, Cg, complex_=True)),
                "output transform": Work(Y + FLOAT * spec.N * spec.K * spec.P * spec.Q, spec.K * t * rfft2)}

    def transform_filter(self, w):
        """rfft2(w flipped, zero-padded to T x T, taps dilation apart) / T^2 as (T*(T/2+1), K, C/groups),
        in the plan's buffer.

        The tiles are convolved with the flipped filter, which is the cross-correlation with w, its
        outputs E - 1 rows and columns into the tile (E the filter's extent; transform_output reads
        them there). The FFT's output is then the spectrum wanted, with no pass of conjugation (as
        conj(rfft2(w)) took) and none of scaling over the K·C/g·T·(T/2+1) coefficients: the 1/T^2
        is applied to the R·S taps.

        Tiles 8, 16 and 32 run the input's generated kernel on the flipped taps, each filter one tile
        whose first E rows hold them, so the kernel skips the rows below (results/records/
        implementation-choices.json, row tiled-fft-generated-transforms). On 64 x 64 tiles the transform
        is the pruned DFT of the taps alone (dft.SupportDFT), whose products write the spectrum
        frequency-major as BLAS streams it, where FFTW's T x T transforms write each filter's coefficients
        a cache line apart; it stays FFTW where the DFT's flops would outgrow the FFT's
        (convbench.core.selection.tiled_filter_by_dft)."""
        spec, T = self.spec, self.tile
        if self._filter_grid is not None:
            self._place_flipped_taps(w, self._filter_grid)
            INPUT_TRANSFORMS[T](self._filter_grid, self._W.view(np.float32), 1, 1, T, T, 0, 0, spec.extent_h)
            return self._W
        if self._filter_dft is not None:
            np.copyto(self._taps, w[:, :, ::-1, ::-1])
            return self._filter_dft(self._taps.reshape(-1, spec.R, spec.S)).reshape(-1, spec.K, spec.C_per_group)
        self._place_flipped_taps(w, self._filters)
        self._filter_fft.execute()
        return self._W.reshape(-1, spec.K, spec.C_per_group)

    def _place_flipped_taps(self, w, grid):
        """w flipped and over T^2 into grid's first extent rows and columns, its taps dilation apart (the
        zeros between them written once, when grid was allocated)."""
        spec = self.spec
        np.multiply(w[:, :, ::-1, ::-1], np.float32(1.0 / self.tile**2),
                    out=grid[:, :, :spec.extent_h:spec.dil_h, :spec.extent_w:spec.dil_w])

    def _spectra(self, buffer) -> np.ndarray:
        """A (T, Fc, N, th, tw, channels) spectrum as (frequency, tile, channel)."""
        return buffer.reshape(self.tile * (self.tile // 2 + 1), self.tiles, -1)

    def transform_input(self, x):
        spec, T = self.spec, self.tile
        if T in GENERATED_TILES:
            X = self._spectra(self._X)
            INPUT_TRANSFORMS[T](x, X.view(np.float32), self.tiles_h, self.tiles_w,
                                self.step_h, self.step_w, spec.pad_h, spec.pad_w, T)
            return
        embed(x, self._padded, spec.pad_h, spec.pad_w)
        self._forward.execute()

    def contract(self, W):
        if self._embedding is not None:  # by blocks of frequencies, each block's embedding multiplied while in cache
            # (results/records/implementation-choices.json, row tiled-fft-embedding-by-frequency-blocks)
            X, Y, block = self._spectra(self._X), self._spectra(self._Y), self._embedding.shape[0]
            for f in range(0, X.shape[0], block):
                stop = min(X.shape[0], f + block)
                times_transposed(X[f:stop], W[f:stop], self._embedding[:stop - f], out=Y[f:stop])
            return
        grouped_product(self._spectra(self._X), W, self.spec.groups, out=self._spectra(self._Y))

    def transform_output(self, out):
        T = self.tile
        if T in GENERATED_TILES:
            Y = self._spectra(self._Y)
            OUTPUT_TRANSFORMS[T](Y.view(np.float32), out, self.tiles_h, self.tiles_w,
                                 self.step_h, self.step_w)
            return
        self._inverse.execute()
        # the valid outputs of a tile's convolution with the flipped filter start E - 1 in
        scatter_tiles(self._out_tiles[..., self.spec.extent_h - 1:, self.spec.extent_w - 1:], out,
                      self.step_h, self.step_w)

    def _backward_filter(self, x, dy, reuse_forward=False):
        """dw = the sum over tiles of each tile's correlation of x with the dy block its outputs
        received, read on the R x S support: dw_kc = irfft2(sum_t conj(DY_tk) X_tc)[:R, :S], one
        (K x tiles)(tiles x C) complex GEMM per frequency (where the GEMMs run on oneDNN 2, one real GEMM a
        frequency: complex_product.conjugate_transposed_product on the kernel's tile-major dY, split_product
        on FFTW's). No tile wraps around: p + r <= T - 1.
        X is the forward's input transform; dy's blocks go through the input's generated kernel or FFTW
        (_transform_dy), written frequency-major like X, and the inverse is evaluated on the R x S taps
        alone (a pruned inverse DFT, as the whole-image plan does), not on K·C whole T x T grids.
        numpy's rfft2 of the blocks took about half the pass
        (results/records/implementation-choices.json, row tiled-fft-backward-filter-fftw).
        (Backward-data is this plan's forward pass on the data-gradient problem, Plan._backward_data.)"""
        spec, T = self.spec, self.tile
        F, Cg = T * (T // 2 + 1), spec.C_per_group
        if not (reuse_forward and self._forward_filter is not None):
            self.transform_input(x)  # else the forward's X, still in its buffer
        if getattr(self, "_DY", None) is None:
            self._plan_filter_gradient()
        DY, X = self._transform_dy(dy), self._spectra(self._X)
        if self._gradient_halves is None:  # torch's cgemm
            torch.conj_physical_(torch.from_numpy(DY))
            DW = diagonal_blocks(DY, X, spec.groups, out=self._DW)
        elif self._dy_split is None:  # one real GEMM a frequency on the kernel's tile-major dY, read in place
            DW = conjugate_transposed_product(self._DY, X, self._gradient_halves, out=self._DW)
        else:  # one real GEMM a frequency on the split planes of FFTW's dY
            DW = split_product(DY, X, self._dy_split, self._gradient_halves, out=self._DW, conjugate=True)
        dw = aligned_empty((spec.K * Cg, spec.R, spec.S), dtype=np.float32)
        self._taps_inverse(DW.reshape(F, -1), dw)
        return dw.reshape(spec.filter_shape)

    def _transform_dy(self, dy) -> np.ndarray:
        """rfft2 of the T x T zero tile holding each output tile's block of dy, (F, K, tiles) (a view). On the
        generated tiles, where the blocks fill enough of a tile (selection.tiled_dy_by_kernel), their input
        kernel on dy with each block's columns T apart (zeros between) and only its rows read, so that no tile
        reaches into the next block; else FFTW on T x T blocks (results/records/implementation-choices.json,
        row tiled-fft-dy-by-the-input-kernel)."""
        spec, T = self.spec, self.tile
        F = T * (T // 2 + 1)
        if self._dy_by_kernel:
            columns = self._dy_spaced.reshape(spec.N, spec.K, -1, self.tiles_w, T)
            whole = spec.Q // self.step_w  # the blocks of step_w columns dy fills
            copy(columns[:, :, :spec.P, :whole, :self.step_w],
                 dy[..., :whole * self.step_w].reshape(spec.N, spec.K, spec.P, whole, self.step_w))
            if whole < self.tiles_w:
                copy(columns[:, :, :spec.P, whole, :spec.Q - whole * self.step_w], dy[..., whole * self.step_w:])
            INPUT_TRANSFORMS[T](self._dy_spaced, self._DY.view(np.float32), self.tiles_h, self.tiles_w, self.step_h,
                                T, 0, 0, self.step_h)
            return self._DY.transpose(0, 2, 1)
        self._dy_grid[:, :, :spec.P, :spec.Q] = dy
        blocks = self._dy_grid.reshape(spec.N, spec.K, self.tiles_h, self.step_h, self.tiles_w, self.step_w)
        copy(self._dy_blocks[..., :self.step_h, :self.step_w], blocks.transpose(0, 1, 2, 4, 3, 5))
        self._dy_fft.execute()
        return self._DY.reshape(F, spec.K, self.tiles)

    def _plan_filter_gradient(self):
        """The backward-filter's buffers and transforms, made on its first call (a forward-only plan
        holds none of them)."""
        spec, T = self.spec, self.tile
        th, tw = self.tiles_h, self.tiles_w
        F = T * (T // 2 + 1)
        self._dy_by_kernel = T in GENERATED_TILES and tiled_dy_by_kernel(T, self.step_w)
        if self._dy_by_kernel:  # dy's rows as they are, each block's step_w columns T apart; spectra (F, tiles, K)
            self._dy_spaced = aligned_zeros((spec.N, spec.K, th * self.step_h, tw * T), dtype=np.float32)
            self._DY = aligned_empty((F, self.tiles, spec.K), dtype=np.complex64)
        else:
            self._dy_grid = aligned_zeros((spec.N, spec.K, th * self.step_h, tw * self.step_w), dtype=np.float32)
            self._dy_blocks = aligned_zeros((spec.N, spec.K, th, tw, T, T), dtype=np.float32)
            self._DY = aligned_empty((T, T // 2 + 1, spec.K, spec.N, th, tw), dtype=np.complex64)
            self._dy_fft = pyfftw.FFTW(self._dy_blocks, self._DY.transpose(3, 2, 4, 5, 0, 1), axes=(4, 5),
                                       flags=self._fftw_flags, threads=self._fftw_threads)
            if self._fftw_flags != ("FFTW_ESTIMATE",):
                wisdom.save()
        self._DW = aligned_empty((F, spec.K, spec.C_per_group), dtype=np.complex64)
        # where the products run as real GEMMs: their two halves, and (FFTW's (F, K, tiles) dY only) dY's split planes
        self._gradient_halves = self._dy_split = None
        if products_on_split_planes(blas.engine(), spec.groups):
            self._gradient_halves = aligned_empty((F, 2 * spec.K, spec.C_per_group), dtype=np.complex64)
            if not self._dy_by_kernel:
                self._dy_split = aligned_empty((F, 2 * spec.K, self.tiles), dtype=np.float32)
        # unnormalised, as FFTW's: 1/T^2 in it
        self._taps_inverse = InverseSupportDFT(Band((T, T), 0.0), spec.K * spec.C_per_group, spec.R, spec.S,
                                               stride=spec.dilation, scale=1.0 / T**2)
