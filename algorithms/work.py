"""What a stage must move and compute, counted from the shapes (never measured): for rooflines.

bytes: the compulsory traffic, each operand read once and each result written
once (4 bytes a float32, 8 a complex64); temporaries a stage makes on the way
are not counted, so the bound is one no implementation can beat.
flops: the real floating-point operations of the method the stage runs: a real
GEMM 2mnk, a complex GEMM 8mnk, an FFT of n points the usual 5 n log2 n
(complex) or 2.5 n log2 n (real input or output), a transform by a small
matrix as the dense product it is written as.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

FLOAT, COMPLEX = 4, 8  # bytes per float32, per complex64


@dataclass(frozen=True)
class Work:
    bytes: float
    flops: float

    def __add__(self, other: "Work") -> "Work":
        return Work(self.bytes + other.bytes, self.flops + other.flops)


def fft_flops(points: int, count: float = 1, real: bool = False) -> float:
    """Flops of `count` FFTs of `points` points: 5 n log2 n complex, half that with real data."""
    if points <= 1:
        return 0.0
    return count * (2.5 if real else 5.0) * points * math.log2(points)


def gemm_flops(m: float, n: float, k: float, complex_: bool = False) -> float:
    return (8.0 if complex_ else 2.0) * m * n * k
