"""The public API: conv2d(), plan(), implementations(), retained_energy()."""
from __future__ import annotations

import numpy as np

from convbench.core.arrays import as_conv_array, check_compression, pop_check_finite
from convbench.core.errors import ConvError
from convbench.core.machine import available_memory_bytes
from convbench.interface.registry import COMPRESSIBLE, implementations, label, option_problem, resolved_implementation
from convbench.core.signal import SignalSpec
from convbench.core.spec import ConvSpec
from convbench.interface.auto import choose
from convbench.interface.plan_cache import PLANS

__all__ = ["ConvError", "ConvSpec", "SignalSpec", "conv1d", "conv2d", "implementations", "plan", "retained_energy"]


def plan(spec: ConvSpec, algorithm: str = "direct", backend: str = "cpu", compression: float = 0.0, **options):
    """Plan one convolution: buffers, FFT plans and compiled kernels are made here, once.

    The plan is then called as plan(x, w) (optionally out=...) any number of times.
    `compression` is the fraction of spectral coefficients discarded, in [0, 1), for the
    algorithms the registry lists as taking it (fft). Extra options go to the
    implementation (e.g. planner_effort="FFTW_MEASURE" for fft, tile=4 for Winograd
    F(4x4,3x3), tile=16 for FFT on 16x16 tiles); the plan reports them as
    plan.options and its variant as plan.label. check_finite=True refuses NaN and inf in x, w and dy
    with a ConvError (Plan.check_finite says what happens without it). A variant label from
    convbench.interface.registry.VARIANTS may stand for algorithm and options:
    plan(spec, "fft tile 16") is plan(spec, "fft", tile=16).

    algorithm="auto" picks the algorithm for this shape, like cuDNN's heuristic plus
    cudnn.benchmark: the fastest exact algorithm stored by `convbench recommend` for
    this machine and shape if there is one, else the rule in convbench.core.selection
    (convbench.interface.auto).
    It is always exact (compression 0); plan.algorithm says what was picked and
    plan.choice why.
    """
    if isinstance(spec, SignalSpec):  # 1-D: convbench.interface.signal
        from convbench.interface.signal import plan_signal

        return plan_signal(spec, algorithm, backend, compression, **options)
    if not isinstance(spec, ConvSpec):
        raise ConvError(f"spec must be a convbench.ConvSpec (or a SignalSpec for 1-D); got {type(spec).__name__}")
    check_finite = pop_check_finite(options)
    if check_finite and backend != "cpu":
        raise ConvError(f"check_finite=True is checked on the CPU backend only; got backend={backend!r} "
                        f"(expected 'cpu', or check_finite=False)")
    choice = ""
    if algorithm == "auto":
        if compression != 0.0:
            raise ConvError(f"algorithm='auto' is exact: compression must be 0; got compression={compression!r}")
        if options:
            raise ConvError(f"algorithm='auto' takes no options (it chooses them); got {', '.join(map(repr, options))}")
        algorithm, choice = choose(spec, backend)
    cls, algorithm, options = resolved_implementation(algorithm, backend, options)
    problem = option_problem(cls, algorithm, backend, options) or cls.parameter_problem(spec)
    if problem:
        raise ConvError(problem)
    compression = check_compression(compression)
    if algorithm not in COMPRESSIBLE and compression != 0.0:
        raise ConvError(f"compression applies only to algorithm {' or '.join(map(repr, COMPRESSIBLE))}; "
                        f"got compression={compression} with algorithm={algorithm!r} (expected 0)")
    given = dict(options, compression=compression) if algorithm in COMPRESSIBLE else options
    check_memory(cls, spec, label(algorithm, options), given)
    try:
        built = cls(spec, **given)
    except MemoryError as err:  # what the bound did not foresee: numpy says how much one array wanted
        raise ConvError(f"{label(algorithm, options)} on {spec}: out of memory while planning ({err}); "
                        f"{_available_text()}") from None
    built.label = label(algorithm, options)  # the variant, e.g. 'fft tile 16'
    built.choice = choice or "asked for"
    built.check_finite = check_finite
    return built


def _available_text() -> str:
    available = available_memory_bytes()
    return f"{available:,} bytes available" if available is not None else "the memory available is unknown here"


def check_memory(cls, spec, name: str, options: dict) -> None:
    """ConvError before anything is allocated when the plan's buffers (cls.planned_bytes, a bound from the
    shapes) exceed the memory available: a machine that grants more than it has would kill the process on
    first touch instead."""
    needed, available = cls.planned_bytes(spec, **options), available_memory_bytes()
    if available is not None and needed > available:
        raise ConvError(f"{name} on {spec} needs at least {needed:,} bytes for its buffers (a bound from the "
                        f"shapes), more than the {available:,} bytes available; expected a smaller shape, batch "
                        f"or tile, or another algorithm")


def conv2d(x, w, algorithm: str = "direct", backend: str = "cpu", padding=0, stride=1,
           compression: float = 0.0, dilation=1, groups: int = 1, **options) -> np.ndarray:
    """torch.nn.functional.conv2d semantics (cross-correlation, zero padding, dilation, groups)
    with a chosen algorithm. The plan is kept for the next call of the same shape and settings.

    x is (N, C, H, W), w is (K, C/groups, R, S); the result is float32 (N, K, P, Q).
    """
    x = as_conv_array(x, "x")
    w = as_conv_array(w, "w")
    spec = ConvSpec.from_shapes(x.shape, w.shape, padding=padding, stride=stride, dilation=dilation, groups=groups)
    # a loop of one-shot calls plans once (convbench.interface.plan_cache), from any number of threads
    key = ("conv2d", spec, algorithm, backend, compression, tuple(sorted(options.items())))
    with PLANS.lend(key, lambda: plan(spec, algorithm, backend, compression, **options)) as built:
        return built(x, w)


def conv1d(x, w, algorithm: str = "direct", backend: str = "cpu", padding=0, stride=1,
           compression: float = 0.0, dilation=1, groups: int = 1, **options) -> np.ndarray:
    """torch.nn.functional.conv1d semantics with a chosen algorithm (convbench.interface.signal):
    x (N, C, L), w (K, C/groups, R) -> float32 (N, K, P)."""
    from convbench.interface.signal import conv1d as signal_conv1d

    return signal_conv1d(x, w, algorithm, backend, padding, stride, compression, dilation, groups, **options)


def retained_energy(x, spec: ConvSpec, compression: float) -> float:
    """Fraction of the spectral energy of input x kept by the fft plan's mask at this compression."""
    if not isinstance(spec, ConvSpec):
        raise ConvError(f"spec must be a convbench.ConvSpec; got {type(spec).__name__}")
    x = np.asarray(as_conv_array(x, "x", spec.input_shape), dtype=np.float64)
    band_limited, _, _ = resolved_implementation(COMPRESSIBLE[0], "cpu")
    return band_limited.energy_retained(x, spec, compression)
