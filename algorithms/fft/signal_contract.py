"""The 1-D FFT's three spectral products, on spectra as FFTW leaves them: rows of frequencies.

The 2-D contraction (contract.py) wants frequency-major (F, N, C) matrices; a long
1-D signal has few channels and tens of thousands of frequencies, so here every
row stays frequency-contiguous and each product takes a block of frequencies
through all channel pairs while the block is in cache: no transposes, and the
band (f < F) is simply where the loops stop. Within a block the rows are first
split into real and imaginary planes: LLVM vectorises the complex products on planes
plainly, and on FFTW's interleaved (re, im) floats it did not
(results/records/implementation-choices.json, row signal-contract-planar-blocks).

    forward          Y[n, k]  = sum over c of k's group  X[n, c] conj(W[k, c]) / T   (W = F_w)
    backward data    DX[n, c] = sum over k of c's group  DY[n, k] W[k, c] / T
    backward filter  DW[k, c] = sum over n               X[n, c] conj(DY[n, k]) / T
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

CACHE_FLOATS = 1 << 16  # the planes a block holds: 256 KiB, in L2
LARGEST_BLOCK = 512     # frequencies: the fastest of 128, 256 and 512 (row signal-contract-planar-blocks)


def block_for(rows: int) -> int:
    """Frequencies per block when `rows` planes of (re, im) are held: as many as fit CACHE_FLOATS."""
    return max(16, min(LARGEST_BLOCK, CACHE_FLOATS // (2 * max(1, rows))) // 16 * 16)


@njit(inline="always", cache=True)
def _split(row, start, m, re, im, sign, scale):
    """re, im <- scale times the m interleaved complex values of row from frequency start, conjugated
    when sign is -1."""
    for f in range(m):
        re[f] = scale * row[2 * (start + f)]
        im[f] = sign * scale * row[2 * (start + f) + 1]


@njit(inline="always", cache=True)
def _multiply_add(ar, ai, pr, pi, qr, qi, m):
    """(ar + i ai)[f] += (pr + i pi)[f] (qr + i qi)[f] for f < m, on planes."""
    for f in range(m):
        ar[f] += pr[f] * qr[f] - pi[f] * qi[f]
        ai[f] += pr[f] * qi[f] + pi[f] * qr[f]


@njit(parallel=True, cache=True)
def _products(X, W, Y, bands, groups, transpose_w, scale, block):
    """Y (N, O, 2B) = sum over i of o's group X[n, i] V[o, i] on f < bands: V[o, i] = scale·conj(W[o, i])
    (the forward: W is the filter's spectrum), or with transpose_w (the data gradient) scale·W[i, o]
    with W (I, O/g, 2B)."""
    N, I, O = X.shape[0], X.shape[1], Y.shape[1]
    per_in, per_out = I // groups, O // groups
    blocks = (bands + block - 1) // block
    for b in prange(blocks):
        start = b * block
        m = min(bands, start + block) - start
        vr = np.empty((O, per_in, block), np.float32)
        vi = np.empty((O, per_in, block), np.float32)
        xr = np.empty((I, block), np.float32)
        xi = np.empty((I, block), np.float32)
        ar = np.empty(block, np.float32)
        ai = np.empty(block, np.float32)
        for o in range(O):
            g = o // per_out
            for il in range(per_in):
                if transpose_w:
                    _split(W[g * per_in + il, o - g * per_out], start, m, vr[o, il], vi[o, il], 1.0, scale)
                else:
                    _split(W[o, il], start, m, vr[o, il], vi[o, il], -1.0, scale)
        for n in range(N):
            for i in range(I):
                _split(X[n, i], start, m, xr[i], xi[i], 1.0, 1.0)
            for o in range(O):
                first = (o // per_out) * per_in
                ar[:m] = 0.0
                ai[:m] = 0.0
                for il in range(per_in):
                    _multiply_add(ar, ai, xr[first + il], xi[first + il], vr[o, il], vi[o, il], m)
                y = Y[n, o]
                for f in range(m):
                    y[2 * (start + f)] = ar[f]
                    y[2 * (start + f) + 1] = ai[f]


@njit(parallel=True, cache=True)
def _filter(X, DY, DW, bands, groups, scale, block):
    """DW (K, C/g, 2B) = scale · sum_n X[n, c] conj(DY[n, k]) on f < bands."""
    N, C, K = X.shape[0], X.shape[1], DY.shape[1]
    Cg, Kg = C // groups, K // groups
    blocks = (bands + block - 1) // block
    for b in prange(blocks):
        start = b * block
        m = min(bands, start + block) - start
        xr = np.empty((N, C, block), np.float32)
        xi = np.empty((N, C, block), np.float32)
        dr = np.empty((N, K, block), np.float32)
        di = np.empty((N, K, block), np.float32)
        ar = np.empty(block, np.float32)
        ai = np.empty(block, np.float32)
        for n in range(N):
            for c in range(C):
                _split(X[n, c], start, m, xr[n, c], xi[n, c], 1.0, 1.0)
            for k in range(K):
                _split(DY[n, k], start, m, dr[n, k], di[n, k], -1.0, 1.0)
        for k in range(K):
            g = k // Kg
            for cl in range(Cg):
                ar[:m] = 0.0
                ai[:m] = 0.0
                for n in range(N):
                    _multiply_add(ar, ai, xr[n, g * Cg + cl], xi[n, g * Cg + cl], dr[n, k], di[n, k], m)
                dw = DW[k, cl]
                for f in range(m):
                    dw[2 * (start + f)] = scale * ar[f]
                    dw[2 * (start + f) + 1] = scale * ai[f]


def _floats(spectra: np.ndarray) -> np.ndarray:
    return spectra.view(np.float32)


def contract(X, W, Y, bands: int, groups: int, scale: float) -> None:
    """Y = scale · X conj(W) per frequency (the forward): X (N, C, B), W (K, C/g, B) the filter's
    spectrum, Y (N, K, B) complex64."""
    rows = W.shape[0] * W.shape[1] + X.shape[1]
    _products(_floats(X), _floats(W), _floats(Y), bands, groups, False, np.float32(scale), block_for(rows))


def contract_data_gradient(DY, W, DX, bands: int, groups: int, scale: float) -> None:
    """DX = scale · DY W per frequency: DY (N, K, B), W (K, C/g, B) the filter's spectrum, DX (N, C, B)."""
    rows = W.shape[0] * W.shape[1] + DY.shape[1]
    _products(_floats(DY), _floats(W), _floats(DX), bands, groups, True, np.float32(scale), block_for(rows))


def contract_filter_gradient(X, DY, DW, bands: int, groups: int, scale: float) -> None:
    """DW = scale · sum_n X conj(DY) per frequency: X (N, C, B), DY (N, K, B), DW (K, C/g, B) complex64."""
    rows = X.shape[0] * (X.shape[1] + DY.shape[1])
    _filter(_floats(X), _floats(DY), _floats(DW), bands, groups, np.float32(scale), block_for(rows))
