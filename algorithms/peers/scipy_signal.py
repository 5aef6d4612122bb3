"""scipy.signal's FFT convolutions as peers on the CPU: fftconvolve (the whole image) and oaconvolve
(overlap-add tiles of a size scipy picks), as a scipy user computes a multi-channel layer with them.

scipy convolves and does not sum over channels: each (image, output channel, input channel) pair is
transformed back on its own, then summed, where ours and NNPACK's sum the spectra first. The filter is
flipped (scipy convolves; a layer cross-correlates) and the input padded before the 'valid'
convolution, over broadcast axes (N, 1, C, H, W) x (1, K, C, R, S); 'same' mis-sizes broadcast axes.
scipy.fft's workers are set to the machine's cores around each call (plan.threads).
Stride, dilation and groups are refused by name: scipy computes none of them.
"""
from __future__ import annotations

import numpy as np

from convbench.core.errors import ConvError
from convbench.core.machine import usable_cores

from ..base import Plan
from . import package_problem

METHODS = ("fftconvolve", "oaconvolve")
CHUNK_BYTES = 256 * 2**20  # the most the (image, output channel, input channel) products of one chunk take


def _module():
    import scipy.fft
    import scipy.signal

    return scipy.signal, scipy.fft


class ScipySignalCPU(Plan):
    algorithm = "scipy"
    backend = "cpu"
    training_passes = False
    dilation_needs = "dilated taps, which scipy.signal's convolutions do not take"

    @classmethod
    def unavailable_reason(cls) -> str:
        return package_problem(_module, "scipy")

    @classmethod
    def case_problem(cls, spec, method: str = "fftconvolve") -> str:
        if method not in METHODS:
            return f"method must be one of {', '.join(map(repr, METHODS))} (scipy.signal's); got {method!r}"
        if spec.stride != (1, 1):
            return f"stride={spec.stride}: scipy.signal.{method} computes stride 1 only; expected stride=1"
        return ""

    def __init__(self, spec, method: str = "fftconvolve"):
        super().__init__(spec)
        problem = self.case_problem(spec, method)
        if problem:
            raise ConvError(problem)
        self.method, self.threads = method, usable_cores()
        self.ran = {"forward": f"scipy.signal.{method} (workers={self.threads})"}
        Hp, Wp = spec.H + 2 * spec.pad_h, spec.W + 2 * spec.pad_w
        per_channel = spec.N * spec.C * Hp * (Wp // 2 + 1) * 8  # one output channel's complex64 products
        self._chunk = max(1, min(spec.K, CHUNK_BYTES // per_channel))

    def run(self, x, w, out):
        signal, fft = _module()
        spec = self.spec
        padded = np.pad(x, ((0, 0), (0, 0), (spec.pad_h, spec.pad_h), (spec.pad_w, spec.pad_w)))[:, None]
        flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1])[None]
        convolve = getattr(signal, self.method)
        with fft.set_workers(self.threads):
            for start in range(0, spec.K, self._chunk):
                part = convolve(padded, flipped[:, start:start + self._chunk], mode="valid", axes=(-2, -1))
                np.sum(part, axis=2, out=out[:, start:start + self._chunk])

    def _backward_data(self, dy, w, reuse_forward=False):
        raise ConvError("scipy.signal has no training passes; use algorithm 'torch' or ours for them")

    _backward_filter = _backward_data
