"""Arrays a cuda plan is called with: device arrays used in place, host arrays checked and copied over."""
from __future__ import annotations

import numpy as np

from convbench.core.arrays import as_conv_array
from convbench.core.errors import ConvError

from .memory import from_host, wrap
from .simulator import simulated


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
    layout = {"x": "(N, C, H, W)", "w": "(K, C, R, S)", "dy": "(N, K, P, Q)", "out": "(N, K, P, Q)"}.get(name, "")
    if np.dtype(array.dtype) != np.float32 or tuple(array.shape) != tuple(shape) or not array.is_c_contiguous():
        raise ConvError(f"{name} on the device must be a C-contiguous float32 array of shape {tuple(shape)} "
                        f"{layout}; got {array.dtype} {tuple(array.shape)}")
    return array, False
