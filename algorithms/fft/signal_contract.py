"""The 1-D FFT's three spectral products, on spectra as FFTW leaves them: rows of frequencies.

The 2-D contraction (contract.py) wants frequency-major (F, N, C) matrices; a long
1-D signal has few channels and tens of thousands of frequencies, so here every
row stays frequency-contiguous and each product streams a block of frequencies
through all channel pairs while the block is in cache: no transposes, and the
band (f < F) is simply where the loops stop. The arrays are float32 views of
complex64 rows, (re, im) interleaved, which LLVM vectorises.

    forward          Y[n, k]  = sum over c of k's group  X[n, c] W[k, c]       (W = conj(F_w)/T)
    backward data    DX[n, c] = sum over k of c's group  DY[n, k] conj(W[k, c])
    backward filter  DW[k, c] = sum over n               X[n, c] conj(DY[n, k]) / T
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

BLOCK = 512  # frequencies per block: a block of 8 channels' rows is 32 KiB, in L1/L2


@njit(inline="always", cache=True)
def _madd(y, x, w, start, stop, conj_w):
    """y[f] += x[f] * (conj(w[f]) if conj_w else w[f]) for start <= f < stop, interleaved floats."""
    if conj_w:
        for f in range(start, stop):
            xr, xi, wr, wi = x[2 * f], x[2 * f + 1], w[2 * f], w[2 * f + 1]
            y[2 * f] += xr * wr + xi * wi
            y[2 * f + 1] += xi * wr - xr * wi
    else:
        for f in range(start, stop):
            xr, xi, wr, wi = x[2 * f], x[2 * f + 1], w[2 * f], w[2 * f + 1]
            y[2 * f] += xr * wr - xi * wi
            y[2 * f + 1] += xr * wi + xi * wr


@njit(parallel=True, cache=True)
def _forward(X, W, Y, bands, groups, transpose_w):
    """Y (N, K, 2B) from X (N, C, 2B) and W (K, C/g, 2B) on f < bands; transpose_w: the data gradient,
    X is dy (N, K), W's rows read as conj(W[k, c]), Y is dx (N, C)."""
    N, Cin, Kout = X.shape[0], X.shape[1], Y.shape[1]
    per_in, per_out = Cin // groups, Kout // groups
    blocks = (bands + BLOCK - 1) // BLOCK
    for job in prange(N * blocks):
        n, b = job // blocks, job % blocks
        start, stop = b * BLOCK, min(bands, (b + 1) * BLOCK)
        for o in range(Kout):
            y = Y[n, o]
            y[2 * start:2 * stop] = 0.0
            g = o // per_out
            for i in range(g * per_in, (g + 1) * per_in):
                if transpose_w:
                    _madd(y, X[n, i], W[i, o - g * per_out], start, stop, True)
                else:
                    _madd(y, X[n, i], W[o, i - g * per_in], start, stop, False)


@njit(parallel=True, cache=True)
def _filter(X, DY, DW, bands, groups, scale):
    """DW (K, C/g, 2B) = scale · sum_n X[n, c] conj(DY[n, k]) on f < bands."""
    N, C, K = X.shape[0], X.shape[1], DY.shape[1]
    Cg, Kg = C // groups, K // groups
    blocks = (bands + BLOCK - 1) // BLOCK
    for job in prange(K * blocks):
        k, b = job // blocks, job % blocks
        start, stop = b * BLOCK, min(bands, (b + 1) * BLOCK)
        g = k // Kg
        for cl in range(Cg):
            dw = DW[k, cl]
            dw[2 * start:2 * stop] = 0.0
            for n in range(N):
                _madd(dw, X[n, g * Cg + cl], DY[n, k], start, stop, True)
            for f in range(2 * start, 2 * stop):
                dw[f] *= scale


def _floats(spectra: np.ndarray) -> np.ndarray:
    return spectra.view(np.float32)


def contract(X, W, Y, bands: int, groups: int) -> None:
    """Y = X W per frequency (the forward): X (N, C, B), W (K, C/g, B), Y (N, K, B) complex64."""
    _forward(_floats(X), _floats(W), _floats(Y), bands, groups, False)


def contract_data_gradient(DY, W, DX, bands: int, groups: int) -> None:
    """DX = DY conj(W) per frequency: DY (N, K, B), W (K, C/g, B), DX (N, C, B) complex64."""
    _forward(_floats(DY), _floats(W), _floats(DX), bands, groups, True)


def contract_filter_gradient(X, DY, DW, bands: int, groups: int, scale: float) -> None:
    """DW = scale · sum_n X conj(DY) per frequency: X (N, C, B), DY (N, K, B), DW (K, C/g, B) complex64."""
    _filter(_floats(X), _floats(DY), _floats(DW), bands, groups, np.float32(scale))
