"""fft-conv-pytorch (PyPI `fft-conv-pytorch`, Frank Odom's): whole-image FFT convolution on torch.fft,
with stride, dilation and groups, as a peer on the CPU; its training passes are torch's autograd
through it.

Each training pass builds the forward graph it differentiates (fft_conv's saved spectra), as a
torch user's backward would after a forward: plan.ran says so. Threads: torch's (plan.threads).
"""
from __future__ import annotations

import warnings

import numpy as np

from convbench.core.errors import ConvError

from ..base import Plan
from . import package_problem

PACKAGE = "fft-conv-pytorch"


def _fft_conv():
    from fft_conv_pytorch import fft_conv

    return fft_conv


def _conv(*args, **geometry):
    """fft_conv, without torch's warning about its list index (a deprecation, said on every call)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using a non-tuple sequence", category=UserWarning)
        return _fft_conv()(*args, **geometry)


class FFTConvPytorchCPU(Plan):
    algorithm = "fft-conv-pytorch"
    backend = "cpu"
    takes_groups = takes_dilation = True

    @classmethod
    def unavailable_reason(cls) -> str:
        return package_problem(_fft_conv, PACKAGE)

    def __init__(self, spec):
        super().__init__(spec)
        import torch

        self.threads = torch.get_num_threads()
        self.ran = {"forward": f"fft_conv_pytorch.fft_conv (torch.fft, {self.threads} threads)",
                    "backward_data": "torch autograd through fft_conv (its forward graph built each call)",
                    "backward_filter": "torch autograd through fft_conv (its forward graph built each call)"}

    def _geometry(self) -> dict:
        spec = self.spec
        return dict(padding=spec.padding, stride=spec.stride, dilation=spec.dilation, groups=spec.groups)

    def run(self, x, w, out):
        import torch

        with torch.no_grad():
            y = _conv(torch.from_numpy(x), torch.from_numpy(w), **self._geometry())
        if tuple(y.shape) != self.spec.output_shape:
            raise ConvError(f"{PACKAGE} gave an output of shape {tuple(y.shape)} for {self.spec}; "
                            f"expected {self.spec.output_shape}")
        out[...] = y.numpy()

    def _gradient(self, x, w, dy, of: str):
        import torch

        x, w = torch.from_numpy(x), torch.from_numpy(w)
        wanted = x if of == "x" else w
        wanted.requires_grad_(True)
        with torch.enable_grad():
            y = _conv(x, w, **self._geometry())
            (grad,) = torch.autograd.grad(y, wanted, torch.from_numpy(dy))
        return grad.detach().numpy()

    def _backward_data(self, dy, w, reuse_forward=False):
        return self._gradient(np.zeros(self.spec.input_shape, np.float32), w, dy, "x")

    def _backward_filter(self, x, dy, reuse_forward=False):
        return self._gradient(x, np.zeros(self.spec.filter_shape, np.float32), dy, "w")
