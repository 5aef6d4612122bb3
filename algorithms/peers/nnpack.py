"""NNPACK's convolutions as peers on the CPU, each algorithm forced (torch only ever runs it on 'auto').

NNPACK is compiled into torch's CPU wheel: libtorch_cpu.so exports nnp_convolution_output (a batch;
wt8x8 = Winograd F(6x6,3x3), ft8x8 and ft16x16 = FFT tiles), nnp_convolution_inference (one image, with
a stride; implicit GEMM) and pthreadpool_create. torch.backends.nnpack.is_available() runs
nnp_initialize. Forward only: the training passes are not exported.

Threads: NNPACK's pthreadpool is its own, not torch's OpenMP; each plan runs on a pool of the machine's
cores (plan.threads), made once per thread count. nnp_profile's phases are read by plan.profile().
"""
from __future__ import annotations

import ctypes
import os
from functools import lru_cache

import numpy as np

from convbench.core.errors import ConvError
from convbench.core.machine import usable_cores

from ..base import Plan

# method -> (NNPACK's algorithm enum, the largest filter it takes, the entry point)
METHODS = {
    "ft8x8": (1, 8, "output"),
    "ft16x16": (2, 16, "output"),
    "wt8x8": (3, 3, "output"),
    "implicit-gemm": (4, None, "inference"),
}
STATUS = {2: "invalid batch size", 3: "invalid channels", 4: "invalid input channels", 5: "invalid output channels",
          10: "invalid input size", 11: "invalid input stride", 12: "invalid input padding",
          13: "invalid kernel size", 16: "invalid algorithm", 17: "invalid transform strategy",
          20: "unsupported input size", 21: "unsupported input stride", 22: "unsupported input padding",
          23: "unsupported kernel size", 26: "unsupported algorithm", 27: "unsupported transform strategy",
          28: "unsupported activation", 50: "uninitialized", 51: "unsupported hardware", 52: "out of memory"}
TRANSFORM_COMPUTE = 1  # nnp_convolution_transform_strategy_compute
ALIGNMENT = 64         # NNPACK's workspace must be 64-byte aligned
# in nnp_profile's order (nnpack.h): Profile reads the struct by position
PHASES = ("input_transform", "kernel_transform", "output_transform", "block_multiplication")


class Size(ctypes.Structure):
    _fields_ = [("width", ctypes.c_size_t), ("height", ctypes.c_size_t)]


class Padding(ctypes.Structure):
    _fields_ = [("top", ctypes.c_size_t), ("right", ctypes.c_size_t), ("bottom", ctypes.c_size_t),
                ("left", ctypes.c_size_t)]


class Profile(ctypes.Structure):
    _fields_ = [("total", ctypes.c_double), *((phase, ctypes.c_double) for phase in PHASES)]


@lru_cache(maxsize=1)
def _loaded():
    """(libtorch_cpu with NNPACK's functions declared, '') or (None, why not)."""
    import torch

    if not torch.backends.nnpack.is_available():  # runs nnp_initialize
        return None, "torch's NNPACK is not available on this CPU (nnp_initialize failed)"
    path = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    try:
        lib = ctypes.CDLL(path)
        common = [Size, Padding, Size]
        tail = [ctypes.c_void_p] * 5 + [ctypes.POINTER(ctypes.c_size_t), ctypes.c_int, ctypes.c_void_p,
                                         ctypes.c_void_p, ctypes.POINTER(Profile)]
        lib.nnp_convolution_output.argtypes = [ctypes.c_int] + [ctypes.c_size_t] * 3 + common + tail
        lib.nnp_convolution_inference.argtypes = [ctypes.c_int, ctypes.c_int] + [ctypes.c_size_t] * 2 + common + [Size] + tail
        lib.nnp_convolution_output.restype = lib.nnp_convolution_inference.restype = ctypes.c_int
        lib.pthreadpool_create.argtypes, lib.pthreadpool_create.restype = [ctypes.c_size_t], ctypes.c_void_p
    except (OSError, AttributeError) as err:
        return None, f"torch's libtorch_cpu.so does not export NNPACK's convolutions: {err}"
    return lib, ""


@lru_cache(maxsize=None)
def _pool(threads: int):
    """NNPACK's pthreadpool of `threads` workers, one per thread count for the process's life."""
    return _loaded()[0].pthreadpool_create(threads)


class NNPACKCPU(Plan):
    algorithm = "nnpack"
    backend = "cpu"
    training_passes = False

    @classmethod
    def unavailable_reason(cls) -> str:
        return _loaded()[1]

    @classmethod
    def case_problem(cls, spec, method: str = "wt8x8") -> str:
        if method not in METHODS:
            return f"method must be one of {', '.join(map(repr, METHODS))} (NNPACK's algorithms); got {method!r}"
        _, largest, entry = METHODS[method]
        if spec.stride != (1, 1) and entry == "output":
            return f"stride={spec.stride}: NNPACK's {method} computes stride 1 only; expected stride=1"
        if largest == 3 and (spec.R, spec.S) != (3, 3):
            return f"filter {spec.R}x{spec.S}: NNPACK's {method} computes 3x3 filters only"
        if largest and max(spec.R, spec.S) > largest:
            return f"filter {spec.R}x{spec.S}: NNPACK's {method} takes filters up to {largest}x{largest}"
        if max(spec.padding) >= min(spec.R, spec.S):
            return (f"padding={spec.padding}: NNPACK takes padding smaller than the filter "
                    f"({spec.R}x{spec.S}); expected padding < {min(spec.R, spec.S)}")
        return ""

    def __init__(self, spec, method: str = "wt8x8", threads: int | None = None):
        super().__init__(spec)
        problem = self.case_problem(spec, method)
        if problem:
            raise ConvError(problem)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ConvError(f"threads must be an int >= 1 (NNPACK's pthreadpool workers); got {threads!r}")
        self._lib = _loaded()[0]
        self.method, self.threads = method, threads or usable_cores()
        self._pool = _pool(self.threads)
        self._bias = np.zeros(spec.K, np.float32)
        code, _, entry = METHODS[method]
        self.ran = {"forward": f"nnpack {method} (nnp_convolution_{entry}, algorithm {code})"}
        self.last_profile = Profile()
        size = ctypes.c_size_t(0)
        self._status(self._call(None, None, None, None, size, None), "workspace query")
        self._workspace_bytes = size.value
        self._workspace = np.empty(size.value + ALIGNMENT, np.uint8)
        self._workspace_at = self._workspace.ctypes.data + (-self._workspace.ctypes.data) % ALIGNMENT

    def _status(self, status: int, what: str) -> None:
        if status:
            raise ConvError(f"NNPACK's {self.method} refused {self.spec} ({what}): {STATUS.get(status, status)}")

    def _call(self, x, w, out, workspace, size, profile=None) -> int:
        """One NNPACK call: the batch (output) or each image in turn (inference), its phases summed over the
        images into profile (a Profile, or None); a None workspace with a size asks only for the workspace's size."""
        spec, (code, _, entry) = self.spec, METHODS[self.method]
        geometry = (Size(spec.W, spec.H), Padding(spec.pad_h, spec.pad_w, spec.pad_h, spec.pad_w), Size(spec.S, spec.R))
        tail = (ctypes.byref(size), 0, None, self._pool)
        if entry == "output":
            return self._lib.nnp_convolution_output(code, spec.N, spec.C, spec.K, *geometry, x, w, self._bias.ctypes.data,
                                                    out, workspace, *tail, profile and ctypes.byref(profile))
        subsampling = Size(spec.stride_w, spec.stride_h)
        if x is None:
            return self._lib.nnp_convolution_inference(code, TRANSFORM_COMPUTE, spec.C, spec.K, *geometry, subsampling,
                                                       None, None, None, None, None, *tail, None)
        image, result = spec.C * spec.H * spec.W * 4, spec.K * spec.P * spec.Q * 4
        if profile is not None:
            ctypes.memset(ctypes.byref(profile), 0, ctypes.sizeof(profile))
        for n in range(spec.N):
            one = Profile()
            status = self._lib.nnp_convolution_inference(code, TRANSFORM_COMPUTE, spec.C, spec.K, *geometry, subsampling,
                                                         x + n * image, w, self._bias.ctypes.data, out + n * result,
                                                         workspace, *tail, ctypes.byref(one))
            if status:
                return status
            if profile is not None:
                for field, _ in Profile._fields_:
                    setattr(profile, field, getattr(profile, field) + getattr(one, field))
        return 0

    def run(self, x, w, out):
        size = ctypes.c_size_t(self._workspace_bytes)
        self._status(self._call(x.ctypes.data, w.ctypes.data, out.ctypes.data, self._workspace_at, size,
                                self.last_profile), "convolution")

    def profile(self, x, w) -> dict:
        """{phase: seconds} of one call, as NNPACK's nnp_profile reports it (for implicit GEMM, one call an
        image, summed over the images): input, kernel and output transforms and the block multiplication."""
        self(x, w)
        return {phase: getattr(self.last_profile, phase) for phase in PHASES}

    def _backward_data(self, dy, w, reuse_forward=False):
        raise ConvError("NNPACK as shipped in torch computes the forward pass only (its gradients are not exported)")

    _backward_filter = _backward_data
