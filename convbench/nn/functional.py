"""conv1d and conv2d as a torch.autograd.Function over a convbench plan, with torch's arguments
(padding='same' and 'valid' included)."""
from __future__ import annotations

import numpy as np
import torch

from convbench.core.errors import ConvError
from convbench.core.signal import SignalSpec
from convbench.core.spec import ConvSpec
from convbench.interface.api import plan
from convbench.interface.plan_cache import PLANS
from convbench.interface.registry import resolve


DTYPES = (torch.float32, torch.float64)


PADDING_STRINGS = ("same", "valid")


def _lender(spec, algorithm: str, compression: float, options: dict, backend: str, dtype):
    """A plan for one call at a time: one per shape, setting, backend and dtype, kept (a training loop calls
    the same layer every step) and lent to one call at a time (threads, or one layer reached twice in a
    model, never share a plan's buffers: convbench.interface.plan_cache)."""
    key = ("nn", spec, algorithm, compression, tuple(sorted(options.items())), backend, dtype)

    def build():
        built = plan(spec, algorithm, backend, compression, **options)
        return built if dtype == torch.float32 else built.float64()  # what the plan computes, in float64

    return lambda: PLANS.lend(key, build)


def _to_plan(tensor):
    """What a plan takes: a numpy view of a CPU tensor, the CUDA tensor itself (__cuda_array_interface__)."""
    return tensor if tensor.is_cuda else tensor.numpy()


def _from_plan(array, like):
    """A tensor on `like`'s device over what a plan returned (a numpy array, or a device array on the GPU)."""
    if like.is_cuda:
        return torch.as_tensor(array, device=like.device)
    return torch.from_numpy(np.asarray(array, dtype=like.numpy().dtype))


# The three passes of one convolution are the partial derivatives of one trilinear form,
# T(x, w, dy) = <dy, conv(x, w)>: forward = dT/d(dy), backward_data = dT/dx, backward_filter = dT/dw
# (for the band-limited fft too: its passes are exact adjoints of the map it computes). So each pass's
# own gradient is made of the other two, and gradients of gradients (double backward, Hessian-vector
# products) need nothing more.
def _run(lend, which, a, b):
    with lend() as computes:
        if which == "forward":
            result = computes(_to_plan(a), _to_plan(b))
        elif which == "backward_data":
            result = computes.backward_data(_to_plan(a), _to_plan(b))
        else:
            result = computes.backward_filter(_to_plan(a), _to_plan(b))
        return _from_plan(result, a)


class _Pass(torch.autograd.Function):
    """forward: (x, w) -> y; backward_data: (dy, w) -> dx; backward_filter: (x, dy) -> dw; each on a lent plan."""

    @staticmethod
    def forward(ctx, a, b, which, lend):
        ctx.which, ctx.lend = which, lend
        ctx.save_for_backward(a, b)
        return _run(lend, which, a.contiguous(), b.contiguous())

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        g, lend, which = g.contiguous(), ctx.lend, ctx.which
        need_a, need_b = ctx.needs_input_grad[:2]
        if which == "forward":  # a = x, b = w
            da = _Pass.apply(g, b, "backward_data", lend) if need_a else None
            db = _Pass.apply(a, g, "backward_filter", lend) if need_b else None
        elif which == "backward_data":  # a = dy, b = w, g like x
            da = _Pass.apply(g, b, "forward", lend) if need_a else None
            db = _Pass.apply(g, a, "backward_filter", lend) if need_b else None
        else:  # a = x, b = dy, g like w
            da = _Pass.apply(b, g, "backward_data", lend) if need_a else None
            db = _Pass.apply(a, g, "forward", lend) if need_b else None
        return da, db, None, None


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
    unbatched = x.dim() == axes + 1  # torch takes (C, H, W) as a batch of one, and answers (K, P, Q)
    if unbatched:
        x = x.unsqueeze(0)
    if x.dim() != axes + 2 or w.dim() != axes + 2:
        layouts = ("(N, C, L) or (C, L), and w (K, C/groups, R)",
                   "(N, C, H, W) or (C, H, W), and w (K, C/groups, R, S)")[axes - 1]
        raise ConvError(f"x must be {axes + 2}-D or {axes + 1}-D, {layouts}; got shapes {tuple(x.shape)[unbatched:]} "
                        f"and {tuple(w.shape)}")
    empty_batch = x.shape[0] == 0
    if empty_batch:  # plan nothing: the spec of one image gives the output's shape
        x_shape = (1, *x.shape[1:])
    else:
        x_shape = tuple(x.shape)
    if axes == 1:  # torch's Conv1d keeps its arguments as 1-tuples
        stride, padding, dilation = (value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value
                                     for value in (stride, padding, dilation))
    padding, extra = padding_for(padding, tuple(w.shape[2:]), stride, dilation, axes)
    x = _extend(x, extra)
    x_shape = (x_shape[0], *x.shape[1:])
    if axes == 1:
        padding = padding[0] if isinstance(padding, tuple) else padding
        spec = SignalSpec.from_shapes(x_shape, tuple(w.shape), padding=padding, stride=stride,
                                      dilation=dilation, groups=groups)
    else:
        spec = ConvSpec.from_shapes(x_shape, tuple(w.shape), padding=padding, stride=stride,
                                    dilation=dilation, groups=groups)
    if algorithm != "auto" and axes == 2:
        algorithm, options = resolve(algorithm, options)
    if x.is_cuda and axes == 1:
        raise ConvError(f"x on {x.device}: 1-D convolutions run on the CPU only; expected a CPU tensor")
    backend = "cuda" if x.is_cuda else "cpu"
    if empty_batch:  # no images (a detection head with no proposals): torch's empty output, still in the graph
        y = x.new_zeros((0, spec.K, *spec.output_shape[2:])) + (x.sum() + w.sum()) * 0
    else:
        lend = _lender(spec, algorithm, compression, options, backend, x.dtype)
        y = _Pass.apply(x.contiguous(), w.contiguous(), "forward", lend)
    if bias is not None:
        _check(bias, "bias")
        if tuple(bias.shape) != (spec.K,):
            raise ConvError(f"bias must have shape ({spec.K},) (one per output channel); got {tuple(bias.shape)}")
        if bias.device != x.device:
            raise ConvError(f"bias must be on x's device {x.device}; got {bias.device}")
        y = y + bias.view(1, -1, *(1,) * axes)
    return y.squeeze(0) if unbatched else y
