"""conv1d and conv2d as a torch.autograd.Function over a convbench plan, with torch's arguments
(padding='same' and 'valid' included)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from convbench.core.errors import ConvError
from convbench.core.signal import SignalSpec
from convbench.core.spec import ConvSpec
from convbench.interface.api import plan
from convbench.interface.registry import resolve


DTYPES = (torch.float32, torch.float64)


PADDING_STRINGS = ("same", "valid")


@lru_cache(maxsize=64)
def _plan(spec, algorithm: str, compression: float, options: tuple, backend: str = "cpu"):
    """One plan per shape, setting and backend, kept: a training loop calls the same layer every step."""
    return plan(spec, algorithm, backend, compression, **dict(options))


def _to_plan(tensor):
    """What a plan takes: a numpy view of a CPU tensor, the CUDA tensor itself (__cuda_array_interface__)."""
    return tensor if tensor.is_cuda else tensor.numpy()


def _from_plan(array, like):
    """A tensor on `like`'s device over what a plan returned (a numpy array, or a device array on the GPU)."""
    if like.is_cuda:
        return torch.as_tensor(array, device=like.device)
    return torch.from_numpy(np.asarray(array, dtype=like.numpy().dtype))


class _Conv(torch.autograd.Function):
    """y = plan(x, w), its gradients the plan's backward passes: any number of spatial axes, CPU or CUDA tensors."""

    @staticmethod
    def forward(ctx, x, w, computes):
        ctx.computes = computes
        ctx.save_for_backward(x, w)
        return _from_plan(computes(_to_plan(x), _to_plan(w)), x)

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        dy = dy.contiguous()
        computes = ctx.computes
        dx = dw = None
        # no reuse_forward: a plan is shared by every layer of the same shape, so its buffers
        # may hold another layer's forward by now
        if ctx.needs_input_grad[0]:
            dx = _from_plan(computes.backward_data(_to_plan(dy), _to_plan(w)), dy)
        if ctx.needs_input_grad[1]:
            dw = _from_plan(computes.backward_filter(_to_plan(x), _to_plan(dy)), dy)
        return dx, dw, None


def _check(tensor, name):
    if not isinstance(tensor, torch.Tensor):
        raise ConvError(f"{name} must be a torch.Tensor; got {type(tensor).__name__}")
    if tensor.device.type not in ("cpu", "cuda"):
        raise ConvError(f"{name} must be on the CPU or a CUDA device; got device {tensor.device}")
    if tensor.dtype not in DTYPES:
        raise ConvError(f"{name} must be float32 or float64; got {tensor.dtype}")
    if tensor.is_cuda and tensor.dtype != torch.float32:
        raise ConvError(f"{name} on {tensor.device} must be float32 (the cuda plans compute in float32); "
                        f"got {tensor.dtype}")


def padding_for(padding, kernel, stride, dilation, axes: int):
    """(symmetric padding, extra zeros after each axis) for torch's padding argument: ints, or
    'valid' (none) or 'same' (the output as long as the input, stride 1; an even total, E - 1 for
    the dilated filter's extent E, is split evenly and an odd one puts the extra zero after, as torch does)."""
    if not isinstance(padding, str):
        return padding, (0,) * axes
    if padding not in PADDING_STRINGS:
        raise ConvError(f"padding must be an int, a tuple of {axes} ints, 'same' or 'valid'; got {padding!r}")
    if padding == "valid":
        return 0, (0,) * axes
    strides = (stride,) * axes if isinstance(stride, int) else tuple(stride)
    if any(step != 1 for step in strides):
        raise ConvError(f"padding='same' needs stride 1 (as torch's); got stride={stride!r}")
    dilations = (dilation,) * axes if isinstance(dilation, int) else tuple(dilation)
    totals = [d * (k - 1) for d, k in zip(dilations, kernel)]
    return tuple(total // 2 for total in totals), tuple(total % 2 for total in totals)


def _extend(x, extra):
    """x with `extra` zeros after each spatial axis (differentiable: torch's pad)."""
    if not any(extra):
        return x
    pairs = []
    for after in reversed(extra):  # torch.nn.functional.pad lists the last axis first
        pairs += [0, after]
    return torch.nn.functional.pad(x, pairs)


def conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, algorithm="fft", compression=0.0, **options):
    """torch.nn.functional.conv2d's semantics (its argument order, padding='same'/'valid', dilation
    and groups included) with a convbench algorithm, variant and compression; differentiable in x, w and bias."""
    return _convolve(x, w, bias, stride, padding, dilation, groups, algorithm, compression, options, axes=2)


def conv1d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, algorithm="fft", compression=0.0, **options):
    """torch.nn.functional.conv1d's semantics with a convbench 1-D algorithm ('direct', 'fft',
    'fft overlap-save', 'torch'), variant and compression; differentiable in x, w and bias."""
    return _convolve(x, w, bias, stride, padding, dilation, groups, algorithm, compression, options, axes=1)


def _convolve(x, w, bias, stride, padding, dilation, groups, algorithm, compression, options, axes):
    _check(x, "x")
    _check(w, "w")
    if w.dtype != x.dtype:
        raise ConvError(f"w must have x's dtype {x.dtype}; got {w.dtype}")
    if w.device != x.device:
        raise ConvError(f"w must be on x's device {x.device}; got {w.device}")
    if x.dim() != axes + 2 or w.dim() != axes + 2:
        layouts = ("(N, C, L) and (K, C/groups, R)", "(N, C, H, W) and (K, C/groups, R, S)")[axes - 1]
        raise ConvError(f"x and w must be {axes + 2}-D, {layouts}; got shapes {tuple(x.shape)} and {tuple(w.shape)}")
    if axes == 1:  # torch's Conv1d keeps its arguments as 1-tuples
        stride, padding, dilation = (value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value
                                     for value in (stride, padding, dilation))
    padding, extra = padding_for(padding, tuple(w.shape[2:]), stride, dilation, axes)
    x = _extend(x, extra)
    if axes == 1:
        padding = padding[0] if isinstance(padding, tuple) else padding
        spec = SignalSpec.from_shapes(tuple(x.shape), tuple(w.shape), padding=padding, stride=stride,
                                      dilation=dilation, groups=groups)
    else:
        spec = ConvSpec.from_shapes(tuple(x.shape), tuple(w.shape), padding=padding, stride=stride,
                                    dilation=dilation, groups=groups)
    if algorithm != "auto" and axes == 2:
        algorithm, options = resolve(algorithm, options)
    if x.is_cuda and axes == 1:
        raise ConvError(f"x on {x.device}: 1-D convolutions run on the CPU only; expected a CPU tensor")
    backend = "cuda" if x.is_cuda else "cpu"
    built = _plan(spec, algorithm, float(compression), tuple(sorted(options.items())), backend)
    computes = built if x.dtype == torch.float32 else built.float64()  # what the plan computes, in float64
    y = _Conv.apply(x.contiguous(), w.contiguous(), computes)
    if bias is not None:
        _check(bias, "bias")
        if tuple(bias.shape) != (spec.K,):
            raise ConvError(f"bias must have shape ({spec.K},) (one per output channel); got {tuple(bias.shape)}")
        if bias.device != x.device:
            raise ConvError(f"bias must be on x's device {x.device}; got {bias.device}")
        y = y + bias.view(1, -1, *(1,) * axes)
    return y
