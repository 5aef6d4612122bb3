"""The training step and its measurements, and `convbench accuracy` (the digits in miniature)."""
import json

import numpy as np
import pytest

import convbench
from convbench import cli
from convbench.measure.targets import Target, gradient_of_output, measured_speedup
from convbench.workloads.training import PASSES, TrainingStep, pass_call
from convbench.workloads.random_inputs import random_problem
from error_budget import assert_matches_oracle, assert_within_budget, data_references, filter_references, forward_references

SPEC = convbench.ConvSpec(N=2, C=3, H=10, W=9, K=4, R=3, S=3, padding=1)


def test_a_training_step_runs_the_three_passes():
    x, w = random_problem(SPEC, np.random.default_rng(0))
    dy = gradient_of_output(SPEC)
    y, dx, dw = TrainingStep(convbench.plan(SPEC, "winograd F(4x4,3x3)"), dy)(x, w)
    label = "winograd F(4x4,3x3)"
    assert_matches_oracle(label, SPEC, x, w, y)
    assert_within_budget(label, "backward_data", dx, *data_references(SPEC, dy, w))
    assert_within_budget(label, "backward_filter", dw, *filter_references(SPEC, x, dy))
    p = convbench.plan(SPEC, "direct")
    references = {"forward": forward_references(SPEC, x, w), "backward_data": data_references(SPEC, dy, w),
                  "backward_filter": filter_references(SPEC, x, dy)}
    for name in PASSES:
        result = pass_call(p, name, x, w, dy)()
        results = result if name == "step" else (result,)
        which = list(references) if name == "step" else [name]
        assert len(results) == len(which)
        for got, one in zip(results, which):
            assert_within_budget("direct", one, got, *references[one], what=f"pass {name}")
    with pytest.raises(ValueError, match="pass must be one of"):
        pass_call(p, "sideways", x, w, dy)


def test_a_training_pass_ratio_times_the_same_pass_on_both_sides(monkeypatch):
    """Both sides of a pass's ratio run that pass, and only it, as often as each other."""
    from convbench.algorithms.fft.cpu import FFTCPU

    calls = []
    for name in ("__call__", "backward_data", "backward_filter"):
        original = getattr(FFTCPU, name)
        monkeypatch.setattr(FFTCPU, name, lambda self, *a, _f=original, _n=name, **k: calls.append((_n, self.compression)) or _f(self, *a, **k))
    target = Target(SPEC, "fft", "fft", 1.0, compression=0.5, passes="backward_filter")
    assert measured_speedup(target, repeats=3) > 0
    assert {name for name, _ in calls} == {"backward_filter"}
    by_side = [sum(1 for _, c in calls if (c > 0) == side) for side in (True, False)]
    assert by_side[0] == by_side[1] >= 3


def test_accuracy_trains_the_digits_and_draws_the_chart(tmp_path, capsys):
    pytest.importorskip("sklearn")
    charts, records = tmp_path / "charts", tmp_path / "records"
    assert cli.main(["accuracy", "--epochs", "1", "--compressions", "0", "0.9", "--out", str(charts),
                     "--records", str(records)]) == 0
    out = capsys.readouterr().out
    assert "torch.nn.Conv2d" in out and "convbench.nn.Conv2d(fft)" in out and "0.90" in out
    assert {p.name for p in charts.iterdir()} == {"accuracy_vs_compression.png", "accuracy_vs_compression.svg"}
    record = json.loads((records / "digits-accuracy.json").read_text())
    assert "1 epochs" in record["what"] and [row[1] for row in record["rows"]] == [None, 0.0, 0.9]
    assert "accuracy vs performance" in out.replace("\n", " ")
    memory, on_front = record["columns"].index("peak memory rise [MiB]"), record["columns"].index("on the rates' time-accuracy front")
    assert all(row[memory] is None or row[memory] >= 0 for row in record["rows"])
    assert any(row[on_front] for row in record["rows"][1:]) and not record["rows"][0][on_front]  # torch: a reference, not a rate


def _row(model, compression, accuracy, seconds, memory=None):
    from convbench.workloads.accuracy import AccuracyRow

    return AccuracyRow(model, compression, compression, accuracy, seconds, 1, memory)


def test_the_pareto_front_keeps_the_rows_no_other_beats_on_both():
    from convbench.workloads.accuracy import pareto_front

    exact, half, slow_and_worse, fastest = (_row("fft", 0.0, 0.95, 2.0, 30), _row("fft", 0.5, 0.90, 1.0, 20),
                                            _row("fft", 0.25, 0.89, 1.5, 10), _row("fft", 0.9, 0.50, 0.5, None))
    rows = [exact, half, slow_and_worse, fastest]
    assert pareto_front(rows) == [fastest, half, exact]  # 0.25 is slower and less accurate than 0.5
    # by memory the 0.25 row is the leanest, and the row without a measurement is left out
    assert pareto_front(rows, "peak_memory_bytes") == [slow_and_worse, half, exact]


def test_the_tuning_verdict_is_read_from_the_front_not_assumed():
    from convbench.workloads.accuracy import tuning_verdict

    torch_row = _row("torch", 0.0, 0.95, 1.0)
    trade_off = [torch_row, _row("fft", 0.0, 0.95, 2.0), _row("fft", 0.5, 0.90, 1.0), _row("fft", 0.9, 0.6, 0.6)]
    assert tuning_verdict(trade_off).startswith("holds") and "0, 0.5, 0.9" in tuning_verdict(trade_off)
    # planted: compression made training slower, so c = 0 beats every compressed point
    no_gain = [torch_row, _row("fft", 0.0, 0.95, 1.0), _row("fft", 0.5, 0.90, 1.2), _row("fft", 0.9, 0.6, 1.5)]
    assert tuning_verdict(no_gain).startswith("does not hold")


def test_at_c0_the_fft_network_learns_what_torchs_learns():
    pytest.importorskip("sklearn")
    from convbench.workloads.accuracy import train_and_test

    peer, ours = train_and_test(None, epochs=1), train_and_test(0.0, epochs=1)
    assert ours.achieved == 0.0 and peer.model == "torch" and ours.model == "fft"
    assert abs(ours.test_accuracy - peer.test_accuracy) <= 2 / 360  # the same weights, float32 rounding apart
    assert ours.test_accuracy > 0.5  # it learned something: 10 classes, chance is 0.1


@pytest.mark.parametrize("label", ["fft", "fft tile 16", "winograd F(4x4,3x3)", "winograd", "direct", "torch"])
def test_reuse_forward_takes_the_forwards_transforms_and_refuses_what_it_cannot_verify(label):
    """reuse_forward=True gives what recomputing gives after a forward on the same x and w; after a forward
    on other operands, or a pass that overwrote the buffers, the plan refuses instead of returning the
    gradient of another call (it used to: a test pinned that stale result)."""
    rng = np.random.default_rng(6)
    x, w = random_problem(SPEC, rng)
    other_x, other_w = random_problem(SPEC, rng)
    dy = gradient_of_output(SPEC)
    p = convbench.plan(SPEC, label)
    fresh_dw, fresh_dx = p.backward_filter(x, dy), p.backward_data(dy, w)
    p(x, w)
    np.testing.assert_allclose(p.backward_filter(x, dy, reuse_forward=True), fresh_dw, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(p.backward_data(dy, w, reuse_forward=True), fresh_dx, rtol=1e-6, atol=1e-7)
    p(other_x, other_w)
    with pytest.raises(convbench.ConvError, match="last forward call was on another x"):
        p.backward_filter(x, dy, reuse_forward=True)
    with pytest.raises(convbench.ConvError, match="last forward call was on another w"):
        p.backward_data(dy, w, reuse_forward=True)
    p(x, w)
    p.backward_filter(other_x, dy)  # transforms other_x into the plan's buffers
    with pytest.raises(convbench.ConvError, match="no forward call whose buffers it still holds"):
        p.backward_filter(x, dy, reuse_forward=True)
    with pytest.raises(convbench.ConvError, match="no forward call"):
        convbench.plan(SPEC, label).backward_data(dy, w, reuse_forward=True)


def test_a_plan_rebuilt_for_the_data_gradient_keeps_its_options():
    """WinogradCPU(spec, tile=4).backward_data runs F(4x4): the plan keeps what it was built with
    (it used to read options that only api.plan attached, and ran F(2x2))."""
    from convbench.algorithms.winograd.cpu import WinogradCPU

    p = WinogradCPU(SPEC, tile=4)
    assert p.options == {"tile": 4}
    dy = gradient_of_output(SPEC)
    x, w = random_problem(SPEC, np.random.default_rng(1))
    p.backward_data(dy, w)
    assert p._data_gradient[1].tile == 4 and p._data_gradient[1].options == {"tile": 4}
