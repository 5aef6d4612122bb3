"""conv2d as a torch.autograd.Function over a convbench plan."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from convbench.interface.api import plan
from convbench.core.errors import ConvError
from convbench.interface.registry import resolve
from convbench.core.spec import ConvSpec


DTYPES = (torch.float32, torch.float64)


@lru_cache(maxsize=64)
def _plan(spec: ConvSpec, algorithm: str, compression: float, options: tuple):
    """One plan per shape and setting, kept: a training loop calls the same layer every step."""
    return plan(spec, algorithm, "cpu", compression, **dict(options))


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
    computes = built if x.dtype == torch.float32 else built.float64()  # what the plan computes, in float64
    y = _Conv2d.apply(x.contiguous(), w.contiguous(), computes)
    if bias is not None:
        _check(bias, "bias")
        if tuple(bias.shape) != (spec.K,):
            raise ConvError(f"bias must have shape ({spec.K},) (one per output channel); got {tuple(bias.shape)}")
        y = y + bias.view(1, -1, 1, 1)
    return y
