"""Band-limited FFT convolution on the GPU.

The transforms are cuFFT through torch.fft on the same device memory
(torch.as_tensor over __cuda_array_interface__, no copy). Everything between
them is Numba CUDA, and only the retained frequencies of the band M_c
(bandlimit.Band, the same mask as on the CPU) are gathered, contracted over
channels and stored:

  rfft2(padded x), rfft2(w) on the grid -> gather the band (conjugating the
  filters: the product is then a cross-correlation) -> Y[f] = X[f] W[f] for each
  retained frequency f -> scatter Y into a zero spectrum -> irfft2 -> crop (and
  subsample for stride > 1, as on the CPU).

Under Numba's CUDA simulator there is no cuFFT: the transforms are numpy's,
on the host, and the same Numba kernels run on the simulator's arrays.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import complex64, cuda

from ..gpu import CudaPlan, as_tensor, empty, from_host, simulated, to_host, wrap, zeros
from ..gpu.gradients import place
from .bandlimit import Band, BandLimited, fft_grid
from .layout import band_position

_position = cuda.jit(device=True, inline=True)(band_position)


@cuda.jit
def gather_band_kernel(spectrum, rows, n_cols, band, conjugate, channel_major):
    """band[f, b, ch] (or band[f, ch, b] when channel_major) = spectrum[b, ch, rows[f // n_cols], f % n_cols],
    conjugated if asked; one thread per (f, b, ch), f fastest so reads are coalesced."""
    B, Ch = spectrum.shape[0], spectrum.shape[1]
    F = rows.shape[0] * n_cols
    index = cuda.grid(1)
    if index >= F * B * Ch:
        return
    f = index % F
    pair = index // F
    b = pair // Ch
    ch = pair % Ch
    row, column = _position(f, rows, n_cols)
    value = spectrum[b, ch, row, column]
    if conjugate:
        value = value.conjugate()
    if channel_major:
        band[f, ch, b] = value
    else:
        band[f, b, ch] = value


@lru_cache(maxsize=None)
def contract_kernel(n_per_thread: int):
    """Y[f, n, k] = sum_c X[f, n, c] W[f, c, k], only for the retained frequencies f.

    One thread per (f, k, chunk of n_per_thread images), k fastest: each W[f, c, k]
    is read from memory once per chunk (coalesced across the warp) and serves
    n_per_thread products, while the X[f, n, c] a warp reads are the same address
    for every thread of the warp (a broadcast). W, the filters' band, is the
    largest operand (C*K per frequency), so n_per_thread = N reads it exactly once.
    """

    @cuda.jit
    def kernel(X, W, Y):
        F, N, C = X.shape
        K = W.shape[2]
        chunks = (N + n_per_thread - 1) // n_per_thread
        index = cuda.grid(1)
        if index >= F * chunks * K:
            return
        k = index % K
        n0 = ((index // K) % chunks) * n_per_thread
        f = index // (K * chunks)
        acc = cuda.local.array(n_per_thread, complex64)
        for j in range(n_per_thread):
            acc[j] = complex64(0)  # 0j would promote every product to complex128
        n_here = min(n_per_thread, N - n0)
        for c in range(C):
            w = W[f, c, k]
            for j in range(n_per_thread):
                if j < n_here:
                    acc[j] += X[f, n0 + j, c] * w
        for j in range(n_per_thread):
            if j < n_here:
                Y[f, n0 + j, k] = acc[j]

    return kernel


@cuda.jit
def scatter_band_kernel(Y, rows, n_cols, spectrum):
    """spectrum[n, k, rows[f // n_cols], f % n_cols] = Y[f, n, k]; the rest of spectrum stays zero."""
    F, N, K = Y.shape
    index = cuda.grid(1)
    if index >= F * N * K:
        return
    f = index % F
    pair = index // F
    n = pair // K
    k = pair % K
    row, column = _position(f, rows, n_cols)
    spectrum[n, k, row, column] = Y[f, n, k]


@cuda.jit
def crop_kernel(full, out, top, left, stride_h, stride_w):
    """out[n, k, p, q] = full[n, k, top + p * stride_h, left + q * stride_w]."""
    N, K, P, Q = out.shape
    index = cuda.grid(1)
    if index >= N * K * P * Q:
        return
    q = index % Q
    p = (index // Q) % P
    nk = index // (P * Q)
    out[nk // K, nk % K, p, q] = full[nk // K, nk % K, top + p * stride_h, left + q * stride_w]


@cuda.jit
def band_product_kernel(A, B, out, a_transposed, conjugate_a, b_transposed, conjugate_b):
    """out[f, i, j] = sum_l a[f, i, l] b[f, l, j] on the band, a = A or A's transpose per frequency
    (conjugated if asked), b likewise: the adjoints' contractions, read from the forward's
    layouts as they stand. One thread per (f, i, j), j fastest."""
    F, I, J = out.shape
    index = cuda.grid(1)
    if index >= F * I * J:
        return
    j = index % J
    i = (index // J) % I
    f = index // (I * J)
    inner = A.shape[1] if a_transposed else A.shape[2]
    acc = complex64(0)
    for l in range(inner):
        a = A[f, l, i] if a_transposed else A[f, i, l]
        b = B[f, j, l] if b_transposed else B[f, l, j]
        if conjugate_a:
            a = a.conjugate()
        if conjugate_b:
            b = b.conjugate()
        acc += a * b
    out[f, i, j] = acc


class _TorchSpectra:
    """rfft2/irfft2 by cuFFT (torch.fft) on device arrays, without copies."""

    def __init__(self, grid):
        import torch
        self.torch, self.grid = torch, grid

    def forward(self, array, pad_h, pad_w):
        tensor = as_tensor(array)
        if pad_h or pad_w:
            tensor = self.torch.nn.functional.pad(tensor, (pad_w, pad_w, pad_h, pad_h))
        return wrap(self.torch.fft.rfft2(tensor, s=self.grid).contiguous())

    def inverse(self, spectrum):
        return wrap(self.torch.fft.irfft2(as_tensor(spectrum), s=self.grid).contiguous())


class _HostSpectra:
    """The simulator's stand-in: numpy's FFTs on the host, results handed back as simulator arrays."""

    def __init__(self, grid):
        self.grid = grid

    def forward(self, array, pad_h, pad_w):
        host = np.pad(to_host(array), ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
        return from_host(np.fft.rfft2(host, s=self.grid).astype(np.complex64))

    def inverse(self, spectrum):
        return from_host(np.fft.irfft2(to_host(spectrum), s=self.grid).astype(np.float32))


class FFTCUDA(BandLimited, CudaPlan):
    algorithm = "fft"

    def __init__(self, spec, compression: float = 0.0, block: int = 256, n_per_thread: int = 4):
        super().__init__(spec)
        self.block = block
        self.n_per_thread = max(1, min(n_per_thread, spec.N))
        self._contract = contract_kernel(self.n_per_thread)
        self.fft_shape = fft_grid(spec)
        band = self.band = Band(self.fft_shape, compression)
        self.spectral_mask = band.mask
        self.compression = band.compression
        self._rows = from_host(band.rows.astype(np.int32))
        self._n_cols = band.n_cols
        self.retained = band.retained
        self._spectra = (_HostSpectra if simulated() else _TorchSpectra)(self.fft_shape)
        F, N, C, K = self.retained, spec.N, spec.C, spec.K
        self._X = empty((F, N, C), np.complex64)
        self._W = empty((F, C, K), np.complex64)
        self._Y = empty((F, N, K), np.complex64)
        Lh, Lw = self.fft_shape
        # zeroed once: each call writes the same retained entries, the rest stays zero
        self._product = zeros((N, K, Lh, Lw // 2 + 1), np.complex64)

    def transform_filter(self, w):
        spectrum = self._spectra.forward(w, 0, 0)
        K, C = self.spec.K, self.spec.C
        self._launch(gather_band_kernel, self.retained * K * C, spectrum, self._rows, self._n_cols, self._W, True, True)
        return self._W

    def transform_input(self, x) -> None:
        """rfft2 of the padded input, and its band gathered into X[f, n, c]."""
        spec = self.spec
        spectrum = self._spectra.forward(x, spec.pad_h, spec.pad_w)
        F, N, C = self.retained, spec.N, spec.C
        self._launch(gather_band_kernel, F * N * C, spectrum, self._rows, self._n_cols, self._X, False, False)

    def contract(self, W) -> None:
        F, N, K = self.retained, self.spec.N, self.spec.K
        chunks = -(-N // self.n_per_thread)
        self._launch(self._contract, F * chunks * K, self._X, W, self._Y)

    def transform_output(self, out) -> None:
        """Y scattered into the zero spectrum, irfft2, cropped (and subsampled for a stride)."""
        self._inverse_into(self._Y, self._product, out, (0, 0), self.spec.stride)

    def _inverse_into(self, values, spectrum, out, corner, step) -> None:
        """out[a, b, p, q] = irfft2(spectrum)[a, b, top + p·step_h, left + q·step_w], spectrum being
        `values` (F, a, b) on the band and zero elsewhere (as it holds on entry)."""
        self._launch(scatter_band_kernel, values.size, values, self._rows, self._n_cols, spectrum)
        self._launch(crop_kernel, out.size, self._spectra.inverse(spectrum), out, *corner, *step)

    # -- the training passes: the exact adjoints of the band-limited map (fft/adjoint.py) ----
    def _band_of_gradient(self, dy):
        """G = F S* dy on the band, (F, N, K): dy on the grid at the positions the stride kept."""
        spec = self.spec
        grid = place(dy, (spec.N, spec.K, *self.fft_shape), spec.stride)
        G = empty((self.retained, spec.N, spec.K), np.complex64)
        self._launch(gather_band_kernel, G.size, self._spectra.forward(grid, 0, 0), self._rows, self._n_cols,
                     G, False, False)
        return G

    def _from_band(self, values, shape, top, left):
        """irfft2 of the spectra that are `values` (F, a, b) on the band, zero elsewhere, read as `shape`
        (a, b, rows, cols) from (top, left)."""
        Lh, Lw = self.fft_shape
        result = empty(shape)
        self._inverse_into(values, zeros((*values.shape[1:], Lh, Lw // 2 + 1), np.complex64), result, (top, left), (1, 1))
        return result

    def _backward_data_device(self, dy, w):
        """dx = E* F^-1 [M . sum_k W_kc G_nk]: the forward's filter band holds conj(W) as (F, C, K)."""
        spec = self.spec
        W, G = self.transform_filter(w), self._band_of_gradient(dy)
        D = empty((self.retained, spec.N, spec.C), np.complex64)
        self._launch(band_product_kernel, D.size, G, W, D, False, False, True, True)
        return self._from_band(D, spec.input_shape, spec.pad_h, spec.pad_w)

    def _backward_filter_device(self, x, dy):
        """dw = E_w* F^-1 [M . sum_n conj(G_nk) X_nc], read on the R x S taps at the origin."""
        spec = self.spec
        self.transform_input(x)
        G = self._band_of_gradient(dy)
        E = empty((self.retained, spec.K, spec.C), np.complex64)
        self._launch(band_product_kernel, E.size, G, self._X, E, True, True, False, False)
        return self._from_band(E, spec.filter_shape, 0, 0)
