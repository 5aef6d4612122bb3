"""The training passes: backward_data and backward_filter of every algorithm and variant against the
float64 oracle, the exact adjoints of the band-limited map at c > 0, and convbench.nn in torch."""
import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import convbench
import convbench.nn
from convbench.interface import registry
from convbench.core.oracle import Float64Oracle, reference_backward_data, relative_error
from convbench.workloads.random_inputs import random_problem
from helpers import CPU_ALGORITHMS, supports
from error_budget import assert_within_budget, data_references, filter_references
from specs import conv_specs, grouped_dilated_specs, specs_for


def check_gradients(label, spec, seed):
    rng = np.random.default_rng(seed)
    x, w = random_problem(spec, rng)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    p = convbench.plan(spec, label)
    dx, dw = p.backward_data(dy, w), p.backward_filter(x, dy)
    assert dx.dtype == dw.dtype == np.float32 and dx.shape == spec.input_shape and dw.shape == spec.filter_shape
    assert_within_budget(label, "backward_data", dx, *data_references(spec, dy, w), what=f"on {spec}")
    assert_within_budget(label, "backward_filter", dw, *filter_references(spec, x, dy), what=f"on {spec}")


@pytest.mark.parametrize("label", CPU_ALGORITHMS)
@settings(max_examples=25, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_both_passes_match_the_oracle(label, data, seed):
    check_gradients(label, data.draw(specs_for(label)), seed)


@pytest.mark.parametrize("method", ["channels-last gather", "channels-last slice"])
@settings(max_examples=25, deadline=None)
@given(spec=st.one_of(conv_specs(), grouped_dilated_specs()), seed=st.integers(0, 2**32 - 1))
def test_direct_channels_last_data_gradient_reads_the_forward_filter_in_reverse(method, spec, seed):
    # the data gradient's GEMMs read w's taps in reverse with its channels swapped (no flipped copy): C != K,
    # R != S, dilations, paddings and (gathered) strides; random specs are too small for auto to pick either
    spec = dataclasses.replace(spec, groups=1, stride=1 if method.endswith("slice") else spec.stride)
    rng = np.random.default_rng(seed)
    x, w = random_problem(spec, rng)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    dx = convbench.plan(spec, "direct", method=method).backward_data(dy, w)
    assert_within_budget("direct", "backward_data", dx, *data_references(spec, dy, w), what=f"{method} on {spec}")


@pytest.mark.parametrize("depthwise", [False, True], ids=["grouped", "depthwise"])
@pytest.mark.parametrize("label", CPU_ALGORITHMS)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_both_passes_with_groups_and_dilation_match_the_oracle(label, depthwise, seed, data):
    check_gradients(label, data.draw(specs_for(label, grouped=True, depthwise=depthwise)), seed)


@pytest.mark.parametrize("spec", [convbench.ConvSpec(N=2, C=3, H=9, W=11, K=4, R=3, S=3, padding=1),
                                  convbench.ConvSpec(N=3, C=4, H=10, W=7, K=6, R=3, S=2, padding=(2, 1), dilation=2,
                                                     groups=2)], ids=str)
def test_the_direct_filter_gradient_s_kept_grids_serve_call_after_call(spec):
    """The stride-1 filter gradient keeps its padded grids between calls: each call's images and dy replace
    the last ones, and the padding around them stays zero (a large earlier x must not leak into the border)."""
    plan = convbench.plan(spec, "direct")
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        x = rng.uniform(-1, 1, spec.input_shape).astype(np.float32) * (100.0 if seed == 1 else 1.0)
        dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
        assert_within_budget("direct", "backward_filter", plan.backward_filter(x, dy), *filter_references(spec, x, dy),
                             what=f"call {seed} on {spec}")


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
    x, w = random_problem(spec, rng)
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
    x, w = random_problem(spec, rng)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    exact = reference_backward_data(dy, w, spec.input_shape, 1)
    assert relative_error(convbench.plan(spec, "fft", compression=0.5).backward_data(dy, w), exact) > 1e-2


GRADCHECK_SPECS = [convbench.ConvSpec(N=2, C=2, H=7, W=8, K=3, R=3, S=3, padding=1),
                   convbench.ConvSpec(N=2, C=4, H=9, W=8, K=6, R=3, S=2, padding=2, dilation=(2, 3), groups=2)]


@pytest.mark.parametrize("spec", GRADCHECK_SPECS, ids=["plain", "grouped-dilated"])
@pytest.mark.parametrize("compression", [0.0, 0.3, 0.75])
def test_gradcheck_of_the_band_limited_fft_runs_its_own_float64_path(spec, compression):
    """The fft is the one algorithm with a float64 path of its own (the band-limited map and its
    adjoints, plan.float64()); gradcheck runs that path through convbench.nn's autograd Function."""
    assert not isinstance(convbench.plan(spec, "fft", compression=compression).float64(), Float64Oracle)
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(spec.input_shape, dtype=torch.float64, generator=generator, requires_grad=True)
    w = torch.randn(spec.filter_shape, dtype=torch.float64, generator=generator, requires_grad=True)
    b = torch.randn(spec.K, dtype=torch.float64, generator=generator, requires_grad=True)
    f = lambda x, w, b: convbench.nn.functional.conv2d(x, w, b, padding=spec.padding, dilation=spec.dilation,
                                                       groups=spec.groups, algorithm="fft", compression=compression)
    assert torch.autograd.gradcheck(f, (x, w, b))


@pytest.mark.parametrize("label,spec", [(label, spec) for spec in GRADCHECK_SPECS for label in CPU_ALGORITHMS
                                        if label != "fft" and supports(label, spec)], ids=str)
def test_autograd_runs_each_algorithm_in_float32_within_its_budget(label, spec):
    """The others have no float64 path (their float64() is the oracle, which gradcheck would check against
    itself), so their own float32 passes run through convbench.nn's autograd Function and are held to
    their measured rounding budgets against the float64 oracle."""
    assert isinstance(convbench.plan(spec, label).float64(), Float64Oracle)
    rng = np.random.default_rng(4)
    x_np, w_np = random_problem(spec, rng)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    x, w = torch.from_numpy(x_np).requires_grad_(), torch.from_numpy(w_np).requires_grad_()
    y = convbench.nn.functional.conv2d(x, w, padding=spec.padding, dilation=spec.dilation, groups=spec.groups,
                                       algorithm=label)
    y.backward(torch.from_numpy(dy))
    assert x.grad.dtype == torch.float32
    assert_within_budget(label, "backward_data", x.grad.numpy(), *data_references(spec, dy, w_np), what=str(spec))
    assert_within_budget(label, "backward_filter", w.grad.numpy(), *filter_references(spec, x_np, dy), what=str(spec))


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
    x, w = random_problem(spec, np.random.default_rng(0))
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
    with pytest.raises(convbench.ConvError, match="x must be on the CPU or a CUDA device; got device meta"):
        convbench.nn.functional.conv2d(x.to("meta"), torch.ones(1, 2, 3, 3, device="meta"))
    with pytest.raises(convbench.ConvError, match="w must be on the CPU or a CUDA device; got device meta"):
        convbench.nn.functional.conv2d(x, torch.ones(1, 2, 3, 3, device="meta"))


REUSE_SPECS = [convbench.ConvSpec(N=2, C=8, H=12, W=12, K=12, R=3, S=3, padding=1, groups=4),
               convbench.ConvSpec(N=2, C=6, H=12, W=12, K=6, R=3, S=3, padding=1, groups=6),
               convbench.ConvSpec(N=2, C=4, H=13, W=12, K=6, R=3, S=3, padding=2, dilation=2, groups=2)]


@pytest.mark.parametrize("label,spec", [(label, spec) for spec in REUSE_SPECS for label in CPU_ALGORITHMS
                                        if supports(label, spec)], ids=str)
def test_a_training_step_reusing_the_forward_matches_the_oracle_with_groups(label, spec):
    """reuse_forward=True takes the forward's transformed input and filter: grouped layouts included."""
    rng = np.random.default_rng(11)
    x, w = random_problem(spec, rng)
    dy = rng.uniform(-1, 1, spec.output_shape).astype(np.float32)
    p = convbench.plan(spec, label)
    p(x, w)
    dx, dw = p.backward_data(dy, w, reuse_forward=True), p.backward_filter(x, dy, reuse_forward=True)
    assert_within_budget(label, "backward_data", dx, *data_references(spec, dy, w), what=str(spec))
    assert_within_budget(label, "backward_filter", dw, *filter_references(spec, x, dy), what=str(spec))


GROUPED = convbench.ConvSpec(N=2, C=6, H=10, W=10, K=9, R=3, S=3, padding=1, groups=3)


@pytest.mark.parametrize("label", [label for label in CPU_ALGORITHMS if label != "torch"])
def test_no_product_is_formed_between_groups(label):
    """The docs' claim (guide/your-model.md), in all three passes: NaN in one group's operand reaches only that group's
    results. A dense product over the zero off-diagonal blocks would spread it (0 x NaN is NaN)."""
    rng = np.random.default_rng(8)
    x, w = random_problem(GROUPED, rng)
    dy = rng.uniform(-1, 1, GROUPED.output_shape).astype(np.float32)
    Cg, Kg = GROUPED.C_per_group, GROUPED.K_per_group
    p = convbench.plan(GROUPED, label)
    poisoned_x, poisoned_dy = x.copy(), dy.copy()
    poisoned_x[:, Cg:2 * Cg] = np.nan  # group 1's input channels
    poisoned_dy[:, Kg:2 * Kg] = np.nan  # group 1's output channels
    y = p(poisoned_x, w)
    dx = p.backward_data(poisoned_dy, w)
    dw = p.backward_filter(poisoned_x, dy)
    others = lambda a, size: np.concatenate([a[:, :size], a[:, 2 * size:]], axis=1)  # groups 0 and 2
    assert np.isnan(y[:, Kg:2 * Kg]).all() and np.isfinite(others(y, Kg)).all()
    assert np.isfinite(others(dx, Cg)).all()
    assert np.isfinite(np.concatenate([dw[:Kg], dw[2 * Kg:]])).all()
    clean = p(x, w)
    np.testing.assert_array_equal(others(y, Kg), others(clean, Kg))
