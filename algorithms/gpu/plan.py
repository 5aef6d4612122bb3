"""CudaPlan: the interface of every plan, on the GPU."""
from __future__ import annotations

import numpy as np

from convbench.core.errors import ConvError
from convbench.core.arrays import output_buffer

from ..base import Plan
from .gradients import REDUCTION_THREADS
from .inputs import as_device_input
from .memory import copy, empty, launch_flat, to_host


class CudaPlan(Plan):
    """A plan on the GPU. Called with host arrays it returns a host array (the
    interface of every plan); called with device arrays it returns a device
    array and copies nothing, which is what the suites time.

    Subclasses implement transform_filter(w) -> what run_device consumes
    (the filters themselves where nothing is transformed) and
    run_device(x, transformed_filter, out), all on device arrays.
    """

    backend = "cuda"
    block = 256  # threads a block for kernels over a flat index (_launch); a plan option where taken
    reduction_threads = REDUCTION_THREADS  # a block of the filter gradient's reduction (a plan option where taken)

    def __call__(self, x, w=None, out=None, *, for_backward=False):  # it keeps what its backward reads
        x, x_from_host = as_device_input(x, "x", self.spec.input_shape)
        if w is None:
            transformed = self._fixed_weights()
        else:
            w, _ = as_device_input(w, "w", self.spec.filter_shape)
            transformed = self.transform_filter(w)
        host_out = isinstance(out, np.ndarray)
        if host_out:
            output_buffer(out, self.spec.output_shape)
        device_out = None if out is None or host_out else as_device_input(out, "out", self.spec.output_shape)[0]
        result = self.compute(x, transformed, device_out)
        if host_out:
            out[...] = to_host(result)
            return out
        return to_host(result) if x_from_host else result

    # -- the training passes ----------------------------------------------------
    def backward_data(self, dy, w, reuse_forward: bool = False):
        """dx (N, C, H, W): as on the CPU (Plan.backward_data), on device or host arrays as __call__ takes
        them (a host dy gives a host dx). reuse_forward is refused: a cuda plan keeps no forward's transforms."""
        self._refuse_reuse(reuse_forward)
        dy, from_host = as_device_input(dy, "dy", self.spec.output_shape)
        w, _ = as_device_input(w, "w", self.spec.filter_shape)
        dx = self._backward_data_device(dy, w)
        return to_host(dx) if from_host else dx

    def backward_filter(self, x, dy, reuse_forward: bool = False):
        """dw (K, C/groups, R, S), as backward_data takes and returns its arrays."""
        self._refuse_reuse(reuse_forward)
        dy, from_host = as_device_input(dy, "dy", self.spec.output_shape)
        x, _ = as_device_input(x, "x", self.spec.input_shape)
        dw = self._backward_filter_device(x, dy)
        return to_host(dw) if from_host else dw

    def _refuse_reuse(self, reuse_forward) -> None:
        if reuse_forward:
            raise ConvError(f"reuse_forward=True: a cuda plan ({self.algorithm!r}) keeps no forward call's "
                            f"transforms for the training passes; expected reuse_forward=False")

    def _backward_data_device(self, dy, w):
        """This plan's own forward on the data-gradient problem (gradients.DataGradient)."""
        from .gradients import data_gradient_operands

        problem, forward = self._data_gradient_plan()
        x, flipped = data_gradient_operands(problem, dy, w)
        return forward.compute(x, forward.transform_filter(flipped))

    def _backward_filter_device(self, x, dy):
        from .gradients import filter_gradient
        return filter_gradient(x, dy, self.spec, self.reduction_threads)

    def _launch(self, kernel, count, *args) -> None:
        launch_flat(kernel, count, *args, block=self.block)

    def set_weights(self, w) -> "CudaPlan":
        """Fix the filters (transformed once, where the algorithm transforms them) for plan(x)."""
        w, _ = as_device_input(w, "w", self.spec.filter_shape)
        # a copy: the transform may live in the plan's buffers, which per-call use overwrites
        self._weights = copy(self.transform_filter(w))
        return self

    def transform_filter(self, w):
        return w

    def compute(self, x, transformed_filter, out=None):
        """The result on the device: written into `out` if given, else into a new array."""
        out = empty(self.spec.output_shape) if out is None else out
        self.run_device(x, transformed_filter, out)
        return out

    def run_device(self, x, transformed_filter, out) -> None:
        """NNPACK's stages on the device buffers; plans that are one kernel override this."""
        self.transform_input(x)
        self.contract(transformed_filter)
        self.transform_output(out)

    def stages(self, x, w, out=None) -> dict:
        """Named zero-argument callables, one per stage, on device copies of x and w
        (as Plan.stages on the CPU), writing the device array `out` (a new one if
        None); one call first fills every buffer a later stage reads. A plan
        without separate stages has one, "call". Time them with a synchronize."""
        x, _ = as_device_input(x, "x", self.spec.input_shape)
        w, _ = as_device_input(w, "w", self.spec.filter_shape)
        out = self.compute(x, self.transform_filter(w), out)
        if not hasattr(self, "transform_input"):
            return {"call": lambda: self.compute(x, self.transform_filter(w), out)}
        transformed_filter = self.transform_filter(w)
        return {"filter transform": lambda: self.transform_filter(w),
                "input transform": lambda: self.transform_input(x),
                "contraction": lambda: self.contract(transformed_filter),
                "output transform": lambda: self.transform_output(out)}

    def run(self, x, w, out):  # the CPU entry point of Plan; a cuda plan is always called through __call__
        raise NotImplementedError
