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
from convbench.workloads.layers import layer
from convbench.workloads.signals import random_problem
from helpers import CPU_ALGORITHMS, supports
from error_budget import budget, forward_references, rounding_units


# every algorithm that accepts the layer (Winograd only on the 3x3 one)
CASES = [(name, algorithm) for name in ("L4", "googlenet-5x5", "resnet18-conv5")
         for algorithm in CPU_ALGORITHMS if supports(algorithm, layer(name).spec)]


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
