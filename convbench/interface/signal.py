"""1-D convolutions: plan(SignalSpec, ...) and conv1d(), with torch.nn.functional.conv1d's semantics.

A 1-D plan is a plan on the same problem laid out with height 1 (SignalSpec.grid), seen
through (N, C, L) arrays: the registry's SIGNAL_VARIANTS say which class runs each name.
"""
from __future__ import annotations

import numpy as np

from convbench.core.arrays import as_conv_array, check_compression, pop_check_finite
from convbench.core.errors import ConvError
from convbench.core.selection import select_signal
from convbench.core.signal import SignalSpec
from convbench.interface.machine_thresholds import thresholds_here
from convbench.interface.plan_cache import PLANS
from convbench.interface.registry import COMPRESSIBLE, SIGNAL_VARIANTS, label, option_problem, signal_implementation

LAYOUTS = {"x": "(N, C, L)", "w": "(K, C/groups, L)", "dy": "(N, K, P)", "out": "(N, K, P)"}


def as_signal_array(value, name: str, expected_shape=None) -> np.ndarray:
    """A float32 C-contiguous 3-D array of value; ConvError naming the argument otherwise."""
    return as_conv_array(value, name, expected_shape, ndim=3, layouts=LAYOUTS)


def _grid(array):
    return None if array is None else array[:, :, None, :]


class SignalPlan:
    """A planned 1-D convolution: plan(x, w) with x (N, C, L), w (K, C/groups, R) -> (N, K, P) float32,
    its two backward passes, set_weights, stages and float64, as the 2-D plans have them."""

    def __init__(self, spec: SignalSpec, inner, label: str):
        self.spec, self.inner, self.label = spec, inner, label

    algorithm = property(lambda self: self.inner.algorithm)
    backend = property(lambda self: self.inner.backend)
    options = property(lambda self: self.inner.options)
    compression = property(lambda self: self.inner.compression)

    def __call__(self, x, w=None, out=None) -> np.ndarray:
        x = as_signal_array(x, "x", self.spec.input_shape)
        w = None if w is None else as_signal_array(w, "w", self.spec.filter_shape)
        if out is not None and (not isinstance(out, np.ndarray) or out.shape != self.spec.output_shape):
            raise ConvError(f"out must be a float32 array of shape {self.spec.output_shape} (N, K, P); "
                            f"got {getattr(out, 'shape', type(out).__name__)}")
        return self.inner(_grid(x), _grid(w), out=_grid(out))[:, :, 0, :]

    def set_weights(self, w) -> "SignalPlan":
        self.inner.set_weights(_grid(as_signal_array(w, "w", self.spec.filter_shape)))
        return self

    def backward_data(self, dy, w) -> np.ndarray:
        dy = as_signal_array(dy, "dy", self.spec.output_shape)
        return self.inner.backward_data(_grid(dy), _grid(as_signal_array(w, "w", self.spec.filter_shape)))[:, :, 0, :]

    def backward_filter(self, x, dy) -> np.ndarray:
        x = as_signal_array(x, "x", self.spec.input_shape)
        dy = as_signal_array(dy, "dy", self.spec.output_shape)
        return self.inner.backward_filter(_grid(x), _grid(dy))[:, :, 0, :]

    def float64(self) -> "SignalFloat64":
        return SignalFloat64(self.inner.float64())

    def stages(self, x, w) -> dict:
        return self.inner.stages(_grid(as_signal_array(x, "x", self.spec.input_shape)),
                                 _grid(as_signal_array(w, "w", self.spec.filter_shape)))

    def stage_work(self) -> dict:
        """Each stage's counted bytes and flops (the roofline's inputs), as the 2-D plans count them."""
        return self.inner.stage_work()

    def __repr__(self) -> str:
        extra = f", compression={self.compression:.3f}" if self.compression else ""
        return f"<SignalPlan {self.label}/{self.backend} {self.spec}{extra}>"


class SignalFloat64:
    """What a 1-D plan computes, in float64, with its exact adjoints, on (N, C, L) arrays."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, x, w):
        return np.asarray(self.inner(_grid(np.asarray(x)), _grid(np.asarray(w))))[:, :, 0, :]

    def backward_data(self, dy, w):
        return np.asarray(self.inner.backward_data(_grid(np.asarray(dy)), _grid(np.asarray(w))))[:, :, 0, :]

    def backward_filter(self, x, dy):
        return np.asarray(self.inner.backward_filter(_grid(np.asarray(x)), _grid(np.asarray(dy))))[:, :, 0, :]


def plan_signal(spec: SignalSpec, algorithm: str = "direct", backend: str = "cpu", compression: float = 0.0,
                **options) -> SignalPlan:
    """Plan one 1-D convolution (convbench.plan does this for a SignalSpec)."""
    choice = "asked for"
    check_finite = pop_check_finite(options)
    if algorithm == "auto":  # exact, and the rule's (core.selection.select_signal); nothing stored yet for 1-D
        if compression != 0.0 or options:
            raise ConvError(f"algorithm='auto' is exact and takes no options: compression must be 0 and no "
                            f"options given; got compression={compression!r}, options {sorted(options)}")
        thresholds, source = thresholds_here()
        picked = select_signal(spec, thresholds)  # the backend is checked with the pick (signal_implementation)
        algorithm, choice = picked.label, f"{picked.why} ({source})"
    cls, name, options = signal_implementation(algorithm, backend, options)
    problem = option_problem(cls, name, backend, options) or cls.parameter_problem(spec.grid)
    if problem:
        raise ConvError(problem)
    compression = check_compression(compression)
    if name in COMPRESSIBLE:
        inner = cls(spec.grid, compression=compression, **options)
    elif compression:
        raise ConvError(f"compression applies only to algorithm {' or '.join(map(repr, COMPRESSIBLE))}; "
                        f"got compression={compression} with algorithm={algorithm!r} (expected 0)")
    else:
        inner = cls(spec.grid, **options)
    inner.check_finite = check_finite
    built = SignalPlan(spec, inner, label(name, options, SIGNAL_VARIANTS))
    built.choice = choice
    return built


def conv1d(x, w, algorithm: str = "direct", backend: str = "cpu", padding=0, stride=1, compression: float = 0.0,
           dilation=1, groups: int = 1, **options) -> np.ndarray:
    """torch.nn.functional.conv1d semantics (cross-correlation, zero padding, dilation, groups) with a
    chosen algorithm: x (N, C, L), w (K, C/groups, R) -> float32 (N, K, P)."""
    x = as_signal_array(x, "x")
    w = as_signal_array(w, "w")
    spec = SignalSpec.from_shapes(x.shape, w.shape, padding=padding, stride=stride, dilation=dilation, groups=groups)
    key = ("conv1d", spec, algorithm, backend, compression, tuple(sorted(options.items())))
    with PLANS.lend(key, lambda: plan_signal(spec, algorithm, backend, compression, **options)) as built:
        return built(x, w)
