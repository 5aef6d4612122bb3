"""Band-limited FFT convolution on the CPU: pruned DFTs (BLAS) or pyFFTW, by size.

Padding, then transform, then contraction, then inverse, then crop:

1. transform the padded input and the filters onto the Lh x Lw grid's retained
   block only, one matrix per frequency: X[f] (N x C), W[f] (C x K). Either a
   pruned matrix DFT of the data's support (dft.py; the filter always, input
   on grids up to 128), or FFTW: an rfft along the rows that hold data, a
   complex FFT down the retained columns, and a gather of the retained rows;
2. conjugate the filter spectrum (cross-correlation, not convolution) and
   contract over channels at each retained frequency: Y[f] = X[f] @ conj(W[f]);
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
import pyfftw

from convbench.errors import ConvError
from convbench.selection import FILTER_TRANSFORM, fft_transform

from ..base import StagedPlan
from ..padding import embed
from ..scratch import Scratch
from . import wisdom
from .bandlimit import Band, BandLimited, check_compression, fft_grid
from .contract import stream_contract
from .dft import InverseSupportDFT, SupportDFT
from .layout import gather_block, scatter_output


def _fftw(src, dst, axis, direction, flags, threads):
    return pyfftw.FFTW(src, dst, axes=(axis,), direction=direction, flags=flags, threads=threads)


class _ForwardTransform:
    """Real planes (B, h, w), placed at (top, left) in an Lh x Lw zero grid, to
    their spectrum on the retained columns, (B, Lh, n_cols).

    Grid rows that hold no data (padding, or the zero rows around a small
    filter) have a zero row-FFT, so only the data rows are transformed: a 7x7
    filter on a 63x63 grid costs 7 row FFTs, not 63.
    """

    def __init__(self, batch, plane_shape, offset, band: Band, flags, threads):
        Lh, Lw = band.grid
        self.top, self.left = offset
        self.n_cols = band.n_cols
        self.data_rows = max(0, min(plane_shape[0], Lh - self.top))
        self._rows_in = pyfftw.zeros_aligned((batch, self.data_rows, Lw), dtype=np.float32)
        self._rows = pyfftw.empty_aligned((batch, self.data_rows, Lw // 2 + 1), dtype=np.complex64)
        self._cols_in = pyfftw.zeros_aligned((batch, Lh, band.n_cols), dtype=np.complex64)
        self.spectrum = pyfftw.zeros_aligned((batch, Lh, band.n_cols), dtype=np.complex64)
        self._row_fft = _fftw(self._rows_in, self._rows, -1, "FFTW_FORWARD", flags, threads) if self.data_rows else None
        self._col_fft = _fftw(self._cols_in, self.spectrum, -2, "FFTW_FORWARD", flags, threads)

    def __call__(self, planes) -> np.ndarray:
        if self._row_fft is None:  # padding so large that no data reaches the grid
            return self.spectrum
        embed(planes, self._rows_in, 0, self.left)
        self._row_fft.execute()
        self._cols_in[:, self.top:self.top + self.data_rows, :] = self._rows[..., :self.n_cols]
        self._col_fft.execute()
        return self.spectrum


class FFTCPU(BandLimited, StagedPlan):
    algorithm = "fft"
    backend = "cpu"

    def __init__(self, spec, compression=0.0, planner_effort=None, threads=None, filter_transform=None,
                 input_transform=None, output_transform=None):
        super().__init__(spec)
        planner_effort = planner_effort or wisdom.default_effort()
        if planner_effort not in wisdom.EFFORTS:
            raise ConvError(f"planner_effort must be one of {', '.join(wisdom.EFFORTS)}; got {planner_effort!r}")
        self.fft_shape = fft_grid(spec)
        self.band = Band(self.fft_shape, check_compression(compression))
        self.compression = self.band.compression
        # One FFTW thread by default: these batched transforms are small, and FFTW
        # starting and joining its threads on every execute cost more than they
        # gave (7x7 layer, N=8 C=K=64 56x56, 2 cores: 90 ms a call with 2 threads, 58 ms with 1).
        threads = threads or 1
        flags = (planner_effort,)
        uses_fftw = "fft" in (input_transform, filter_transform, output_transform) or fft_transform(self.fft_shape) == "fft"
        if uses_fftw:
            wisdom.load()
        N, C, K, P = spec.N, spec.C, spec.K, spec.P
        Lh, Lw = self.fft_shape
        F, n_cols = self.band.retained, self.band.n_cols
        self._scale = np.float32(1.0 / (Lh * Lw))

        # Input and output: pruned matrix DFTs on small grids, FFTW on large ones (convbench.selection)
        self._scratch = Scratch()  # the DFT stages take turns with two shared temporaries
        self.input_transform = input_transform or fft_transform(self.fft_shape)
        if self.input_transform == "dft":
            self._input_dft = SupportDFT(self.band, N * C, (spec.H, spec.W), offset=spec.padding, scratch=self._scratch)
            self._X = self._input_dft.spectrum.reshape(F, N, C)  # comes out in the contraction's layout
        elif self.input_transform == "fft":
            self._input_fft = _ForwardTransform(N * C, (spec.H, spec.W), spec.padding, self.band, flags, threads)
            self._X = np.empty((F, N, C), dtype=np.complex64)
        else:
            raise ConvError(f"input_transform must be 'fft' or 'dft'; got {input_transform!r}")
        self.filter_transform = filter_transform or FILTER_TRANSFORM
        if self.filter_transform == "dft":
            self._filter_dft = SupportDFT(self.band, C * K, (spec.R, spec.S), conjugate=True, scale=self._scale,
                                          scratch=self._scratch)
        elif self.filter_transform == "fft":
            self._filter_fft = _ForwardTransform(K * C, (spec.R, spec.S), (0, 0), self.band, flags, threads)
            self._Wt = np.empty((F, C, K), dtype=np.complex64)
        else:
            raise ConvError(f"filter_transform must be 'fft' or 'dft'; got {filter_transform!r}")
        # spectra on the retained block only, one matrix per frequency for the GEMMs
        self._Y = np.empty((F, N, K), dtype=np.complex64)
        self.output_transform = output_transform or fft_transform(self.fft_shape)
        if self.output_transform == "dft":
            self._output_dft = InverseSupportDFT(self.band, N * K, P, spec.Q, spec.stride, scratch=self._scratch)
        elif self.output_transform == "fft":
            # inverse: down the retained columns, then along only the rows the stride keeps
            self._cols_in = pyfftw.zeros_aligned((N * K, Lh, n_cols), dtype=np.complex64)
            self._cols = pyfftw.empty_aligned((N * K, Lh, n_cols), dtype=np.complex64)
            self._rows_in = pyfftw.zeros_aligned((N * K, P, Lw // 2 + 1), dtype=np.complex64)
            self._rows = pyfftw.empty_aligned((N * K, P, Lw), dtype=np.float32)
            self._col_ifft = _fftw(self._cols_in, self._cols, -2, "FFTW_BACKWARD", flags, threads)
            self._row_irfft = _fftw(self._rows_in, self._rows, -1, "FFTW_BACKWARD", flags, threads)
        else:
            raise ConvError(f"output_transform must be 'fft' or 'dft'; got {output_transform!r}")
        self._scratch.allocate()  # now, so that the plan's memory is all there (and measured) once it is built
        if uses_fftw and planner_effort != "FFTW_ESTIMATE":
            wisdom.save()

    @property
    def spectral_mask(self) -> np.ndarray:
        """Boolean (Lh, Lw//2 + 1): True where the one-sided spectrum is kept."""
        return self.band.mask

    def transform_filter(self, w) -> np.ndarray:
        """conj(F_w) / (Lh*Lw) on the retained block, as (F, C, K), in the plan's own buffers."""
        K, C = self.spec.K, self.spec.C
        if self.filter_transform == "dft":
            # planes ordered (c, k) so the spectrum comes out (F, C, K), contiguous for the GEMMs:
            # a transposed view made numpy's batched matmul 1.6x slower
            by_channel = np.ascontiguousarray(w.transpose(1, 0, 2, 3)).reshape(C * K, self.spec.R, self.spec.S)
            return self._filter_dft(by_channel).reshape(-1, C, K)
        spectrum = self._filter_fft(w.reshape(K * C, self.spec.R, self.spec.S))
        gather_block(spectrum, self.band.rows, self.band.n_cols, 1, C, self._scale, True, self._Wt)
        return self._Wt

    def transform_input(self, x) -> None:
        N, C = self.spec.N, self.spec.C
        if self.input_transform == "dft":
            self._input_dft(x.reshape(N * C, self.spec.H, self.spec.W))  # writes self._X
            return
        spectrum = self._input_fft(x.reshape(N * C, self.spec.H, self.spec.W))
        gather_block(spectrum, self.band.rows, self.band.n_cols, C, 1, np.float32(1.0), False, self._X)

    def contract(self, Wt) -> None:
        stream_contract(self._X, Wt, self._Y)

    def transform_output(self, out) -> None:
        spec, n_cols = self.spec, self.band.n_cols
        if self.output_transform == "dft":
            self._output_dft(self._Y.reshape(self.band.retained, -1), out.reshape(-1, spec.P, spec.Q))
            return
        scatter_output(self._Y, self.band.rows, n_cols, self._cols_in)
        self._col_ifft.execute()
        last_row = (spec.P - 1) * spec.stride_h + 1
        self._rows_in[..., :n_cols] = self._cols[:, :last_row:spec.stride_h, :]
        self._rows_in[..., n_cols:] = 0  # a complex-to-real FFTW may overwrite its input
        self._row_irfft.execute()
        last_col = (spec.Q - 1) * spec.stride_w + 1
        out[...] = self._rows[:, :, :last_col:spec.stride_w].reshape(spec.output_shape)
