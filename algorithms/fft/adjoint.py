"""The gradients of the band-limited FFT convolution: the exact adjoints of its two linear maps.

The forward pass (reference.masked_spectrum_conv) is, per output channel,

    y = S F^-1 [ M . sum_c X_c . conj(W_c) ],   X = F E x,   W = F E_w w

with E zero-padding x into the Lh x Lw grid at (pad_h, pad_w) (E_w: w at the
origin, its taps dilation apart), F the unnormalised 2-D DFT (F^-1 = F* / L, L = Lh·Lw), M the 0/1
mask (symmetric in the frequency: M(-u, -v) = M(u, v)) and S the crop that
keeps every stride-th position. For fixed w it is a linear map of x, for
fixed x a linear map of w, and the gradients of <dy, y> are their adjoints
(with groups, the sums over c and k run within each group: the same
adjoints, block by block):

backward-data. The map is x -> S F^-1 D F E x with D = diag(M conj(W)).
Its adjoint is E* F* D* (F^-1)* S* = E* (L F^-1) conj(D) (F / L) S*
= E* F^-1 [ M . W . F(S* dy) ]:

    dx_c = E* F^-1 [ M . sum_k W_kc . G_k ],   G = F S* dy

(S* puts dy back on the grid at the positions the stride kept, zeros
elsewhere; E* reads the input's positions). The mask is applied again, and
W enters without the conjugate: convolution undoes correlation.

backward-filter. For real w, conj(F E_w w) = conj(F) E_w w, so the map is
w -> S F^-1 diag(M X) conj(F) E_w w, with adjoint
E_w* F^T diag(conj(M X)) (F^-1)* S* dy = E_w* (F / L) [ M . conj(X) . G ];
dw is real, so it equals its conjugate, (conj(F) / L) [ M X conj(G) ]
= F^-1 [ M . X . conj(G) ]:

    dw_kc = E_w* F^-1 [ M . sum_n X_nc . conj(G_nk) ]

read on the R x S support at the origin: the band-limited correlation of x
with dy.

Both use the full spectrum through rfft2/irfft2. The one-sided rfft stores
the interior columns once for two (their conjugate twins are implied), so an
adjoint written on the one-sided coefficients needs weights of 2 there and 1
on columns 0 and Lw/2: taking the full-spectrum operator, whose product is
Hermitian because x, w, dy are real and M symmetric, and letting irfft2 form
the real result, gets that right by construction. tests/test_gradients.py
checks the dot-product identity and torch.autograd.gradcheck at several c.

The transforms are pyFFTW's (its numpy interface, plans cached); float32 in,
float32 out, float64 in, float64 out (what gradcheck uses). The contraction
runs on the retained frequencies only, as the forward's does.
"""
from __future__ import annotations

import numpy as np
import pyfftw
from pyfftw.interfaces import numpy_fft

from ..blas import diagonal_blocks, times_block_diagonal
from ..padding import from_grid, on_grid
from . import wisdom

pyfftw.interfaces.cache.enable()  # the FFTW plans behind numpy_fft's calls are kept between calls


def _rfft2(a, s=None):
    wisdom.load()
    return numpy_fft.rfft2(a, s=s, planner_effort=wisdom.default_effort(), threads=1)


def _irfft2(a, s):
    return numpy_fft.irfft2(a, s=s, planner_effort=wisdom.default_effort(), threads=1)


def band_values(spectrum, mask) -> np.ndarray:
    """(F, a, b): the one-sided spectra (a, b, Lh, Lw//2 + 1) on the retained frequencies, in the
    forward plan's order (retained rows ascending, then columns)."""
    return np.ascontiguousarray(np.moveaxis(spectrum[..., mask], -1, 0))


def from_band(values, mask, grid) -> np.ndarray:
    """irfft2 of the spectra that are `values` (F, a, b) on the band and zero elsewhere: (a, b, Lh, Lw)."""
    full = np.zeros((*values.shape[1:], *mask.shape), dtype=values.dtype)
    full[..., mask] = np.moveaxis(values, 0, -1)
    return _irfft2(full, s=grid)


def data_product(G, W, groups) -> np.ndarray:
    """sum over k in group(c) of G[f, n, k] W[f, k, c'] frequency by frequency: G (F, N, K) and
    W (F, K, C/g) to (F, N, C), one batched complex GEMM per diagonal block, on torch's BLAS."""
    return times_block_diagonal(G, W, groups)


def data_product_conjugate(G, Wt, groups) -> np.ndarray:
    """sum over k in group(c) of G[f, n, k] conj(Wt[f, c', k]), from the forward's filter spectrum
    Wt (F, C/g, K) as it stands: computed as conj(conj(G) @ Wt^T), so BLAS reads Wt transposed in
    place and only G and the product (N-sized) are conjugated. Materialising conj(Wt)^T first
    copied the whole filter spectrum twice, and so did torch's lazy conjugate view
    (results/records/implementation-choices.json, row fft-adjoint-conjugate-in-place)."""
    return times_block_diagonal(np.conjugate(G), Wt.transpose(0, 2, 1), groups, conjugate=True)


def dy_spectrum(dy, spec, grid):
    """G = F S* dy: dy back on the grid at the positions the stride kept."""
    return _rfft2(on_grid(dy, grid, step=spec.stride))


def data_gradient(G_band, W_band, spec, grid, mask) -> np.ndarray:
    """dx = E* F^-1 [M . sum_k W_kc G_nk] from G (F, N, K) and W (F, K, C/groups) on the band."""
    dx = from_band(data_product(G_band, W_band, spec.groups), mask, grid)
    return from_grid(dx, (spec.pad_h, spec.pad_w), (spec.H, spec.W))


def filter_gradient(X_band, G_band, spec, grid, mask) -> np.ndarray:
    """dw = E_w* F^-1 [M . sum_n conj(G_nk) X_nc] from X (F, N, C) and G (F, N, K) on the band,
    read on the filter's taps (dilation apart)."""
    GT = np.ascontiguousarray(np.conjugate(G_band).transpose(0, 2, 1))
    dw = from_band(diagonal_blocks(GT, X_band, spec.groups), mask, grid)
    return from_grid(dw, (0, 0), (spec.R, spec.S), spec.dilation)


def backward_data(dy, w, spec, grid, mask) -> np.ndarray:
    """dx (N, C, H, W), from scratch (the float64 definition's path; the CPU plan reuses its own filter stage)."""
    W = band_values(_rfft2(on_grid(w, grid, step=spec.dilation)), mask)  # (F, K, C/groups)
    return data_gradient(band_values(dy_spectrum(dy, spec, grid), mask), W, spec, grid, mask).astype(dy.dtype, copy=False)


def backward_filter(x, dy, spec, grid, mask) -> np.ndarray:
    """dw (K, C, R, S), from scratch (the float64 definition's path; the CPU plan reuses its own input stage)."""
    X = band_values(_rfft2(on_grid(x, grid, (spec.pad_h, spec.pad_w))), mask)  # (F, N, C)
    return filter_gradient(X, band_values(dy_spectrum(dy, spec, grid), mask), spec, grid, mask).astype(dy.dtype, copy=False)
