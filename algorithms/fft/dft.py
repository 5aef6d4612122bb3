"""Pruned DFTs as matrix products: from the data's support straight to the retained block.

A 7x7 filter on a 63x63 grid is 49 numbers; an FFT of the whole mostly-zero
plane computes 63*32 coefficients from it, most of which band-limiting then
drops. Here the transform is two matrix products over the support only,

    spectrum[u, v] = sum_r sum_s planes[r, s] * exp(-2 pi i (u (top + r) / Lh + v (left + s) / Lw))

for the retained rows u and columns v alone, so its work and memory shrink with
the compression and with the support, and the padding offset is a phase.
The products run on BLAS, and the result comes out already laid out as one
(B,) vector per retained frequency, as the contraction wants it.
"""
from __future__ import annotations

import numpy as np

from .bandlimit import Band


def dft_matrix(length: int, frequencies, positions, sign: float = -1.0) -> np.ndarray:
    """exp(sign * 2 pi i * frequency * position / length), float64 accuracy, as complex128."""
    phase = np.outer(np.asarray(frequencies, dtype=np.int64), np.asarray(positions, dtype=np.int64)) % length
    return np.exp(sign * 2j * np.pi * phase / length)


class SupportDFT:
    """Real planes (B, h, w) at (top, left) of the Lh x Lw grid -> (F, B) complex64 on the retained block.

    `conjugate` returns the conjugate spectrum and `scale` multiplies it: both
    are folded into the matrices, so the filter spectrum comes out ready for
    cross-correlation at no extra pass.
    """

    def __init__(self, band: Band, batch: int, plane_shape, offset=(0, 0), conjugate=False, scale=1.0):
        Lh, Lw = band.grid
        top, left = offset
        self.rows_used = max(0, min(plane_shape[0], Lh - top))
        self.cols_used = max(0, min(plane_shape[1], Lw - left))
        sign = 1.0 if conjugate else -1.0
        n_cols = band.n_cols
        columns = dft_matrix(Lw, np.arange(n_cols), left + np.arange(self.cols_used), sign).T  # (w, n_cols)
        # real input: one real GEMM against [Re | Im] of the column DFT gives both parts at once
        self._columns = np.ascontiguousarray(np.hstack([columns.real, columns.imag]), dtype=np.float32)
        self._rows = np.ascontiguousarray(dft_matrix(Lh, band.rows, top + np.arange(self.rows_used), sign) * scale,
                                          dtype=np.complex64)  # (n_rows, h)
        self.batch, self.n_cols, self.n_rows = batch, n_cols, band.n_rows
        self._half = np.empty((batch * self.rows_used, 2 * n_cols), dtype=np.float32)
        self._mixed = np.empty((self.rows_used, n_cols, batch), dtype=np.complex64)
        self.spectrum = np.empty((self.n_rows, n_cols * batch), dtype=np.complex64)

    def __call__(self, planes: np.ndarray) -> np.ndarray:
        """planes: float32 (B, H, W) with H >= rows used, W >= cols used. Returns (n_rows * n_cols, B)."""
        h, w, B, nc = self.rows_used, self.cols_used, self.batch, self.n_cols
        if h == 0 or w == 0:  # padding so large that no data reaches the grid
            self.spectrum[...] = 0
            return self.spectrum.reshape(-1, B)
        data = planes[:, :h, :w].reshape(B * h, w) if planes.shape[1:] != (h, w) else planes.reshape(B * h, w)
        np.matmul(data, self._columns, out=self._half)
        half = self._half.reshape(B, h, 2 * nc)
        # (B, h, nc) complex -> (h, nc, B): the row DFT then contracts over h for all (v, b) at once
        mixed = self._mixed
        mixed.real = half[:, :, :nc].transpose(1, 2, 0)
        mixed.imag = half[:, :, nc:].transpose(1, 2, 0)
        np.matmul(self._rows, mixed.reshape(h, nc * B), out=self.spectrum)
        return self.spectrum.reshape(-1, B)
