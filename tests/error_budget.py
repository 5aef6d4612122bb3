"""The tests' side of the error budget (convbench.core.error_budget says what each variant may lose):
assert_within_budget, and the script that measures MEASURED_WORST over the tests' own shape strategies:

    .venv/bin/python tests/error_budget.py 300     (300 draws per variant, pass and kind;
                                                    a second argument, "fft tile 64,...", picks variants)
"""
from __future__ import annotations

import sys

import numpy as np

from convbench.core.error_budget import (ALLOWANCE, EPS32, MEASURED_WORST, budget, data_references,  # noqa: F401
                                         filter_references, forward_references, rounding_units)

def assert_within_budget(label, which, result, reference, scale, what=""):
    units = rounding_units(result, reference, scale)
    assert units <= budget(label, which), (f"{label} {which} {what}: {units:.2f} rounding units, "
                                           f"budget {budget(label, which):.2f} ({ALLOWANCE} x the measured "
                                           f"{MEASURED_WORST[label, which]:.2f})")


def plans_of(label, spec) -> list:
    """The variant's plan; for direct, each of its methods that takes spec as well (the tests force them)."""
    import convbench
    from convbench.core.selection import direct_per_image

    plans = [convbench.plan(spec, label)]
    if label == "direct":
        methods = ["loop", "gather"] + (["slice"] if spec.stride == (1, 1) else [])
        if spec.groups == 1:
            methods += ["channels-last gather"] + (["channels-last slice"] if spec.stride == (1, 1) else [])
        methods += ["per image"] if direct_per_image(spec) else []
        methods += ["depthwise"] if spec.C_per_group == spec.K_per_group == 1 else []
        plans += [convbench.plan(spec, "direct", method=method) for method in methods]
    return plans


def measure(draws: int, labels=None) -> dict:
    """Each variant's (of labels, default all) worst rounding units per pass over `draws` specs of each
    kind (tests/specs.py)."""
    import warnings

    from hypothesis import HealthCheck, given, settings, strategies as st

    import convbench
    from convbench.interface import registry
    from convbench.workloads.random_inputs import random_problem
    from specs import specs_for

    worst = {}
    for label in labels or registry.LABELS:
        for kind in ("plain", "grouped", "depthwise"):
            @settings(max_examples=draws, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(spec=specs_for(label, grouped=kind == "grouped", depthwise=kind == "depthwise"),
                   seed=st.integers(0, 2**32 - 1))
            def one(spec, seed):
                rng = np.random.default_rng(seed)
                x, w = random_problem(spec, rng)
                dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
                for p in plans_of(label, spec):
                    for which, result, (reference, scale) in (
                            ("forward", p(x, w), forward_references(spec, x, w)),
                            ("backward_data", p.backward_data(dy, w), data_references(spec, dy, w)),
                            ("backward_filter", p.backward_filter(x, dy), filter_references(spec, x, dy))):
                        units = rounding_units(result, reference, scale)
                        if units > worst.get((label, which), (0, None))[0]:
                            worst[label, which] = (units, spec)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                one()
        print(label, {which: round(worst[label, which][0], 3) for which in ("forward", "backward_data",
                                                                           "backward_filter")}, flush=True)
    return worst


if __name__ == "__main__":
    # tests/error_budget.py [DRAWS [LABEL,LABEL,...]]
    found = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 300, sys.argv[2].split(",") if len(sys.argv) > 2 else None)
    for (label, which), (units, spec) in sorted(found.items()):
        print(f"    ({label!r}, {which!r}): {units:.3g},  # at {spec}")


def assert_matches_oracle(label, spec, x, w, result, what=""):
    """The variant's forward result on (x, w) against the float64 oracle, within its budget."""
    assert_within_budget(label, "forward", result, *forward_references(spec, x, w), what=what or str(spec))
