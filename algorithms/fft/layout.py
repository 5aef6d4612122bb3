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

from numba import njit, prange

BLOCK = 16


@njit(parallel=True, cache=True)
def gather_block(planes, rows, n_cols, stride_a, stride_b, scale, conjugate, dst):
    """dst[f, a, b] = scale * planes[a*stride_a + b*stride_b, rows[i], j], conjugated if asked.

    Input spectra: dst (F, N, C) from planes n*C + c (strides C, 1).
    Filter spectra: dst (F, C, K) from planes k*C + c (strides 1, C), conjugated
    (cross-correlation, not convolution) and scaled by 1/(Lh*Lw) (FFTW's
    inverse is unnormalised)."""
    F, A, B = dst.shape
    b_blocks = (B + BLOCK - 1) // BLOCK
    for ab in prange(A * b_blocks):
        a = ab // b_blocks
        b0 = (ab % b_blocks) * BLOCK
        b1 = min(b0 + BLOCK, B)
        for f in range(F):
            r = rows[f // n_cols]
            j = f % n_cols
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
            r = rows[f // n_cols]
            j = f % n_cols
            for k in range(k0, k1):
                planes[n * K + k, r, j] = Y[f, n, k]
