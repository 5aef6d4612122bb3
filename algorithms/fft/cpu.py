"""Band-limited FFT convolution on the CPU with pyFFTW.

Padding, then transform, then contraction, then inverse, then crop:

1. embed the padded input (and the filters, unpadded) in an Lh x Lw grid;
2. rfft along rows, then a complex FFT down only the n_cols retained columns,
   and gather the retained rows: X[f, n, c], W[f, c, k] on the retained block;
3. conjugate the filter spectrum (cross-correlation, not convolution) and
   contract over channels at each retained frequency: Y[f] = X[f] @ conj(W[f]);
4. inverse FFT down the retained columns, keep the rows the stride reads,
   inverse rfft along them and keep the columns the stride reads.

Only retained frequencies are contracted, stored (X, W, Y) and transformed in
the column passes; the first row-rfft of each plane is still a full FFT.
A stride > 1 subsamples the stride-1 output: the spectra are those of the full
correlation, and the inverse is evaluated only on the rows and columns kept.
"""
from __future__ import annotations

import os

import numpy as np
import pyfftw

from ..base import Plan
from ..padding import embed
from .bandlimit import Band, check_compression, fft_grid, retained_energy


def _fftw(src, dst, axis, direction, flags, threads):
    return pyfftw.FFTW(src, dst, axes=(axis,), direction=direction, flags=flags, threads=threads)


class _ForwardTransform:
    """Real planes (B, Lh, Lw) -> their retained spectrum (B, n_rows, n_cols)."""

    def __init__(self, batch, band: Band, flags, threads):
        Lh, Lw = band.grid
        self.band = band
        self.grid = pyfftw.zeros_aligned((batch, Lh, Lw), dtype=np.float32)
        self._rows = pyfftw.empty_aligned((batch, Lh, Lw // 2 + 1), dtype=np.complex64)
        self._cols_in = pyfftw.empty_aligned((batch, Lh, band.n_cols), dtype=np.complex64)
        self._cols = pyfftw.empty_aligned((batch, Lh, band.n_cols), dtype=np.complex64)
        self._row_fft = _fftw(self.grid, self._rows, -1, "FFTW_FORWARD", flags, threads)
        self._col_fft = _fftw(self._cols_in, self._cols, -2, "FFTW_FORWARD", flags, threads)

    def __call__(self, planes, top, left) -> np.ndarray:
        embed(planes, self.grid, top, left)
        self._row_fft.execute()
        self._cols_in[...] = self._rows[..., :self.band.n_cols]
        self._col_fft.execute()
        return self._cols[:, self.band.rows, :]


class FFTCPU(Plan):
    algorithm = "fft"
    backend = "cpu"

    def __init__(self, spec, compression=0.0, planner_effort="FFTW_ESTIMATE", threads=None):
        super().__init__(spec)
        self.fft_shape = fft_grid(spec)
        self.band = Band(self.fft_shape, check_compression(compression))
        self.compression = self.band.compression
        threads = threads or os.cpu_count() or 1
        flags = (planner_effort,)
        N, C, K, P = spec.N, spec.C, spec.K, spec.P
        Lh, Lw = self.fft_shape
        F, n_cols = self.band.retained, self.band.n_cols

        self._input_fft = _ForwardTransform(N * C, self.band, flags, threads)
        self._filter_fft = _ForwardTransform(K * C, self.band, flags, threads)
        # spectra on the retained block only, laid out for a GEMM per frequency
        self._X = np.empty((F, N, C), dtype=np.complex64)
        self._Y = np.empty((F, N, K), dtype=np.complex64)
        # inverse: down the retained columns, then along only the rows the stride keeps
        self._cols_in = pyfftw.zeros_aligned((N * K, Lh, n_cols), dtype=np.complex64)
        self._cols = pyfftw.empty_aligned((N * K, Lh, n_cols), dtype=np.complex64)
        self._rows_in = pyfftw.zeros_aligned((N * K, P, Lw // 2 + 1), dtype=np.complex64)
        self._rows = pyfftw.empty_aligned((N * K, P, Lw), dtype=np.float32)
        self._col_ifft = _fftw(self._cols_in, self._cols, -2, "FFTW_BACKWARD", flags, threads)
        self._row_irfft = _fftw(self._rows_in, self._rows, -1, "FFTW_BACKWARD", flags, threads)

    @property
    def spectral_mask(self) -> np.ndarray:
        """Boolean (Lh, Lw//2 + 1): True where the one-sided spectrum is kept."""
        return self.band.mask

    def retained_energy(self, x) -> float:
        """Fraction of the spectral energy of input x that this plan's mask keeps (Parseval)."""
        return retained_energy(np.asarray(x, dtype=np.float64), self.band, self.spec.padding)

    def transform_filter(self, w) -> np.ndarray:
        """conj(F_w) / (Lh*Lw) on the retained block, as (F, C, K); the scale undoes FFTW's unnormalised inverse."""
        K, C = self.spec.K, self.spec.C
        spectrum = self._filter_fft(w.reshape(K * C, self.spec.R, self.spec.S), 0, 0)
        scale = np.float32(1.0 / (self.fft_shape[0] * self.fft_shape[1]))
        return np.conj(spectrum.reshape(K, C, -1).transpose(2, 1, 0)) * scale

    def transform_input(self, x) -> None:
        N, C = self.spec.N, self.spec.C
        spectrum = self._input_fft(x.reshape(N * C, self.spec.H, self.spec.W), self.spec.pad_h, self.spec.pad_w)
        self._X[...] = spectrum.reshape(N, C, -1).transpose(2, 0, 1)

    def contract(self, Wt) -> None:
        np.matmul(self._X, Wt, out=self._Y)

    def transform_output(self, out) -> None:
        spec, band = self.spec, self.band
        NK = spec.N * spec.K
        self._cols_in[:, band.rows, :] = self._Y.reshape(band.n_rows, band.n_cols, NK).transpose(2, 0, 1)
        self._col_ifft.execute()
        last_row = (spec.P - 1) * spec.stride_h + 1
        self._rows_in[..., :band.n_cols] = self._cols[:, :last_row:spec.stride_h, :]
        self._rows_in[..., band.n_cols:] = 0  # a complex-to-real FFTW may overwrite its input
        self._row_irfft.execute()
        last_col = (spec.Q - 1) * spec.stride_w + 1
        out[...] = self._rows[:, :, :last_col:spec.stride_w].reshape(spec.output_shape)

    def run(self, x, w, out):
        Wt = self.transform_filter(w)
        self.transform_input(x)
        self.contract(Wt)
        self.transform_output(out)
