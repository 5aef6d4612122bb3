"""Shared test helpers: the CPU algorithms and what each supports (random problems: convbench.workloads.signals),
and torch's float64 truth with the size of its sums."""
import numpy as np
import torch

import convbench
from convbench.interface import registry

CPU_ALGORITHMS = list(registry.LABELS)  # the registry is the one list: every variant ('fft tile 16', ...)


def supports(algorithm: str, spec: convbench.ConvSpec) -> bool:
    """Whether `algorithm` accepts this spec on the CPU (Winograd F(2x2,3x3): 3x3, stride 1)."""
    return registry.supports(algorithm, "cpu", spec)


EPS32 = float(np.finfo(np.float32).eps)


def truth_and_sizes(convolve, x, w, b, dy, **arguments):
    """torch's float64 y and gradients (of x, w and b when given) from convolve (torch's conv1d or
    conv2d), and the norms of the same sums over magnitudes (|x| (*) |w|, ...): the size an error is
    judged against in float32 rounding units, as a filter's gradient can cancel to far below its terms."""
    found = []
    for magnitude in (False, True):
        leaves = [(t.abs() if magnitude else t).clone().requires_grad_() for t in (x, w, *([b] if b is not None else []))]
        y = convolve(leaves[0], leaves[1], leaves[2] if b is not None else None, **arguments)
        y.backward(dy.abs() if magnitude else dy)
        found.append([y.detach(), *(leaf.grad for leaf in leaves)])
    return found[0], [t.norm() for t in found[1]]
