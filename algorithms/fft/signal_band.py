"""The band-limited 1-D FFT (c > 0) holding only the retained band: spectra of F, not T/2 + 1, frequencies.

FFTW's rfft writes every frequency of a row, so the rows go through it a few at a time, in a
small scratch, and only the band is kept: the spectra the plan holds (X, W, Y and their
gradients) shrink with (1 - c), as the proposal's claim has it. At c = 0 there is nothing to drop,
and signal.py's whole-array transforms write the spectra in place (no band copy).
"""
from __future__ import annotations

import numpy as np

from convbench.core.arrays import aligned_empty, aligned_zeros

from .signal_contract import contract, contract_data_gradient, contract_filter_gradient

# Samples through FFTW at a time (a chunk of rows; its scratch holds them as floats and as
# spectra): 16 rows of 65,536 held 25 MB of scratch, a third of the c = 0.5 plan's workspace
# (N=4 C=K=8, 65,536 x 4,096); FFTW's threads still take every row batch of this size (core.selection).
CHUNK_SAMPLES = 1 << 17
# Rows a chunk may take past CHUNK_SAMPLES where the rows are long: chunks of two 65,536-sample rows
# made the c = 0.5 call 1.1-1.2x as long as chunks of four (results/records/implementation-choices.json,
# row signal-band-chunks-of-four-rows).
CHUNK_ROWS_AT_LEAST = 4


def chunk_for(rows: int, T: int) -> int:
    """The largest divisor of rows whose rows hold at most CHUNK_SAMPLES, or at most CHUNK_ROWS_AT_LEAST
    long rows: every chunk then has one shape and one FFTW plan."""
    most = max(CHUNK_ROWS_AT_LEAST, CHUNK_SAMPLES // T)
    return max(d for d in range(1, min(rows, most) + 1) if rows % d == 0)


class BandRows:
    """Rows of T real samples to and from the first F frequencies of their spectrum, a chunk at a time."""

    def __init__(self, rows: int, T: int, bands: int, make_fftw):
        self.rows, self.T, self.bands, self.chunk = rows, T, bands, chunk_for(rows, T)
        self.real = aligned_zeros((self.chunk, T), dtype=np.float32)
        self.spectrum = aligned_zeros((self.chunk, T // 2 + 1), dtype=np.complex64)
        self._forward = make_fftw(self.real, self.spectrum)
        self._inverse = make_fftw(self.spectrum, self.real)

    def forward(self, write_rows, band: np.ndarray) -> None:
        """band (rows, F) <- the spectra of the rows write_rows(real, first, last) puts in real."""
        for first in range(0, self.rows, self.chunk):
            write_rows(self.real, first, first + self.chunk)
            self._forward.execute()
            band[first:first + self.chunk] = self.spectrum[:, :self.bands]

    def inverse(self, band: np.ndarray, read_rows) -> None:
        """read_rows(real, first, last) <- the rows whose spectra are band (rows, F), zero beyond F."""
        for first in range(0, self.rows, self.chunk):
            self.spectrum[:, :self.bands] = band[first:first + self.chunk]
            self.spectrum[:, self.bands:] = 0  # the c2r transform overwrote it
            self._inverse.execute()
            read_rows(self.real, first, first + self.chunk)
        self.real[...] = 0  # the forward writes only where data is: zeros elsewhere


class BandLimitedSignal:
    """signal.SignalFFTCPU's stages and passes at c > 0 (one block: the whole signal)."""

    def __init__(self, signal, T: int, bands: int, make_fftw):
        self.signal, self.T, self.bands = signal, T, bands
        N, C, K, Cg = signal.N, signal.C, signal.K, signal.C_per_group
        self.inputs = BandRows(N * C, T, bands, make_fftw)
        self.filters = BandRows(K * Cg, T, bands, make_fftw)
        self.outputs = BandRows(N * K, T, bands, make_fftw)
        self.X = aligned_empty((N, C, bands), dtype=np.complex64)
        self.W = aligned_empty((K, Cg, bands), dtype=np.complex64)
        self.Y = aligned_empty((N, K, bands), dtype=np.complex64)
        self._read = max(0, min(signal.L, signal.span - signal.padding))
        self._taps = slice(0, signal.extent, signal.dilation)
        self._outputs = slice(0, (signal.P - 1) * signal.stride + 1, signal.stride)

    # -- rows in and out of the scratch ------------------------------------------------
    def _signal_rows(self, x):  # x (N, C, L) -> padded rows
        rows, pad, read = x.reshape(-1, x.shape[-1]), self.signal.padding, self._read

        def write(real, first, last):
            real[:, pad:pad + read] = rows[first:last, :read]
        return write

    def _filter_rows(self, w):
        rows = w.reshape(-1, w.shape[-1])

        def write(real, first, last):
            real[:, self._taps] = rows[first:last]
        return write

    def _gradient_rows(self, dy):  # dy (N, K, P) at its stride-1 positions
        rows = dy.reshape(-1, dy.shape[-1])

        def write(real, first, last):
            real[:, self._outputs] = rows[first:last]
        return write

    # -- the stages ------------------------------------------------------------------------
    def transform_filter(self, w) -> np.ndarray:
        self.filters.forward(self._filter_rows(w[:, :, 0, :]), self.W.reshape(-1, self.bands))
        return self.W

    def transform_input(self, x) -> None:
        self.inputs.forward(self._signal_rows(x[:, :, 0, :]), self.X.reshape(-1, self.bands))

    def contract(self, W) -> None:
        contract(self.X, W, self.Y, self.bands, self.signal.groups, 1.0 / self.T)

    def transform_output(self, out) -> None:
        rows = out[:, :, 0, :].reshape(-1, out.shape[-1])

        def read(real, first, last):
            rows[first:last] = real[:, self._outputs]
        self.outputs.inverse(self.Y.reshape(-1, self.bands), read)

    # -- the exact adjoints ---------------------------------------------------------------
    def backward_data(self, dy, w) -> np.ndarray:
        signal = self.signal
        W = self.transform_filter(w)
        self.outputs.forward(self._gradient_rows(dy[:, :, 0, :]), self.Y.reshape(-1, self.bands))
        self.outputs.real[...] = 0
        contract_data_gradient(self.Y, W, self.X, self.bands, signal.groups, 1.0 / self.T)
        dx = aligned_zeros(signal.input_shape, dtype=np.float32)
        rows, pad, read = dx.reshape(-1, signal.L), signal.padding, self._read

        def take(real, first, last):
            rows[first:last, :read] = real[:, pad:pad + read]
        self.inputs.inverse(self.X.reshape(-1, self.bands), take)
        return dx[:, :, None, :]

    def backward_filter(self, x, dy) -> np.ndarray:
        signal = self.signal
        self.transform_input(x)
        self.outputs.forward(self._gradient_rows(dy[:, :, 0, :]), self.Y.reshape(-1, self.bands))
        self.outputs.real[...] = 0
        contract_filter_gradient(self.X, self.Y, self.W, self.bands, signal.groups, 1.0 / self.T)
        dw = aligned_empty(signal.filter_shape, dtype=np.float32)
        rows = dw.reshape(-1, signal.R)

        def take(real, first, last):
            rows[first:last] = real[:, self._taps]
        self.filters.inverse(self.W.reshape(-1, self.bands), take)
        return dw[:, :, None, :]
