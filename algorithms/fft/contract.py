"""The spectral contraction Y[f] = X[f] W[f] over the retained frequencies f.

With a few images and no groups each product is a real matrix product and runs
as torch's batched cgemm (see convbench.core.selection.contract_with_blas), or, where the
GEMMs run on oneDNN 2, as one real GEMM on X's split planes, which the input stage writes
(the plan's _contract; results/records/implementation-choices.json, row fft-contract-split-planes);
below that and with groups, the Numba streams here.

numpy's batched complex matmul calls a BLAS cgemm per frequency. That is
right when each product is a real matrix product, but with one image each
product is a vector times a matrix, and BLAS runs far below the memory-bound
rate of streaming the filter spectrum once. The Numba loops below stream each
W[f] once, with real arithmetic on interleaved (re, im) floats that LLVM
vectorises.

The arrays are viewed 4-D, (F, N, groups, 2·C/groups) and so on, so that every
innermost index runs from 0 over one group's block: an index like
g·K/groups + k kept LLVM from proving it non-negative, and Numba's wraparound
check then stopped the vectorisation. With groups the filter row is applied to
every image while it is in L1 (the filter-outer order); without groups the
image-outer order was faster.

Each choice's measurement: results/records/implementation-choices.json, rows fft-contract-numba-stream,
fft-contract-4d-views and fft-contract-loop-order.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from convbench.core.selection import contract_with_blas

from ..blas import matmul


@njit(inline="always", cache=True)
def _accumulate(y, xr, xi, w):
    """y += (xr + i xi) w over interleaved (re, im) floats: one complex row times a scalar."""
    for k in range(y.shape[0] // 2):
        wr = w[2 * k]
        wi = w[2 * k + 1]
        y[2 * k] += xr * wr - xi * wi
        y[2 * k + 1] += xr * wi + xi * wr


@njit(parallel=True, cache=True)
def _image_outer(X, W, Y):
    """Y[f, n, g] = sum_c X[f, n, g, c] W[f, c, g] on float32 views of complex arrays (last
    axis re, im interleaved): X (F, N, G, 2Cg), W (F, Cg, G, 2Kg), Y (F, N, G, 2Kg)."""
    F, N, G = X.shape[0], X.shape[1], X.shape[2]
    Cg = X.shape[3] // 2
    for f in prange(F):
        for n in range(N):
            for g in range(G):
                y = Y[f, n, g]
                y[:] = 0.0
                x = X[f, n, g]
                for c in range(Cg):
                    _accumulate(y, x[2 * c], x[2 * c + 1], W[f, c, g])


@njit(parallel=True, cache=True)
def _filter_outer(X, W, Y):
    """The same product, each filter row W[f, c, g] applied to all N images before the next."""
    F, N, G = X.shape[0], X.shape[1], X.shape[2]
    Cg = X.shape[3] // 2
    for f in prange(F):
        Y[f] = 0.0
        for g in range(G):
            for c in range(Cg):
                w = W[f, c, g]
                for n in range(N):
                    _accumulate(Y[f, n, g], X[f, n, g, 2 * c], X[f, n, g, 2 * c + 1], w)


def stream_contract(X: np.ndarray, W: np.ndarray, Y: np.ndarray, groups: int = 1) -> None:
    """Y = X @ W per frequency, for C-contiguous complex64 X (F, N, C), W (F, C/groups, K), Y (F, N, K):
    with groups, the block-diagonal product (each group's C/groups channels to its K/groups outputs);
    the off-diagonal blocks are never read or multiplied. Batched BLAS (torch's pool) from a few
    images without groups, the Numba streams otherwise (convbench.core.selection.contract_with_blas).
    Where the GEMMs run on oneDNN 2 the plan contracts X's split planes instead (FFTCPU._contract)."""
    F, N = X.shape[0], X.shape[1]
    if contract_with_blas(N, groups):
        matmul(X, W, out=Y)
        return
    X4 = X.view(np.float32).reshape(F, N, groups, -1)
    W4 = W.view(np.float32).reshape(F, W.shape[1], groups, -1)
    Y4 = Y.view(np.float32).reshape(F, N, groups, -1)
    (_image_outer if groups == 1 else _filter_outer)(X4, W4, Y4)
