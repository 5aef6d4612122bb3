"""What "correct" means for each variant: how much float32 rounding it may lose against the float64 oracle.

The one place that says it; the tests, `convbench check` and the corpus sweep's --check read it here.
Two measures, each with its measurement:

- budget(label, pass): rounding units (below), for every variant of ours and each pass, on the
  shapes the tests draw; `convbench check` judges our variants on the CPU by it too;
- TOLERANCE[label]: a relative L2 error on real layers (the corpus), for ours and the peers (which
  have no rounding-unit measurement); the corpus sweep's --check, and `convbench check` for the peers
  and the GPU, judge by it.

Rounding units:

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
    """The rounding units a variant's pass may lose: ALLOWANCE x its measured worst."""
    return ALLOWANCE * MEASURED_WORST[label, which]


def has_budget(label: str, which: str = "forward") -> bool:
    return (label, which) in MEASURED_WORST


# Each variant's tolerance: the relative L2 error against the float64 oracle that the corpus
# sweep's --check (convbench.corpus.sweep) accepts on a real layer at batch 1, float32 data
# uniform in [-1, 1]. Each is five times the worst measured on the smoke tier and the dense
# sample (`convbench sweep --corpus smoke --check` and `--corpus dense --sample 500 --check`:
# 2,713 checked outputs, AMD EPYC, 2026-12-02; fft tile 64: the smoke and whole dense tiers,
# `--algorithms "fft tile 64" --check`), so a variant that starts computing something else fails, and
# rounding on a layer not yet seen does not.
# The peers' budgets, set the same way on the smoke tier (`convbench sweep --corpus smoke --check
# --algorithms <the CPU peers>`: 259 checked outputs, AMD EPYC Zen 3, 2026-12-05).
PEER_TOLERANCE = {                  # the worst measured, and where
    "onednn2 direct": 5.8e-6,       # 1.16e-6 (01ffda84e9d3), where torch's error is the same
    "nnpack wt8x8": 2.1e-5,         # 4.27e-6 (01a17c3334f3)
    "nnpack ft8x8": 1.3e-6,         # 2.57e-7 (027be0adc17b)
    "nnpack ft16x16": 1.4e-6,       # 2.84e-7 (027be0adc17b)
    "nnpack implicit-gemm": 1.6e-6,  # 3.12e-7 (01c692bfbf9b)
    "scipy fftconvolve": 2.6e-6,    # 5.27e-7 (004807b5f598)
    "scipy oaconvolve": 2.6e-6,     # 5.27e-7 (004807b5f598)
    "fft-conv-pytorch": 4.2e-6,     # 8.38e-7 (0038b36b07d0)
    # not yet measured (no AVX-512 on the machine that set the rest): our F(4x4,3x3)'s budget, the same tile
    "onednn2 winograd": 1e-5,
}
TOLERANCE = {                      # the worst measured, and where
    "direct": 2.1e-6,              # 4.16e-7, a 1x1 layer 2048 -> 512 on 1x1 inputs (0038b36b07d0)
    "winograd": 2.3e-6,            # 4.53e-7 (0e9a82c6be29)
    "winograd F(4x4,3x3)": 1e-5,   # 2.0e-6 (0e15423828ab)
    "winograd F(6x6,3x3)": 2.9e-5,  # 5.8e-6 (2e6368b0b5f8)
    "fft": 4.2e-6,                 # 8.38e-7, the 2048 -> 512 1x1 layer again
    "fft tile 8": 2.1e-6,          # 4.11e-7 (004807b5f598)
    "fft tile 16": 3.3e-6,         # 6.64e-7 (17afc0a31b35)
    "fft tile 32": 2.1e-6,         # 4.04e-7 (2b1e5b0ea382)
    "fft tile 64": 1.8e-6,         # 3.62e-7 (cce821f0bd8b), on the 304 layers it runs (added 2026-12-02)
    "torch": 5e-6,                 # 9.95e-7, a 32x32 kernel on 224x224 (01c692bfbf9b)
    **PEER_TOLERANCE,
}

# On the GPU, every variant and peer: five times the worst relative L2 error of every cuda algorithm at real
# layer sizes on an H100 (results/records/h100-cross-check.json).
GPU_TOLERANCE = 7.5e-6
# The cuda variants on the tests' tiny shapes under Numba's simulator: five times the worst there, 1.43e-7
# (winograd; direct 8.4e-8, fft 1.3e-7; AMD EPYC, 2026-12-01).
GPU_TINY_TOLERANCE = 7.5e-7
# The cuda training passes at real sizes, not yet measured on a GPU: from the length of the float32 sums (a dw
# entry of 64@56 at N=8 adds 25,088 products; sqrt(n)·eps ≈ 2e-5), until 5x the first GPU run's worst replaces it.
GPU_GRADIENT_TOLERANCE = 5e-5

# 1-D: rounding units as for 2-D (on the height-1 grid), each variant's worst (forward, backward_data,
# backward_filter) over 400 draws of tests/test_signal.py's signal_specs (`cd tests && python test_signal.py
# 400`; AMD EPYC, 2026-12-02); the tests allow ALLOWANCE times it.
SIGNAL_MEASURED_WORST = {
    "direct": (0.322, 0.356, 0.434),
    "fft": (1.452, 1.435, 0.461),
    "fft overlap-save": (0.971, 1.051, 0.575),
    "torch": (0.41, 0.485, 0.463),
}
# fft-conv-pytorch's functional test grids through convbench.nn (tests/test_signal.py for 1-D, test_convert.py
# for 2-D with padding='same'): rounding units of the sums' size (tests/helpers.truth_and_sizes), forward and
# both gradients. The worst there: 1.9 in 1-D (fft, dw), 11.1 in 2-D (winograd F(6x6,3x3), dx) (AMD EPYC,
# 2026-12-02).
SIGNAL_GRID_UNITS = 8
SAME_GRID_UNITS = 60

# 1-D, relative L2 error on fixed, well-scaled problems (no cancellation): five times the worst seen there
# (4.1e-7, the fft at c=0.5; AMD EPYC, 2026-12-02).
SIGNAL_TOLERANCE = 2e-6


def tolerance(label: str, backend: str = "cpu") -> float:
    """The relative L2 error a variant's output may have on real layers: TOLERANCE on the CPU, the GPU's own."""
    return GPU_TOLERANCE if backend == "cuda" else TOLERANCE[label]

