"""The device side shared by the cuda plans, one job per module:

  simulator  whether numba.cuda is the CPU simulator, and why cuda cannot run here
  memory     device buffers from torch's caching allocator, copies, synchronize
  inputs     the arrays a cuda plan is called with (device in place, host checked and copied)
  plan       CudaPlan, the Plan interface on the GPU
"""
from .inputs import as_device_input, is_device_array
from .memory import as_tensor, blocks, copy, empty, fill, from_host, launch_flat, synchronize, to_host, wrap, zeros
from .plan import CudaPlan
from .simulator import simulated, unavailable_reason

__all__ = ["CudaPlan", "as_device_input", "as_tensor", "blocks", "copy", "empty", "fill", "from_host",
           "is_device_array", "launch_flat", "simulated", "synchronize", "to_host", "unavailable_reason", "wrap", "zeros"]
