"""This machine's fp32 peak, measured: the roofline's compute ceiling.

A GEMM library's throughput is what that library reaches on this chip, not what its cores can do: MKL
takes its AVX2 path on AMD, and OpenBLAS's kernel depends on OPENBLAS_CORETYPE. Here every thread of
the algorithms' pool runs a loop of independent fused multiply-adds held in registers
(acc[j] = acc[j] * a + b over a fixed block of floats), which Numba compiles for this CPU's widest
vectors. The block must hold enough independent vector chains to cover the FMA units' latency, and
fit in the registers: 64 or 96 floats on AVX2's sixteen 8-float registers, 128 on AVX-512's
thirty-two 16-float ones; the best of the three is the peak. No kernel runs faster than this loop,
so it is an upper bound on any stage's flop rate: a bound, never a measurement of a stage.

Numba may fuse each multiply and add (fastmath "contract") and nothing more: with reassociation
allowed, LLVM folded runs of iterations into fewer, and the loop "ran" several times faster than the
cores can (tests/test_roofline.py checks that every iteration is done, to the rounding).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

import convbench.algorithms.pools  # noqa: F401  (Numba's threading layer: torch's OpenMP pool)
from convbench.measure.timing import alternating_medians

FLOPS_PER_CALL = 2**30  # per thread: about 10 ms a call at 100 GFLOP/s a core
_A, _B = np.float32(0.99999), np.float32(1e-5)  # acc stays bounded: no denormals, no overflow


# One kernel per block size: LLVM keeps the block in registers only when its length is a constant of
# the compiled code, so the three differ in that literal alone.
@njit(fastmath={"contract"}, parallel=True, cache=True)
def _fma_64(reps, out):
    for thread in prange(out.shape[0]):
        acc = np.zeros(64, np.float32)
        for _ in range(reps):
            for j in range(64):
                acc[j] = acc[j] * _A + _B
        out[thread] = acc.sum()


@njit(fastmath={"contract"}, parallel=True, cache=True)
def _fma_96(reps, out):
    for thread in prange(out.shape[0]):
        acc = np.zeros(96, np.float32)
        for _ in range(reps):
            for j in range(96):
                acc[j] = acc[j] * _A + _B
        out[thread] = acc.sum()


@njit(fastmath={"contract"}, parallel=True, cache=True)
def _fma_128(reps, out):
    for thread in prange(out.shape[0]):
        acc = np.zeros(128, np.float32)
        for _ in range(reps):
            for j in range(128):
                acc[j] = acc[j] * _A + _B
        out[thread] = acc.sum()


KERNELS = {64: _fma_64, 96: _fma_96, 128: _fma_128}


def fma_peak_flops(threads: int | None = None, repeats: int = 5) -> dict[int, float]:
    """{floats per block: fp32 flop/s} of the FMA loop on `threads` threads (default: torch's count,
    the pool every CPU algorithm runs on), each timed in turns with the others (median of `repeats`)."""
    import torch

    threads = threads or torch.get_num_threads()
    out = np.zeros(threads, dtype=np.float32)
    reps = {lanes: FLOPS_PER_CALL // (2 * lanes) for lanes in KERNELS}
    times = alternating_medians({lanes: (lambda kernel=kernel, lanes=lanes: kernel(reps[lanes], out))
                                 for lanes, kernel in KERNELS.items()}, repeats)
    return {lanes: threads * 2 * lanes * reps[lanes] / seconds for lanes, seconds in times.items()}
