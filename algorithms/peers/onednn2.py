"""oneDNN 2.6's own convolutions as peers on the CPU: its Winograd and its direct kernels.

torch's copy of oneDNN (3.x) has no x64 Winograd (dropped in 3.2); Debian's libdnnl2 (2.6.3) still
has it: jit_wino_4x3 (F(4x4,3x3), forward and both training passes) and, for small-batch inference,
jit_fp32_wino_2x3, both AVX-512 only. A plan here is oneDNN's first-choice implementation of each pass
for alg_kind winograd or direct, every call taking and giving plain NCHW arrays (the layout reorders and,
in training propagation, the filter transform run inside each call, as in ours).

What ran is recorded: plan.ran names oneDNN's implementation of each pass, plan.threads the OpenMP
threads it was created with (oneDNN reads them then; torch's pool, the same runtime). A pass that
oneDNN can only run on a reference kernel is refused, and so is a Winograd pass whose kernel is not one.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from convbench.core.errors import ConvError

from ..base import Plan
from . import dnnl_library

KINDS = tuple(dnnl_library.KINDS)
LIBRARY_PASS = {"forward": "forward", "backward_data": "backward_data", "backward_filter": "backward_weights"}


def _threads() -> int:
    import torch

    return torch.get_num_threads()


@lru_cache(maxsize=256)
def _refusal(spec, kind: str, threads: int) -> str:
    """Why oneDNN 2 cannot run spec's forward pass as `kind` here ('' when it can): asked of the library
    (building a descriptor takes microseconds), per thread count, which decides the kernel."""
    try:
        _made(spec, "forward", kind)
    except ConvError as err:
        return str(err)
    return ""


def _made(spec, direction: str, kind: str, hint: dnnl_library.Pass | None = None) -> dnnl_library.Pass:
    """One pass as oneDNN runs it; ConvError when a Winograd request ran a kernel that is not Winograd."""
    found = dnnl_library.Pass(spec, LIBRARY_PASS[direction], kind, hint=hint)
    if kind == "winograd" and "wino" not in found.implementation:
        raise ConvError(f"oneDNN's winograd {direction} ran {found.implementation!r}, not a Winograd kernel")
    return found


class OneDNN2CPU(Plan):
    algorithm = "onednn2"
    backend = "cpu"
    takes_groups = takes_dilation = True

    @classmethod
    def unavailable_reason(cls) -> str:
        return dnnl_library.library_problem()

    @classmethod
    def variant_problem(cls, kind: str = "winograd") -> str:
        if kind not in KINDS:
            return f"kind must be one of {', '.join(map(repr, KINDS))} (oneDNN's alg_kind); got {kind!r}"
        if kind == "winograd" and not dnnl_library.instruction_set().startswith("avx512"):
            return (f"oneDNN {dnnl_library.version()}'s Winograd kernels (jit_wino_4x3, jit_fp32_wino_2x3) need "
                    f"AVX-512; its kernels on this CPU are {dnnl_library.instruction_set()}")
        return ""

    @classmethod
    def case_problem(cls, spec, kind: str = "winograd") -> str:
        return cls.variant_problem(kind) or _refusal(spec, kind, _threads())

    def __init__(self, spec, kind: str = "winograd"):
        super().__init__(spec)
        problem = self.variant_problem(kind)
        if problem:
            raise ConvError(problem)
        self.kind = kind
        self.threads = _threads()
        self._passes = {"forward": _made(spec, "forward", kind)}  # what case_problem asks, refused in its words
        self.ran = {"forward": self._passes["forward"].implementation}

    def _pass(self, direction: str) -> dnnl_library.Pass:
        """The pass's primitive, made on first use with the forward one as oneDNN's hint."""
        if direction not in self._passes:
            self._passes[direction] = _made(self.spec, direction, self.kind, hint=self._passes["forward"])
            self.ran[direction] = self._passes[direction].implementation
        return self._passes[direction]

    def run(self, x, w, out):
        self._passes["forward"](x, w, out)

    def _backward_data(self, dy, w, reuse_forward=False):
        dx = np.empty(self.spec.input_shape, np.float32)
        self._pass("backward_data")(dy, w, dx)
        return dx

    def _backward_filter(self, x, dy, reuse_forward=False):
        dw = np.empty(self.spec.filter_shape, np.float32)
        self._pass("backward_filter")(x, dy, dw)
        return dw
