"""Conv1d and Conv2d: torch.nn's parameters, initialisation and padding modes, convbench's passes."""
from __future__ import annotations

import math

import torch

from convbench.core.errors import ConvError
from . import functional

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")  # torch's


def _tuple(value, axes: int) -> tuple:
    return (value,) * axes if isinstance(value, int) else tuple(value)


class _ConvNd(torch.nn.Module):
    """A convolution layer whose forward and backward passes run a convbench algorithm (on the CPU, or on
    the GPU where x is a CUDA tensor, float32):
    algorithm, variant options and, for fft, the compression rate. Its arguments are torch's."""

    axes = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", algorithm="fft", compression=0.0, **options):
        super().__init__()
        axes = self.axes
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _tuple(kernel_size, axes), _tuple(stride, axes)
        self.padding = padding if isinstance(padding, str) else _tuple(padding, axes)
        self.dilation, self.groups = _tuple(dilation, axes), groups
        self.algorithm, self.compression, self.options = algorithm, compression, options
        # ConvSpec checks groups against the channels when the layer first runs; torch checks here
        if in_channels % groups or out_channels % groups:
            raise ConvError(f"groups={groups} must divide in_channels = {in_channels} and out_channels = "
                            f"{out_channels}; expected a divisor of both")
        if padding_mode not in PADDING_MODES:
            raise ConvError(f"padding_mode must be one of {', '.join(map(repr, PADDING_MODES))}; got {padding_mode!r}")
        if isinstance(padding, str):
            functional.padding_for(padding, self.kernel_size, self.stride, self.dilation, axes)  # checks it now
        self.padding_mode = padding_mode
        self.weight = torch.nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch.nn.ConvNd's initialisation, so that swapping the layer in changes nothing else."""
        torch.nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight[0].numel()
            bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
            torch.nn.init.uniform_(self.bias, -bound, bound)

    def _padded(self, x):
        """torch's own way with a padding mode other than zeros: pad x by that mode, convolve unpadded."""
        padding = self.padding
        if isinstance(padding, str):
            padding, extra = functional.padding_for(padding, self.kernel_size, self.stride, self.dilation, self.axes)
            padding = _tuple(padding, self.axes)
        else:
            extra = (0,) * self.axes
        pairs = []
        for before, after in zip(reversed(padding), reversed(extra)):
            pairs += [before, before + after]
        return torch.nn.functional.pad(x, pairs, mode=self.padding_mode), 0

    def forward(self, x):
        padding = self.padding
        if self.padding_mode != "zeros":
            x, padding = self._padded(x)
        convolve = functional.conv1d if self.axes == 1 else functional.conv2d
        return convolve(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups,
                        self.algorithm, self.compression, **self.options)

    def extra_repr(self) -> str:
        mode = "" if self.padding_mode == "zeros" else f", padding_mode={self.padding_mode!r}"
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
                f"bias={self.bias is not None}{mode}, algorithm={self.algorithm!r}, "
                f"compression={self.compression}" + "".join(f", {k}={v!r}" for k, v in self.options.items()))


class Conv2d(_ConvNd):
    """torch.nn.Conv2d's layer, its passes a convbench 2-D algorithm."""

    axes = 2


class Conv1d(_ConvNd):
    """torch.nn.Conv1d's layer, its passes a convbench 1-D algorithm ('direct', 'fft', 'fft overlap-save', 'torch')."""

    axes = 1
