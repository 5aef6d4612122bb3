"""Winograd's forward with each thread running its own rows of tiles through the three stages
(algorithms/winograd/by_threads.py): where the rule takes it, and that it computes what the stages do."""
import numpy as np
import pytest
import torch

import convbench
from convbench.algorithms import blas, onednn_matmul
from convbench.algorithms.base import Plan
from convbench.algorithms.winograd import cpu, transforms
from convbench.algorithms.winograd.cook_toom import TILES, winograd_matrices
from convbench.core import selection
from convbench.core.selection import (WINOGRAD_THREAD_BLOCK_BYTES, WINOGRAD_THREAD_FILTER_BLOCK_BYTES,
                                      WINOGRAD_THREAD_GRADIENT_SUM_BYTES, winograd_thread_filters,
                                      winograd_thread_gradient, winograd_thread_rows)
from convbench.interface import registry
from convbench.workloads.random_inputs import random_problem
from error_budget import assert_matches_oracle, assert_within_budget, data_references, filter_references
from helpers import need_library


def test_the_rule_takes_threads_only_where_each_can_run_its_own_matmul():
    row = 36 * 14 * (64 + 64) * 4  # ResNet-18's 64@56, F(4x4): one row of tiles' transform and products
    block = winograd_thread_rows(36, 14, 112, 64, 64, False, 1, "onednn2", 2)
    assert block * row <= WINOGRAD_THREAD_BLOCK_BYTES < (block + 1) * row
    assert winograd_thread_rows(36, 14, 4, 64, 64, False, 1, "onednn2", 2) == 2  # at most a thread's share
    assert winograd_thread_rows(36, 14, 4, 64, 64, False, 1, "onednn2", 8) == 1
    assert winograd_thread_rows(36, 14, 112, 64, 64, False, 1, "torch", 2) == 0  # MKL: no one-thread primitive
    assert winograd_thread_rows(36, 14, 112, 64, 64, False, 1, "onednn2", 1) == 0  # one thread: the stages
    assert winograd_thread_rows(36, 14, 112, 64, 64, False, 2, "onednn2", 2) == 0  # groups
    assert winograd_thread_rows(36, 14, 112, 64, 64, True, 1, "onednn2", 2) == 0  # filters by blocks
    # the filter gradient where each thread's sum of products stays within its L2: 64@56's F(4x4), not 128@28's
    assert winograd_thread_gradient(36, 64, 64) and not winograd_thread_gradient(36, 128, 128)
    fits = WINOGRAD_THREAD_GRADIENT_SUM_BYTES // (36 * 64 * 4)
    assert winograd_thread_gradient(36, 64, fits) and not winograd_thread_gradient(36, 64, fits + 1)


@pytest.mark.parametrize("m", TILES)
def test_the_channel_major_filter_transform_is_the_transform(rng, m):
    n = m + 2
    Gm = winograd_matrices(m).as_arrays(np.float32)[1]
    w = rng.standard_normal((5, 3, 3, 3), dtype=np.float32)
    expected = transforms.filter_transform(w, np.kron(Gm, Gm), np.empty((n * n, 5, 3), np.float32))
    U = transforms.filter_transform_channel_major(w, np.kron(Gm, Gm), np.empty((n * n, 3, 5), np.float32),
                                                 np.empty((3, 5, 3, 3), np.float32))
    assert U.shape == (n * n, 5, 3) and U.transpose(0, 2, 1).flags.c_contiguous
    np.testing.assert_array_equal(U, expected)


@pytest.fixture
def threads():
    """Runs a test body at a given pool size, the size restored after."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("pool,block_rows", [(2, 2), (3, 1), (4, 2)])
def test_threads_on_their_own_rows_compute_what_the_stages_compute(rng, monkeypatch, threads, tile, pool, block_rows):
    need_library("oneDNN 2", onednn_matmul.problem())
    monkeypatch.setattr(blas, "engine", lambda: "onednn2")
    # 6 rows of tiles, 3 an image, partial tiles at the edges; shares of 3, 2 and 2 rows, in blocks of 2 or 1
    # (a share cut short, a block across both images); with 4 threads the last share is empty
    spec = convbench.ConvSpec(N=2, C=8, H=2 * tile + 1, W=3 * tile + 1, K=5, R=3, S=3, padding=1)
    n, tiles_w = tile + 2, -(-spec.Q // tile)
    monkeypatch.setattr(selection, "WINOGRAD_THREAD_BLOCK_BYTES", block_rows * n * n * tiles_w * (spec.C + spec.K) * 4)
    x, w = random_problem(spec, rng)
    dy = rng.standard_normal(spec.output_shape, dtype=np.float32)
    staged = convbench.plan(spec, "winograd", tile=tile)
    threads(1)  # one thread: the shared stages
    assert winograd_thread_rows(n * n, tiles_w, 6, spec.C, spec.K, False, 1, "onednn2", 1) == 0
    expected, expected_dx, expected_dw = staged(x, w), Plan._backward_data(staged, dy, w), staged.backward_filter(x, dy)
    threads(pool)
    plan = convbench.plan(spec, "winograd", tile=tile)
    calls = []
    monkeypatch.setattr(cpu.WinogradCPU, "run_by_tile_blocks", lambda *a: calls.append("tile blocks"))
    out = np.full(spec.output_shape, np.nan, dtype=np.float32)
    plan(x, w, out=out)
    assert plan._rows_by_thread.block == block_rows and not calls
    label = registry.label("winograd", {"tile": tile}) if tile != 2 else "winograd"
    assert_matches_oracle(label, spec, x, w, out)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5 * np.abs(out).max())
    # the data gradient: the forward of the flipped problem, its filters read in place (other strides)
    dx = plan.backward_data(dy, w)
    assert_within_budget(label, "backward_data", dx, *data_references(spec, dy, w), what=f"by threads on {spec}")
    np.testing.assert_allclose(dx, expected_dx, rtol=0, atol=1e-5 * np.abs(dx).max())
    # the forward left no input transform behind (a filter gradient after it transforms x again); the filter
    # gradient: each thread its own rows into a sum of its own (an empty share adds zeros)
    assert not plan._V_holds_input
    calls.clear()
    monkeypatch.setattr(cpu.WinogradCPU, "_gradient_by_tile_blocks", lambda *a: calls.append("tile blocks"))
    dw = plan.backward_filter(x, dy)
    assert not calls and pool in plan._rows_by_thread._sums
    assert_within_budget(label, "backward_filter", dw, *filter_references(spec, x, dy), what=f"by threads on {spec}")
    np.testing.assert_allclose(dw, expected_dw, rtol=0, atol=1e-5 * np.abs(dw).max())


def test_blocked_filters_go_to_threads_in_equal_blocks_within_the_bytes():
    filter_bytes = 36 * 256 * 4  # ResNet-18's 256@14, F(4x4): one filter's transform
    block = winograd_thread_filters(36, 256, 256, True, 1, "onednn2", 2)
    share = 128
    assert block * filter_bytes <= WINOGRAD_THREAD_FILTER_BLOCK_BYTES and -(-share // block) * block - share < block
    assert -(-share // block) == -(-share * filter_bytes // WINOGRAD_THREAD_FILTER_BLOCK_BYTES)  # no more blocks
    assert winograd_thread_filters(36, 256, 256, False, 1, "onednn2", 2) == 0  # whole filters: by rows
    assert winograd_thread_filters(36, 256, 256, True, 1, "torch", 2) == 0
    assert winograd_thread_filters(36, 256, 256, True, 1, "onednn2", 1) == 0
    assert winograd_thread_filters(36, 256, 256, True, 4, "onednn2", 2) == 0


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("own_input", [False, True])
@pytest.mark.parametrize("pool", [2, 3])
def test_threads_on_their_own_filters_compute_what_the_blocks_compute(rng, monkeypatch, threads, tile, own_input,
                                                                      pool):
    need_library("oneDNN 2", onednn_matmul.problem())
    monkeypatch.setattr(blas, "engine", lambda: "onednn2")
    monkeypatch.setattr(selection, "WINOGRAD_FILTER_BLOCKS_ABOVE", 0)  # filters by blocks of 16, whatever their size
    monkeypatch.setattr(selection, "WINOGRAD_FILTER_BLOCK_BYTES", 1)
    monkeypatch.setattr(selection, "WINOGRAD_THREAD_FILTERS_OWN_INPUT", own_input)
    # 37 filters: shares of 19 and 18 (13, 13, 11), in blocks of 7 with a short last one (5, 4 | 6, 6, 4); the
    # data gradient's 20 in shares of 10 (7, 7, 6) by blocks of 4
    spec = convbench.ConvSpec(N=2, C=20, H=2 * tile + 1, W=3 * tile + 1, K=37, R=3, S=3, padding=1)
    n = tile + 2
    monkeypatch.setattr(selection, "WINOGRAD_THREAD_FILTER_BLOCK_BYTES", 7 * n * n * spec.C * 4)
    x, w = random_problem(spec, rng)
    dy = rng.standard_normal(spec.output_shape, dtype=np.float32)
    threads(1)  # one thread: the blocks of filters shared
    staged = convbench.plan(spec, "winograd", tile=tile)
    assert staged.filter_block < spec.K and staged._by_thread_filters() is None
    expected, expected_dx = staged(x, w), staged.backward_data(dy, w)
    threads(pool)
    plan = convbench.plan(spec, "winograd", tile=tile)
    calls = []
    monkeypatch.setattr(cpu.WinogradCPU, "contract_by_filter_blocks", lambda *a: calls.append("shared blocks"))
    out = np.full(spec.output_shape, np.nan, dtype=np.float32)
    plan(x, w, out=out)
    assert not calls and plan._filters_by_thread.block == 7
    label = registry.label("winograd", {"tile": tile}) if tile != 2 else "winograd"
    assert_matches_oracle(label, spec, x, w, out)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5 * np.abs(out).max())
    assert plan._V_holds_input == (not own_input)  # a filter gradient after it may reuse the shared transform
    # the data gradient: the flipped problem's 8 filters, read from w in place, by threads too
    dx = plan.backward_data(dy, w)
    assert not calls and plan._data_gradient_plan()[1]._filters_by_thread.block == 4
    assert_within_budget(label, "backward_data", dx, *data_references(spec, dy, w), what=f"by threads on {spec}")
    np.testing.assert_allclose(dx, expected_dx, rtol=0, atol=1e-5 * np.abs(dx).max())


def test_a_failed_libdnnl_call_in_a_thread_is_a_conv_error_not_a_result():
    from convbench.algorithms.winograd.by_threads import check
    from convbench.core.errors import ConvError
    check(np.zeros(2, dtype=np.int64))
    with pytest.raises(ConvError, match=r"by thread: \[0, 2\]; expected 0"):
        check(np.array([0, 2]))  # dnnl_invalid_arguments on the second thread
