"""1-D convolution: every variant, forward and both backward passes, against the float64 oracle;
the band-limited map's exact adjoints; fft-conv-pytorch's 1-D grid through convbench.nn.functional.conv1d."""
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import convbench
import convbench.nn
from convbench import SignalSpec
from convbench.core.error_budget import SIGNAL_GRID_UNITS, SIGNAL_MEASURED_WORST, SIGNAL_TOLERANCE
from convbench.core.oracle import Float64Oracle, relative_error
from convbench.interface.registry import SIGNAL_LABELS

from error_budget import (ALLOWANCE, data_references, filter_references, forward_references,
                          rounding_units)
from helpers import EPS32, truth_and_sizes

# What each 1-D variant may lose (rounding units on the random draws, a relative error on the fixed problems)
# and its measurement: convbench.core.error_budget.
MEASURED_WORST, TOLERANCE = SIGNAL_MEASURED_WORST, SIGNAL_TOLERANCE


@st.composite
def signal_specs(draw):
    """Random 1-D problems: groups, dilation, stride, padding up to the extent; lengths up to 300 with
    filters up to 40 taps, so overlap-save cuts several blocks."""
    groups = draw(st.integers(1, 3))
    R, dilation = draw(st.integers(1, 40)), draw(st.integers(1, 3))
    extent = dilation * (R - 1) + 1
    padding = draw(st.integers(0, extent - 1))
    L = draw(st.integers(max(1, extent - 2 * padding), 300))
    return SignalSpec(N=draw(st.integers(1, 3)), C=groups * draw(st.integers(1, 3)), L=L,
                      K=groups * draw(st.integers(1, 3)), R=R, padding=padding, stride=draw(st.integers(1, 3)),
                      dilation=dilation, groups=groups)


def problem(spec, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, shape).astype(np.float32)
            for shape in (spec.input_shape, spec.filter_shape, spec.output_shape)]


def units(p, spec, x, w, dy):
    """The rounding units each pass loses: (forward, backward_data, backward_filter)."""
    x4, w4, dy4 = x[:, :, None], w[:, :, None], dy[:, :, None]
    return [rounding_units(got[:, :, None], *reference) for got, reference in (
        (p(x, w), forward_references(spec.grid, x4, w4)),
        (p.backward_data(dy, w), data_references(spec.grid, dy4, w4)),
        (p.backward_filter(x, dy), filter_references(spec.grid, x4, dy4)))]


def oracle(spec):
    """The 2-D float64 oracle on the height-1 problem, on (N, C, L) arrays."""
    grid = Float64Oracle(spec.grid)
    return (lambda x, w: grid(x[:, :, None], w[:, :, None])[:, :, 0],
            lambda dy, w: grid.backward_data(dy[:, :, None], w[:, :, None])[:, :, 0],
            lambda x, dy: grid.backward_filter(x[:, :, None], dy[:, :, None])[:, :, 0])


@pytest.mark.parametrize("label", SIGNAL_LABELS)
@settings(max_examples=30, deadline=None)
@given(spec=signal_specs(), seed=st.integers(0, 2**32 - 1))
def test_every_variant_and_both_passes_match_the_oracle(label, spec, seed):
    x, w, dy = problem(spec, seed)
    p = convbench.plan(spec, label)
    assert p(x, w).shape == spec.output_shape and p.backward_data(dy, w).shape == spec.input_shape
    assert p.backward_filter(x, dy).shape == spec.filter_shape
    for which, lost, worst in zip(("forward", "backward_data", "backward_filter"), units(p, spec, x, w, dy),
                                  MEASURED_WORST[label]):
        assert lost <= ALLOWANCE * worst, f"{label} {which} on {spec}: {lost:.2f} rounding units"


def test_overlap_save_cuts_blocks_and_the_whole_signal_one():
    spec = SignalSpec(N=1, C=2, L=4000, K=3, R=33)
    assert convbench.plan(spec, "fft").inner.blocks == 1
    blocks = convbench.plan(spec, "fft overlap-save").inner
    assert blocks.blocks > 1 and blocks.T < 4000  # so the test above checks the gluing
    x, w, dy = problem(spec, 1)
    assert relative_error(convbench.plan(spec, "fft", tile=128)(x, w), oracle(spec)[0](x, w)) < TOLERANCE


SPECS = [SignalSpec(N=2, C=3, L=90, K=4, R=7, padding=3),
         SignalSpec(N=2, C=4, L=101, K=6, R=5, padding=2, stride=2, dilation=3, groups=2)]


@pytest.mark.parametrize("compression", [0.25, 0.5, 0.9])
@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_band_limited_passes_are_exact_adjoints_and_follow_their_float64_definition(spec, compression):
    x, w, dy = problem(spec, 3)
    p = convbench.plan(spec, "fft", compression=compression)
    assert abs(p.compression - compression) < 0.05
    exact = p.float64()
    y = exact(x, w)
    assert relative_error(y, oracle(spec)[0](x, w)) > 1e-3  # it is band-limited: not the convolution
    for got, want in ((p(x, w), y), (p.backward_data(dy, w), exact.backward_data(dy, w)),
                      (p.backward_filter(x, dy), exact.backward_filter(x, dy))):
        assert relative_error(got, want) < TOLERANCE
    inner = np.vdot(dy.astype(np.float64), y)
    assert abs(inner - np.vdot(exact.backward_data(dy, w), x)) < 1e-10 * abs(inner)
    assert abs(inner - np.vdot(exact.backward_filter(x, dy), w)) < 1e-10 * abs(inner)


def test_compression_is_refused_on_blocks_and_other_algorithms_by_name():
    spec = SPECS[0]
    with pytest.raises(convbench.ConvError, match="compression applies to the whole-signal fft"):
        convbench.plan(spec, "fft overlap-save", compression=0.5)
    with pytest.raises(convbench.ConvError, match="compression applies only to"):
        convbench.plan(spec, "direct", compression=0.5)
    with pytest.raises(convbench.ConvError, match="tile must be"):
        convbench.plan(spec, "fft", tile=8)
    with pytest.raises(convbench.ConvError, match="1-D convolution must be one of"):
        convbench.plan(spec, "winograd")
    with pytest.raises(convbench.ConvError, match="x must be 3-D"):
        convbench.conv1d(np.ones((1, 2, 3, 4)), np.ones((1, 2, 3)))
    with pytest.raises(convbench.ConvError, match="filter length 9"):
        SignalSpec(N=1, C=1, L=4, K=1, R=9, padding=2)


# fft-conv-pytorch's functional test grid for ndim=1 (tests/test_functional.py): in and out channels
# 2-3, groups 1-3, kernel 2-3, padding 0, 1 or 'same', stride 1-2, dilation 1-2, bias, input 7-8.
GRID = [case for case in itertools.product((2, 3), (2, 3), (1, 2, 3), (2, 3), (0, 1, "same"), (1, 2), (1, 2),
                                           (True, False), (7, 8))
        if case[0] % case[2] == 0 and case[1] % case[2] == 0]


GRID_UNITS = SIGNAL_GRID_UNITS  # what the grid may lose, and its measurement: core.error_budget


@pytest.mark.parametrize("label", SIGNAL_LABELS)
def test_fft_conv_pytorchs_1d_grid_through_nn_functional(label):
    rng = np.random.default_rng(7)
    checked = refused = 0
    for C, K, groups, kernel, padding, stride, dilation, bias, length in GRID:
        x = torch.tensor(rng.uniform(-1, 1, (2, C, length)), dtype=torch.float64)
        w = torch.tensor(rng.uniform(-1, 1, (K, C // groups, kernel)), dtype=torch.float64)
        b = torch.tensor(rng.uniform(-1, 1, K), dtype=torch.float64) if bias else None
        arguments = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        try:
            want = torch.nn.functional.conv1d(x, w, b, **arguments)
        except RuntimeError:  # torch refuses it ('same' with a stride): so must we, by name
            with pytest.raises(convbench.ConvError, match="padding='same' needs stride 1"):
                convbench.nn.functional.conv1d(x.float(), w.float(), None, algorithm=label, **arguments)
            refused += 1
            continue
        leaves = [t.float().requires_grad_() for t in (x, w, *([b] if bias else []))]
        got = convbench.nn.functional.conv1d(leaves[0], leaves[1], leaves[2] if bias else None, algorithm=label,
                                             **arguments)
        dy = torch.tensor(rng.uniform(-1, 1, want.shape))
        got.backward(dy.float())
        truth, sizes = truth_and_sizes(torch.nn.functional.conv1d, x, w, b, dy, **arguments)
        for result, exact, size in zip((got, *(leaf.grad for leaf in leaves)), truth, sizes):
            # in float32 rounding units of the sums' size (helpers.truth_and_sizes)
            assert (result.detach().double() - exact).norm() <= GRID_UNITS * EPS32 * size, (label, arguments)
        checked += 1
    assert checked == 480 and refused == 96  # the whole grid: what torch computes, and what it refuses


def test_conv1d_module_matches_torchs_and_its_gradcheck_passes_at_c_half():
    torch.manual_seed(0)
    ours = convbench.nn.Conv1d(4, 6, 9, padding="same", dilation=2, groups=2, algorithm="fft", compression=0.0)
    theirs = torch.nn.Conv1d(4, 6, 9, padding="same", dilation=2, groups=2)
    theirs.load_state_dict(ours.state_dict())
    x = torch.tensor(np.random.default_rng(2).uniform(-1, 1, (2, 4, 50)), dtype=torch.float32)
    assert relative_error(ours(x).detach().numpy(), theirs(x).detach().numpy()) < TOLERANCE
    assert "padding=same" in repr(ours) and "algorithm='fft'" in repr(ours)
    w = torch.tensor(np.random.default_rng(3).uniform(-1, 1, (3, 2, 5)), requires_grad=True)
    xs = torch.tensor(np.random.default_rng(4).uniform(-1, 1, (2, 2, 30)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: convbench.nn.functional.conv1d(a, b, padding=2, compression=0.5),
                                    (xs, w))


def test_the_dsp_peers_compute_the_same_correlation_and_refuse_what_they_cannot():
    from convbench.workloads.signal_peers import PEERS

    spec = SignalSpec(N=2, C=3, L=200, K=4, R=17)
    x, w, _ = problem(spec, 5)
    for name, peer in PEERS.items():
        assert relative_error(peer(spec)(x, w), oracle(spec)[0](x, w)) < TOLERANCE, name
        with pytest.raises(NotImplementedError, match="valid, stride-1"):
            peer(SignalSpec(N=1, C=1, L=50, K=1, R=3, padding=1))



def test_auto_picks_by_the_filter_length_and_computes_the_convolution():
    from convbench.core.selection import SIGNAL_FFT_TAPS_FROM

    short = SignalSpec(N=2, C=4, L=300, K=4, R=5)
    long_ = SignalSpec(N=2, C=4, L=300, K=4, R=SIGNAL_FFT_TAPS_FROM)
    assert convbench.plan(short, "auto").label == "torch"
    assert convbench.plan(long_, "auto").label == "fft overlap-save" and "taps" in convbench.plan(long_, "auto").choice
    assert convbench.plan(SignalSpec(N=1, C=4, L=300, K=4, R=50, stride=2), "auto").label == "torch"
    for spec in (short, long_):
        x, w, _ = problem(spec, 9)
        assert relative_error(convbench.plan(spec, "auto")(x, w), oracle(spec)[0](x, w)) < TOLERANCE
    with pytest.raises(convbench.ConvError, match="algorithm='auto' is exact"):
        convbench.plan(long_, "auto", compression=0.5)
    model = convbench.nn.convert(torch.nn.Sequential(torch.nn.Conv1d(4, 4, 50, padding="same")), algorithm="auto")
    signal = torch.tensor(np.random.default_rng(4).uniform(-1, 1, (2, 4, 300)), dtype=torch.float32)
    assert model(signal).shape == (2, 4, 300)


if __name__ == "__main__":  # python tests/test_signal.py DRAWS: each variant's worst rounding units
    import sys

    from hypothesis import HealthCheck

    draws = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    for label in SIGNAL_LABELS:
        worst = [0.0, 0.0, 0.0]

        @settings(max_examples=draws, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(spec=signal_specs(), seed=st.integers(0, 2**32 - 1))
        def one(spec, seed):
            x, w, dy = problem(spec, seed)
            for i, lost in enumerate(units(convbench.plan(spec, label), spec, x, w, dy)):
                worst[i] = max(worst[i], lost)
        one()
        print(label, [round(v, 3) for v in worst], flush=True)
