"""Shared test helpers: the CPU algorithms, what each supports, random problems."""
import numpy as np

import convbench

CPU_ALGORITHMS = ["direct", "winograd", "fft", "torch"]


def supports(algorithm: str, spec: convbench.ConvSpec) -> bool:
    """Whether `algorithm` accepts this spec (Winograd F(2x2,3x3): 3x3, stride 1)."""
    if algorithm == "winograd":
        return (spec.R, spec.S) == (3, 3) and spec.stride == (1, 1)
    return True


def random_problem(rng, spec: convbench.ConvSpec):
    """Float32 input and filters from uniform[-1, 1], as Lavin & Gray's error tables use."""
    x = rng.uniform(-1, 1, size=spec.input_shape).astype(np.float32)
    w = rng.uniform(-1, 1, size=spec.filter_shape).astype(np.float32)
    return x, w
