"""Which implementation serves (algorithm, backend), and whether it can run here.

Nothing here imports a backend at module level: a missing GPU or library costs
nothing until that implementation is asked for.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache

from .errors import ConvError

# The one list of algorithms (in the order charts and tables show them), and of
# backends; suites, plots, the CLI and the tests read them here.
ALGORITHMS = ("direct", "winograd", "fft", "torch")
BACKENDS = ("cpu", "cuda")
COMPRESSIBLE = ("fft",)  # the algorithms that take compression (band-limiting)

IMPLEMENTATIONS = {
    ("direct", "cpu"): "convbench.algorithms.direct.cpu:DirectCPU",
    ("winograd", "cpu"): "convbench.algorithms.winograd.cpu:WinogradCPU",
    ("fft", "cpu"): "convbench.algorithms.fft.cpu:FFTCPU",
    ("torch", "cpu"): "convbench.algorithms.peer:TorchCPU",
    ("direct", "cuda"): "convbench.algorithms.direct.cuda:DirectCUDA",
    ("winograd", "cuda"): "convbench.algorithms.winograd.cuda:WinogradCUDA",
    ("fft", "cuda"): "convbench.algorithms.fft.cuda:FFTCUDA",
    ("torch", "cuda"): "convbench.algorithms.peer:TorchCUDA",
}


@dataclass(frozen=True)
class Algorithm:
    name: str
    backend: str
    available: bool
    reason: str = ""  # why it is not available; empty when it is


def _cuda_reason(name: str) -> str:
    """Why (name, 'cuda') cannot run here; '' when it can (a GPU, or Numba's CUDA simulator)."""
    try:
        from convbench.algorithms.gpu import unavailable_reason
    except ImportError as err:  # pragma: no cover - numba is a dependency
        return f"numba.cuda cannot be imported: {err}"
    return unavailable_reason(needs_cudnn=name == "torch")


@lru_cache(maxsize=None)
def _import(name: str, backend: str):
    """(Plan class, "") if (name, backend) can run here, else (None, why not)."""
    if backend == "cuda":
        reason = _cuda_reason(name)
        if reason:
            return None, reason
    module_name, class_name = IMPLEMENTATIONS[(name, backend)].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        return None, f"cannot import {module_name}: {err}"
    return getattr(module, class_name), ""


def check_names(name, backend) -> None:
    if name not in ALGORITHMS:
        raise ConvError(f"algorithm must be one of {', '.join(map(repr, ALGORITHMS + ('auto',)))}; got {name!r}")
    if backend not in BACKENDS:
        raise ConvError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}")


def implementation(name, backend):
    """The Plan class for (name, backend); ConvError if unknown or unavailable here."""
    check_names(name, backend)
    cls, reason = _import(name, backend)
    if cls is None:
        raise ConvError(f"algorithm={name!r} on backend={backend!r} is not available here: {reason}")
    return cls


def supports(name, backend, spec) -> bool:
    """Whether (name, backend) is available here and can compute spec."""
    return not why_not(name, backend, spec)


def why_not(name, backend, spec) -> str:
    """Why (name, backend) cannot compute spec here ('' when it can): not available, or the shape."""
    check_names(name, backend)
    cls, reason = _import(name, backend)
    if cls is None:
        return f"{name} on {backend} is not available here: {reason}"
    return "" if cls.supports(spec) else f"{name} cannot compute {spec}"


def implementations() -> list[Algorithm]:
    """Every (algorithm, backend), with .available and, if not, .reason."""
    found = []
    for backend in BACKENDS:
        for name in ALGORITHMS:
            cls, reason = _import(name, backend)
            found.append(Algorithm(name, backend, cls is not None, reason))
    return found
