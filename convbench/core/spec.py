"""ConvSpec: the shape of one convolution problem and the numbers derived from it.

Semantics are those of torch.nn.functional.conv2d: NCHW input, K x C/groups x R x S
filters, cross-correlation, symmetric zero padding, filter taps `dilation` apart,
and `groups` independent convolutions side by side (output channel k reads only
the C/groups input channels of its group; groups = C = K is depthwise).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

from convbench.core.errors import ConvError


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def as_pair(value, name: str, minimum: int) -> tuple[int, int]:
    """An int or an (h, w) pair of ints, each >= minimum, as a tuple."""
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ConvError(f"{name} must be an int or an (h, w) pair of ints >= {minimum}; got {value!r}")
    if min(pair) < minimum:
        raise ConvError(f"{name} must be >= {minimum} on both axes; got {value!r}")
    return pair


@dataclass(frozen=True)
class ConvSpec:
    """One convolution: input (N, C, H, W) * filters (K, C, R, S) -> output (N, K, P, Q)."""

    N: int
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    padding: tuple[int, int] | int = 0
    stride: tuple[int, int] | int = 1
    dilation: tuple[int, int] | int = 1
    groups: int = 1

    def __post_init__(self):
        for name in ("N", "C", "H", "W", "K", "R", "S"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ConvError(f"{name} must be an int >= 1; got {value!r}")
            object.__setattr__(self, name, int(value))
        object.__setattr__(self, "padding", as_pair(self.padding, "padding", 0))
        object.__setattr__(self, "stride", as_pair(self.stride, "stride", 1))
        object.__setattr__(self, "dilation", as_pair(self.dilation, "dilation", 1))
        if not _is_int(self.groups) or self.groups < 1:
            raise ConvError(f"groups must be an int >= 1; got {self.groups!r}")
        object.__setattr__(self, "groups", int(self.groups))
        for channels, value in (("C", self.C), ("K", self.K)):
            if value % self.groups:
                raise ConvError(f"groups={self.groups} must divide {channels} = {value}; "
                                f"expected a divisor of both C = {self.C} and K = {self.K}")
        for axis, size, pad, filt in (("height", self.H, self.pad_h, self.extent_h),
                                      ("width", self.W, self.pad_w, self.extent_w)):
            if size + 2 * pad < filt:
                raise ConvError(
                    f"filter {axis} {filt} (dilated) is larger than the padded input {axis} "
                    f"{size} + 2*{pad} = {size + 2 * pad}; expected a filter no larger than the padded input")

    @classmethod
    def from_json(cls, fields: dict) -> "ConvSpec":
        """The spec whose fields a JSON record holds (its pairs come back as lists)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})

    @classmethod
    def from_shapes(cls, input_shape, filter_shape, padding=0, stride=1, dilation=1, groups=1) -> "ConvSpec":
        N, C, H, W = input_shape
        K, Cw, R, S = filter_shape
        if _is_int(groups) and groups >= 1 and Cw * groups != C:
            expected = "w.shape[1] == x.shape[1]" if groups == 1 else f"w.shape[1] == x.shape[1] / groups = {C / groups:g}"
            raise ConvError(f"w has {Cw} input channels (shape {tuple(filter_shape)}) but x has C = {C} "
                            f"(shape {tuple(input_shape)}) and groups={groups}; expected {expected}")
        return cls(N=N, C=C, H=H, W=W, K=K, R=R, S=S, padding=padding, stride=stride, dilation=dilation, groups=groups)

    pad_h = property(lambda self: self.padding[0])
    pad_w = property(lambda self: self.padding[1])
    stride_h = property(lambda self: self.stride[0])
    stride_w = property(lambda self: self.stride[1])
    dil_h = property(lambda self: self.dilation[0])
    dil_w = property(lambda self: self.dilation[1])
    # the rows and columns one output reads: the filter with its taps dilation apart
    extent_h = property(lambda self: self.dil_h * (self.R - 1) + 1)
    extent_w = property(lambda self: self.dil_w * (self.S - 1) + 1)
    C_per_group = property(lambda self: self.C // self.groups)
    K_per_group = property(lambda self: self.K // self.groups)

    @property
    def plain(self) -> bool:
        """No groups and no dilation: what every algorithm computes."""
        return self.groups == 1 and self.dilation == (1, 1)

    @property
    def span(self) -> tuple[int, int]:
        """The padded rows and columns some output reads: (P - 1)·stride + extent on each axis
        (a stride that does not divide evenly leaves the last padded ones unread)."""
        return (self.P - 1) * self.stride_h + self.extent_h, (self.Q - 1) * self.stride_w + self.extent_w

    @property
    def shared_padding_span(self) -> tuple[int, int]:
        """Rows and columns per image of a stride-1 grid whose neighbours share their padding: each row
        its W inputs after gap zeros that are the previous row's right padding and its own left, each image
        its H rows after gap zero rows. The gap is the padding, or more where the padding outgrows the
        filter's extent (every output row and column must still lie within its own image's and row's stretch)."""
        gap_h, gap_w = max(self.pad_h, self.P - self.H, 0), max(self.pad_w, self.Q - self.W, 0)
        return self.H + gap_h, self.W + gap_w

    @property
    def P(self) -> int:
        return (self.H + 2 * self.pad_h - self.extent_h) // self.stride_h + 1

    @property
    def Q(self) -> int:
        return (self.W + 2 * self.pad_w - self.extent_w) // self.stride_w + 1

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.C, self.H, self.W)

    @property
    def filter_shape(self) -> tuple[int, int, int, int]:
        return (self.K, self.C_per_group, self.R, self.S)

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.K, self.P, self.Q)

    @property
    def flops(self) -> int:
        """The direct-convolution count 2*N*K*(C/groups)*R*S*P*Q, used for effective GFLOP/s."""
        return 2 * self.N * self.K * self.C_per_group * self.R * self.S * self.P * self.Q

    def __str__(self) -> str:
        pad = f" pad{self.pad_h}" if self.pad_h == self.pad_w else f" pad{self.padding}"
        stride = "" if self.stride == (1, 1) else f" stride{self.stride_h if self.stride_h == self.stride_w else self.stride}"
        dilation = "" if self.dilation == (1, 1) else \
            f" dil{self.dil_h if self.dil_h == self.dil_w else self.dilation}"
        groups = "" if self.groups == 1 else (" depthwise" if self.groups == self.C == self.K else f" g{self.groups}")
        return f"N{self.N} C{self.C}->K{self.K} {self.H}x{self.W} k{self.R}x{self.S}{pad}{stride}{dilation}{groups}"
