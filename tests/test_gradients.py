"""The training passes: backward_data and backward_filter of every algorithm and variant against the
float64 oracle, the exact adjoints of the band-limited map at c > 0, and convbench.nn in torch."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import convbench
import convbench.nn
from convbench import registry
from convbench.oracle import reference_backward_data, reference_backward_filter, relative_error
from helpers import CPU_ALGORITHMS, random_problem, supports
from test_cross_check import conv_specs, grouped_dilated_specs, tolerance_of


def check_gradients(label, spec, seed):
    rng = np.random.default_rng(seed)
    x, w = random_problem(rng, spec)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    p = convbench.plan(spec, label)
    dx, dw = p.backward_data(dy, w), p.backward_filter(x, dy)
    assert dx.dtype == dw.dtype == np.float32 and dx.shape == spec.input_shape and dw.shape == spec.filter_shape
    tolerance = tolerance_of(label)
    parameters = dict(padding=spec.padding, stride=spec.stride, dilation=spec.dilation, groups=spec.groups)
    error_x = relative_error(dx, reference_backward_data(dy, w, spec.input_shape, **parameters))
    error_w = relative_error(dw, reference_backward_filter(x, dy, spec.filter_shape, **parameters))
    assert error_x <= tolerance and error_w <= tolerance, f"{label} on {spec}: dx {error_x:.1e}, dw {error_w:.1e}"


@pytest.mark.parametrize("label", [v for v in CPU_ALGORITHMS if not v.startswith("winograd")])
@settings(max_examples=25, deadline=None)
@given(spec=conv_specs(), seed=st.integers(0, 2**32 - 1))
def test_both_passes_match_the_oracle(label, spec, seed):
    if not supports(label, spec):  # the tiled FFT: stride 1, filters smaller than the tile
        return
    check_gradients(label, spec, seed)


@pytest.mark.parametrize("label", [v for v in CPU_ALGORITHMS if v.startswith("winograd")])
@settings(max_examples=25, deadline=None)
@given(spec=conv_specs(square_filter_3=True, stride_one=True), seed=st.integers(0, 2**32 - 1))
def test_both_winograd_passes_match_the_oracle(label, spec, seed):
    check_gradients(label, spec, seed)


@pytest.mark.parametrize("depthwise", [False, True], ids=["grouped", "depthwise"])
@pytest.mark.parametrize("label", CPU_ALGORITHMS)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_both_passes_with_groups_and_dilation_match_the_oracle(label, depthwise, seed, data):
    spec = data.draw(grouped_dilated_specs(depthwise=depthwise))
    if not supports(label, spec):  # Winograd: 3x3, stride 1, no dilation; tiled FFT: stride 1, small filters
        return
    check_gradients(label, spec, seed)


@pytest.mark.parametrize("compression", [0.0, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("spec", [convbench.ConvSpec(N=2, C=3, H=11, W=9, K=4, R=3, S=4, padding=(1, 2)),
                                  convbench.ConvSpec(N=2, C=2, H=13, W=10, K=3, R=5, S=3, padding=2, stride=(2, 3)),
                                  convbench.ConvSpec(N=2, C=4, H=13, W=12, K=6, R=3, S=2, padding=2, dilation=(2, 3),
                                                     groups=2),
                                  convbench.ConvSpec(N=1, C=3, H=12, W=12, K=3, R=3, S=3, padding=1, groups=3)],
                         ids=str)
def test_band_limited_gradients_are_exact_adjoints(spec, compression):
    """<dy, p(x, w)> = <p.backward_data(dy, w), x> = <p.backward_filter(x, dy), w> to float32 rounding."""
    rng = np.random.default_rng(5)
    x, w = random_problem(rng, spec)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    p = convbench.plan(spec, "fft", compression=compression)
    assert compression == 0 or p.compression > 0.1  # the mask does drop coefficients here
    inner = np.vdot(dy.astype(np.float64), p(x, w))
    scale = np.linalg.norm(dy) * np.linalg.norm(p(x, w))
    assert abs(inner - np.vdot(p.backward_data(dy, w).astype(np.float64), x)) < 1e-6 * scale
    assert abs(inner - np.vdot(p.backward_filter(x, dy).astype(np.float64), w)) < 1e-6 * scale


def test_band_limited_gradients_differ_from_the_exact_ones():
    """At c > 0 the gradients are those of the band-limited map, not torch's: the test above is not vacuous."""
    spec = convbench.ConvSpec(N=1, C=2, H=12, W=12, K=2, R=3, S=3, padding=1)
    rng = np.random.default_rng(2)
    x, w = random_problem(rng, spec)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    exact = reference_backward_data(dy, w, spec.input_shape, 1)
    assert relative_error(convbench.plan(spec, "fft", compression=0.5).backward_data(dy, w), exact) > 1e-2


@pytest.mark.parametrize("algorithm,compression", [("fft", 0.0), ("fft", 0.3), ("fft", 0.75), ("direct", 0.0),
                                                   ("winograd F(4x4,3x3)", 0.0), ("fft tile 8", 0.0), ("torch", 0.0)])
def test_gradcheck_through_the_autograd_function(algorithm, compression):
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(2, 2, 7, 8, dtype=torch.float64, generator=generator, requires_grad=True)
    w = torch.randn(3, 2, 3, 3, dtype=torch.float64, generator=generator, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, generator=generator, requires_grad=True)
    f = lambda x, w, b: convbench.nn.functional.conv2d(x, w, b, padding=1, algorithm=algorithm, compression=compression)
    assert torch.autograd.gradcheck(f, (x, w, b))


@pytest.mark.parametrize("algorithm,compression", [("fft", 0.0), ("fft", 0.5), ("direct", 0.0), ("fft tile 16", 0.0)])
def test_gradcheck_with_groups_and_dilation(algorithm, compression):
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64, generator=generator, requires_grad=True)
    w = torch.randn(6, 2, 3, 2, dtype=torch.float64, generator=generator, requires_grad=True)
    f = lambda x, w: convbench.nn.functional.conv2d(x, w, padding=2, dilation=(2, 3), groups=2, algorithm=algorithm,
                                                    compression=compression)
    assert torch.autograd.gradcheck(f, (x, w))


def test_conv2d_module_with_groups_and_dilation_matches_torchs():
    torch.manual_seed(1)
    ours = convbench.nn.Conv2d(4, 8, 3, padding=2, dilation=2, groups=4, algorithm="fft")
    theirs = torch.nn.Conv2d(4, 8, 3, padding=2, dilation=2, groups=4)
    theirs.load_state_dict(ours.state_dict())
    x = torch.from_numpy(np.random.default_rng(6).uniform(-1, 1, (2, 4, 11, 10)).astype(np.float32))
    for net in (ours, theirs):
        (net(x) ** 2).mean().backward()
    assert torch.allclose(ours(x), theirs(x), rtol=1e-4, atol=1e-6)
    assert torch.allclose(ours.weight.grad, theirs.weight.grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("algorithm", ["fft", "winograd F(4x4,3x3)", "fft tile 16", "direct"])
def test_conv2d_module_trains_like_torchs_at_c0(algorithm):
    """Two layers, the same weights: the same loss and the same gradients as torch.nn.Conv2d."""
    torch.manual_seed(0)
    ours = torch.nn.Sequential(convbench.nn.Conv2d(3, 8, 3, padding=1, algorithm=algorithm), torch.nn.ReLU(),
                               convbench.nn.Conv2d(8, 4, 3, padding=1, algorithm=algorithm))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 3, padding=1))
    theirs.load_state_dict(ours.state_dict())
    x = torch.from_numpy(np.random.default_rng(4).uniform(-1, 1, (2, 3, 10, 9)).astype(np.float32))
    losses = [(net(x) ** 2).mean() for net in (ours, theirs)]
    for loss in losses:
        loss.backward()
    assert torch.allclose(losses[0], losses[1], rtol=1e-5)
    for (name, mine), (_, peer) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert torch.allclose(mine.grad, peer.grad, rtol=1e-4, atol=1e-6), name


def test_a_dy_of_the_wrong_shape_is_a_conv_error():
    spec = convbench.ConvSpec(N=1, C=2, H=6, W=6, K=3, R=3, S=3)
    x, w = random_problem(np.random.default_rng(0), spec)
    for label in registry.LABELS:
        if not supports(label, spec):
            continue
        p = convbench.plan(spec, label)
        with pytest.raises(convbench.ConvError, match=r"dy must have shape \(1, 3, 4, 4\)"):
            p.backward_data(np.ones((1, 3, 5, 4), np.float32), w)
        with pytest.raises(convbench.ConvError, match="dy"):
            p.backward_filter(x, np.ones((1, 2, 4, 4), np.float32))


def test_nn_conv2d_rejects_what_it_cannot_run():
    x = torch.ones(1, 2, 6, 6)
    with pytest.raises(convbench.ConvError, match="w must have x's dtype"):
        convbench.nn.functional.conv2d(x, torch.ones(1, 2, 3, 3, dtype=torch.float64))
    with pytest.raises(convbench.ConvError, match="x must be a torch.Tensor"):
        convbench.nn.functional.conv2d(np.ones((1, 2, 6, 6)), torch.ones(1, 2, 3, 3))
    with pytest.raises(convbench.ConvError, match=r"bias must have shape \(1,\)"):
        convbench.nn.functional.conv2d(x, torch.ones(1, 2, 3, 3), torch.ones(2))


@pytest.mark.parametrize("spec", [convbench.ConvSpec(N=2, C=8, H=12, W=12, K=12, R=3, S=3, padding=1, groups=4),
                                  convbench.ConvSpec(N=2, C=6, H=12, W=12, K=6, R=3, S=3, padding=1, groups=6),
                                  convbench.ConvSpec(N=2, C=4, H=13, W=12, K=6, R=3, S=3, padding=2, dilation=2,
                                                     groups=2)], ids=str)
@pytest.mark.parametrize("label", CPU_ALGORITHMS)
def test_a_training_step_reusing_the_forward_matches_the_oracle_with_groups(label, spec):
    """reuse_forward=True takes the forward's transformed input and filter: grouped layouts included."""
    if not supports(label, spec):
        return
    rng = np.random.default_rng(11)
    x, w = random_problem(rng, spec)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    p = convbench.plan(spec, label)
    p(x, w)
    parameters = dict(padding=spec.padding, stride=spec.stride, dilation=spec.dilation, groups=spec.groups)
    dx, dw = p.backward_data(dy, w, reuse_forward=True), p.backward_filter(x, dy, reuse_forward=True)
    assert relative_error(dx, reference_backward_data(dy, w, spec.input_shape, **parameters)) <= tolerance_of(label)
    assert relative_error(dw, reference_backward_filter(x, dy, spec.filter_shape, **parameters)) <= tolerance_of(label)
