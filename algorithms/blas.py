"""Every GEMM of the CPU implementations runs on torch's BLAS: one thread pool in the process.

A process here holds two pools on the same cores, numpy's OpenBLAS and
torch's OpenMP (the peer's). Each spins after its work, OpenBLAS for about
2^28 cycles unless OPENBLAS_THREAD_TIMEOUT was set before numpy loaded, so
what was measured depended on import order: with numpy imported before
convbench, torch ran ResNet-18's 64@56 layer in 13.6 ms instead of 6.8 ms
right after a Winograd call, and Winograd itself in 16.0 ms instead of 11.0.
With every GEMM on torch's pool no OpenBLAS worker ever wakes, whatever was
imported first. The arrays stay numpy's: torch.from_numpy shares their memory.
"""
from __future__ import annotations

import numpy as np
import torch


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = a @ b (numpy's matmul broadcasting), computed by torch into out's memory."""
    torch.matmul(torch.from_numpy(a), torch.from_numpy(b), out=torch.from_numpy(out))
    return out
