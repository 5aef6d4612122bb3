"""The device side shared by the cuda plans: where device arrays come from, and CudaPlan.

Every device buffer a plan or a call allocates comes from torch's caching
allocator (a torch tensor, handed to Numba kernels through
__cuda_array_interface__), so torch.cuda.max_memory_allocated() sees all of
it: Numba itself allocates nothing. Under Numba's CUDA simulator
(NUMBA_ENABLE_CUDASIM=1) there is no device and no torch CUDA: the same
kernels run on the simulator's own arrays, which is how CI tests them.
"""
from __future__ import annotations

import numpy as np
from numba import config as numba_config

from convbench.arrays import as_conv_array, output_buffer
from convbench.errors import ConvError

from .base import Plan


def simulated() -> bool:
    """Whether numba.cuda is Numba's CPU simulator (NUMBA_ENABLE_CUDASIM=1)."""
    return bool(numba_config.ENABLE_CUDASIM)


def unavailable_reason(needs_cudnn: bool = False) -> str:
    """Why the cuda backend cannot run here ('' when it can)."""
    if simulated():
        return "the CUDA simulator has no cuDNN (torch needs a real GPU)" if needs_cudnn else ""
    from numba import cuda
    if not cuda.is_available():
        return "no CUDA GPU found (numba.cuda.is_available() is False)"
    import torch
    if not torch.cuda.is_available():
        return ("torch has no CUDA here (torch.cuda.is_available() is False); convbench allocates "
                "device memory through torch's allocator and runs cuFFT/cuDNN through torch")
    return ""


def wrap(tensor):
    """A Numba device array over a torch CUDA tensor's memory; it keeps the tensor alive.

    sync=False: Numba would otherwise synchronize on the tensor's stream at every
    wrap, a host round trip inside the timed call; torch and these kernels both
    run on the legacy default stream, so their order is already kept.
    """
    from numba import cuda
    return cuda.as_cuda_array(tensor, sync=False)


def _torch():
    import torch
    return torch


def empty(shape, dtype=np.float32):
    """A device array (Numba view of a torch tensor; a simulator array under the simulator)."""
    from numba import cuda
    if simulated():
        return cuda.device_array(shape, dtype=dtype)
    torch = _torch()
    tensor = torch.empty(tuple(shape), dtype=_TORCH_DTYPES[np.dtype(dtype)](), device="cuda")
    return wrap(tensor)


def zeros(shape, dtype=np.float32):
    array = empty(shape, dtype)
    fill(array, 0)
    return array


def fill(array, value) -> None:
    if simulated():
        array[...] = value
    else:
        as_tensor(array).fill_(value)


def from_host(array: np.ndarray):
    from numba import cuda
    if simulated():
        return cuda.to_device(np.ascontiguousarray(array))
    return wrap(_torch().from_numpy(np.ascontiguousarray(array)).to("cuda"))


def copy(array):
    if simulated():
        return from_host(array.copy_to_host())
    return wrap(as_tensor(array).clone())


def to_host(array) -> np.ndarray:
    return array.copy_to_host()


def as_tensor(array):
    """The torch tensor over a device array's memory (no copy). Real GPU only."""
    return _torch().as_tensor(array, device="cuda")


def synchronize() -> None:
    from numba import cuda
    cuda.synchronize()


_TORCH_DTYPES = {
    np.dtype(np.float32): lambda: _torch().float32,
    np.dtype(np.complex64): lambda: _torch().complex64,
}


def is_device_array(value) -> bool:
    from numba import cuda
    if simulated():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
        return isinstance(value, FakeCUDAArray)
    return cuda.is_cuda_array(value)


def as_device_input(value, name: str, shape):
    """(float32 device array of `shape`, whether it came from the host); ConvError otherwise.

    Host input is checked as on the CPU and copied over; device input (a Numba
    device array, a torch CUDA tensor, anything with __cuda_array_interface__)
    is used in place and must already be float32, C-contiguous and of the plan's shape.
    """
    if not is_device_array(value):
        return from_host(as_conv_array(value, name, shape)), True
    array = value if simulated() else wrap(value)
    layout = {"x": "(N, C, H, W)", "w": "(K, C, R, S)"}.get(name, "")
    if np.dtype(array.dtype) != np.float32 or tuple(array.shape) != tuple(shape) or not array.is_c_contiguous():
        raise ConvError(f"{name} on the device must be a C-contiguous float32 array of shape {tuple(shape)} "
                        f"{layout}; got {array.dtype} {tuple(array.shape)}")
    return array, False


def on_backend(backend: str, *arrays):
    """(arrays where a plan of `backend` reads them, the call that ends a timed call there).

    On cuda the host arrays are copied to the device once, so that timings see
    the convolution and not the copies, and the clock waits for the device."""
    if backend != "cuda":
        return arrays, lambda: None
    return tuple(from_host(array) for array in arrays), synchronize


def blocks(count: int, per_block: int) -> int:
    return (count + per_block - 1) // per_block


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
