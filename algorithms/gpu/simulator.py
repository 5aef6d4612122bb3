"""Which CUDA this process has: Numba's CPU simulator, a real GPU, or none (and why)."""
from __future__ import annotations

from numba import config as numba_config


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
