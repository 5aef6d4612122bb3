"""1-D FFT convolution on the CPU: the whole signal, band-limited, or overlap-save blocks (tile=T).

Padding, then transform, then contraction, then inverse, then crop, on rows:

1. the padded signal (only the `span` samples some output reads; zeros beyond) is cut into
   blocks of T samples that start Bo = T - E + 1 apart (E the dilated filter's length); the
   whole signal is one block of T = the smallest fast length >= span. FFTW's rfft of every
   (image, block, channel) row; the filter, its taps dilation apart, on the same T;
2. at each retained frequency f < F, Y[n, k] = sum_c X[n, c] conj(F_w[k, c]) / T
   (signal_contract.py: blocks of frequencies through all channel pairs);
3. FFTW's inverse of each row, with the discarded frequencies zero; the first Bo samples of
   each block are outputs, read at the stride.

Band-limiting (the whole signal only): on the one-sided spectrum of a T-sample grid, frequency
f is kept iff 2f <= (1 - c)·T, so about (1 - c) of the coefficients survive (2-D keeps sqrt(1 - c)
per axis; bandlimit.py). Like the 2-D plan this is a linear map, and both backward passes are
its exact adjoints: dx from DY·F_w, dw from X·conj(DY), both masked (fft/reference.py's
SignalReference is the float64 definition, in a few numpy lines). In 1-D the transforms are
the full rffts whatever c: what band-limiting saves is the contraction and the spectra held
(signal_band.py keeps only the band).

The overlap-save blocks compute the exact convolution (compression 0): each block's T-point
circular correlation is exact on its first Bo outputs. Its backward passes are the exact
adjoints too: the data gradient adds each block's inverse back where the block came from
(overlap-add), the filter gradient sums X·conj(DY) over every block.
"""
from __future__ import annotations

import math

import numpy as np
import pyfftw
import torch
from numpy.lib.stride_tricks import as_strided

from convbench.core.arrays import aligned_empty, aligned_zeros, check_compression
from convbench.core.errors import ConvError
from convbench.core.selection import signal_fftw_threads, signal_tile
from convbench.core.signal import SignalSpec

from ..base import StagedPlan
from ..work import COMPLEX, FLOAT, Work, fft_flops
from . import wisdom
from .bandlimit import next_fast_len
from .signal_band import BandLimitedSignal
from .signal_contract import contract, contract_data_gradient, contract_filter_gradient


def retained_bands(T: int, compression: float) -> int:
    """The frequencies f >= 0 a band-limited T-point signal keeps: 2f <= (1 - c)·T."""
    return min(T // 2 + 1, int(math.floor((1.0 - compression) * T / 2)) + 1)


class SignalFFTCPU(StagedPlan):
    """1-D FFT convolution on a height-1 ConvSpec (convbench.core.signal.SignalSpec.grid)."""

    algorithm = "fft"
    backend = "cpu"
    takes_groups = takes_dilation = True  # groups: the contraction's channel ranges; dilation: the taps on the grid

    def __init__(self, spec, compression=0.0, tile=None, planner_effort=None, threads=None):
        super().__init__(spec)
        self.spreads_non_finite = ("every output of its signal" if tile is None else
                                   "every output of its overlap-save block") + ", in every output channel"
        signal = self.signal = SignalSpec.from_grid(spec)
        compression = check_compression(compression)
        E, outputs = signal.extent, signal.span - signal.extent + 1  # the stride-1 outputs computed
        if tile is None:
            self.T = next_fast_len(signal.span)
        else:
            if tile == "auto":
                tile = signal_tile(outputs, E)
            if isinstance(tile, bool) or not isinstance(tile, int) or tile < 2 * E:
                raise ConvError(f"tile must be None (the whole signal), 'auto' or an int >= twice the filter's "
                                f"length {E} (an FFT block's samples); got tile={tile!r}")
            if compression:
                raise ConvError(f"compression applies to the whole-signal fft (tile=None); got "
                                f"compression={compression} with tile={tile} (expected 0)")
            self.T = tile
        self.tile = tile
        self.step = self.T - E + 1  # outputs per block
        self.blocks = -(-outputs // self.step)
        self.bands = retained_bands(self.T, compression)
        self.compression = 1.0 - self.bands / (self.T // 2 + 1)
        self._effort = (wisdom.check_effort(planner_effort),)
        self._threads = threads
        wisdom.load()
        N, C, K, Cg, T, B, nb = signal.N, signal.C, signal.K, signal.C_per_group, self.T, self.T // 2 + 1, self.blocks
        self._read = max(0, min(signal.L, signal.span - signal.padding))  # the input samples some output reads
        # c > 0: only the band is held (signal_band.py); c = 0: FFTW writes whole spectra in place
        self._band = BandLimitedSignal(signal, T, self.bands, self._fftw) if self.bands < B else None
        if self._band is None:
            self._x_blocks = aligned_zeros((N, nb, C, T), dtype=np.float32)
            self._staging = aligned_zeros((N, C, (nb - 1) * self.step + T), dtype=np.float32) if nb > 1 else None
            self._X = aligned_empty((N, nb, C, B), dtype=np.complex64)
            self._w_grid = aligned_zeros((K, Cg, T), dtype=np.float32)
            self._W = aligned_empty((K, Cg, B), dtype=np.complex64)
            self._Y = aligned_empty((N, nb, K, B), dtype=np.complex64)
            self._y_blocks = aligned_empty((N, nb, K, T), dtype=np.float32)
            self._input_fft = self._fftw(self._x_blocks, self._X)
            self._filter_fft = self._fftw(self._w_grid, self._W)
            self._output_fft = self._fftw(self._Y, self._y_blocks)
        self._gradient_ffts = None  # built on the first backward pass
        wisdom.save()

    def _fftw(self, source, target):
        """A planned FFTW transform along the rows: forward real to complex, or backward."""
        rows = source.size // source.shape[-1]
        threads = self._threads or signal_fftw_threads(rows, self.T, torch.get_num_threads())
        direction = "FFTW_FORWARD" if source.dtype == np.float32 else "FFTW_BACKWARD"
        return pyfftw.FFTW(source, target, axes=(-1,), direction=direction, flags=self._effort, threads=threads)

    # -- the stages ---------------------------------------------------------------
    def transform_filter(self, w) -> np.ndarray:
        """F_w (K, C/g, B): the taps dilation apart on the grid. The contraction conjugates and scales
        it as it reads it, saving a pass of its own
        (results/records/implementation-choices.json, row signal-filter-conjugated-in-contraction)."""
        if self._band:
            return self._band.transform_filter(w)
        signal = self.signal
        self._w_grid[:, :, 0:signal.extent:signal.dilation] = w[:, :, 0, :]
        self._filter_fft.execute()
        return self._W

    def transform_input(self, x) -> None:
        if self._band:
            return self._band.transform_input(x)
        self._cut_blocks(x[:, :, 0, :])
        self._input_fft.execute()

    def contract(self, W) -> None:
        if self._band:
            return self._band.contract(W)
        N, C, K, B = self.signal.N, self.signal.C, self.signal.K, self.T // 2 + 1
        images = N * self.blocks
        contract(self._X.reshape(images, C, B), W, self._Y.reshape(images, K, B), self.bands, self.signal.groups,
                 1.0 / self.T)

    def transform_output(self, out) -> None:
        if self._band:
            return self._band.transform_output(out)
        self._Y[..., self.bands:] = 0  # the discarded band (the inverse overwrote it last call)
        self._output_fft.execute()
        self._read_outputs(self._y_blocks, out[:, :, 0, :])

    # -- cutting and gluing blocks -------------------------------------------------
    def _cut_blocks(self, x) -> None:
        """The padded signal's blocks of T samples, Bo apart, into _x_blocks (N, blocks, C, T)."""
        pad, read = self.signal.padding, self._read
        if self.blocks == 1:
            self._x_blocks[:, 0, :, pad:pad + read] = x[:, :, :read]
            return
        staging = self._staging
        staging[:, :, pad:pad + read] = x[:, :, :read]
        N, C, _ = staging.shape
        s0, s1, s2 = staging.strides
        np.copyto(self._x_blocks, as_strided(staging, (N, self.blocks, C, self.T), (s0, self.step * s2, s1, s2)))

    def _read_outputs(self, y_blocks, out) -> None:
        """out (N, K, P) = the first Bo samples of each block of y_blocks (N, blocks, K, T), at the stride."""
        P, stride, step = self.signal.P, self.signal.stride, self.step
        if self.blocks == 1:
            out[...] = y_blocks[:, 0, :, 0:(P - 1) * stride + 1:stride]
            return
        N, nb, K, _ = y_blocks.shape
        glued = y_blocks[..., :step].transpose(0, 2, 1, 3).reshape(N, K, nb * step)
        out[...] = glued[:, :, 0:(P - 1) * stride + 1:stride]

    def _place_gradient(self, dy) -> None:
        """dy (N, K, P) at its stride-1 positions, block b's Bo outputs at the start of its row of
        _y_blocks (N, blocks, K, T), zeros elsewhere: what the transposed read leaves."""
        P, stride, step, nb = self.signal.P, self.signal.stride, self.step, self.blocks
        N, K = dy.shape[:2]
        spread = aligned_zeros((N, K, nb * step), dtype=np.float32)
        spread[:, :, 0:(P - 1) * stride + 1:stride] = dy
        self._y_blocks[...] = 0
        self._y_blocks[..., :step] = spread.reshape(N, K, nb, step).transpose(0, 2, 1, 3)

    def _gradients(self):
        if self._gradient_ffts is None:
            self._gradient_ffts = (self._fftw(self._y_blocks, self._Y),  # dy's blocks to DY
                                   self._fftw(self._X, self._x_blocks),  # DX to dx's blocks
                                   self._fftw(self._W, self._w_grid))    # DW to dw on the grid
            wisdom.save()
        return self._gradient_ffts

    # -- the training passes: the exact adjoints ------------------------------------------
    def _backward_data(self, dy, w, reuse_forward=False):
        if self._band:
            return self._band.backward_data(dy, w)
        signal, (dy_fft, dx_fft, _) = self.signal, self._gradients()
        N, C, K, B, nb = signal.N, signal.C, signal.K, self.T // 2 + 1, self.blocks
        W = self.transform_filter(w)
        self._place_gradient(dy[:, :, 0, :])
        dy_fft.execute()
        DX = self._X.reshape(N * nb, C, B)
        contract_data_gradient(self._Y.reshape(N * nb, K, B), W, DX, self.bands, signal.groups, 1.0 / self.T)
        DX[..., self.bands:] = 0
        dx_fft.execute()
        blocks = self._x_blocks
        pad, read, step = signal.padding, self._read, self.step
        padded = aligned_zeros((N, C, (nb - 1) * step + self.T), dtype=np.float32)
        for b in range(nb):  # overlap-add: each block's gradient back where the block was cut
            padded[:, :, b * step:b * step + self.T] += blocks[:, b]
        dx = aligned_zeros(signal.input_shape, dtype=np.float32)
        dx[:, :, :read] = padded[:, :, pad:pad + read]
        self._x_blocks[...] = 0  # the forward's blocks hold zeros outside the data
        return dx[:, :, None, :]

    def _backward_filter(self, x, dy, reuse_forward=False):
        if self._band:
            return self._band.backward_filter(x, dy)
        signal, (dy_fft, _, dw_fft) = self.signal, self._gradients()
        N, C, K, B, nb = signal.N, signal.C, signal.K, self.T // 2 + 1, self.blocks
        self.transform_input(x)
        self._place_gradient(dy[:, :, 0, :])
        dy_fft.execute()
        contract_filter_gradient(self._X.reshape(N * nb, C, B), self._Y.reshape(N * nb, K, B), self._W,
                                 self.bands, signal.groups, 1.0 / self.T)
        self._W[..., self.bands:] = 0
        dw_fft.execute()
        dw = self._w_grid[:, :, 0:signal.extent:signal.dilation].copy()  # a copy: the grid is zeroed next
        self._w_grid[...] = 0  # the filter's grid holds zeros between and after the taps
        return dw[:, :, None, :]

    def float64(self):
        """The map this plan computes, in float64, with its exact adjoints (reference.signal_reference)."""
        from .reference import SignalReference

        return SignalReference(self.signal, self.T, self.bands, self.step)

    def stage_work(self) -> dict:
        signal, T, B = self.signal, self.T, self.T // 2 + 1
        rows_x, rows_w, rows_y = signal.N * self.blocks * signal.C, signal.K * signal.C_per_group, \
            signal.N * self.blocks * signal.K
        macs = signal.N * self.blocks * signal.K * signal.C_per_group * self.bands
        return {"filter transform": Work(FLOAT * signal.K * signal.C_per_group * signal.R + COMPLEX * rows_w * self.bands,
                                         fft_flops(T, rows_w, real=True)),
                "input transform": Work(FLOAT * signal.N * signal.C * signal.L + COMPLEX * rows_x * B,
                                        fft_flops(T, rows_x, real=True)),
                "contraction": Work(COMPLEX * (rows_x + rows_w + rows_y) * self.bands, 8.0 * macs),
                "output transform": Work(COMPLEX * rows_y * B + FLOAT * signal.N * signal.K * signal.P,
                                         fft_flops(T, rows_y, real=True))}
