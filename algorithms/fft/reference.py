"""What the fft plans compute, in one short function: the seed's band-limited convolution.

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
