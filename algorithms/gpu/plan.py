"""CudaPlan: the interface of every plan, on the GPU."""
from __future__ import annotations

import numpy as np

from convbench.core.errors import ConvError
from convbench.core.arrays import output_buffer

from ..base import Plan
from .inputs import as_device_input
from .memory import copy, empty, to_host


class CudaPlan(Plan):
    """A plan on the GPU. Called with host arrays it returns a host array (the
    interface of every plan); called with device arrays it returns a device
    array and copies nothing, which is what the suites time.

    Subclasses implement transform_filter(w) -> what run_device consumes
    (the filters themselves where nothing is transformed) and
    run_device(x, transformed_filter, out), all on device arrays.
    """

    backend = "cuda"

    def __call__(self, x, w=None, out=None):
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

    def backward_data(self, dy, w):
        raise ConvError(f"backward_data: the training passes are CPU-only for now; "
                        f"plan with backend='cpu' (got backend='cuda', algorithm={self.algorithm!r})")

    def backward_filter(self, x, dy):
        raise ConvError(f"backward_filter: the training passes are CPU-only for now; "
                        f"plan with backend='cpu' (got backend='cuda', algorithm={self.algorithm!r})")

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
