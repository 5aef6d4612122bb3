"""Moving the retained spectral block between FFT planes and GEMM-ready layouts.

The FFTW paths work on planes (one per (n, c) or (k, c) pair); the contraction
wants one small matrix per retained frequency f. These kernels do that
transpose in one parallel pass each, fused with the conjugation and scaling of
the filter spectrum. They work on BLOCK planes at a time: BLOCK read streams
that each run in order through their plane, and writes of BLOCK neighbours,
instead of one plane-sized stride per element. Frequency f = i * n_cols + j is
retained row rows[i], column j.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

BLOCK = 16


def band_position(f, rows, n_cols):
    """(row, column) of retained frequency f in the one-sided spectrum: the one index map of every
    gather and scatter of the band, on both backends (compiled here for the CPU, in cuda.py for the GPU)."""
    return rows[f // n_cols], f % n_cols


_position = njit(inline="always")(band_position)


def gather_input_band(planes, band, dst) -> None:
    """dst (F, N, C)[f, n, c] = planes[n*C + c] (N*C one-sided spectra) at frequency f of the band."""
    _gather(planes, band.rows, band.n_cols, dst.shape[2], 1, np.float32(1.0), False, dst)


def gather_filter_band(planes, band, scale, dst) -> None:
    """dst (F, C, K)[f, c, k] = scale * conj(planes[k*C + c]) at frequency f: the filter spectrum,
    conjugated (cross-correlation, not convolution) and scaled by 1/(Lh*Lw) (FFTW's inverse is
    unnormalised)."""
    _gather(planes, band.rows, band.n_cols, 1, dst.shape[1], scale, True, dst)


@njit(parallel=True, cache=True)
def _gather(planes, rows, n_cols, stride_a, stride_b, scale, conjugate, dst):
    """dst[f, a, b] = scale * planes[a*stride_a + b*stride_b] at f, conjugated if asked."""
    F, A, B = dst.shape
    b_blocks = (B + BLOCK - 1) // BLOCK
    for ab in prange(A * b_blocks):
        a = ab // b_blocks
        b0 = (ab % b_blocks) * BLOCK
        b1 = min(b0 + BLOCK, B)
        for f in range(F):
            r, j = _position(f, rows, n_cols)
            for b in range(b0, b1):
                value = planes[a * stride_a + b * stride_b, r, j]
                dst[f, a, b] = (value.conjugate() if conjugate else value) * scale


@njit(parallel=True, cache=True)
def scatter_output(Y, rows, n_cols, planes):
    """planes[n*K + k, rows[i], j] = Y[f, n, k]; the other rows of planes stay as they are (zero)."""
    F, N, K = Y.shape
    k_blocks = (K + BLOCK - 1) // BLOCK
    for nb in prange(N * k_blocks):
        n = nb // k_blocks
        k0 = (nb % k_blocks) * BLOCK
        k1 = min(k0 + BLOCK, K)
        for f in range(F):
            r, j = _position(f, rows, n_cols)
            for k in range(k0, k1):
                planes[n * K + k, r, j] = Y[f, n, k]
