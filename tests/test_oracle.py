"""The oracle itself is checked before anything is checked against it."""
import numpy as np
import pytest
import torch

from convbench import ConvSpec
from convbench.core.oracle import reference_conv2d, relative_error
from convbench.workloads.random_inputs import random_problem


def naive_conv2d(x, w, padding, stride):
    """The proposal's conv-layer formula, one output element at a time."""
    (ph, pw), (sh, sw) = padding, stride
    N, C, H, W = x.shape
    K, _, R, S = w.shape
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    xp[:, :, ph:ph + H, pw:pw + W] = x
    P, Q = (H + 2 * ph - R) // sh + 1, (W + 2 * pw - S) // sw + 1
    out = np.zeros((N, K, P, Q))
    for n in range(N):
        for k in range(K):
            for p in range(P):
                for q in range(Q):
                    out[n, k, p, q] = np.sum(xp[n, :, p * sh:p * sh + R, q * sw:q * sw + S] * w[k])
    return out


@pytest.mark.parametrize("padding,stride,R,S", [((0, 0), (1, 1), 3, 3), ((1, 2), (2, 1), 3, 2), ((2, 0), (3, 2), 4, 5)])
def test_oracle_matches_the_formula_element_by_element(rng, padding, stride, R, S):
    spec = ConvSpec(N=2, C=3, H=9, W=8, K=2, R=R, S=S, padding=padding, stride=stride)
    x, w = random_problem(spec, rng)
    np.testing.assert_allclose(reference_conv2d(x, w, padding, stride), naive_conv2d(x, w, padding, stride), rtol=1e-12, atol=1e-12)


def test_oracle_matches_torch_in_float64(rng):
    spec = ConvSpec(N=3, C=4, H=17, W=12, K=5, R=5, S=3, padding=(2, 1), stride=(2, 3))
    x, w = random_problem(spec, rng)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x.astype(np.float64)), torch.from_numpy(w.astype(np.float64)),
                                          padding=spec.padding, stride=spec.stride).numpy()
    assert reference_conv2d(x, w, spec.padding, spec.stride).shape == spec.output_shape
    assert relative_error(reference_conv2d(x, w, spec.padding, spec.stride), expected) < 1e-14


def test_relative_error_sees_a_difference():
    reference = np.ones((1, 1, 2, 2))
    assert relative_error(reference, reference) == 0.0
    assert relative_error(reference * 1.5, reference) == pytest.approx(0.5)
