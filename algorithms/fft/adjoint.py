"""The gradients of the band-limited FFT convolution: the exact adjoints of its two linear maps.

The forward pass (reference.masked_spectrum_conv) is, per output channel,

    y = S F^-1 [ M . sum_c X_c . conj(W_c) ],   X = F E x,   W = F E_w w

with E zero-padding x into the Lh x Lw grid at (pad_h, pad_w) (E_w: w at the
origin), F the unnormalised 2-D DFT (F^-1 = F* / L, L = Lh·Lw), M the 0/1
mask (symmetric in the frequency: M(-u, -v) = M(u, v)) and S the crop that
keeps every stride-th position. For fixed w it is a linear map of x, for
fixed x a linear map of w, and the gradients of <dy, y> are their adjoints:

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

Float32 in, float32 out (numpy's FFT keeps float32); float64 in, float64 out
(what gradcheck uses).
"""
from __future__ import annotations

import numpy as np


def _on_grid(planes, grid, top, left, step=(1, 1)):
    """Planes (..., h, w) placed at (top, left) every step on a zero (..., Lh, Lw) grid, cut at its edge."""
    Lh, Lw = grid
    out = np.zeros((*planes.shape[:-2], Lh, Lw), dtype=planes.dtype)
    rows = max(0, min(planes.shape[-2], -(-(Lh - top) // step[0])))
    cols = max(0, min(planes.shape[-1], -(-(Lw - left) // step[1])))
    out[..., top:top + rows * step[0]:step[0], left:left + cols * step[1]:step[1]] = planes[..., :rows, :cols]
    return out


def _read(grid_planes, top, left, rows, cols):
    """E*: the (rows, cols) window at (top, left) of the grid, zeros where it leaves the grid."""
    out = np.zeros((*grid_planes.shape[:-2], rows, cols), dtype=grid_planes.dtype)
    Lh, Lw = grid_planes.shape[-2:]
    r, c = max(0, min(rows, Lh - top)), max(0, min(cols, Lw - left))
    out[..., :r, :c] = grid_planes[..., top:top + r, left:left + c]
    return out


def spectra(x, w, spec, grid, mask):
    """(M . F E x, F E_w w): the forward pass's input and filter spectra, one-sided."""
    X = np.fft.rfft2(_on_grid(x, grid, spec.pad_h, spec.pad_w)) * mask
    W = np.fft.rfft2(_on_grid(w, grid, 0, 0))
    return X, W


def dy_spectrum(dy, spec, grid):
    """G = F S* dy: dy back on the grid at the positions the stride kept."""
    return np.fft.rfft2(_on_grid(dy, grid, 0, 0, spec.stride))


def backward_data(dy, w, spec, grid, mask, W=None) -> np.ndarray:
    """dx (N, C, H, W) = E* F^-1 [M . sum_k W_kc G_k]; W: the forward's filter spectrum, if kept."""
    W = np.fft.rfft2(_on_grid(w, grid, 0, 0)) if W is None else W
    G = dy_spectrum(dy, spec, grid) * mask
    DX = np.einsum("nkuv,kcuv->ncuv", G, W)
    return _read(np.fft.irfft2(DX, s=grid), spec.pad_h, spec.pad_w, spec.H, spec.W).astype(dy.dtype, copy=False)


def backward_filter(x, dy, spec, grid, mask, X=None) -> np.ndarray:
    """dw (K, C, R, S) = E_w* F^-1 [M . sum_n X_nc conj(G_nk)]; X: the forward's masked input spectrum, if kept."""
    X = np.fft.rfft2(_on_grid(x, grid, spec.pad_h, spec.pad_w)) * mask if X is None else X
    G = dy_spectrum(dy, spec, grid)
    DW = np.einsum("ncuv,nkuv->kcuv", X, np.conj(G))
    return _read(np.fft.irfft2(DW, s=grid), 0, 0, spec.R, spec.S).astype(dy.dtype, copy=False)
