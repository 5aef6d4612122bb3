"""FFTW planning: efforts, wisdom kept between runs, plans reused without re-planning."""
import pickle

import numpy as np
import pytest

import torch

import convbench
from convbench.algorithms import blas
from convbench.algorithms.fft import wisdom
from convbench.core import selection
from convbench.workloads.random_inputs import random_problem
from convbench.workloads.training import TrainingStep
from error_budget import (assert_matches_oracle, assert_within_budget, budget, filter_references, forward_references,
                          rounding_units)

SPEC = convbench.ConvSpec(N=2, C=3, H=12, W=10, K=2, R=5, S=5, padding=2)


@pytest.mark.parametrize("effort", ["FFTW_ESTIMATE", "FFTW_MEASURE"])
def test_every_planner_effort_gives_the_same_convolution(rng, effort):
    x, w = random_problem(SPEC, rng)
    y = convbench.plan(SPEC, "fft", planner_effort=effort)(x, w)
    assert_matches_oracle("fft", SPEC, x, w, y)


def test_unknown_planner_effort_is_a_conv_error():
    with pytest.raises(convbench.ConvError, match="planner_effort must be one of"):
        convbench.plan(SPEC, "fft", planner_effort="FFTW_FAST")


def test_measured_plans_leave_wisdom_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    spec = convbench.ConvSpec(N=1, C=2, H=13, W=11, K=2, R=3, S=3)
    stored = tmp_path / "fftw_wisdom.pickle"
    convbench.plan(spec, "fft", planner_effort="FFTW_MEASURE")  # all pruned DFTs: no FFTW plan, nothing to keep
    assert not stored.exists()
    convbench.plan(spec, "fft", planner_effort="FFTW_MEASURE", input_transform="fft")
    assert stored.exists()
    with open(stored, "rb") as f:
        assert any(len(part) > 0 for part in pickle.load(f))
    assert wisdom.wisdom_path() == stored


def test_support_dft_equals_the_fft_of_the_padded_grid(rng):
    """The pruned matrix DFT, with its padding phase, against numpy's full FFT."""
    from convbench.algorithms.fft.bandlimit import Band
    from convbench.algorithms.fft.dft import SupportDFT

    band = Band((15, 12), 0.3)
    planes = rng.uniform(-1, 1, (3, 4, 5)).astype(np.float32)
    grid = np.zeros((3, 15, 12))
    grid[:, 2:6, 1:6] = planes
    expected = np.fft.rfft2(grid)[:, band.mask].T  # (F, B), rows then columns in order
    got = SupportDFT(band, 3, (4, 5), offset=(2, 1))(planes)
    np.testing.assert_allclose(got, expected, atol=2e-5)
    conj = SupportDFT(band, 3, (4, 5), offset=(2, 1), conjugate=True, scale=0.5)(planes)
    np.testing.assert_allclose(conj, 0.5 * np.conj(expected), atol=2e-5)
    # planes on two leading axes of a transposed view (the filters, read (c, k) from (k, c)): the same
    pairs = rng.uniform(-1, 1, (2, 3, 4, 5)).astype(np.float32)
    in_order = np.ascontiguousarray(pairs.transpose(1, 0, 2, 3)).reshape(6, 4, 5)
    grid = np.zeros((6, 15, 12))
    grid[:, 2:6, 1:6] = in_order
    got = SupportDFT(band, 6, (4, 5), offset=(2, 1))(pairs.transpose(1, 0, 2, 3))
    np.testing.assert_allclose(got, np.fft.rfft2(grid)[:, band.mask].T, atol=2e-5)


@pytest.mark.parametrize("split", [False, True])
def test_support_dft_reads_wide_planes_in_place(rng, split):
    """Planes at least DFT_PLANES_IN_PLACE_FROM columns wide go to the first product as they are, read
    transposed (no (h, w, B) copy, none reserved); narrower ones, and planes on other leading axes, are laid out
    first. Either way the spectrum is numpy's FFT of the padded grid's, on the band, padding or not cutting
    the planes where the grid ends."""
    from convbench.algorithms.fft.bandlimit import Band
    from convbench.algorithms.fft.dft import SupportDFT

    band = Band((24, 22), 0.3)
    wide = selection.DFT_PLANES_IN_PLACE_FROM
    for width, offset in ((wide, (2, 1)), (wide - 1, (2, 1)), (wide + 3, (12, 9))):  # the last: cut at the grid's end
        planes = rng.uniform(-1, 1, (3, 14, width)).astype(np.float32)
        grid = np.zeros((3, 30, 30))
        grid[:, offset[0]:offset[0] + 14, offset[1]:offset[1] + width] = planes
        expected = np.fft.rfft2(grid[:, :24, :22])[:, band.mask].T
        dft = SupportDFT(band, 3, planes.shape[1:], offset=offset, split=split)
        assert dft.reads_in_place == (dft.cols_used >= selection.DFT_PLANES_IN_PLACE_FROM)
        laid_out = SupportDFT(band, 3, planes.shape[1:], offset=offset, split=split, flat_planes=False)
        assert not laid_out.reads_in_place
        for got in (dft(planes), laid_out(planes)):
            got = got[:, 0] + 1j * got[:, 1] if split else got
            np.testing.assert_allclose(got, expected, atol=5e-5)


def test_filter_transform_choice(rng):
    spec = convbench.ConvSpec(1, 2, 40, 40, 2, 31, 31, padding=15)
    x, w = random_problem(spec, rng)
    default, fftw = convbench.plan(spec, "fft"), convbench.plan(spec, "fft", filter_transform="fft")
    assert (default.filter_transform, fftw.filter_transform) == ("dft", "fft")
    assert rounding_units(default(x, w), fftw(x, w).astype(np.float64), forward_references(spec, x, w)[1]) <= 2 * budget("fft")
    with pytest.raises(convbench.ConvError, match="filter_transform must be"):
        convbench.plan(SPEC, "fft", filter_transform="winograd")
    for stage in ("input_transform", "output_transform"):
        with pytest.raises(convbench.ConvError, match=f"{stage} must be"):
            convbench.plan(SPEC, "fft", **{stage: "fast"})
    small = convbench.plan(convbench.ConvSpec(1, 1, 56, 56, 1, 7, 7, padding=3), "fft")
    large = convbench.plan(convbench.ConvSpec(1, 1, 200, 200, 1, 7, 7, padding=3), "fft")
    assert (small.input_transform, small.output_transform) == ("dft", "dft")
    assert (large.input_transform, large.output_transform) == ("fft", "fft")


@pytest.mark.parametrize("tile, R, dilation, groups, transform", [(8, 3, 1, 1, "kernel"), (16, 3, 2, 2, "kernel"),
                                                                  (32, 5, 1, 1, "kernel"), (64, 3, 2, 1, "dft"),
                                                                  (64, 51, 1, 1, "fft")])
def test_tiled_filter_spectrum_is_the_padded_flipped_filters_fft(rng, tile, R, dilation, groups, transform):
    """Every way the tiled plan transforms its filters (the generated kernel; on 64 x 64 tiles the pruned
    DFT of the taps or FFTW over the T x T grid: selection.tiled_filter_by_dft, whose DFT takes ten times
    the FFT's flops at 51 x 51, above its threshold on either engine) against numpy's rfft2 of the flipped
    filter, its taps dilation apart on the zero grid, over T^2, frequency-major."""
    spec = convbench.ConvSpec(N=1, C=2 * groups, H=56, W=56, K=2 * groups, R=R, S=R, dilation=dilation, groups=groups)
    x, w = random_problem(spec, rng)
    p = convbench.plan(spec, "fft", tile=tile)
    assert p.filter_transform == transform
    E = spec.extent_h
    grid = np.zeros((spec.K, spec.C_per_group, tile, tile))
    grid[:, :, :E:dilation, :E:dilation] = w[:, :, ::-1, ::-1]
    expected = (np.fft.rfft2(grid) / tile**2).transpose(2, 3, 0, 1).reshape(-1, spec.K, spec.C_per_group)
    got = p.transform_filter(w)
    np.testing.assert_allclose(got, expected, atol=1e-6 * np.abs(expected).max())
    assert_matches_oracle("fft", spec, x, w, p(x, w))


@pytest.mark.parametrize("tile", [8, 16, 32])
@pytest.mark.parametrize("by_kernel", [True, False])
def test_tiled_filter_gradient_transforms_dy_either_way(rng, monkeypatch, tile, by_kernel):
    """dy's blocks through the generated input kernel (their columns a tile apart) or FFTW on T x T blocks
    (selection.tiled_dy_by_kernel), on a layer whose last row and column of blocks are partial."""
    monkeypatch.setattr(selection, "TILED_DY_KERNEL_FILL_FROM", 0.0 if by_kernel else 2.0)
    spec = convbench.ConvSpec(N=2, C=3, H=tile + 7, W=2 * tile + 3, K=4, R=3, S=5, padding=(1, 0))
    x, w = random_problem(spec, rng)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    p = convbench.plan(spec, "fft", tile=tile)
    assert spec.P % p.step_h and spec.Q % p.step_w, "the blocks of the last row and column must be partial"
    dw = p.backward_filter(x, dy)
    assert p._dy_by_kernel == by_kernel
    assert_within_budget(f"fft tile {tile}", "backward_filter", dw, *filter_references(spec, x, dy),
                         what=f"dy {'by the kernel' if by_kernel else 'by FFTW'} on {spec}")


def test_tiled_filter_dft_takes_more_flops_where_the_gemms_run_on_onednn2():
    from convbench.core import selection
    ratio = 5.3  # the 31 x 31 taps' DFT on 64 x 64 tiles, in the FFT's flops
    assert not selection.tiled_filter_by_dft(64, ratio, 1.0, "torch")
    assert selection.tiled_filter_by_dft(64, ratio, 1.0, "onednn2")
    assert not selection.tiled_filter_by_dft(64, 10.0, 1.0, "onednn2")
    assert not selection.tiled_filter_by_dft(8, 0.5, 1.0, "onednn2")  # FFTW's 8 x 5 coefficients a filter


def test_scratch_slots_are_shared_and_sized_for_the_largest_user():
    from convbench.algorithms.scratch import Scratch
    scratch = Scratch()
    scratch.reserve(0, (4, 8), np.float32)
    scratch.reserve(0, (3, 3), np.complex64)  # 72 bytes < 128
    scratch.reserve(1, (5,), np.float64)
    first = scratch.view(0, (4, 8), np.float32)
    second = scratch.view(0, (3, 3), np.complex64)
    assert np.shares_memory(first, second)  # one slot, taken in turns
    assert not np.shares_memory(first, scratch.view(1, (5,), np.float64))
    with pytest.raises(RuntimeError, match="reserve before"):
        scratch.reserve(0, (100,), np.float32)


def test_fft_plan_shares_its_transform_temporaries():
    """The DFT stages' temporaries live in two shared slots: building the plan
    holds less than its spectra plus one temporary per stage would."""
    from convbench.measure import timing as measure
    spec = convbench.ConvSpec(N=2, C=8, H=24, W=24, K=8, R=5, S=5, padding=2)
    plan, held = measure.held_traced_bytes(lambda: convbench.plan(spec, "fft"))
    spectra = plan._input.X.nbytes + plan._Y.nbytes + plan._filter._dft.spectrum.nbytes
    slots = sum(buffer.nbytes for buffer in plan._scratch._buffers)
    assert slots > 0
    assert held < spectra + 2.5 * slots  # 5 separate temporaries of about a slot's size would exceed it


@pytest.mark.parametrize("compression", [0.0, 0.5])
def test_filter_spectrum_by_row_blocks_gives_the_separate_stages_results(rng, monkeypatch, compression):
    """Per call, where the contraction is BLAS's (N >= 4), the forward and the data gradient take the filter
    spectrum a block of rows at a time: one row a block here. Both passes, and a training step reusing
    the forward's spectrum, give what the separate stages give, and the forward is within its budget."""
    monkeypatch.setattr(selection, "FILTER_SPECTRUM_BLOCK_BYTES", 1)  # every block one row
    monkeypatch.setattr(blas, "engine", lambda: "torch")  # where the contraction is cgemm: no column blocks
    spec = convbench.ConvSpec(N=4, C=3, H=12, W=10, K=5, R=5, S=4, padding=2)
    x, w = random_problem(spec, rng)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    blocked, separate = (convbench.plan(spec, "fft", compression=compression) for _ in range(2))
    assert blocked.filter_block_columns == 0
    separate.blocks_filter_spectrum = False
    assert blocked.blocks_filter_spectrum and blocked._filter.rows_per_block == 1 < blocked.band.n_rows
    y = blocked(x, w)
    if compression == 0:
        assert_matches_oracle("fft", spec, x, w, y)
    results = {}
    for name, p in (("blocked", blocked), ("separate", separate)):
        p(x, w)
        step = p.backward_data(dy, w, reuse_forward=True), p.backward_filter(x, dy, reuse_forward=True)
        results[name] = (p(x, w), p.backward_data(dy, w), *step)
    for got, want in zip(results["blocked"], results["separate"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("compression", [0.0, 0.5])
@pytest.mark.parametrize("spec", [
    convbench.ConvSpec(N=4, C=3, H=12, W=10, K=5, R=5, S=4, padding=2),
    convbench.ConvSpec(N=5, C=4, H=15, W=13, K=6, R=3, S=3, padding=1, stride=2, dilation=2),
], ids=["padded", "strided, dilated"])
def test_filter_spectrum_by_column_blocks_gives_the_separate_stages_results(rng, monkeypatch, spec, compression):
    """Where the contraction runs on X's split planes (forced here through the engine the rules read), the
    forward and a data gradient that reuses nothing take the filter spectrum a block of columns at a time:
    one column a block here, the last block landing where the first did. Both, and a training step, give
    what the separate stages give, and the forward and both gradients what torch's float64 autograd gives."""
    monkeypatch.setattr(blas, "engine", lambda: "onednn2")
    monkeypatch.setattr(selection, "FILTER_SPECTRUM_COLUMN_BLOCK_BYTES", 1)
    x, w = random_problem(spec, rng)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    blocked, separate = (convbench.plan(spec, "fft", compression=compression) for _ in range(2))
    assert blocked.filter_block_columns == 1 < blocked.band.n_cols
    separate.filter_block_columns, separate.blocks_filter_spectrum = 0, False
    if compression == 0:
        xt, wt = (torch.from_numpy(a).double().requires_grad_() for a in (x, w))
        y = torch.nn.functional.conv2d(xt, wt, stride=spec.stride, padding=spec.padding, dilation=spec.dilation)
        y.backward(torch.from_numpy(dy).double())
        for got, exact in zip((blocked(x, w), blocked.backward_data(dy, w), blocked.backward_filter(x, dy)),
                              (y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy())):
            assert np.abs(got - exact).max() <= 2e-5 * np.abs(exact).max()
    results = {}
    for name, p in (("blocked", blocked), ("separate", separate)):
        results[name] = (*TrainingStep(p, dy)(x, w), p(x, w), p.backward_data(dy, w))
    assert blocked._forward_filter is None  # the blocks overwrote one another: nothing held for reuse
    for got, want in zip(results["blocked"], results["separate"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("output_transform", ["dft", "fft"])
def test_column_blocks_hand_the_inverse_what_it_takes(rng, monkeypatch, output_transform):
    """The column blocks' product comes out as split planes for the pruned inverse DFT, interleaved for FFTW's:
    each gives torch's float64 result."""
    spec = convbench.ConvSpec(N=4, C=3, H=12, W=10, K=5, R=5, S=4, padding=2)
    monkeypatch.setattr(blas, "engine", lambda: "onednn2")
    monkeypatch.setattr(selection, "FILTER_SPECTRUM_COLUMN_BLOCK_BYTES", 1)
    p = convbench.plan(spec, "fft", output_transform=output_transform)
    assert p.filter_block_columns == 1 and p._Y.dtype == (np.float32 if output_transform == "dft" else np.complex64)
    x, w = random_problem(spec, rng)
    exact = torch.nn.functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(), padding=2).numpy()
    assert np.abs(p(x, w) - exact).max() <= 2e-5 * np.abs(exact).max()


def test_only_a_contraction_on_split_planes_takes_column_blocks(monkeypatch):
    spec = convbench.ConvSpec(N=4, C=3, H=12, W=10, K=5, R=5, S=4, padding=2)
    monkeypatch.setattr(blas, "engine", lambda: "onednn2")
    whole = convbench.plan(spec, "fft")
    assert whole.filter_block_columns == whole.band.n_cols  # all of it in one block of 4 MiB
    assert convbench.plan(spec, "fft", filter_transform="fft").filter_block_columns == 0
    for other in (convbench.ConvSpec(N=3, C=3, H=12, W=10, K=5, R=5, S=4, padding=2),  # the Numba stream
                  convbench.ConvSpec(N=4, C=4, H=12, W=10, K=6, R=5, S=4, padding=2, groups=2)):
        assert convbench.plan(other, "fft").filter_block_columns == 0
    monkeypatch.setattr(blas, "engine", lambda: "torch")
    assert convbench.plan(spec, "fft").filter_block_columns == 0


def test_filter_spectrum_blocks_only_from_a_first_product_read_once_a_block(monkeypatch):
    """Every block of the filter spectrum's rows is computed from the DFT's whole first product: beyond
    the bytes the rule allows it, the plan takes the spectrum whole."""
    spec = convbench.ConvSpec(N=4, C=3, H=12, W=10, K=5, R=5, S=4, padding=2)
    plan = convbench.plan(spec, "fft")
    first = plan._filter.first_product_bytes
    stacked = 2 if plan._filter._dft.rows_as_real else 1  # the rows, and the rows times i below them
    assert first == stacked * 5 * (3 * 5) * plan.band.n_cols * 8  # R rows, C·K planes, complex64
    monkeypatch.setattr(selection, "FILTER_SPECTRUM_BLOCKS_FIRST_PRODUCT_UP_TO", first)
    assert convbench.plan(spec, "fft").blocks_filter_spectrum
    monkeypatch.setattr(selection, "FILTER_SPECTRUM_BLOCKS_FIRST_PRODUCT_UP_TO", first - 1)
    assert not convbench.plan(spec, "fft").blocks_filter_spectrum


@pytest.mark.parametrize("options", [{}, {"tile": 8}, {"groups": 2}])
def test_filter_gradient_buffers_hold_no_stale_values(rng, options):
    """The filter-gradient product is written into the plan's own buffer: a second pass with another
    dy gives what a new plan gives, and leaves the first pass's gradient as it was."""
    groups = options.pop("groups", 1)
    spec = convbench.ConvSpec(N=2, C=4, H=11, W=9, K=6, R=3, S=3, padding=1, groups=groups)
    x, w = random_problem(spec, rng)
    dy1, dy2 = (rng.uniform(-1, 1, spec.output_shape).astype(np.float32) for _ in range(2))
    plan = convbench.plan(spec, "fft", **options)
    first = plan.backward_filter(x, dy1)
    kept = first.copy()
    second = plan.backward_filter(x, dy2)
    np.testing.assert_array_equal(first, kept)
    np.testing.assert_allclose(second, convbench.plan(spec, "fft", **options).backward_filter(x, dy2), rtol=1e-6,
                               atol=1e-6 * np.abs(second).max())
    assert not np.allclose(first, second)
