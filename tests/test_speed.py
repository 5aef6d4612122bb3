"""Quick per-change timings with pytest-benchmark, grouped by layer.

    pytest tests/test_speed.py --benchmark-enable --benchmark-only --benchmark-autosave
    ... change something ...
    pytest tests/test_speed.py --benchmark-enable --benchmark-only --benchmark-compare --benchmark-compare-fail=median:10%

By default (pyproject's addopts) benchmarks are disabled: each runs once as a
plain test, and still checks its result against torch's.
"""
import numpy as np
import pytest

import convbench
from convbench.interface import registry
from convbench.workloads.layers import layer
from convbench.workloads.random_inputs import random_problem
from helpers import CPU_ALGORITHMS, supports
from error_budget import budget, forward_references, rounding_units


def tile_fits(algorithm: str, spec) -> bool:
    """A tile no larger than twice the output (registry.why_not_swept: FFT on 16x16 or 32x32 tiles of
    ResNet-18's 7x7 images computes mostly padding; convbench.core.selection never picks them there).
    The correctness of every tile at that layer stays tested (tests/test_winograd.py)."""
    return not registry.why_not_swept(algorithm, "cpu", spec).startswith("skipped")


# every algorithm that accepts the layer (Winograd only on the 3x3 one), FFT tiles that fit it
CASES = [(name, algorithm) for name in ("L4", "googlenet-5x5", "resnet18-conv5")
         for algorithm in CPU_ALGORITHMS if supports(algorithm, layer(name).spec)
         and tile_fits(algorithm, layer(name).spec)]


@pytest.mark.parametrize("name,algorithm", CASES)
def test_layer_speed(benchmark, name, algorithm):
    spec = layer(name).spec
    x, w = random_problem(spec, np.random.default_rng(0))
    plan = convbench.plan(spec, algorithm)  # planning stays outside the timed call
    benchmark.group = f"{name}: {spec}"
    benchmark.extra_info["gflop"] = spec.flops / 1e9
    result = benchmark(plan, x, w)
    scale = forward_references(spec, x, w)[1]  # against torch's float32 result: both budgets apart at most
    assert rounding_units(result, convbench.plan(spec, "torch")(x, w).astype(np.float64), scale) <= (
        budget(algorithm) + budget("torch"))
