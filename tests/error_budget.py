"""How much float32 rounding each variant may lose against the float64 oracle: the tests' one tolerance.

An error is judged against the size the problem's sums can reach, not against ||x (*) w||, which
cancellation can make arbitrarily small (one output of one channel: hypothesis once found a relative
error of 3.0e-5 for F(4x4) that way, where the relative tolerance then had to be 1e-4). The size is
Young's bound, output channel by output channel: ||x_c (*) w_kc||_2 <= ||x_c||_2 ||w_kc||_1, so

    scale = || ( sum over c in group(k) of ||x_nc||_2 ||w_kc||_1 ) over (n, k) ||_2
    rounding units = ||result - reference||_2 / (eps32 · scale)

(and the same with dy and w for backward-data, x and dy for backward-filter). It bounds direct sums
and FFTs alike: an FFT spreads its rounding over the whole grid, so an output that reads only padding
is not exactly zero, and || |x| (*) |w| || (0 there) cannot scale it.

MEASURED_WORST holds each variant's and pass's worst over the drawn shapes of the test suite's own
strategies (tests/specs.py: plain, grouped and depthwise, every supported shape), measured by

    .venv/bin/python tests/error_budget.py 300     (300 draws per variant, pass and kind;
                                                    a second argument, "fft tile 64,...", picks variants)

and the tests allow ALLOWANCE times it. Young's bound grows with the absolute sums, so on a large
random layer the budget is looser, relative to ||y||, than on a small one (the 512-channel layer keeps
a relative bound of its own, tests/test_winograd.py). The tighter scale tried first, each output's
root sum of squared terms, had heavy tails: one output of a 1x1 image read through a 3x3 filter lost
127 units in F(6x6) and 139 in FFT on 8x8 tiles, 30-90x the typical worst, since their transforms
round every tap of the filter, not only the one the output reads.
"""
from __future__ import annotations

import sys

import numpy as np

from convbench.core.oracle import Float64Oracle

EPS32 = float(np.finfo(np.float32).eps)
ALLOWANCE = 5

# rounding units, per (variant, pass): the worst of four runs, `tests/error_budget.py 300` three times and `100`
# (AMD EPYC, 2026-12-01; 3,000 draws per variant and pass), with the shape where it was found
MEASURED_WORST = {
    ('direct', 'backward_data'): 0.576,  # N3 C1->K2 1x2 k1x3 pad(0, 1)
    ('direct', 'backward_filter'): 0.668,  # N1 C3->K1 1x14 k1x1 pad0
    ('direct', 'forward'): 0.775,  # N1 C3->K1 1x1 k1x1 pad0
    ('fft', 'backward_data'): 1.35,  # N1 C3->K1 14x14 k1x1 pad0 stride(1, 2) dil2
    ('fft', 'backward_filter'): 1.13,  # N1 C2->K2 1x4 k1x1 pad0 stride(2, 1) dil(2, 3) depthwise
    ('fft', 'forward'): 1.26,  # N1 C1->K5 15x15 k1x1 pad0
    ('fft tile 16', 'backward_data'): 1.02,  # N1 C1->K1 14x14 k1x1 pad0
    ('fft tile 16', 'backward_filter'): 3.23,  # N1 C1->K1 1x1 k1x1 pad0
    ('fft tile 16', 'forward'): 1.14,  # N1 C1->K1 14x14 k1x1 pad0
    ('fft tile 32', 'backward_data'): 1.2,  # N1 C1->K1 15x18 k2x1 pad0
    ('fft tile 32', 'backward_filter'): 3.27,  # N1 C1->K3 1x1 k1x1 pad0
    ('fft tile 32', 'forward'): 1.06,  # N1 C1->K1 18x18 k1x1 pad0
    # fft tile 64: `tests/error_budget.py 1000 "fft tile 64"` (3,000 draws per pass, AMD EPYC, 2026-12-02); its
    # backward-filter loses the most on a 1x1 image, as tiles 16 and 32 do, its rounding spread over a 64x64 grid
    ('fft tile 64', 'backward_data'): 1.04,  # N1 C1->K1 1x3 k1x1 pad0 dil(3, 1)
    ('fft tile 64', 'backward_filter'): 7.86,  # N1 C1->K1 1x1 k1x1 pad0
    ('fft tile 64', 'forward'): 1.01,  # N1 C1->K1 13x13 k1x2 pad(0, 1)
    ('fft tile 8', 'backward_data'): 0.932,  # N1 C1->K1 8x15 k1x1 pad0
    ('fft tile 8', 'backward_filter'): 1.2,  # N1 C3->K3 1x1 k1x1 pad0 depthwise
    ('fft tile 8', 'forward'): 0.899,  # N1 C1->K1 8x15 k1x1 pad0
    ('torch', 'backward_data'): 0.485,  # N1 C1->K2 1x1 k1x1 pad0
    ('torch', 'backward_filter'): 0.537,  # N2 C4->K4 1x1 k1x1 pad0 stride(2, 1) dil(3, 2) depthwise
    ('torch', 'forward'): 0.548,  # N1 C3->K1 1x1 k1x1 pad0
    ('winograd', 'backward_data'): 0.657,  # N1 C2->K2 6x14 k3x3 pad0 depthwise
    ('winograd', 'backward_filter'): 0.476,  # N1 C1->K1 1x3 k3x3 pad(2, 0)
    ('winograd', 'forward'): 0.806,  # N1 C1->K1 2x4 k3x3 pad(2, 1)
    ('winograd F(4x4,3x3)', 'backward_data'): 4.39,  # N1 C1->K1 4x4 k3x3 pad(0, 1)
    ('winograd F(4x4,3x3)', 'backward_filter'): 3.47,  # N1 C1->K1 1x1 k3x3 pad1
    ('winograd F(4x4,3x3)', 'forward'): 3.57,  # N1 C1->K1 2x7 k3x3 pad(2, 0)
    ('winograd F(6x6,3x3)', 'backward_data'): 20.2,  # N1 C1->K1 3x10 k3x3 pad0
    ('winograd F(6x6,3x3)', 'backward_filter'): 11.7,  # N1 C3->K1 4x1 k3x3 pad(1, 2)
    ('winograd F(6x6,3x3)', 'forward'): 15.9,  # N1 C1->K1 5x5 k3x3 pad(1, 0)
}


def _norms(a, order) -> np.ndarray:
    """||a[i, j]||_order over each plane, float64: (I, J)."""
    flat = np.asarray(a, dtype=np.float64).reshape(*a.shape[:2], -1)
    return np.linalg.norm(flat, ord=order, axis=2)


def _grouped_sum(left, right, groups) -> np.ndarray:
    """sum over c in group(k) of left[n, c] right[k, c'] as (N, K): left (N, C), right (K, C/g)."""
    N, C = left.shape
    K = right.shape[0]
    blocks = np.einsum("ngc,gkc->ngk", left.reshape(N, groups, C // groups), right.reshape(groups, K // groups, -1))
    return blocks.reshape(N, K)


def forward_references(spec, x, w):
    """(the float64 oracle, Young's scale of its sums)."""
    scale = np.linalg.norm(_grouped_sum(_norms(x, 2), _norms(w, 1), spec.groups))
    return Float64Oracle(spec)(x, w), scale


def data_references(spec, dy, w):
    # dx_c sums over the group's k of dy_k correlated with w_kc: per (n, c), sum_k ||dy_nk||_2 ||w_kc||_1
    g, Kg, Cg = spec.groups, spec.K_per_group, spec.C_per_group
    w_norms = _norms(w, 1).reshape(g, Kg, Cg).transpose(0, 2, 1).reshape(spec.C, Kg)  # (C, K/g): c's filters
    scale = np.linalg.norm(_grouped_sum(_norms(dy, 2), w_norms, g))
    return Float64Oracle(spec).backward_data(dy, w), scale


def filter_references(spec, x, dy):
    # each of dw_kc's R·S taps sums x_nc against dy_nk over n: at most sum_n ||x_nc||_2 ||dy_nk||_2
    g, Kg, Cg = spec.groups, spec.K_per_group, spec.C_per_group
    x_norms = _norms(x, 2).reshape(spec.N, g, Cg)
    dy_norms = _norms(dy, 2).reshape(spec.N, g, Kg)
    per_pair = np.einsum("ngc,ngk->gkc", x_norms, dy_norms)
    scale = np.sqrt(spec.R * spec.S) * np.linalg.norm(per_pair)
    return Float64Oracle(spec).backward_filter(x, dy), scale


def rounding_units(result, reference, scale) -> float:
    """||result - reference|| in units of eps32 · scale (0 when both are exactly 0)."""
    error = np.linalg.norm(np.asarray(result, dtype=np.float64) - reference)
    return float(error / (EPS32 * scale)) if scale else (0.0 if error == 0 else float("inf"))


def budget(label: str, which: str = "forward") -> float:
    """The rounding units a variant's pass may lose in the tests: ALLOWANCE x its measured worst."""
    return ALLOWANCE * MEASURED_WORST[label, which]


def assert_within_budget(label, which, result, reference, scale, what=""):
    units = rounding_units(result, reference, scale)
    assert units <= budget(label, which), (f"{label} {which} {what}: {units:.2f} rounding units, "
                                           f"budget {budget(label, which):.2f} ({ALLOWANCE} x the measured "
                                           f"{MEASURED_WORST[label, which]:.2f})")


def plans_of(label, spec) -> list:
    """The variant's plan; for direct, each of its methods that takes spec as well (the tests force them)."""
    import convbench

    plans = [convbench.plan(spec, label)]
    if label == "direct":
        methods = ["loop", "gather"] + (["slice"] if spec.stride == (1, 1) else [])
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
