"""Which implementation serves (algorithm, backend), and whether it can run here.

Nothing here imports a backend at module level: a missing GPU or library costs
nothing until that implementation is asked for.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from functools import lru_cache

from convbench.core.errors import ConvError
from convbench.core.selection import FFT_TILES, tile_mostly_padding

# The one list of algorithms (in the order charts and tables show them), and of
# backends; suites, plots, the CLI and the tests read them here.
ALGORITHMS = ("direct", "winograd", "fft", "torch")
BACKENDS = ("cpu", "cuda")
COMPRESSIBLE = ("fft",)  # the algorithms that take compression (band-limiting)

# The variants: each a first-class entry of every sweep, check, recommendation
# and chart, named by its label, and plan(spec, label) is plan(spec, algorithm,
# **options). The bare names are the defaults: winograd is F(2x2,3x3), fft the
# whole-image (band-limited) FFT.
VARIANTS = {
    "direct": ("direct", {}),
    "winograd": ("winograd", {}),
    "winograd F(4x4,3x3)": ("winograd", {"tile": 4}),
    "winograd F(6x6,3x3)": ("winograd", {"tile": 6}),
    "fft": ("fft", {}),
    **{f"fft tile {tile}": ("fft", {"tile": tile}) for tile in FFT_TILES},
    "torch": ("torch", {}),
}
LABELS = tuple(VARIANTS)

# The field's own implementations of the same algorithms, each on the backends it has: plan(spec, label,
# backend) like ours, listed with why_not by `convbench list`, and swept beside ours (SWEPT_LABELS).
# cuDNN's engine families are chosen by numerical note (convbench.algorithms.peers.cudnn_engines).
CPU_PEER_VARIANTS = {
    "onednn2 winograd": ("onednn2", {"kind": "winograd"}),
    "onednn2 direct": ("onednn2", {"kind": "direct"}),
    "nnpack wt8x8": ("nnpack", {"method": "wt8x8"}),
    "nnpack ft8x8": ("nnpack", {"method": "ft8x8"}),
    "nnpack ft16x16": ("nnpack", {"method": "ft16x16"}),
    "nnpack implicit-gemm": ("nnpack", {"method": "implicit-gemm"}),
    "scipy fftconvolve": ("scipy", {"method": "fftconvolve"}),
    "scipy oaconvolve": ("scipy", {"method": "oaconvolve"}),
    "fft-conv-pytorch": ("fft-conv-pytorch", {}),
}
PEER_VARIANTS = {
    **CPU_PEER_VARIANTS,
    **{f"cudnn {family}": ("cudnn", {"engine": family})
       for family in ("implicit-gemm", "fft", "winograd", "winograd 4x4", "winograd 6x6", "winograd 13x13")},
}
PEER_LABELS = tuple(PEER_VARIANTS)
PEER_ALGORITHMS = ("onednn2", "nnpack", "scipy", "fft-conv-pytorch", "cudnn")
SWEPT_LABELS = LABELS + tuple(CPU_PEER_VARIANTS)  # what the CPU sweeps (corpus, asv suites) walk

# Each variant's algorithm family: ours and the peers' implementations of one algorithm, what the
# "each algorithm at its best" chart and the peer speed targets pair up. oneDNN 2.6's Winograd runs
# F(4x4,3x3) (jit_wino_4x3) in training propagation, which its plans use.
FAMILY = {
    "direct": "direct", "torch": "direct", "onednn2 direct": "direct", "nnpack implicit-gemm": "direct",
    "winograd": "winograd F(2x2)",
    "winograd F(4x4,3x3)": "winograd F(4x4)", "onednn2 winograd": "winograd F(4x4)",
    "winograd F(6x6,3x3)": "winograd F(6x6)", "nnpack wt8x8": "winograd F(6x6)",
    "fft tile 8": "fft tiles 8x8", "nnpack ft8x8": "fft tiles 8x8",
    "fft tile 16": "fft tiles 16x16", "nnpack ft16x16": "fft tiles 16x16",
    "fft tile 32": "fft tiles 32x32", "fft tile 64": "fft tiles 64x64", "scipy oaconvolve": "fft overlap-add",
    "fft": "whole-image fft", "scipy fftconvolve": "whole-image fft", "fft-conv-pytorch": "whole-image fft",
}
OURS = tuple(label for label in LABELS if label != "torch")  # convbench's own implementations
ALL_VARIANTS = {**VARIANTS, **PEER_VARIANTS}  # what plan() resolves: ours and the peers'

# What "correct" means for each variant lives in convbench.core.error_budget (TOLERANCE: the
# relative L2 error on real layers, ours and the peers').

# An option that selects another implementation of the same algorithm.
OPTION_IMPLEMENTATIONS = {
    ("fft", "cpu", "tile"): "convbench.algorithms.fft.tiled:TiledFFTCPU",
    ("fft", "cuda", "tile"): "convbench.algorithms.fft.cuda_tiled:TiledFFTCUDA",
}

IMPLEMENTATIONS = {
    ("direct", "cpu"): "convbench.algorithms.direct.cpu:DirectCPU",
    ("winograd", "cpu"): "convbench.algorithms.winograd.cpu:WinogradCPU",
    ("fft", "cpu"): "convbench.algorithms.fft.cpu:FFTCPU",
    ("torch", "cpu"): "convbench.algorithms.peer:TorchCPU",
    ("direct", "cuda"): "convbench.algorithms.direct.cuda:DirectCUDA",
    ("winograd", "cuda"): "convbench.algorithms.winograd.cuda:WinogradCUDA",
    ("fft", "cuda"): "convbench.algorithms.fft.cuda:FFTCUDA",
    ("torch", "cuda"): "convbench.algorithms.peer:TorchCUDA",
    ("cudnn", "cuda"): "convbench.algorithms.peers.cudnn_engines:CudnnEngineCUDA",
    ("onednn2", "cpu"): "convbench.algorithms.peers.onednn2:OneDNN2CPU",
    ("nnpack", "cpu"): "convbench.algorithms.peers.nnpack:NNPACKCPU",
    ("scipy", "cpu"): "convbench.algorithms.peers.scipy_signal:ScipySignalCPU",
    ("fft-conv-pytorch", "cpu"): "convbench.algorithms.peers.fft_conv_pytorch:FFTConvPytorchCPU",
}


# 1-D convolutions (convbench.core.signal.SignalSpec): each variant a plan on the height-1
# problem (SignalSpec.grid), run by convbench.interface.signal. direct is the 2-D direct plan
# (its GEMMs over shifted slices serve a row as well); fft is its own 1-D plan (whole signal,
# band-limited, or overlap-save blocks); torch is conv1d.
SIGNAL_VARIANTS = {
    "direct": ("direct", {}),
    "fft": ("fft", {}),
    "fft overlap-save": ("fft", {"tile": "auto"}),
    "torch": ("torch", {}),
}
SIGNAL_LABELS = tuple(SIGNAL_VARIANTS)
SIGNAL_IMPLEMENTATIONS = {
    ("direct", "cpu"): "convbench.algorithms.direct.cpu:DirectCPU",
    ("fft", "cpu"): "convbench.algorithms.fft.signal:SignalFFTCPU",
    ("torch", "cpu"): "convbench.algorithms.peer:TorchSignalCPU",
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
    return unavailable_reason(needs_cudnn=name in ("torch", "cudnn"))


@lru_cache(maxsize=None)
def _import(name: str, backend: str, selecting_option: str = ""):
    """(Plan class, "") if (name, backend) can run here, else (None, why not)."""
    if (name, backend) not in IMPLEMENTATIONS:
        elsewhere = [where for (known, where) in IMPLEMENTATIONS if known == name]
        return None, f"{name} runs on backend {' or '.join(map(repr, elsewhere))} only"
    if backend == "cuda":
        reason = _cuda_reason(name)
        if reason:
            return None, reason
    where = OPTION_IMPLEMENTATIONS[(name, backend, selecting_option)] if selecting_option else IMPLEMENTATIONS[(name, backend)]
    module_name, class_name = where.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        return None, f"cannot import {module_name}: {err}"
    cls = getattr(module, class_name)
    reason = cls.unavailable_reason() if hasattr(cls, "unavailable_reason") else ""  # a library it loads lazily
    return (None, reason) if reason else (cls, "")


def signal_implementation(name, backend, options=None):
    """(Plan class, algorithm, options) for a 1-D algorithm name or variant label; ConvError if unknown
    or not on this backend."""
    if name not in SIGNAL_VARIANTS:
        raise ConvError(f"algorithm for a 1-D convolution must be one of "
                        f"{', '.join(map(repr, SIGNAL_LABELS))}; got {name!r}")
    if (SIGNAL_VARIANTS[name][0], backend) not in SIGNAL_IMPLEMENTATIONS:
        raise ConvError(f"backend for a 1-D convolution must be 'cpu' (1-D runs on the CPU only); got {backend!r}")
    algorithm, options = resolve(name, options, SIGNAL_VARIANTS)
    module_name, class_name = SIGNAL_IMPLEMENTATIONS[(algorithm, backend)].split(":")
    return getattr(importlib.import_module(module_name), class_name), algorithm, options


def check_names(name, backend) -> None:
    if name not in ALGORITHMS + PEER_ALGORITHMS and name not in ALL_VARIANTS:
        raise ConvError(f"algorithm must be one of {', '.join(map(repr, ALGORITHMS + ('auto',)))} "
                        f"or a variant label ({', '.join(repr(v) for v in LABELS + PEER_LABELS if v not in ALGORITHMS)}); "
                        f"got {name!r}")
    if backend not in BACKENDS:
        raise ConvError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}")


def resolve(name, options=None, variants=ALL_VARIANTS) -> tuple[str, dict]:
    """(algorithm, options) for an algorithm name or a variant label of `variants` (the 2-D ones, or
    SIGNAL_VARIANTS), with the caller's options added."""
    options = dict(options or {})
    if name not in variants:
        return name, options
    algorithm, preset = variants[name]
    clash = {key for key in preset if key in options and options[key] != preset[key]}
    if clash:
        raise ConvError(f"algorithm={name!r} sets {', '.join(f'{k}={preset[k]!r}' for k in sorted(clash))}; "
                        f"got {', '.join(f'{k}={options[k]!r}' for k in sorted(clash))} as well")
    return algorithm, {**preset, **options}


def label(algorithm: str, options: dict, variants=ALL_VARIANTS) -> str:
    """The variant label of (algorithm, options) in `variants`, e.g. 'fft tile 16' (or 1-D's 'fft
    overlap-save'); options it does not name are listed after it."""
    for name, (base, preset) in variants.items():
        if base == algorithm and preset and all(options.get(k) == v for k, v in preset.items()):
            rest = {k: v for k, v in options.items() if k not in preset}
            return name + "".join(f" {k}={v}" for k, v in rest.items())
    return algorithm + "".join(f" {k}={v}" for k, v in options.items())


def _selecting_option(algorithm, backend, options) -> str:
    return next((key for key in options if (algorithm, backend, key) in OPTION_IMPLEMENTATIONS), "")


def _lookup(name, backend, options=None):
    """(algorithm, options, Plan class or None, why not) for a name or variant label with options."""
    check_names(name, backend)
    algorithm, options = resolve(name, options)
    cls, reason = _import(algorithm, backend, _selecting_option(algorithm, backend, options))
    return algorithm, options, cls, reason


def resolved_implementation(name, backend, options=None):
    """(Plan class, algorithm, options) for a name or variant label; ConvError if unknown or unavailable here."""
    algorithm, options, cls, reason = _lookup(name, backend, options)
    if cls is None:
        raise ConvError(f"algorithm={name!r} on backend={backend!r} is not available here: {reason}")
    return cls, algorithm, options


def option_problem(cls, algorithm, backend, options) -> str:
    """Why cls cannot take these options ('' when it can): the accepted ones are its __init__'s parameters."""
    accepted = [n for n in inspect.signature(cls.__init__).parameters if n not in ("self", "spec", "compression")]
    unknown = sorted(set(options) - set(accepted))
    if not unknown:
        return ""
    return (f"unknown option {', '.join(map(repr, unknown))} for algorithm={algorithm!r} on backend={backend!r}; "
            f"expected one of {accepted or 'none'}")


def supports(name, backend, spec) -> bool:
    """Whether (name, backend) is available here and can compute spec."""
    return not why_not(name, backend, spec)


def why_not(name, backend, spec) -> str:
    """Why (name or variant label, backend) cannot compute spec here ('' when it can): not available,
    an option this backend does not take, or the shape."""
    algorithm, options, cls, reason = _lookup(name, backend)
    if cls is None:
        return f"{name} on {backend} is not available here: {reason}"
    problem = (option_problem(cls, algorithm, backend, options) or cls.variant_problem(**options)
               or cls.parameter_problem(spec) or cls.case_problem(spec, **options))
    if problem:
        return problem
    return "" if cls.supports(spec, **options) else f"{name} cannot compute {spec}"


def why_not_swept(name, backend, spec) -> str:
    """Why a sweep (the corpus, the asv suites) leaves (name, backend) out on spec ('' when it runs it):
    why_not, or an FFT tile that would compute mostly padding (selection.tile_mostly_padding)."""
    why = why_not(name, backend, spec)
    if why:
        return why
    tile = VARIANTS.get(name, (name, {}))[1].get("tile")
    if resolve(name)[0] == "fft" and tile and tile_mostly_padding(tile, spec.P, spec.Q):
        return f"skipped: a {tile}x{tile} tile is over twice the {spec.P}x{spec.Q} output (mostly padding)"
    return ""


def implementations(peers: bool = False) -> list[Algorithm]:
    """Every (algorithm, backend), with .available and, if not, .reason; with peers=True the field's
    implementations too, each variant by its label on the backends it has."""
    found = []
    for backend in BACKENDS:
        for name in ALGORITHMS:
            cls, reason = _import(name, backend)
            found.append(Algorithm(name, backend, cls is not None, reason))
    if peers:
        for name, (algorithm, options) in PEER_VARIANTS.items():
            for backend in BACKENDS:
                if (algorithm, backend) in IMPLEMENTATIONS:
                    cls, reason = _import(algorithm, backend)
                    reason = reason or cls.variant_problem(**options)
                    found.append(Algorithm(name, backend, not reason, reason))
    return found
