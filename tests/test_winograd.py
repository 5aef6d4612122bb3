"""Winograd F(2x2, 3x3): the matrices, the Numba transforms, and odd outputs."""
import numpy as np
import pytest

import convbench
from convbench.algorithms.winograd import transforms
from convbench.algorithms.winograd.transforms import AT, BT, G
from convbench.oracle import reference_conv2d, relative_error
from helpers import random_problem


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


def test_numba_input_transform_is_BT_d_B(rng):
    xp = rng.standard_normal((1, 2, 6, 8))  # 2 x 3 tiles of 4x4 overlapping by 2
    V = np.empty((16, 2, 6))
    transforms.input_transform(xp, V, 2, 3, np.empty((2, 4, 8)))
    for c in range(2):
        for ty in range(2):
            for tx in range(3):
                d = xp[0, c, 2 * ty:2 * ty + 4, 2 * tx:2 * tx + 4]
                np.testing.assert_allclose(V[:, c, ty * 3 + tx].reshape(4, 4), BT @ d @ BT.T, atol=1e-12)


def test_numba_output_transform_is_AT_m_A_and_crops_odd_edges(rng):
    M = rng.standard_normal((16, 1, 4))  # one channel, 2 x 2 tiles
    out = np.full((1, 1, 3, 3), np.nan)  # odd P = Q = 3: the last tile row and column are half outside
    transforms.output_transform(M, out, 2, 2)
    full = np.zeros((4, 4))
    for t in range(4):
        ty, tx = divmod(t, 2)
        full[2 * ty:2 * ty + 2, 2 * tx:2 * tx + 2] = AT @ M[:, 0, t].reshape(4, 4) @ AT.T
    np.testing.assert_allclose(out[0, 0], full[:3, :3], atol=1e-12)


def test_filter_transform_is_G_g_GT(rng):
    w = rng.standard_normal((3, 2, 3, 3))
    U = transforms.filter_transform(w)
    for k in range(3):
        for c in range(2):
            np.testing.assert_allclose(U[:, k, c].reshape(4, 4), G @ w[k, c] @ G.T, atol=1e-12)


@pytest.mark.parametrize("H,W,padding", [(7, 9, 0), (8, 7, 1), (5, 5, 0), (3, 4, 0), (6, 6, 2)])
def test_odd_outputs_are_fully_written(rng, H, W, padding):
    spec = convbench.ConvSpec(N=2, C=3, H=H, W=W, K=4, R=3, S=3, padding=padding)
    x, w = random_problem(rng, spec)
    out = np.full(spec.output_shape, np.nan, dtype=np.float32)  # poison: unwritten elements stay NaN
    convbench.plan(spec, "winograd")(x, w, out=out)
    assert not np.isnan(out).any()
    assert relative_error(out, reference_conv2d(x, w, padding)) < 1e-5
