"""Conv2d: torch.nn.Conv2d's parameters and initialisation, convbench's passes."""
from __future__ import annotations

import math

import torch

from convbench.core.errors import ConvError
from . import functional


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


class Conv2d(torch.nn.Module):
    """A 2-D convolution layer whose forward and backward passes run a convbench algorithm
    (on the CPU): algorithm, variant options and, for fft, the compression rate."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 algorithm="fft", compression=0.0, **options):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        self.dilation, self.groups = _pair(dilation), groups
        self.algorithm, self.compression, self.options = algorithm, compression, options
        # ConvSpec checks groups against the channels when the layer first runs; torch checks here
        if in_channels % groups or out_channels % groups:
            raise ConvError(f"groups={groups} must divide in_channels = {in_channels} and out_channels = "
                            f"{out_channels}; expected a divisor of both")
        self.weight = torch.nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        self.bias = torch.nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch.nn.Conv2d's initialisation, so that swapping the layer in changes nothing else."""
        torch.nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight[0].numel()
            bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
            torch.nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return functional.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                                 self.algorithm, self.compression, **self.options)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
                f"bias={self.bias is not None}, algorithm={self.algorithm!r}, "
                f"compression={self.compression}" + "".join(f", {k}={v!r}" for k, v in self.options.items()))
