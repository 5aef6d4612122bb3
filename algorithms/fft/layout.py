"""Moving the retained spectral block between FFT planes and GEMM-ready layouts.

The FFTs work on planes (one per (n, c) or (k, c) pair); the contraction wants
one small matrix per retained frequency f. These kernels do that transpose in
one parallel pass each, fused with the conjugation and scaling of the filter
spectrum. They work on BLOCK planes at a time: BLOCK read streams that each run
in order through their plane, and writes of BLOCK neighbours, instead of one
plane-sized stride per element. Frequency f = i * n_cols + j is retained row
rows[i], column j.
"""
from __future__ import annotations

from numba import njit, prange

BLOCK = 16


@njit(parallel=True, cache=True)
def gather_input(planes, rows, n_cols, X):
    """X[f, n, c] = planes[n*C + c, rows[i], j] for X of shape (F, N, C)."""
    F, N, C = X.shape
    c_blocks = (C + BLOCK - 1) // BLOCK
    for nb in prange(N * c_blocks):
        n = nb // c_blocks
        c0 = (nb % c_blocks) * BLOCK
        c1 = min(c0 + BLOCK, C)
        for f in range(F):
            r = rows[f // n_cols]
            j = f % n_cols
            for c in range(c0, c1):
                X[f, n, c] = planes[n * C + c, r, j]


@njit(parallel=True, cache=True)
def gather_filter(planes, rows, n_cols, scale, Wt):
    """Wt[f, c, k] = conj(planes[k*C + c, rows[i], j]) * scale for Wt of shape (F, C, K).

    Conjugating turns the spectral product into cross-correlation; the scale
    1/(Lh*Lw) undoes FFTW's unnormalised inverse."""
    F, C, K = Wt.shape
    k_blocks = (K + BLOCK - 1) // BLOCK
    for cb in prange(C * k_blocks):
        c = cb // k_blocks
        k0 = (cb % k_blocks) * BLOCK
        k1 = min(k0 + BLOCK, K)
        for f in range(F):
            r = rows[f // n_cols]
            j = f % n_cols
            for k in range(k0, k1):
                Wt[f, c, k] = planes[k * C + c, r, j].conjugate() * scale


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
            r = rows[f // n_cols]
            j = f % n_cols
            for k in range(k0, k1):
                planes[n * K + k, r, j] = Y[f, n, k]
