"""Device memory: every buffer comes from torch's caching allocator, handed to Numba kernels.

Every device buffer a plan or a call allocates is a torch tensor, handed to
Numba kernels through __cuda_array_interface__, so torch.cuda.max_memory_allocated()
sees all of it: Numba itself allocates nothing. Under Numba's CUDA simulator
(NUMBA_ENABLE_CUDASIM=1) there is no device and no torch CUDA: the same
kernels run on the simulator's own arrays, which is how CI tests them.
"""
from __future__ import annotations

import numpy as np

from .simulator import simulated


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
    np.dtype(np.uint8): lambda: _torch().uint8,  # workspaces (cuDNN's engines)
}


def blocks(count: int, per_block: int) -> int:
    return (count + per_block - 1) // per_block


def launch_flat(kernel, count: int, *args, block: int = 256) -> None:
    """A kernel with one thread per element of a flat index space of `count`, `block` threads a block."""
    kernel[blocks(count, block), block](*args)
