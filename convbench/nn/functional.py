"""conv2d as a torch.autograd.Function over a convbench plan."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from convbench.algorithms.fft import adjoint
from convbench.algorithms.fft.reference import masked_spectrum_conv

from ..api import plan
from ..errors import ConvError
from ..oracle import reference_backward_data, reference_backward_filter, reference_conv2d
from ..registry import resolve
from ..spec import ConvSpec


def _parameters(spec: ConvSpec) -> dict:
    return dict(padding=spec.padding, stride=spec.stride, dilation=spec.dilation, groups=spec.groups)

DTYPES = (torch.float32, torch.float64)


@lru_cache(maxsize=64)
def _plan(spec: ConvSpec, algorithm: str, compression: float, options: tuple):
    """One plan per shape and setting, kept: a training loop calls the same layer every step."""
    return plan(spec, algorithm, "cpu", compression, **dict(options))


class _Float64Definition:
    """What a plan computes, in float64: the band-limited definition for fft, the oracle otherwise."""

    def __init__(self, built):
        self.spec = built.spec
        self.band_limited = hasattr(built, "band")
        self.grid, self.mask = (built.fft_shape, built.band.mask) if self.band_limited else (None, None)

    def __call__(self, x, w):
        if self.band_limited:
            return masked_spectrum_conv(x, w, self.spec, self.grid, self.mask)
        return reference_conv2d(x, w, **_parameters(self.spec))

    def backward_data(self, dy, w):
        if self.band_limited:
            return adjoint.backward_data(dy, w, self.spec, self.grid, self.mask)
        return reference_backward_data(dy, w, self.spec.input_shape, **_parameters(self.spec))

    def backward_filter(self, x, dy):
        if self.band_limited:
            return adjoint.backward_filter(x, dy, self.spec, self.grid, self.mask)
        return reference_backward_filter(x, dy, self.spec.filter_shape, **_parameters(self.spec))


class _Conv2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, computes):
        ctx.computes = computes
        ctx.save_for_backward(x, w)
        return torch.from_numpy(np.asarray(computes(x.numpy(), w.numpy()), dtype=x.numpy().dtype))

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        dy = np.ascontiguousarray(dy.numpy())
        computes = ctx.computes
        dx = dw = None
        # no reuse_forward: a plan is shared by every layer of the same shape, so its buffers
        # may hold another layer's forward by now
        if ctx.needs_input_grad[0]:
            dx = torch.from_numpy(np.asarray(computes.backward_data(dy, w.numpy()), dtype=dy.dtype))
        if ctx.needs_input_grad[1]:
            dw = torch.from_numpy(np.asarray(computes.backward_filter(x.numpy(), dy), dtype=dy.dtype))
        return dx, dw, None


def _check(tensor, name):
    if not isinstance(tensor, torch.Tensor):
        raise ConvError(f"{name} must be a torch.Tensor; got {type(tensor).__name__}")
    if tensor.device.type != "cpu":
        raise ConvError(f"{name} must be on the CPU (convbench's training passes are CPU-only for now); "
                        f"got device {tensor.device}")
    if tensor.dtype not in DTYPES:
        raise ConvError(f"{name} must be float32 or float64; got {tensor.dtype}")


def conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, algorithm="fft", compression=0.0, **options):
    """torch.nn.functional.conv2d's semantics (its argument order, dilation and groups included)
    with a convbench algorithm, variant and compression; differentiable in x, w and bias."""
    _check(x, "x")
    _check(w, "w")
    if w.dtype != x.dtype:
        raise ConvError(f"w must have x's dtype {x.dtype}; got {w.dtype}")
    spec = ConvSpec.from_shapes(tuple(x.shape), tuple(w.shape), padding=padding, stride=stride, dilation=dilation,
                                groups=groups)
    algorithm, options = resolve(algorithm, options)
    built = _plan(spec, algorithm, float(compression), tuple(sorted(options.items())))
    computes = built if x.dtype == torch.float32 else _Float64Definition(built)
    y = _Conv2d.apply(x.contiguous(), w.contiguous(), computes)
    if bias is not None:
        _check(bias, "bias")
        if tuple(bias.shape) != (spec.K,):
            raise ConvError(f"bias must have shape ({spec.K},) (one per output channel); got {tuple(bias.shape)}")
        y = y + bias.view(1, -1, 1, 1)
    return y
