"""Plan: the interface every (algorithm, backend) implementation satisfies."""
from __future__ import annotations

import inspect
import warnings
import weakref

import numpy as np

from convbench.core.arrays import as_conv_array, output_buffer
from convbench.core.errors import ConvError
from convbench.core.oracle import Float64Oracle
from convbench.core.spec import ConvSpec


def _reference(operand):
    """A weak reference to an operand as the caller passed it, or None where it takes none (a list):
    what reuse_forward=True is checked against, without keeping the caller's array alive."""
    try:
        return weakref.ref(operand)
    except TypeError:
        return None


class Plan:
    """A convolution planned for one ConvSpec.

    Building the plan does the one-off work (buffers, FFT plans, compilation);
    calling it does only the convolution. Subclasses implement `run`.
    """

    algorithm = ""
    backend = ""
    compression = 0.0  # the achieved spectral compression; only fft sets it
    # Non-finite input (NaN, inf). check_finite=True (a plan option, scipy's convention) refuses it with a
    # ConvError. Without it, a plan whose transforms mix many inputs into each output (spreads_non_finite
    # names how far) warns when its output shows one spread: torch's conv2d keeps a NaN to the outputs
    # whose window reads it, and direct does the same.
    check_finite = False
    spreads_non_finite = ""
    # What the implementation computes beyond plain convolution; a spec with more is a ConvError.
    takes_groups = False
    takes_dilation = False
    dilation_needs = "a kernel that reads dilated taps"  # why dilation=1 is expected, where it is
    training_passes = True  # whether backward_data and backward_filter compute (a forward-only peer: False)

    def __new__(cls, spec, *args, **kwargs):
        """Keep what the plan is built with, so that it can report it and rebuild itself on
        another problem (the data gradient's) whoever built it."""
        self = super().__new__(cls)
        arguments = inspect.signature(cls.__init__).bind(self, spec, *args, **kwargs).arguments
        self._built_with = {name: value for name, value in arguments.items() if name not in ("self", "spec")}
        self.options = {name: value for name, value in self._built_with.items() if name != "compression"}
        return self

    def __init__(self, spec: ConvSpec):
        problem = self.parameter_problem(spec)
        if problem:
            raise ConvError(problem)
        self.spec = spec

    @classmethod
    def parameter_problem(cls, spec: ConvSpec) -> str:
        """Why this implementation cannot take spec's groups or dilation ('' when it can)."""
        where = f"algorithm={cls.algorithm!r} on backend={cls.backend!r}"
        if spec.groups > 1 and not cls.takes_groups:
            return f"groups={spec.groups}: {where} computes ungrouped convolutions only; expected groups=1"
        if spec.dilation != (1, 1) and not cls.takes_dilation:
            return (f"dilation={spec.dilation}: {where} needs {cls.dilation_needs}, which it has not; "
                    f"expected dilation=1")
        return ""

    @classmethod
    def planned_bytes(cls, spec: ConvSpec, **options) -> int:
        """A lower bound, from the shapes, of the bytes the plan's buffers take (checked against the memory
        available before anything is allocated); 0 where they are small beside the operands."""
        return 0

    @classmethod
    def variant_problem(cls, **options) -> str:
        """Why this implementation, with these options, cannot run on this machine at all ('' when it can):
        an instruction set a peer's kernels need, say."""
        return ""

    @classmethod
    def case_problem(cls, spec: ConvSpec, **options) -> str:
        """Why this implementation, with these options, cannot compute spec here ('' when it can), in the
        words of what refuses it: a peer's library, its filter sizes, its strides."""
        return ""

    @classmethod
    def supports(cls, spec: ConvSpec, **options) -> bool:
        """Whether this algorithm, with these options, can compute `spec` at all (Winograd cannot compute 5x5)."""
        return True

    _weights = None  # filters fixed by set_weights, in whatever form the plan runs them
    _weights_given = None  # a reference to the array set_weights was given
    # References to the (x, w) of the last forward call, as the caller passed them, while the
    # plan's buffers still hold that call's transforms; None once anything else overwrote them.
    _forward_operands = None

    # True during a forward call made with for_backward=True (run() reads it)
    for_backward = False

    def __call__(self, x, w=None, out: np.ndarray | None = None, *, for_backward: bool = False) -> np.ndarray:
        """y = x (*) w for this plan's shapes; writes into `out` if given, and returns it.

        w may be left out after set_weights(w): inference with fixed filters.
        for_backward=True: a training step's forward, whose backward passes will ask for reuse_forward=True;
        a plan that would take a transform by blocks that overwrite one another keeps it whole instead.
        """
        given = x, w
        self.for_backward = for_backward
        if w is None:
            out = self._run_fixed(as_conv_array(x, "x", self.spec.input_shape), out)
        else:
            x, w = self.check_inputs(x, w)
            out = output_buffer(out, self.spec.output_shape)
            self.run(x, w, out)
        self._remember_forward(*given)
        if self.spreads_non_finite and not self.check_finite:
            self._warn_if_spread(out)
        return out

    def _warn_if_spread(self, out) -> None:
        """A RuntimeWarning when the output shows a non-finite input spread by the transforms. The spread
        reaches every output channel of the images and tiles it touches, so the first channel of every
        image and every channel's first tile see it: 1/K of the output and K tiles, read, not a pass."""
        corner = out[:1, :, :8, :8]
        if np.isfinite(out[:, 0]).all() and np.isfinite(corner).all():
            return
        warnings.warn(f"convbench: x or w holds NaN or inf, and {getattr(self, 'label', self.algorithm)} "
                      f"spreads each to {self.spreads_non_finite} (torch's conv2d keeps it to the outputs whose "
                      f"window reads it); plan with check_finite=True to refuse such input", RuntimeWarning,
                      stacklevel=3)

    def _remember_forward(self, x, w) -> None:
        """After a forward call (every __call__ ends here): its operands as the caller passed them, w None
        meaning set_weights' filters; what reuse_forward=True is checked against."""
        self._forward_operands = _reference(x), (self._weights_given if w is None else _reference(w))

    def set_weights(self, w) -> "Plan":
        """Fix the filters for inference: later calls plan(x) reuse them (and, where
        the algorithm transforms filters, their transform)."""
        self._weights = as_conv_array(w, "w", self.spec.filter_shape).copy()
        self._weights_given = _reference(w)
        return self

    def _fixed_weights(self):
        if self._weights is None:
            raise ConvError(f"w is required: pass filters of shape {self.spec.filter_shape} (K, C, R, S), "
                            f"or call plan.set_weights(w) first")
        return self._weights

    def _run_fixed(self, x, out):
        return self(x, self._fixed_weights(), out)

    def check_inputs(self, x, w) -> tuple[np.ndarray, np.ndarray]:
        """x and w as float32 C-contiguous arrays of this plan's shapes, or ConvError (non-finite
        values too, with check_finite=True)."""
        x, w = as_conv_array(x, "x", self.spec.input_shape), as_conv_array(w, "w", self.spec.filter_shape)
        return self._finite("x", x), self._finite("w", w)

    def _finite(self, name, array):
        if self.check_finite:
            bad = array.size - int(np.isfinite(array).sum())
            if bad:
                raise ConvError(f"{name} holds {bad} non-finite values (NaN or inf); check_finite=True expects "
                                f"finite input")
        return array

    def run(self, x: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
        raise NotImplementedError

    # -- the training passes ----------------------------------------------------
    def backward_data(self, dy, w, reuse_forward: bool = False) -> np.ndarray:
        """dx (N, C, H, W) float32: the gradient of <dy, plan(x, w)> with respect to x.

        By default this algorithm's own forward pass on the data-gradient problem
        (gradients.DataGradient: dy dilated by the stride, the filter flipped and
        channel-swapped); plans with a better way override _backward_data.

        reuse_forward=True asks for the transform of w that this plan's last forward call left
        (one layer's training step): plans that transform the filter then skip redoing it. The
        plan checks that its last call was on this very w and that nothing has overwritten its
        buffers since; if not, ConvError (never a gradient of another call's operands).
        """
        self._check_reuse(reuse_forward, w=w)
        dy, w = self.check_gradient(dy, w=w)
        try:
            return self._backward_data(dy, w, reuse_forward)
        finally:
            self._buffers_overwritten(reuse_forward)

    def backward_filter(self, x, dy, reuse_forward: bool = False) -> np.ndarray:
        """dw (K, C, R, S) float32: the gradient of <dy, plan(x, w)> with respect to w.

        By default one GEMM per filter tap (gradients.filter_gradient).
        reuse_forward=True asks for the transform of x that the plan's last forward call left
        (checked as in backward_data): plans that transform the input then reuse it."""
        self._check_reuse(reuse_forward, x=x)
        dy, x = self.check_gradient(dy, x=x)
        try:
            return self._backward_filter(x, dy, reuse_forward)
        finally:
            self._buffers_overwritten(reuse_forward)

    def _check_reuse(self, reuse_forward, **operand) -> None:
        """reuse_forward=True is taken only where the plan can see it holds: its last forward call
        was on this very array, and no pass since has overwritten the buffers that call filled."""
        if not reuse_forward:
            return
        (name, given), = operand.items()
        held = self._forward_operands
        reference = None if held is None else held[0 if name == "x" else 1]
        if reference is None or reference() is not given:
            why = ("this plan has no forward call whose buffers it still holds" if held is None else
                   f"this plan's last forward call was on another {name}")
            raise ConvError(f"reuse_forward=True: {why}; call the plan on this (x, w) first, "
                            f"or pass reuse_forward=False (expected the {name} of the last forward call)")

    def _buffers_overwritten(self, reused: bool) -> None:
        """A pass that transformed its operands afresh wrote over what the last forward left."""
        if not reused:
            self._forward_operands = None

    def check_gradient(self, dy, x=None, w=None):
        """dy and the other operand as float32 C-contiguous arrays of this plan's shapes, or ConvError."""
        dy = self._finite("dy", as_conv_array(dy, "dy", self.spec.output_shape))
        if x is not None:
            return dy, self._finite("x", as_conv_array(x, "x", self.spec.input_shape))
        return dy, self._finite("w", as_conv_array(w, "w", self.spec.filter_shape))

    def _backward_data(self, dy, w, reuse_forward=False):
        problem, forward = self._data_gradient_plan()
        return forward(problem.prepare(dy), problem.flipped(w))

    def _data_gradient_plan(self):
        """(gradients.DataGradient of this spec, this plan's class built on its problem), made once."""
        from .gradients import DataGradient  # the training passes load only when asked for

        if getattr(self, "_data_gradient", None) is None:
            problem = DataGradient(self.spec)
            self._data_gradient = problem, type(self)(problem.spec, **self._built_with)
        return self._data_gradient

    def _backward_filter(self, x, dy, reuse_forward=False):
        from .gradients import filter_gradient

        if getattr(self, "_filter_gradient", None) is None:  # kept: its padded grids serve the next call
            self._filter_gradient = filter_gradient(self.spec)
        return self._filter_gradient(x, dy)

    def float64(self):
        """What this plan computes, in float64, with its exact adjoints (__call__, backward_data,
        backward_filter): the convolution itself, the oracle, unless the plan computes another
        map (the band-limited fft overrides this)."""
        return Float64Oracle(self.spec)

    def stages(self, x, w) -> dict:
        """Named zero-argument callables, one per stage, in order, ready to be timed alone.

        Plans with separate stages (NNPACK style: transforms, contraction,
        inverse) override this; running one call first fills every buffer a
        later stage reads.
        """
        x, w = self.check_inputs(x, w)
        return {"call": lambda: self(x, w)}

    def __repr__(self) -> str:
        extra = f", compression={self.compression:.3f}" if self.compression else ""
        return f"<{type(self).__name__} {self.algorithm}/{self.backend} {self.spec}{extra}>"


class StagedPlan(Plan):
    """A plan made of NNPACK's separate, named stages, each measurable alone:
    filter transform -> input transform -> contraction -> output transform.

    Subclasses implement the four methods; transform_filter returns what
    contract consumes, the other stages work through the plan's buffers.
    """

    def transform_filter(self, w):
        raise NotImplementedError

    def transform_input(self, x) -> None:
        raise NotImplementedError

    def contract(self, transformed_filter) -> None:
        raise NotImplementedError

    def transform_output(self, out) -> None:
        raise NotImplementedError

    def set_weights(self, w) -> "StagedPlan":
        """Fix the filters and transform them once: later calls plan(x) skip the filter transform."""
        # the transform may live in the plan's own buffers, which a per-call use would overwrite
        self._weights = np.array(self.transform_filter(as_conv_array(w, "w", self.spec.filter_shape)), copy=True)
        return self

    def _run_fixed(self, x, out):
        out = output_buffer(out, self.spec.output_shape)
        self._run_transformed(x, self._fixed_weights(), out)
        return out

    def run(self, x, w, out):
        self._run_transformed(x, self.transform_filter(w), out)

    # What the last forward call left, for reuse_forward (checked by Plan._check_reuse): the
    # transformed filter it used, and (in the plan's own buffers) the transformed input.
    _forward_filter = None

    def _run_transformed(self, x, transformed_filter, out):
        self._forward_filter = transformed_filter
        self.run_stages(x, transformed_filter, out)

    def run_stages(self, x, transformed_filter, out) -> None:
        """The forward's input transform, contraction and output transform, one after the other; a plan
        that runs them by blocks overrides this."""
        self.transform_input(x)
        self.contract(transformed_filter)
        self.transform_output(out)

    def stage_work(self) -> dict:
        """{stage name (as in stages()): Work}, the bytes and flops each stage must move and do,
        counted from the shapes (algorithms/work.py): what a roofline bounds."""
        raise NotImplementedError

    def stages(self, x, w) -> dict:
        x, w = self.check_inputs(x, w)
        out = self(x, w)
        self._forward_operands = None  # the stages, timed, overwrite the buffers at will
        transformed_filter = self.transform_filter(w)
        return {"filter transform": lambda: self.transform_filter(w),
                "input transform": lambda: self.transform_input(x),
                "contraction": lambda: self.contract(transformed_filter),
                "output transform": lambda: self.transform_output(out)}
