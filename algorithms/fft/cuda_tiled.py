"""FFT convolution on T x T tiles on the GPU (overlap-save, as tiled.py on the CPU), exact.

  the padded input cut into T x T tiles overlapping by the filter's extent - 1
  (a gather kernel, zeros where a tile reaches past the input) -> rfft2 of every
  tile and of every filter zero-padded to T x T (cuFFT through torch.fft) ->
  per frequency, Y[f, tile, k] = sum_c X[f, tile, c] conj(W[f, c, k]) (cuda.py's
  gather and contraction kernels, on the whole T x (T/2 + 1) spectrum) ->
  irfft2 -> the first (T - R + 1) x (T - S + 1) outputs of each tile scattered to y.

The tiles' spectra are tiles·C·T·(T/2 + 1) numbers, against N·C·Lh·(Lw/2 + 1)
for the whole image's: for small filters on large images the FFTs are short and
the spectra fit in cache. Stride 1, no groups or dilation on cuda yet.
"""
from __future__ import annotations

import numpy as np
from numba import cuda, float32

from ..gpu import CudaPlan, empty, from_host, simulated
from ..gpu.gradients import REDUCTION_THREADS
from .bandlimit import Band
from .cuda import _HostSpectra, _TorchSpectra, contract_kernel, gather_band_kernel, scatter_band_kernel
from .tiled import check_tiled, tiled_supports


@cuda.jit
def gather_tiles_kernel(x, tiles, pad_h, pad_w, step_h, step_w, tiles_h, tiles_w):
    """tiles[n·tiles_h·tiles_w + ty·tiles_w + tx, c, i, j] = x[n, c, ty·step_h + i - pad_h, tx·step_w + j - pad_w],
    zero outside x; one thread per element of tiles, j fastest."""
    N, C, H, W = x.shape
    T = tiles.shape[2]
    index = cuda.grid(1)
    if index >= tiles.size:
        return
    j = index % T
    i = (index // T) % T
    c = (index // (T * T)) % C
    t = index // (T * T * C)
    per_image = tiles_h * tiles_w
    n = t // per_image
    row = ((t % per_image) // tiles_w) * step_h + i - pad_h
    col = (t % tiles_w) * step_w + j - pad_w
    value = float32(0.0)
    if 0 <= row < H and 0 <= col < W:
        value = x[n, c, row, col]
    tiles[t, c, i, j] = value


@cuda.jit
def scatter_tiles_kernel(planes, out, step_h, step_w, tiles_h, tiles_w):
    """out[n, k, ty·step_h + i, tx·step_w + j] = planes[tile, k, i, j] for i < step_h, j < step_w;
    one thread per element of out."""
    N, K, P, Q = out.shape
    index = cuda.grid(1)
    if index >= out.size:
        return
    q = index % Q
    p = (index // Q) % P
    k = (index // (P * Q)) % K
    n = index // (P * Q * K)
    t = n * tiles_h * tiles_w + (p // step_h) * tiles_w + q // step_w
    out[n, k, p, q] = planes[t, k, p % step_h, q % step_w]


class TiledFFTCUDA(CudaPlan):
    """tile=T, one of 8, 16, 32, 64; stride 1, filters smaller than T."""

    algorithm = "fft"
    supports = classmethod(lambda cls, spec, tile=16, **options: tiled_supports(spec, tile))

    def __init__(self, spec, compression=0.0, tile: int = 16, block: int = 256, n_per_thread: int = 4,
                 reduction_threads: int = REDUCTION_THREADS):
        self.reduction_threads = reduction_threads
        check_tiled(spec, compression, tile)
        super().__init__(spec)
        T = self.tile = tile
        self.block = block
        self.step_h, self.step_w = T - spec.R + 1, T - spec.S + 1  # outputs per tile
        self.tiles_h, self.tiles_w = -(-spec.P // self.step_h), -(-spec.Q // self.step_w)
        self.tiles = spec.N * self.tiles_h * self.tiles_w
        band = Band((T, T), 0.0)  # the whole spectrum, in the layout cuda.py's kernels read
        self._rows, self._n_cols, self.frequencies = from_host(band.rows.astype(np.int32)), band.n_cols, band.retained
        self.n_per_thread = max(1, min(n_per_thread, self.tiles))
        self._contract = contract_kernel(self.n_per_thread)
        self._spectra = (_HostSpectra if simulated() else _TorchSpectra)((T, T))
        F, C, K = self.frequencies, spec.C, spec.K
        self._tiles = empty((self.tiles, C, T, T))
        self._X = empty((F, self.tiles, C), np.complex64)
        self._W = empty((F, C, K), np.complex64)
        self._Y = empty((F, self.tiles, K), np.complex64)
        self._product = empty((self.tiles, K, T, T // 2 + 1), np.complex64)  # every entry written each call

    def transform_filter(self, w):
        """conj(rfft2(w zero-padded to T x T)) as W[f, c, k]."""
        spectrum = self._spectra.forward(w, 0, 0)
        self._launch(gather_band_kernel, self._W.size, spectrum, self._rows, self._n_cols, self._W, True, True)
        return self._W

    def transform_input(self, x) -> None:
        spec = self.spec
        self._launch(gather_tiles_kernel, self._tiles.size, x, self._tiles, spec.pad_h, spec.pad_w,
                     self.step_h, self.step_w, self.tiles_h, self.tiles_w)
        spectrum = self._spectra.forward(self._tiles, 0, 0)
        self._launch(gather_band_kernel, self._X.size, spectrum, self._rows, self._n_cols, self._X, False, False)

    def contract(self, W) -> None:
        chunks = -(-self.tiles // self.n_per_thread)
        self._launch(self._contract, self.frequencies * chunks * self.spec.K, self._X, W, self._Y)

    def transform_output(self, out) -> None:
        self._launch(scatter_band_kernel, self._Y.size, self._Y, self._rows, self._n_cols, self._product)
        planes = self._spectra.inverse(self._product)
        self._launch(scatter_tiles_kernel, out.size, planes, out, self.step_h, self.step_w,
                     self.tiles_h, self.tiles_w)
