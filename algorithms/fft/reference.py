"""What the fft plans compute, in one short function: the proposal's band-limited convolution.

    x *_c y = F^-1[(F_x . M_c) . conj(F_w . M_c)]      (seed, "Band-limited FFT based convolution formally")

Pad, transform, mask, multiply and sum over channels, inverse, crop (and keep
every stride-th output). Plain float64 numpy on the full grid: slow, and
written for reading and for the tests. The CPU plan computes the same thing
faster by transforming and storing only the retained band (stages.py,
contract.py); the GPU plan with cuFFT and Numba kernels (cuda.py). The conj
makes the product a cross-correlation, torch's conv2d semantics.
"""
from __future__ import annotations

import numpy as np

from ..padding import on_grid


def masked_spectrum_conv(x, w, spec, fft_shape, mask) -> np.ndarray:
    """(N, K, P, Q) float64: x (N, C, H, W) and w (K, C/groups, R, S) band-limited by mask (Lh, Lw//2 + 1)
    on fft_shape; the filter's taps sit dilation apart on the grid, and each output channel sums
    over its group's input channels only."""
    Lh, Lw = fft_shape
    # padding, then the input (cut where it would pass the grid); the filter's taps dilation apart
    Fx = np.fft.rfft2(on_grid(np.asarray(x), fft_shape, spec.padding, dtype=np.float64)) * mask
    Fw = np.fft.rfft2(on_grid(np.asarray(w), fft_shape, step=spec.dilation, dtype=np.float64)) * mask
    g, shape = spec.groups, Fx.shape[-2:]
    # over each group's channels, frequency by frequency
    spectrum = np.einsum("ngcuv,gkcuv->ngkuv", Fx.reshape(spec.N, g, -1, *shape),
                         np.conj(Fw).reshape(g, -1, spec.C_per_group, *shape)).reshape(spec.N, spec.K, *shape)
    full = np.fft.irfft2(spectrum, s=(Lh, Lw))
    return full[:, :, :(spec.P - 1) * spec.stride_h + 1:spec.stride_h, :(spec.Q - 1) * spec.stride_w + 1:spec.stride_w]


class SignalReference:
    """The 1-D fft plans' map in float64 (algorithms/fft/signal.py), and its exact adjoints: each block
    of T samples (Bo = step apart) of the padded signal, zero past `span`, correlated with the filter
    on T points with only the frequencies f < bands kept; the first Bo outputs of each block, at the
    stride. Arrays are (N, C, 1, L) as the plans take them."""

    def __init__(self, signal, T: int, bands: int, step: int):
        self.signal, self.T, self.bands, self.step = signal, T, bands, step
        self.blocks = -(-(signal.span - signal.extent + 1) // step)
        self.length = (self.blocks - 1) * step + T
        self._read = max(0, min(signal.L, signal.span - signal.padding))

    def _spectra(self, rows):  # (..., T) -> the kept band of the one-sided spectrum
        spectrum = np.fft.rfft(rows, n=self.T)
        spectrum[..., self.bands:] = 0
        return spectrum

    def _filter(self, w):
        s = self.signal
        grid = np.zeros((s.K, s.C_per_group, self.T))
        grid[:, :, 0:s.extent:s.dilation] = w[:, :, 0, :]
        return self._spectra(grid)  # (K, Cg, B)

    def _blocks(self, x):  # (N, C, L) -> (N, blocks, C, T)
        s, padded = self.signal, np.zeros((self.signal.N, self.signal.C, self.length))
        padded[:, :, s.padding:s.padding + self._read] = x[:, :, :self._read]
        return np.stack([padded[:, :, b * self.step:b * self.step + self.T] for b in range(self.blocks)], axis=1)

    def _grouped(self, A, B, pattern):  # one einsum per group over its channel ranges
        g = self.signal.groups
        return np.concatenate([np.einsum(pattern, a, b) for a, b in zip(np.split(A, g, axis=-2),
                                                                         np.split(B, g, axis=0))], axis=-2)

    def __call__(self, x, w):
        s = self.signal
        X = self._spectra(self._blocks(np.asarray(x, dtype=np.float64)[:, :, 0]))  # (N, nb, C, B)
        Y = self._grouped(X, np.conj(self._filter(np.asarray(w, dtype=np.float64))), "nbcf,kcf->nbkf")
        y = np.fft.irfft(Y, n=self.T)[..., :self.step]  # (N, nb, K, Bo)
        y = y.transpose(0, 2, 1, 3).reshape(s.N, s.K, -1)
        return y[:, :, None, 0:(s.P - 1) * s.stride + 1:s.stride]

    def _gradient_blocks(self, dy):  # (N, K, 1, P) -> (N, nb, K, B): each block's outputs' gradient
        s = self.signal
        spread = np.zeros((s.N, s.K, self.blocks * self.step))
        spread[:, :, 0:(s.P - 1) * s.stride + 1:s.stride] = np.asarray(dy, dtype=np.float64)[:, :, 0]
        return self._spectra(spread.reshape(s.N, s.K, self.blocks, self.step).transpose(0, 2, 1, 3))

    def backward_data(self, dy, w):
        s, W = self.signal, self._filter(np.asarray(w, dtype=np.float64))  # (K, Cg, B)
        DY = self._gradient_blocks(dy)  # (N, nb, K, B)
        g = s.groups
        DX = np.concatenate([np.einsum("nbkf,kcf->nbcf", d, ww) for d, ww in
                             zip(np.split(DY, g, axis=2), np.split(W, g, axis=0))], axis=2)
        blocks = np.fft.irfft(DX * (np.arange(DX.shape[-1]) < self.bands), n=self.T)
        padded = np.zeros((s.N, s.C, self.length))
        for b in range(self.blocks):
            padded[:, :, b * self.step:b * self.step + self.T] += blocks[:, b]
        dx = np.zeros(s.input_shape)
        dx[:, :, :self._read] = padded[:, :, s.padding:s.padding + self._read]
        return dx[:, :, None, :]

    def backward_filter(self, x, dy):
        s, g = self.signal, self.signal.groups
        X = self._spectra(self._blocks(np.asarray(x, dtype=np.float64)[:, :, 0]))  # (N, nb, C, B)
        DY = self._gradient_blocks(dy)
        DW = np.concatenate([np.einsum("nbcf,nbkf->kcf", xx, np.conj(d)) for xx, d in
                             zip(np.split(X, g, axis=2), np.split(DY, g, axis=2))], axis=0)
        dw = np.fft.irfft(DW, n=self.T)[:, :, 0:s.extent:s.dilation]
        return dw[:, :, None, :]
