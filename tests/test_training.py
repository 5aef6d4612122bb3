"""The training step and its measurements, and `convbench accuracy` (the digits in miniature)."""
import numpy as np
import pytest

import convbench
from convbench import cli
from convbench.oracle import reference_backward_data, reference_backward_filter, reference_conv2d, relative_error
from convbench.targets import Target, gradient_of_output, measured_speedup
from convbench.training import PASSES, TrainingStep, pass_call
from helpers import random_problem

SPEC = convbench.ConvSpec(N=2, C=3, H=10, W=9, K=4, R=3, S=3, padding=1)


def test_a_training_step_runs_the_three_passes():
    x, w = random_problem(np.random.default_rng(0), SPEC)
    dy = gradient_of_output(SPEC)
    y, dx, dw = TrainingStep(convbench.plan(SPEC, "winograd F(4x4,3x3)"), dy)(x, w)
    assert relative_error(y, reference_conv2d(x, w, 1)) < 1e-4
    assert relative_error(dx, reference_backward_data(dy, w, SPEC.input_shape, 1)) < 1e-4
    assert relative_error(dw, reference_backward_filter(x, dy, SPEC.filter_shape, 1)) < 1e-4
    p = convbench.plan(SPEC, "direct")
    for name in PASSES:
        assert pass_call(p, name, x, w, dy)() is not None
    with pytest.raises(ValueError, match="pass must be one of"):
        pass_call(p, "sideways", x, w, dy)


def test_a_training_pass_ratio_times_the_same_pass_on_both_sides():
    target = Target(SPEC, "fft", "fft", 1.0, passes="backward_filter")
    assert 0.2 < measured_speedup(target, repeats=3) < 5  # the same work: a ratio near 1


def test_accuracy_trains_the_digits_and_draws_the_chart(tmp_path, capsys):
    pytest.importorskip("sklearn")
    assert cli.main(["accuracy", "--epochs", "1", "--compressions", "0", "0.9", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "torch.nn.Conv2d" in out and "convbench.nn.Conv2d(fft)" in out and "0.90" in out
    assert {p.name for p in tmp_path.iterdir()} == {"accuracy_vs_compression.png", "accuracy_vs_compression.svg"}


def test_at_c0_the_fft_network_learns_what_torchs_learns():
    pytest.importorskip("sklearn")
    from convbench.accuracy import train_and_test

    peer, ours = train_and_test(None, epochs=1), train_and_test(0.0, epochs=1)
    assert ours.achieved == 0.0 and peer.model == "torch" and ours.model == "fft"
    assert abs(ours.test_accuracy - peer.test_accuracy) <= 2 / 360  # the same weights, float32 rounding apart
    assert ours.test_accuracy > 0.5  # it learned something: 10 classes, chance is 0.1


@pytest.mark.parametrize("label", ["fft", "fft tile 16", "winograd F(4x4,3x3)", "winograd", "direct", "torch"])
def test_reuse_forward_takes_the_forwards_transforms(label):
    """With reuse_forward=True the gradients come from what the last forward call left in the plan:
    equal to recomputing after a forward on the same x and w, and visibly not recomputed otherwise."""
    rng = np.random.default_rng(6)
    x, w = random_problem(rng, SPEC)
    other_x, other_w = random_problem(rng, SPEC)
    dy = gradient_of_output(SPEC)
    p = convbench.plan(SPEC, label)
    p(x, w)
    np.testing.assert_allclose(p.backward_filter(x, dy, reuse_forward=True), p.backward_filter(x, dy), rtol=1e-5, atol=1e-6)
    p(x, w)
    np.testing.assert_allclose(p.backward_data(dy, w, reuse_forward=True), p.backward_data(dy, w), rtol=1e-5, atol=1e-6)
    if label.startswith(("fft", "winograd")):  # the staged plans keep their transforms
        p(other_x, other_w)
        stale = p.backward_filter(x, dy, reuse_forward=True)  # a broken promise: the forward saw other_x
        assert relative_error(stale, reference_backward_filter(other_x, dy, SPEC.filter_shape, 1)) < 1e-4
