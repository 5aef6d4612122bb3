"""The 1-D FFT convolution's other peers, beside torch's conv1d: what a DSP user writes or calls.

- plain torch.fft: the 8-line FFT convolution (torch.fft, MKL on the CPU wheel), whole signal;
- scipy.signal.fftconvolve and oaconvolve (overlap-add), batched along axes: every (image, output
  channel, input channel) pair as one correlation, summed over the input channels.

Both take valid, unstrided, ungrouped, undilated problems only (NotImplementedError otherwise,
which asv shows as n/a), and are called like a plan: peer(x, w) -> (N, K, P).
"""
from __future__ import annotations

import numpy as np
import torch


def _check(spec) -> None:
    if spec.padding or spec.stride != 1 or spec.dilation != 1 or spec.groups != 1:
        raise NotImplementedError(f"the DSP peers compute valid, stride-1, ungrouped correlations; got {spec}")


class PlainTorchFFT:
    """irfft(rfft(x) · conj(rfft(w)) summed over channels), on the signal's own length."""

    def __init__(self, spec):
        _check(spec)
        self.spec = spec

    def __call__(self, x, w):
        L, P = self.spec.L, self.spec.P
        X = torch.fft.rfft(torch.from_numpy(x), n=L)
        W = torch.fft.rfft(torch.from_numpy(w), n=L)
        return torch.fft.irfft(torch.einsum("ncf,kcf->nkf", X, W.conj()), n=L)[..., :P].numpy()


class ScipyFFT:
    """scipy.signal's fftconvolve (method 'fft') or oaconvolve ('oa') of the flipped filters."""

    def __init__(self, spec, method: str = "fft"):
        _check(spec)
        import scipy.signal

        self.spec = spec
        self.convolve = scipy.signal.fftconvolve if method == "fft" else scipy.signal.oaconvolve

    def __call__(self, x, w):
        pairs = self.convolve(x[:, None, :, :], w[None, :, :, ::-1], mode="valid", axes=-1)  # (N, K, C, P)
        return pairs.sum(axis=2, dtype=np.float32)


PEERS = {"plain torch.fft": PlainTorchFFT, "scipy fftconvolve": lambda spec: ScipyFFT(spec, "fft"),
         "scipy oaconvolve": lambda spec: ScipyFFT(spec, "oa")}
