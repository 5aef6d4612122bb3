"""The stage counts behind `convbench stages`' roofline, against counts worked out here from the shapes."""
import math

import numpy as np
import pytest

import convbench
from convbench.measure import runs
from convbench.algorithms.work import Work
from convbench.measure import fma_peak
from convbench.measure.roofline import Ceilings
from convbench.workloads.random_inputs import random_problem

COMPLEX, FLOAT = 8, 4


def test_whole_image_fft_counts():
    spec = convbench.ConvSpec(N=2, C=4, H=20, W=20, K=6, R=5, S=5, padding=2)
    p = convbench.plan(spec, "fft", compression=0.5)
    F = int(p.spectral_mask.sum())  # the retained one-sided coefficients, counted on the mask
    work = p.stage_work()
    assert work["contraction"] == Work(COMPLEX * F * (2 * 4 + 4 * 6 + 2 * 6), 8 * F * 2 * 4 * 6)
    assert work["filter transform"].bytes == FLOAT * 6 * 4 * 5 * 5 + COMPLEX * F * 4 * 6
    assert work["input transform"].bytes == FLOAT * 2 * 4 * 20 * 20 + COMPLEX * F * 2 * 4
    assert work["output transform"].bytes == COMPLEX * F * 2 * 6 + FLOAT * 2 * 6 * 20 * 20


def test_grouped_fft_contraction_counts_the_diagonal_blocks_only():
    spec = convbench.ConvSpec(N=2, C=8, H=12, W=12, K=8, R=3, S=3, padding=1, groups=4)
    p = convbench.plan(spec, "fft")
    F = int(p.spectral_mask.sum())
    assert p.stage_work()["contraction"].flops == 8 * F * 2 * (8 // 4) * 8


def test_pruned_filter_dft_flops():
    """The filter's support DFT: (K·C·R x S)(S x 2·n_cols) real, then (n_rows x R)(R x n_cols·K·C) complex."""
    spec = convbench.ConvSpec(N=1, C=3, H=16, W=16, K=2, R=3, S=3)
    p = convbench.plan(spec, "fft", filter_transform="dft")
    rows = int(p.spectral_mask.any(axis=1).sum())
    cols = int(p.spectral_mask.any(axis=0).sum())
    B = 2 * 3
    assert p.stage_work()["filter transform"].flops == 2 * (B * 3) * (2 * cols) * 3 + 8 * rows * (cols * B) * 3


def test_winograd_counts():
    spec = convbench.ConvSpec(N=2, C=3, H=9, W=9, K=5, R=3, S=3, padding=1)
    work = convbench.plan(spec, "winograd").stage_work()  # F(2x2,3x3): 4x4 points, 5x5 tiles of 2x2 outputs
    tiles = 2 * 5 * 5
    assert work["input transform"].bytes == FLOAT * (2 * 3 * 9 * 9 + 16 * tiles * 3)
    assert work["contraction"] == Work(FLOAT * 16 * (tiles * 3 + 5 * 3 + tiles * 5), 16 * 2 * tiles * 3 * 5)
    assert work["output transform"].bytes == FLOAT * (16 * tiles * 5 + 2 * 5 * 9 * 9)


def test_tiled_fft_counts():
    spec = convbench.ConvSpec(N=1, C=2, H=12, W=12, K=3, R=5, S=5)
    work = convbench.plan(spec, "fft tile 8").stage_work()
    tiles = 1 * 2 * 2  # P = Q = 8 outputs, 8 - 5 + 1 = 4 per tile
    F = 8 * (8 // 2 + 1)
    assert work["contraction"].flops == 8 * F * 3 * 2 * tiles
    assert work["filter transform"].flops == pytest.approx(3 * 2 * 2.5 * 64 * math.log2(64))


@pytest.mark.parametrize("method", ["channels-last slice", "channels-last gather"])
def test_direct_channels_last_counts(method):
    spec = convbench.ConvSpec(N=2, C=16, H=10, W=12, K=20, R=3, S=3, padding=1)
    p = convbench.plan(spec, "direct", method=method)
    x, w = random_problem(spec)
    assert list(p.stages(x, w)) == ["filter transform", "input transform", "contraction", "output transform"]
    work = p.stage_work()
    # the slices multiply at every position of the grid whose rows and images share their padding (11 x 13 an
    # image), the gathered block at the 10 x 12 outputs only
    positions = 2 * 11 * 13 if method.endswith("slice") else 2 * 10 * 12
    assert work["contraction"].flops == 2 * positions * 20 * 16 * 9
    assert work["filter transform"] == Work(2 * FLOAT * 20 * 16 * 9, 0)
    assert work["input transform"] == Work(2 * FLOAT * 2 * 16 * 10 * 12, 0)
    assert work["output transform"] == Work(2 * FLOAT * 2 * 20 * 10 * 12, 0)


def test_the_bound_is_the_slower_ceiling():
    ceilings = Ceilings(bytes_per_second=10e9, flops_per_second=100e9)
    assert ceilings.bound_seconds(Work(1e9, 1e9)) == pytest.approx(0.1)   # memory-bound
    assert ceilings.bound_seconds(Work(1e6, 1e11)) == pytest.approx(1.0)  # compute-bound


def test_stages_rows_carry_the_roofline_and_the_sum():
    spec = convbench.ConvSpec(N=1, C=4, H=16, W=16, K=4, R=3, S=3, padding=1)
    rows = runs.stages(spec, "winograd", repeats=1)
    by_stage = {row.stage: row for row in rows}
    staged = [by_stage[name] for name in ("filter transform", "input transform", "contraction", "output transform")]
    assert all(row.bound_seconds > 0 and 0 < row.of_bound for row in staged)
    total = by_stage["sum of stages"]
    assert total.work_bytes == sum(row.work_bytes for row in staged)
    assert by_stage["call"].bound_seconds is None
    assert set(runs.call_over_stages(rows)) == {0.0}


@pytest.mark.parametrize("lanes", sorted(fma_peak.KERNELS))
def test_the_fma_loop_does_every_multiply_add_it_is_counted_for(lanes):
    """Every block float runs x = fl(a·x + b) `reps` times from 0, each a float32 FMA (one rounding):
    emulated here step by step. A loop that skipped, merged or reassociated iterations (its flop count
    would then be a fiction) rounds its way to another value."""
    a, b = float(fma_peak._A), float(fma_peak._B)
    reps, x = 20000, np.float32(0)
    for _ in range(reps):
        x = np.float32(a * float(x) + b)  # exact in float64 (24-bit operands), then rounded once
    out = np.zeros(2, dtype=np.float32)
    fma_peak.KERNELS[lanes](reps, out)
    assert out / lanes == pytest.approx(float(x), rel=1e-5)


def test_the_peak_counts_two_flops_per_multiply_add_on_every_thread(monkeypatch):
    monkeypatch.setattr(fma_peak, "alternating_medians", lambda fns, repeats: {lanes: 0.5 for lanes in fns})
    found = fma_peak.fma_peak_flops(threads=3)
    assert found == {lanes: 3 * 2 * lanes * (fma_peak.FLOPS_PER_CALL // (2 * lanes)) / 0.5 for lanes in fma_peak.KERNELS}


def test_the_ceilings_take_the_fma_peak_and_keep_the_sgemm(monkeypatch):
    from convbench.measure import roofline

    monkeypatch.setattr(fma_peak, "fma_peak_flops", lambda repeats: {64: 150e9, 96: 190e9})
    roofline.measured_ceilings.cache_clear()
    try:
        ceilings = roofline.measured_ceilings(repeats=1)
        stored = roofline.calibration()
    finally:
        roofline.measured_ceilings.cache_clear()
    assert ceilings.flops_per_second == 190e9 and ceilings.sgemm_flops_per_second > 0
    assert stored["fma_peak_gflops"] == 190.0 and stored["sgemm_gflops"] > 0
