"""The three transform stages of the CPU fft plan, each a small object with one choice of method.

Input (padded x -> X[f] = (N x C) on the retained band), filter (w ->
conj(F_w)/(Lh*Lw) as W[f] = (C x K)) and output (Y[f] = (N x K) -> the
strided, cropped output). Each comes as a pruned matrix DFT ("dft": only the
band, only the rows and columns that hold data; dft.py) or FFTW ("fft").
convbench.core.selection says which by default, with the measurements.
"""
from __future__ import annotations

import numpy as np
import pyfftw

from convbench.core.arrays import aligned_empty, aligned_zeros
from convbench.core.errors import ConvError
from convbench.core.selection import filter_spectrum_block_rows

from ..blas import interleave
from ..complex_product import split_planes
from ..padding import embed, inside
from ..work import COMPLEX, FLOAT, Work, fft_flops
from .bandlimit import Band
from .dft import InverseSupportDFT, SupportDFT, even_blocks
from .layout import gather_filter_band, gather_input_band, scatter_output

KINDS = ("dft", "fft")


def _fftw(src, dst, axis, direction, fftw):
    flags, threads = fftw
    return pyfftw.FFTW(src, dst, axes=(axis,), direction=direction, flags=flags, threads=threads)


def check_kind(name: str, kind: str) -> str:
    if kind not in KINDS:
        raise ConvError(f"{name} must be 'fft' or 'dft'; got {kind!r}")
    return kind


class ForwardFFTW:
    """Real planes (B, h, w), placed at (top, left) in an Lh x Lw zero grid, to
    their spectrum on the retained columns, (B, Lh, n_cols).

    Grid rows that hold no data (padding, or the zero rows around a small
    filter) have a zero row-FFT, so only the data rows are transformed: a 7x7
    filter on a 63x63 grid costs 7 row FFTs, not 63.
    """

    def __init__(self, batch, plane_shape, offset, band: Band, fftw):
        Lh, Lw = band.grid
        self.top, self.left = offset
        self.n_cols = band.n_cols
        self.data_rows = inside(plane_shape[0], Lh, self.top)
        self._rows_in = aligned_zeros((batch, self.data_rows, Lw), dtype=np.float32)
        self._rows = aligned_empty((batch, self.data_rows, Lw // 2 + 1), dtype=np.complex64)
        self._cols_in = aligned_zeros((batch, Lh, band.n_cols), dtype=np.complex64)
        self.spectrum = aligned_zeros((batch, Lh, band.n_cols), dtype=np.complex64)
        self._row_fft = _fftw(self._rows_in, self._rows, -1, "FFTW_FORWARD", fftw) if self.data_rows else None
        self._col_fft = _fftw(self._cols_in, self.spectrum, -2, "FFTW_FORWARD", fftw)

    @property
    def flops(self) -> float:
        """A real FFT along each data row, a complex one down each retained column."""
        Lh, Lw = self.spectrum.shape[1], self._rows_in.shape[2]
        batch = self.spectrum.shape[0]
        return fft_flops(Lw, batch * self.data_rows, real=True) + fft_flops(Lh, batch * self.n_cols)

    def __call__(self, planes) -> np.ndarray:
        if self._row_fft is None:  # padding so large that no data reaches the grid
            return self.spectrum
        embed(planes, self._rows_in, 0, self.left)
        self._row_fft.execute()
        self._cols_in[:, self.top:self.top + self.data_rows, :] = self._rows[..., :self.n_cols]
        self._col_fft.execute()
        return self.spectrum


class InputStage:
    """x (N, C, H, W) -> X (F, N, C), the padded input's spectrum on the band; with split, its split planes
    (F, 2N, C) float32 instead, each frequency's real (N x C) over its imaginary one, as a contraction on
    split planes reads them (spectrum() interleaves X from them for the filter gradient)."""

    def __init__(self, kind, spec, band: Band, scratch, fftw, split=False):
        N, C, F = spec.N, spec.C, band.retained
        self.kind, self.spec, self.band = check_kind("input_transform", kind), spec, band
        if kind == "dft":
            self._dft = SupportDFT(band, N * C, (spec.H, spec.W), offset=spec.padding, scratch=scratch, split=split)
            if split:  # the DFT writes the split planes itself (no interleaving pass, no splitting one)
                self.planes = self._dft.spectrum.reshape(F, 2 * N, C)
                self.X = aligned_empty((F, N, C), dtype=np.complex64)
            else:
                self.planes = None
                self.X = self._dft.spectrum.reshape(F, N, C)  # comes out in the contraction's layout
        else:
            self._fft = ForwardFFTW(N * C, (spec.H, spec.W), spec.padding, band, fftw)
            self.X = aligned_empty((F, N, C), dtype=np.complex64)
            self.planes = aligned_empty((F, 2 * N, C), dtype=np.float32) if split else None

    def work(self) -> Work:
        spec = self.spec
        method = self._dft if self.kind == "dft" else self._fft
        return Work(FLOAT * spec.N * spec.C * spec.H * spec.W + COMPLEX * self.X.size, method.flops)

    def __call__(self, x) -> None:
        planes = x.reshape(self.spec.N * self.spec.C, self.spec.H, self.spec.W)
        if self.kind == "dft":
            self._dft(planes)  # writes self.X, or self.planes
            return
        gather_input_band(self._fft(planes), self.band, self.X)
        if self.planes is not None:
            split_planes(self.X, self.planes)

    def spectrum(self) -> np.ndarray:
        """X (F, N, C) complex64 as the last call left it: interleaved here from the split planes where the
        DFT wrote only those."""
        if self.kind == "dft" and self.planes is not None:
            N = self.spec.N
            interleave(self.planes[:, :N], self.planes[:, N:], out=self.X)
        return self.X


class FilterStage:
    """w (K, C/groups, R, S) -> conj(F_w) / (Lh*Lw) on the band as (F, C/groups, K), in the stage's own
    buffers. A dilated filter's taps sit dilation apart on the grid: the pruned DFT reads them
    there (only the R x S taps are transformed); the FFTW path writes the dilated filter out."""

    def __init__(self, kind, spec, band: Band, scratch, fftw, split=False):
        """split: the DFT's spectrum by blocks of columns as split planes as well (split_column_blocks), for a
        contraction on split planes."""
        C, K = spec.C_per_group, spec.K
        self.kind, self.spec, self.band = check_kind("filter_transform", kind), spec, band
        self.scale = np.float32(1.0 / (band.grid[0] * band.grid[1]))
        if kind == "dft":
            # w's planes come (c, k)-ordered, a view (_by_channel): laid out before the first product
            self._dft = SupportDFT(band, C * K, (spec.R, spec.S), conjugate=True, scale=self.scale, scratch=scratch,
                                   step=spec.dilation, flat_planes=False)
            self._split_dft = None if not split else SupportDFT(
                band, C * K, (spec.R, spec.S), conjugate=True, scale=self.scale, scratch=scratch, step=spec.dilation,
                whole=False, split=True, flat_planes=False)
            self.rows_per_block = filter_spectrum_block_rows(band.n_cols * C * K * COMPLEX, band.n_rows)
        else:
            self._dilated = aligned_zeros((K * C, spec.extent_h, spec.extent_w), dtype=np.float32)
            self._fft = ForwardFFTW(K * C, self._dilated.shape[1:], (0, 0), band, fftw)
            self._W = aligned_empty((band.retained, C, K), dtype=np.complex64)

    def work(self) -> Work:
        spec = self.spec
        method = self._dft if self.kind == "dft" else self._fft
        return Work(FLOAT * spec.K * spec.C_per_group * spec.R * spec.S
                    + COMPLEX * self.band.retained * spec.C_per_group * spec.K, method.flops)

    def __call__(self, w) -> np.ndarray:
        spec = self.spec
        K, C, R, S = spec.K, spec.C_per_group, spec.R, spec.S
        if self.kind == "dft":
            return self._dft(self._by_channel(w)).reshape(-1, C, K)
        self._dilated[:, ::spec.dil_h, ::spec.dil_w] = w.reshape(K * C, R, S)
        gather_filter_band(self._fft(self._dilated), self.band, self.scale, self._W)
        return self._W

    @property
    def first_product_bytes(self) -> int:
        """The pruned DFT's first product (SupportDFT.columns), which by_row_blocks reads once a block;
        0 with FFTW."""
        return self._dft.first_product_bytes if self.kind == "dft" else 0

    @property
    def spectrum(self) -> np.ndarray:
        """The pruned DFT's whole spectrum, as the last call or by_row_blocks run to its end wrote it
        (not split_column_blocks, whose blocks overwrite its first bytes): (F, C/groups, K)."""
        return self._dft.spectrum.reshape(-1, self.spec.C_per_group, self.spec.K)

    def by_row_blocks(self, w):
        """The pruned DFT's spectrum a block of its rows at a time: yields (start, stop, W[start:stop])
        over the frequencies, each block (stop - start, C/groups, K) a view of the whole spectrum. The
        DFT's second product runs a block at a time, so a caller reads each block while it is still in
        cache, not the whole spectrum back from memory."""
        spec = self.spec
        C, K, nc = spec.C_per_group, spec.K, self.band.n_cols
        mixed = self._dft.columns(self._by_channel(w))
        for start, stop in even_blocks(self.band.n_rows, self.rows_per_block):
            block = self._dft.rows(mixed, start, stop, self._dft.spectrum[start:stop])
            yield start * nc, stop * nc, block.reshape(-1, C, K)

    def split_column_blocks(self, w, columns: int):
        """The pruned DFT's spectrum a block of at most `columns` retained columns at a time, every retained row,
        as split planes (the stage made with split): yields (start, stop, W), W float32 (n_rows, stop - start,
        2, C/groups, K), each frequency's real (C/groups x K) over its imaginary one, so frequency (u, v) of the
        block is W[u, v - start] (SupportDFT.split_column_blocks). Each block is written over the whole
        spectrum's first bytes, where the last block was, still in cache: after the last block the whole
        spectrum is not there (spectrum)."""
        C, K, n_rows = self.spec.C_per_group, self.spec.K, self.band.n_rows
        memory = self._dft.spectrum.reshape(-1).view(np.float32)
        for start, stop, block in self._split_dft.split_column_blocks(self._by_channel(w), columns, memory):
            yield start, stop, block.reshape(n_rows, stop - start, 2, C, K)

    @staticmethod
    def _by_channel(w) -> np.ndarray:
        """w's planes ordered (c, k), so the spectrum comes out (F, C, K), contiguous for the GEMMs: a
        transposed spectrum made numpy's batched matmul slower
        (results/records/implementation-choices.json, row fft-filter-planes-by-channel). A view: the
        pruned DFT lays the planes out as it reads them (SupportDFT.columns)."""
        return w.transpose(1, 0, 2, 3)


class OutputStage:
    """Y (F, N, K) -> out (N, K, P, Q): the inverse, evaluated only at the rows and columns the stride keeps.
    split=True (the DFT only): Y as split planes, float32 (F, 2, N, K)."""

    def __init__(self, kind, spec, band: Band, scratch, fftw, split=False):
        N, K, P = spec.N, spec.K, spec.P
        self.kind, self.spec, self.band = check_kind("output_transform", kind), spec, band
        if kind == "dft":
            self._dft = InverseSupportDFT(band, N * K, P, spec.Q, spec.stride, scratch=scratch, split=split)
            return
        if split:
            raise ValueError("split planes of Y need output_transform='dft'")
        # down the retained columns, then along only the rows the stride keeps
        Lh, Lw = band.grid
        self._cols_in = aligned_zeros((N * K, Lh, band.n_cols), dtype=np.complex64)
        self._cols = aligned_empty((N * K, Lh, band.n_cols), dtype=np.complex64)
        self._rows_in = aligned_zeros((N * K, P, Lw // 2 + 1), dtype=np.complex64)
        self._rows = aligned_empty((N * K, P, Lw), dtype=np.float32)
        self._col_ifft = _fftw(self._cols_in, self._cols, -2, "FFTW_BACKWARD", fftw)
        self._row_irfft = _fftw(self._rows_in, self._rows, -1, "FFTW_BACKWARD", fftw)

    def work(self) -> Work:
        spec = self.spec
        if self.kind == "dft":
            flops = self._dft.flops
        else:  # down the retained columns, then a real inverse along the kept rows
            Lh, Lw = self.band.grid
            batch = spec.N * spec.K
            flops = fft_flops(Lh, batch * self.band.n_cols) + fft_flops(Lw, batch * spec.P, real=True)
        return Work(COMPLEX * self.band.retained * spec.N * spec.K + FLOAT * spec.N * spec.K * spec.P * spec.Q, flops)

    def __call__(self, Y, out) -> None:
        spec, n_cols = self.spec, self.band.n_cols
        if self.kind == "dft":
            spectrum = Y.reshape(self.band.retained, -1) if Y.dtype == np.complex64 else Y  # else split planes
            self._dft(spectrum, out.reshape(-1, spec.P, spec.Q))
            return
        scatter_output(Y, self.band.rows, n_cols, self._cols_in)
        self._col_ifft.execute()
        last_row = (spec.P - 1) * spec.stride_h + 1
        self._rows_in[..., :n_cols] = self._cols[:, :last_row:spec.stride_h, :]
        self._rows_in[..., n_cols:] = 0  # a complex-to-real FFTW may overwrite its input
        self._row_irfft.execute()
        last_col = (spec.Q - 1) * spec.stride_w + 1
        out[...] = self._rows[:, :, :last_col:spec.stride_w].reshape(spec.output_shape)
