"""Winograd F(m x m, 3x3): the generated matrices (exact), the proposal's F(2x2), the Numba transforms, odd outputs."""
import random
from fractions import Fraction

import numpy as np
import pytest

import convbench
from convbench.algorithms.winograd import codegen, cpu, transforms
from convbench.algorithms.winograd.cook_toom import TILES, winograd_matrices
from convbench.algorithms.winograd.f2x2 import AT, BT, G
from convbench.core.oracle import reference_conv2d, relative_error
from convbench.workloads.random_inputs import random_problem
from convbench.algorithms.base import Plan
from error_budget import assert_matches_oracle, assert_within_budget, data_references, filter_references
from convbench.interface import registry


def correlate_tile(d, g):
    """2x2 valid cross-correlation of a 4x4 tile with a 3x3 filter, by definition."""
    return np.array([[np.sum(d[i:i + 3, j:j + 3] * g) for j in range(2)] for i in range(2)])


def winograd_tile(d, g, G=G):
    return AT @ ((G @ g @ G.T) * (BT @ d @ BT.T)) @ AT.T


def test_matrices_reproduce_direct_convolution_on_a_tile(rng):
    for _ in range(20):
        d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
        np.testing.assert_allclose(winograd_tile(d, g), correlate_tile(d, g), rtol=0, atol=1e-12)


def test_the_seed_slides_G_has_its_middle_rows_swapped(rng):
    """The slide prints G with rows [1/2, -1/2, 1/2] and [1/2, 1/2, 1/2] in the other order."""
    seed_G = G[[0, 2, 1, 3]]
    d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    assert np.abs(winograd_tile(d, g, seed_G) - correlate_tile(d, g)).max() > 1e-3


def test_sixteen_multiplies_per_tile_instead_of_36(rng):
    """Each 2x2 output tile of one (k, c) pair comes from 16 products U[i] * V[i], where the
    sliding window spends 4 outputs x 9 taps = 36: counted here on a product that records them."""
    d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    U, V = G @ g @ G.T, BT @ d @ BT.T

    class Counted(float):
        count = 0

        def __mul__(self, other):
            Counted.count += 1
            return float(self) * float(other)

    M = np.array([[Counted(U[i, j]) * V[i, j] for j in range(4)] for i in range(4)])
    np.testing.assert_allclose(AT @ M @ AT.T, correlate_tile(d, g), atol=1e-12)
    assert Counted.count == 16  # the transforms' shapes (G is 4x3, B^T 4x4) decide it


@pytest.mark.parametrize("m", TILES)
def test_generated_matrices_compute_the_correlation_exactly(m):
    """In exact rationals, A^T [(G g) . (B^T d)] is the valid correlation of d with g, to the last bit."""
    F = winograd_matrices(m)
    draw = random.Random(m)
    for _ in range(10):
        d = [Fraction(draw.randint(-9, 9), draw.randint(1, 5)) for _ in range(F.n)]
        g = [Fraction(draw.randint(-9, 9), draw.randint(1, 5)) for _ in range(3)]
        Gg = [sum(F.G[j][k] * g[k] for k in range(3)) for j in range(F.n)]
        Bd = [sum(F.BT[j][i] * d[i] for i in range(F.n)) for j in range(F.n)]
        y = [sum(F.AT[i][j] * Gg[j] * Bd[j] for j in range(F.n)) for i in range(m)]
        assert y == [sum(d[i + k] * g[k] for k in range(3)) for i in range(m)]


def _terms(AT, G, BT):
    """The algorithm as n rank-one terms AT[:, j] x G[j] x BT[j]: what stays when a row of B^T is
    scaled and the same row of G divided (the only freedom in writing the matrices down)."""
    return sorted(np.einsum("i,k,l->ikl", AT[:, j], G[j], BT[j]).round(12).tobytes() for j in range(len(G)))


def test_generated_F2x2_is_the_seeds_with_the_G_erratum_corrected():
    generated = winograd_matrices(2).as_arrays()
    assert _terms(*generated) == _terms(AT, G, BT)
    assert _terms(*generated) != _terms(AT, G[[0, 2, 1, 3]], BT)  # the slide's G, middle rows swapped


def test_the_generated_transform_kernels_are_up_to_date():
    """kernels.py is written by codegen.py from the exact matrices; it must not drift from them."""
    assert codegen.KERNELS.read_text() == codegen.generate()


@pytest.mark.parametrize("pad", [(1, 1), (2, 0)])
@pytest.mark.parametrize("m", TILES)
def test_numba_input_transform_is_BT_d_B(rng, m, pad):
    """2 x 3 tiles of 2 channels, with the padding's zeros and the rows past the input's end (read from x
    or from its channels-last copy, as the tile's kernel does)."""
    n = m + 2
    BTm = winograd_matrices(m).as_arrays()[2]
    x = rng.standard_normal((1, 2, 2 * m + 1, 3 * m)).astype(np.float32)
    xh = np.zeros((1, 2 * m + 2, 3 * m + 2, 2), dtype=np.float32)  # read by the tiles that copy x channels-last
    V = np.empty((n * n, 6, 2), dtype=np.float32)
    transforms.input_transform(m, x, xh, V, 2, 3, pad)
    padded = np.zeros((2, 2 * m + 2, 3 * m + 2))
    rows, cols = min(x.shape[2], 2 * m + 2 - pad[0]), min(x.shape[3], 3 * m + 2 - pad[1])
    padded[:, pad[0]:pad[0] + rows, pad[1]:pad[1] + cols] = x[0, :, :rows, :cols]
    for c in range(2):
        for ty in range(2):
            for tx in range(3):
                d = padded[c, m * ty:m * ty + n, m * tx:m * tx + n]
                np.testing.assert_allclose(V[:, ty * 3 + tx, c].reshape(n, n), BTm @ d @ BTm.T, atol=1e-4)


@pytest.mark.parametrize("m", TILES)
def test_numba_output_transform_is_AT_m_A_and_crops_odd_edges(rng, m):
    n = m + 2
    ATm = winograd_matrices(m).as_arrays()[0]
    M = rng.standard_normal((n * n, 4, 3)).astype(np.float32)  # 2 x 2 tiles, 3 output channels
    out = np.full((1, 3, 2 * m - 1, 2 * m - 1), np.nan, dtype=np.float32)  # the last tile row and column cut
    yh = np.empty((1, 2 * m - 1, 2 * m - 1, 3), dtype=np.float32)  # written by the tiles that copy out from it
    transforms.output_transform(m, M, yh, out, 2, 2)
    for k in range(3):
        full = np.zeros((2 * m, 2 * m))
        for t in range(4):
            ty, tx = divmod(t, 2)
            full[m * ty:m * ty + m, m * tx:m * tx + m] = ATm @ M[:, t, k].reshape(n, n) @ ATm.T
        np.testing.assert_allclose(out[0, k], full[:-1, :-1], atol=1e-3, rtol=1e-5)


@pytest.mark.parametrize("m", TILES)
def test_filter_transform_is_G_g_GT(rng, m):
    n = m + 2
    Gm = winograd_matrices(m).as_arrays()[1]
    w = rng.standard_normal((3, 2, 3, 3))
    U = transforms.filter_transform(w, np.kron(Gm, Gm), np.empty((n * n, 3, 2)))
    for k in range(3):
        for c in range(2):
            np.testing.assert_allclose(U[:, k, c].reshape(n, n), Gm @ w[k, c] @ Gm.T, atol=1e-12)


@pytest.mark.parametrize("H,W,padding", [(7, 9, 0), (8, 7, 1), (5, 5, 0), (3, 4, 0), (6, 6, 2)])
@pytest.mark.parametrize("tile", TILES)
def test_odd_outputs_are_fully_written(rng, H, W, padding, tile):
    spec = convbench.ConvSpec(N=2, C=3, H=H, W=W, K=4, R=3, S=3, padding=padding)
    x, w = random_problem(spec, rng)
    out = np.full(spec.output_shape, np.nan, dtype=np.float32)  # poison: unwritten elements stay NaN
    convbench.plan(spec, "winograd", tile=tile)(x, w, out=out)
    assert not np.isnan(out).any()
    assert_matches_oracle(registry.label("winograd", {"tile": tile}) if tile != 2 else "winograd", spec, x, w, out)


# Relative L2 error on ResNet-18's 512-channel layer (C = K = 512, 7x7, padding 1, unit-normal data), seeds
# 7, 8, 9 on the AMD EPYC (2026-12-01): F(2x2) 4.14e-7, F(4x4) 1.71e-6, F(6x6) 5.14e-6, FFT on 8x8 tiles
# 2.34e-7, 16x16 2.23e-7, 32x32 1.53e-7 (the worst of the three). Each bound is 5x its worst; the
# families issue's targets (F(4x4) <= 1e-5, F(6x6) <= 5e-5, tiled <= 1e-5) lie above them.
# The 16x16 and 32x32 tiles are over twice this 7x7 output, mostly padding, and took 22 s and 54 s of
# the test run (their 0.3 and 1.1 GB filter spectra); the corpus check holds them to their tolerance
# on 178 and 136 real layers instead (error_budget.TOLERANCE, results/corpus/).
LAYER_512_BOUNDS = {"winograd": 2.1e-6, "winograd F(4x4,3x3)": 8.6e-6, "winograd F(6x6,3x3)": 2.6e-5,
                    "fft tile 8": 1.2e-6}


@pytest.mark.parametrize("label", LAYER_512_BOUNDS)
def test_error_of_each_tile_on_resnet18s_512_channel_layer(label):
    """The families issue's accuracy targets, Winograd and tiled FFT: C = K = 512, 7x7 image, padding 1."""
    spec = convbench.ConvSpec(N=1, C=512, H=7, W=7, K=512, R=3, S=3, padding=1)
    rng = np.random.default_rng(7)
    x = rng.standard_normal(spec.input_shape).astype(np.float32)
    w = rng.standard_normal(spec.filter_shape).astype(np.float32)
    assert relative_error(convbench.plan(spec, label)(x, w), reference_conv2d(x, w, 1)) < LAYER_512_BOUNDS[label]


@pytest.mark.parametrize("tile", [0, 3, 8, "4"])
def test_an_unoffered_tile_is_a_conv_error_naming_it(tile):
    spec = convbench.ConvSpec(N=1, C=1, H=6, W=6, K=1, R=3, S=3)
    with pytest.raises(convbench.ConvError, match="tile must be one of 2, 4, 6"):
        convbench.plan(spec, "winograd", tile=tile)


def test_filter_blocks_start_where_the_transformed_filters_outgrow_the_caches():
    from convbench.core.selection import WINOGRAD_FILTER_BLOCKS_ABOVE, winograd_filter_block
    assert winograd_filter_block(36, 64, 64) == 64  # ResNet-18's 64@56, F(4x4): 0.6 MiB, the stages
    assert winograd_filter_block(36, 512, 512, groups=2) == 512  # grouped layers keep the stages
    block = winograd_filter_block(36, 512, 512)
    assert 16 <= block < 512 and block % 16 == 0
    fits = WINOGRAD_FILTER_BLOCKS_ABOVE // (36 * 512 * 4)
    assert winograd_filter_block(36, fits, 512) == fits and winograd_filter_block(36, fits + 1, 512) < fits + 1


def _blocked_plan(tile, K=200, C=512):
    """A plan whose transformed filters take the blocks, K not a multiple of the block (a short last one)."""
    spec = convbench.ConvSpec(N=2, C=C, H=5, W=6, K=K, R=3, S=3, padding=1)
    plan = convbench.plan(spec, "winograd", tile=tile)
    assert plan.filter_block < K and K % plan.filter_block, "the shape must take the blocks, a short one last"
    return spec, plan


@pytest.mark.parametrize("tile", TILES)
def test_filter_blocks_compute_what_the_separate_stages_compute(rng, tile):
    spec, blocked = _blocked_plan(tile)
    staged = convbench.plan(spec, "winograd", tile=tile)
    staged.filter_block = spec.K  # the separate stages: the whole filter transform, then the contraction
    # a blocked forward leaves the input transform that backward_filter's reuse_forward takes
    # and its filter gradient, by the same blocks of filters, matches the oracle and the unblocked one
    assert_blocked_matches_staged(tile, spec, blocked, staged, rng, "filter blocks")


def assert_blocked_matches_staged(tile, spec, blocked, staged, rng, blocks):
    """blocked's forward, and its filter gradient right after it with reuse_forward, match the oracle
    and staged's (the separate stages) on seeded random operands."""
    x, w = random_problem(spec, rng)
    out = np.full(spec.output_shape, np.nan, dtype=np.float32)
    blocked(x, w, out=out)
    assert not np.isnan(out).any()
    label = registry.label("winograd", {"tile": tile}) if tile != 2 else "winograd"
    assert_matches_oracle(label, spec, x, w, out)
    np.testing.assert_allclose(out, staged(x, w), rtol=0, atol=1e-5 * np.abs(out).max())
    dy = rng.standard_normal(spec.output_shape).astype(np.float32)
    dw = blocked.backward_filter(x, dy, reuse_forward=True)
    assert_within_budget(label, "backward_filter", dw, *filter_references(spec, x, dy), what=f"by {blocks} on {spec}")
    np.testing.assert_allclose(dw, staged.backward_filter(x, dy), rtol=0, atol=1e-5 * np.abs(dw).max())
    # the data gradient's filter transform reads w's taps reversed, its channels swapped, by the same blocks:
    # as the forward of the flipped copy (Plan's own way) computes it
    dx = blocked.backward_data(dy, w)
    assert_within_budget(label, "backward_data", dx, *data_references(spec, dy, w), what=f"by {blocks} on {spec}")
    np.testing.assert_allclose(dx, Plan._backward_data(staged, dy, w), rtol=0, atol=1e-5 * np.abs(dx).max())


def test_a_blocked_plan_plans_for_one_block_of_transformed_filters_not_all():
    spec, plan = _blocked_plan(4, K=512)
    all_filters = 36 * spec.K * spec.C * 4
    assert plan._U is None  # never made by a call
    assert type(plan).planned_bytes(spec, tile=4) < all_filters
    plan(*random_problem(spec, 0))
    assert plan._U is None


def test_tile_blocks_start_where_the_transformed_inputs_outgrow_the_caches():
    from convbench.core.selection import (WINOGRAD_TILE_BLOCK_BYTES, WINOGRAD_TILE_BLOCKS_ABOVE,
                                          WINOGRAD_TILE_BLOCKS_ABOVE_ONEDNN2, winograd_tile_rows)
    assert winograd_tile_rows(36, 14, 14, 64, False) == 14  # ResNet-18's 64@56 at N=1, F(4x4): 1.7 MiB, the stages
    rows = winograd_tile_rows(36, 14, 112, 64, False)  # at N=8: 13.8 MiB, blocks of rows
    assert rows < 112 and rows * 36 * 14 * 64 * 4 <= WINOGRAD_TILE_BLOCK_BYTES < (rows + 1) * 36 * 14 * 64 * 4
    assert winograd_tile_rows(36, 14, 112, 64, True) == 112  # filters by blocks: each tile block would read them all
    assert winograd_tile_rows(36, 14, 112, 64, False, groups=2) == 112
    fits = WINOGRAD_TILE_BLOCKS_ABOVE // (36 * 14 * 64 * 4)
    assert winograd_tile_rows(36, 14, fits, 64, False) == fits and winograd_tile_rows(36, 14, fits + 1, 64, False) < fits
    fits = WINOGRAD_TILE_BLOCKS_ABOVE_ONEDNN2 // (36 * 14 * 64 * 4)  # with the GEMMs on oneDNN 2: from less
    assert WINOGRAD_TILE_BLOCKS_ABOVE_ONEDNN2 < WINOGRAD_TILE_BLOCKS_ABOVE
    assert winograd_tile_rows(36, 14, fits, 64, False, engine="onednn2") == fits
    assert winograd_tile_rows(36, 14, fits + 1, 64, False, engine="onednn2") < fits


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("block_rows", [4, 2])
def test_tile_blocks_compute_what_the_separate_stages_compute(rng, tile, block_rows, monkeypatch):
    from convbench.core import selection
    # small blocks on a small layer: 6 rows of tiles, 3 an image, in blocks of 4 (a block across both images, a
    # short one last) or of 2 (a block inside an image, one across both), partial tiles at the edges
    spec = convbench.ConvSpec(N=2, C=8, H=2 * tile + 1, W=3 * tile + 1, K=5, R=3, S=3, padding=1)
    row = (tile + 2) ** 2 * -(-spec.Q // tile) * spec.C * 4
    monkeypatch.setattr(selection, "WINOGRAD_TILE_BLOCKS_ABOVE", 0)
    monkeypatch.setattr(selection, "WINOGRAD_TILE_BLOCKS_ABOVE_ONEDNN2", 0)
    monkeypatch.setattr(selection, "WINOGRAD_TILE_BLOCK_BYTES", block_rows * row)
    monkeypatch.setattr(cpu, "winograd_thread_rows", lambda *args: 0)  # not each thread its own rows (by_threads.py)
    blocked = convbench.plan(spec, "winograd", tile=tile)
    rows = spec.N * blocked.tiles_h
    assert blocked.tile_rows == block_rows and rows == 6 and blocked.tiles_h == 3, "the shape must take the blocks"
    staged = convbench.plan(spec, "winograd", tile=tile)
    staged.tile_rows = rows  # one block: the separate stages
    # the blocked forward left only its last block's transform: reuse_forward transforms x again
    assert_blocked_matches_staged(tile, spec, blocked, staged, rng, "tile blocks")
