"""Band-limited FFT convolution on the CPU: pruned DFTs (BLAS) or pyFFTW, by size.

Padding, then transform, then contraction, then inverse, then crop:

1. transform the padded input and the filters onto the Lh x Lw grid's retained
   block only, one matrix per frequency: X[f] (N x C), W[f] (C x K). Either a
   pruned matrix DFT of the data's support (dft.py; the filter always, input
   on grids up to 128), or FFTW: an rfft along the rows that hold data, a
   complex FFT down the retained columns, and a gather of the retained rows;
2. conjugate the filter spectrum (cross-correlation, not convolution) and
   contract over channels at each retained frequency: Y[f] = X[f] @ conj(W[f]);
   per call, the filter spectrum's rows or columns come a block at a time, each
   contracted while in cache (FFTCPU.run); on X's split planes, W's and Y's are
   split planes too;
3. the inverse, evaluated only at the rows and columns the stride keeps:
   a pruned inverse DFT on grids up to 128, else FFTW down the retained
   columns and along the kept rows.

Only retained frequencies are contracted and stored (X, W, Y); the DFT paths
also transform only those, the FFTW row pass computes every column of the data rows.
A stride > 1 subsamples the stride-1 output: the spectra are those of the full
correlation, and the inverse is evaluated only on the rows and columns kept.
"""
from __future__ import annotations

import numpy as np

from convbench.core.arrays import aligned_empty, aligned_zeros, check_compression
from convbench.core.selection import (FILTER_TRANSFORM, blocks_filter_spectrum, contract_with_blas,
                                      fft_transform, filter_spectrum_block_columns, products_on_split_planes)

from .. import blas
from ..base import StagedPlan
from ..blas import diagonal_blocks
from ..complex_product import split_planes, split_planes_product, times_split_planes
from ..padding import inside
from ..scratch import Scratch
from ..work import COMPLEX, Work, gemm_flops
from . import adjoint, wisdom
from .bandlimit import Band, BandLimited, fft_grid
from .contract import stream_contract
from .dft import InverseSupportDFT, SupportDFT
from .stages import FilterStage, InputStage, OutputStage


class FFTCPU(BandLimited, StagedPlan):
    """Band-limited FFT convolution on the CPU: three transform stages (stages.py) around the contraction.

    The plain float64 definition this computes, in one short function, is
    convbench.algorithms.fft.reference.masked_spectrum_conv.
    """

    algorithm = "fft"
    backend = "cpu"
    # dilation: the filter's taps placed dilation apart on the grid (FilterStage);
    # groups: the block-diagonal contraction (stream_contract), no zero blocks
    takes_groups = takes_dilation = True

    @classmethod
    def planned_bytes(cls, spec, compression=0.0, **options) -> int:
        """The retained spectra of the inputs, the filters and the outputs (complex64), and the contraction's
        split planes where it takes them, as __init__ makes them."""
        band = Band(fft_grid(spec), check_compression(compression))
        spectra = spec.N * spec.C + spec.K * spec.C_per_group + spec.N * spec.K
        if cls._contracts_on_split_planes(spec):  # X's split planes (float32) and the product's halves
            spectra += spec.N * spec.C + 2 * spec.N * spec.K
        return band.retained * spectra * 8

    @staticmethod
    def _contracts_on_split_planes(spec) -> bool:
        return contract_with_blas(spec.N, spec.groups) and products_on_split_planes(blas.engine(), spec.groups)

    def __init__(self, spec, compression=0.0, planner_effort=None, threads=None, filter_transform=None,
                 input_transform=None, output_transform=None):
        super().__init__(spec)
        self.spreads_non_finite = "every output of its image, in every output channel"
        planner_effort = wisdom.check_effort(planner_effort)
        self.fft_shape = fft_grid(spec)
        self.band = Band(self.fft_shape, check_compression(compression))
        self.compression = self.band.compression
        # the defaults and their measurements: convbench.core.selection
        self.input_transform = input_transform or fft_transform(self.fft_shape)
        self.filter_transform = filter_transform or FILTER_TRANSFORM
        self.output_transform = output_transform or fft_transform(self.fft_shape)
        kinds = (self.input_transform, self.filter_transform, self.output_transform)
        uses_fftw = "fft" in kinds
        if uses_fftw:
            wisdom.load()
        # One FFTW thread by default: these batched transforms are small, and FFTW
        # starting and joining its threads on every execute cost more than they
        # gave (results/records/implementation-choices.json, row fft-one-fftw-thread).
        fftw = ((planner_effort,), threads or 1)
        self._scratch = Scratch()  # the DFT stages take turns with two shared temporaries
        split = self._contracts_on_split_planes(spec)
        self._input = InputStage(self.input_transform, spec, self.band, self._scratch, fftw, split=split)
        self._filter = FilterStage(self.filter_transform, spec, self.band, self._scratch, fftw,
                                   split=split and self.filter_transform == "dft")
        # Y as the contraction on split planes writes it, split planes too, where the inverse is the DFT's
        split_Y = split and self.output_transform == "dft"
        self._output = OutputStage(self.output_transform, spec, self.band, self._scratch, fftw, split=split_Y)
        self._Y = (aligned_empty((self.band.retained, 2, spec.N, spec.K), dtype=np.float32) if split_Y else
                   aligned_empty((self.band.retained, spec.N, spec.K), dtype=np.complex64))
        # the product's halves, where the contraction runs on X's split planes (the input stage's)
        self._halves = aligned_empty((self.band.retained, 2 * spec.N, spec.K), dtype=np.complex64) if split else None
        # per call, the filter spectrum by blocks of rows, each contracted while in cache, where the
        # contraction is BLAS's and the DFT's first product small (convbench.core.selection.blocks_filter_spectrum)
        self.blocks_filter_spectrum = blocks_filter_spectrum(self.filter_transform, spec.N, spec.groups,
                                                             self._filter.first_product_bytes)
        # ... and where the contraction runs on X's split planes, by blocks of its columns instead, in the
        # forward and in a data gradient with no forward's spectrum to reuse
        # (convbench.core.selection.filter_spectrum_block_columns; 0: none)
        column_bytes = self.band.n_rows * spec.C_per_group * spec.K * COMPLEX
        self.filter_block_columns = filter_spectrum_block_columns(
            self.filter_transform, split, column_bytes, self.band.n_cols)
        self._scratch.allocate()  # now, so that the plan's memory is all there (and measured) once it is built
        if uses_fftw and planner_effort != "FFTW_ESTIMATE":
            wisdom.save()

    @property
    def spectral_mask(self) -> np.ndarray:
        """Boolean (Lh, Lw//2 + 1): True where the one-sided spectrum is kept."""
        return self.band.mask

    # The training passes: the exact adjoints of the band-limited map (adjoint.py has the derivation).
    # Each reuses the forward's own stage for its operand's spectrum on the band (the filter's
    # conj(F_w)/L, the input's F_x, both pruned DFTs) and transforms only dy; the contraction
    # runs on the retained frequencies.
    def _backward_data(self, dy, w, reuse_forward=False):
        """dx = E* F^-1 [M . sum_k W_kc G_nk]: dy's spectrum on the band by the pruned DFT of its
        P x Q support (dy_band), the product on the band, the pruned inverse evaluated only at the
        input's positions; so the pass's work and memory shrink with the band, as the forward's do."""
        spec = self.spec
        G = self._dy_band(dy)
        # Wt = conj(M . F_w) / (Lh*Lw): the product wants M . F_w, scaled for the unnormalised inverse
        held = self._forward_filter if reuse_forward else None
        if held is None and self.filter_block_columns:
            product = self._data_product_by_column_blocks(G, w)
        elif held is not None or not self.blocks_filter_spectrum:
            Wt = held if held is not None else self.transform_filter(w)
            product = adjoint.data_product_conjugate(G, Wt, spec.groups)  # (F, N, C)
        else:  # the filter spectrum by blocks of rows, as the forward computes it
            product = aligned_empty((self.band.retained, spec.N, spec.C), dtype=np.complex64)
            for start, stop, Wt in self._filter.by_row_blocks(w):
                product[start:stop] = adjoint.data_product_conjugate(G[start:stop], Wt, spec.groups)
        rows, cols = (inside(size, length, pad) for size, length, pad in
                      zip((spec.H, spec.W), self.fft_shape, (spec.pad_h, spec.pad_w)))
        if getattr(self, "_data_inverse", None) is None:
            self._data_inverse = InverseSupportDFT(self.band, spec.N * spec.C, rows, cols,
                                                   offset=(spec.pad_h, spec.pad_w), scratch=Scratch())
        dx = aligned_zeros(spec.input_shape, dtype=np.float32)  # positions no output reads get no gradient
        if rows > 0 and cols > 0:
            planes = dx.reshape(spec.N * spec.C, spec.H, spec.W)[:, :rows, :cols]
            self._data_inverse(product.reshape(product.shape[0], -1), planes)
        return dx

    def _data_product_by_column_blocks(self, G, w) -> np.ndarray:
        """sum_k G[f, n, k] F_w[f, k, c] / (Lh*Lw) as (F, N, C), with F_w a block of retained columns at a
        time (as the forward's split_column_blocks), each block's products taken while it is in cache, one real
        GEMM a frequency on G's split planes (split once). F_w is the pruned DFT of w's planes in their own
        (k, c) order, so each frequency's (K x C) matrix is read in place as the GEMM's right operand; the
        forward's conj(F_w) (C x K) would have to be conjugated and transposed first
        (results/records/implementation-choices.json, row fft-filter-spectrum-by-column-blocks)."""
        spec, n_rows, n_cols, columns = self.spec, self.band.n_rows, self.band.n_cols, self.filter_block_columns
        N, C, K = spec.N, spec.C, spec.K
        if getattr(self, "_data_filter", None) is None:  # the pass's DFT and buffers, made on its first call
            self._data_filter = SupportDFT(self.band, K * C, (spec.R, spec.S), scale=self._filter.scale,
                                           scratch=Scratch(), step=spec.dilation, whole=False)
            self._data_blocks = (aligned_empty(n_rows * columns * K * C, dtype=np.complex64),
                                 aligned_empty(n_rows * columns * 2 * N * C, dtype=np.complex64))
            self._dy_split = aligned_empty((self.band.retained, 2 * N, K), dtype=np.float32)
        block, parts = self._data_blocks
        planes = split_planes(G, self._dy_split).reshape(n_rows, n_cols, 2 * N, K)
        product = aligned_empty((self.band.retained, N, C), dtype=np.complex64)
        by_frequency = product.reshape(n_rows, n_cols, N, C)
        for start, stop, V in self._data_filter.by_column_blocks(w.reshape(K * C, spec.R, spec.S), columns, block):
            width = stop - start
            times_split_planes(planes[:, start:stop], V.reshape(n_rows, width, K, C),
                               parts[:n_rows * width * 2 * N * C].reshape(n_rows, width, 2 * N, C),
                               by_frequency[:, start:stop])
        return product

    def _dy_band(self, dy) -> np.ndarray:
        """G = M . F S* dy as (F, N, K): the pruned DFT of dy's P x Q support, its samples stride apart
        on the grid (the positions the stride kept)."""
        spec = self.spec
        if getattr(self, "_dy_dft", None) is None:
            self._dy_dft = SupportDFT(self.band, spec.N * spec.K, (spec.P, spec.Q), step=spec.stride, scratch=Scratch())
        return self._dy_dft(dy.reshape(spec.N * spec.K, spec.P, spec.Q)).reshape(-1, spec.N, spec.K)

    def _backward_filter(self, x, dy, reuse_forward=False):
        """dw = E_w* F^-1 [M . sum_n conj(G_nk) X_nc], the inverse evaluated only on the R x S support
        (a pruned inverse DFT, as the forward's filter transform is pruned), not on the whole grid;
        a dilated filter's support is every dilation-th position, and with groups only each
        group's (K/g, C/g) block is formed. dy's spectrum comes from its pruned DFT (_dy_band)."""
        spec, (Lh, Lw) = self.spec, self.fft_shape
        if not reuse_forward:
            self.transform_input(x)  # (F, N, C): M . F_x, else the forward's, still in its buffer
        G = self._dy_band(dy)  # (F, N, K)
        count = spec.K * spec.C_per_group
        if getattr(self, "_DW", None) is None:  # the pass's inverse and buffers, made on its first call
            # unnormalised, as FFTW's: 1/(Lh*Lw) in it
            self._support_inverse = InverseSupportDFT(self.band, count, spec.R, spec.S, stride=spec.dilation,
                                                      scale=1.0 / (Lh * Lw))
            self._DW = aligned_empty((G.shape[0], spec.K, spec.C_per_group), dtype=np.complex64)
        DW = diagonal_blocks(G.transpose(0, 2, 1), self._input.spectrum(), spec.groups, out=self._DW, conjugate=True)
        dw = aligned_empty((count, spec.R, spec.S), dtype=np.float32)
        self._support_inverse(DW.reshape(DW.shape[0], -1), dw)
        return dw.reshape(spec.filter_shape)

    def stage_work(self) -> dict:
        spec, F = self.spec, self.band.retained
        Cg = spec.C_per_group
        contraction = Work(COMPLEX * F * (spec.N * spec.C + Cg * spec.K + spec.N * spec.K),
                           gemm_flops(spec.N, spec.K, Cg, complex_=True) * F)
        return {"filter transform": self._filter.work(), "input transform": self._input.work(),
                "contraction": contraction, "output transform": self._output.work()}

    def transform_filter(self, w) -> np.ndarray:
        """conj(F_w) / (Lh*Lw) on the retained block, as (F, C/groups, K), in the plan's own buffers."""
        return self._filter(w)

    def transform_input(self, x) -> None:
        self._input(x)

    def contract(self, Wt) -> None:
        self._contract(0, self.band.retained, Wt)

    def _contract(self, start: int, stop: int, Wt) -> None:
        """Y = X Wt on frequencies start..stop: on X's split planes (complex_product.times_split_planes)
        where the input stage writes them, else stream_contract."""
        if self._halves is None:
            stream_contract(self._input.X[start:stop], Wt, self._Y[start:stop], self.spec.groups)
            return
        times_split_planes(self._input.planes[start:stop], Wt, self._halves[start:stop], self._Y[start:stop])

    def run(self, x, w, out) -> None:
        """A per-call forward: the filter spectrum a block at a time, each block contracted while it is
        still in cache instead of read back from memory. Blocks of columns where the contraction runs on
        X's split planes (_run_by_column_blocks), except in a training step's forward (for_backward),
        whose backward pass reuses the whole spectrum; else blocks of rows (FilterStage.by_row_blocks),
        where the contraction is BLAS's and the DFT's first product small (results/records/
        implementation-choices.json, row fft-filter-spectrum-by-row-blocks). set_weights' inference and
        convbench stages keep the separate stages."""
        if self.filter_block_columns and not self.for_backward:  # a step's backward reuses the whole spectrum
            return self._run_by_column_blocks(x, w, out)
        if not self.blocks_filter_spectrum:
            return super().run(x, w, out)
        self._forward_filter = None  # until every block is written
        self.transform_input(x)
        for start, stop, Wt in self._filter.by_row_blocks(w):
            self._contract(start, stop, Wt)
        self._forward_filter = self._filter.spectrum  # whole now, for reuse_forward
        self.transform_output(out)

    def _run_by_column_blocks(self, x, w, out) -> None:
        """run() where the contraction runs on X's split planes: the filter spectrum a block of retained
        columns at a time, each block's frequencies contracted while it is in cache; no block re-reads the
        DFT's first product, as rows' blocks do (results/records/implementation-choices.json, row
        fft-filter-spectrum-by-column-blocks). The blocks come as split planes (FilterStage.
        split_column_blocks), multiplied by X's in one real GEMM a block, and Y is written as split planes
        where the pruned inverse DFT takes them (row fft-filter-spectrum-as-split-planes)."""
        spec, n_rows, n_cols = self.spec, self.band.n_rows, self.band.n_cols
        self._forward_filter = None  # the blocks overwrite one another: a backward pass transforms w again
        self.transform_input(x)
        planes = self._input.planes.reshape(n_rows, n_cols, 2 * spec.N, spec.C)
        Y = self._Y.reshape(n_rows, n_cols, *self._Y.shape[1:])
        for start, stop, W in self._filter.split_column_blocks(w, self.filter_block_columns):
            parts = self._halves.reshape(-1).view(np.float32)[:n_rows * (stop - start) * 4 * spec.N * spec.K]
            split_planes_product(planes[:, start:stop], W, parts.reshape(n_rows, stop - start, 2, 2 * spec.N, spec.K),
                                 Y[:, start:stop])
        self.transform_output(out)

    def transform_output(self, out) -> None:
        self._output(self._Y, out)
