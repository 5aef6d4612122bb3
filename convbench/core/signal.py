"""SignalSpec: one 1-D convolution, with torch.nn.functional.conv1d's semantics.

Input (N, C, L) * filters (K, C/groups, R) -> output (N, K, P): cross-correlation,
symmetric zero padding, taps `dilation` apart, `groups` as in 2-D. Every 1-D plan
runs on the same problem laid out as a 2-D one of height 1 (`grid`: H = R = 1),
so the 2-D definitions (the oracle, the data gradient's problem) serve it unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

from convbench.core.errors import ConvError
from convbench.core.spec import ConvSpec, _is_int


def _positive(value, name: str, minimum: int) -> int:
    if not _is_int(value) or value < minimum:
        raise ConvError(f"{name} must be an int >= {minimum}; got {value!r}")
    return int(value)


@dataclass(frozen=True)
class SignalSpec:
    """One 1-D convolution: input (N, C, L) * filters (K, C/groups, R) -> output (N, K, P)."""

    N: int
    C: int
    L: int
    K: int
    R: int
    padding: int = 0
    stride: int = 1
    dilation: int = 1
    groups: int = 1

    def __post_init__(self):
        for name in ("N", "C", "L", "K", "R", "stride", "dilation", "groups"):
            object.__setattr__(self, name, _positive(getattr(self, name), name, 1))
        object.__setattr__(self, "padding", _positive(self.padding, "padding", 0))
        for channels, value in (("C", self.C), ("K", self.K)):
            if value % self.groups:
                raise ConvError(f"groups={self.groups} must divide {channels} = {value}; "
                                f"expected a divisor of both C = {self.C} and K = {self.K}")
        if self.L + 2 * self.padding < self.extent:
            raise ConvError(f"filter length {self.extent} (dilated) is longer than the padded signal "
                            f"{self.L} + 2*{self.padding} = {self.L + 2 * self.padding}; expected a filter "
                            f"no longer than the padded signal")

    @classmethod
    def from_shapes(cls, input_shape, filter_shape, padding=0, stride=1, dilation=1, groups=1) -> "SignalSpec":
        if len(input_shape) != 3 or len(filter_shape) != 3:
            raise ConvError(f"x must be (N, C, L) and w (K, C/groups, R); got shapes {tuple(input_shape)} "
                            f"and {tuple(filter_shape)}")
        N, C, L = input_shape
        K, Cw, R = filter_shape
        if _is_int(groups) and groups >= 1 and Cw * groups != C:
            raise ConvError(f"w has {Cw} input channels (shape {tuple(filter_shape)}) but x has C = {C} "
                            f"(shape {tuple(input_shape)}) and groups={groups}; expected w.shape[1] == "
                            f"x.shape[1] / groups = {C / groups:g}")
        return cls(N=N, C=C, L=L, K=K, R=R, padding=padding, stride=stride, dilation=dilation, groups=groups)

    @classmethod
    def from_grid(cls, grid: ConvSpec) -> "SignalSpec":
        """The 1-D problem a height-1 ConvSpec lays out (the inverse of .grid)."""
        if grid.H != 1 or grid.R != 1 or grid.pad_h or grid.stride_h != 1 or grid.dil_h != 1:
            raise ConvError(f"a 1-D problem is a 2-D one of height 1 with a 1-row filter; got {grid}")
        return cls(N=grid.N, C=grid.C, L=grid.W, K=grid.K, R=grid.S, padding=grid.pad_w, stride=grid.stride_w,
                   dilation=grid.dil_w, groups=grid.groups)

    @property
    def grid(self) -> ConvSpec:
        """The same problem as a 2-D one of height 1."""
        return ConvSpec(N=self.N, C=self.C, H=1, W=self.L, K=self.K, R=1, S=self.R, padding=(0, self.padding),
                        stride=(1, self.stride), dilation=(1, self.dilation), groups=self.groups)

    extent = property(lambda self: self.dilation * (self.R - 1) + 1)  # the samples one output reads
    C_per_group = property(lambda self: self.C // self.groups)
    K_per_group = property(lambda self: self.K // self.groups)

    @property
    def P(self) -> int:
        return (self.L + 2 * self.padding - self.extent) // self.stride + 1

    @property
    def span(self) -> int:
        """The padded samples some output reads: (P - 1)·stride + extent."""
        return (self.P - 1) * self.stride + self.extent

    input_shape = property(lambda self: (self.N, self.C, self.L))
    filter_shape = property(lambda self: (self.K, self.C_per_group, self.R))
    output_shape = property(lambda self: (self.N, self.K, self.P))

    @property
    def flops(self) -> int:
        """The direct-convolution count 2*N*K*(C/groups)*R*P, used for effective GFLOP/s."""
        return 2 * self.N * self.K * self.C_per_group * self.R * self.P

    def __str__(self) -> str:
        extra = "".join(text for cond, text in ((self.padding, f" pad{self.padding}"),
                                                (self.stride > 1, f" stride{self.stride}"),
                                                (self.dilation > 1, f" dil{self.dilation}"),
                                                (self.groups > 1, f" g{self.groups}")) if cond)
        return f"N{self.N} C{self.C}->K{self.K} L{self.L} k{self.R}{extra}"
