"""The convbench command: list, check (and that it can fail), stages, sweep."""
import json

import numpy as np
import pytest

import convbench
from convbench import cli
from convbench.interface import registry
from convbench.measure import runs


def test_list_shows_every_algorithm_and_backend(capsys):
    # why cuda is unavailable without a GPU: tests/test_cuda.py, in a process without the simulator
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for word in (*registry.ALGORITHMS, *registry.BACKENDS):
        assert word in out


def test_check_passes_on_the_real_algorithms(capsys):
    assert cli.main(["check"]) == 0
    assert "FAIL" not in capsys.readouterr().out


def test_check_fails_when_an_algorithm_is_wrong(monkeypatch, capsys):
    real_plan = runs.plan

    def broken_plan(spec, name, backend, *args, **kwargs):
        p = real_plan(spec, name, backend, *args, **kwargs)
        if name == "winograd":
            return lambda x, w: p(x, w) * np.float32(1.001)  # a 0.1% error: far above float32 rounding
        return p

    monkeypatch.setattr(runs, "plan", broken_plan)
    assert cli.main(["check"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_stages_reports_each_fft_stage(capsys):
    assert cli.main(["stages", "--shape", "1", "4", "16", "16", "4", "5", "5", "2", "1",
                     "--compression", "0", "0.5", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for stage in ("filter transform", "input transform", "contraction", "output transform"):
        assert stage in out


def test_stages_reports_each_stage_of_a_1d_fft_with_its_bound(capsys):
    assert cli.main(["stages", "--signal", "1", "2", "2048", "2", "64", "--compression", "0", "0.5",
                     "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "2048" in out
    for stage in ("filter transform", "input transform", "contraction", "output transform", "sum of stages"):
        assert stage in out
    assert "bound = max(" in out
    assert cli.main(["stages", "--signal", "1", "2", "2048", "2", "64", "--peer", "nnpack"]) == 2
    assert "--peer" in capsys.readouterr().out


def test_bad_arguments_exit_with_a_message(capsys):
    with pytest.raises(SystemExit) as ended:  # refused by the command line itself, in one line
        cli.main(["stages", "--shape", "1", "4", "16", "16", "4", "5", "5", "2", "1", "--compression", "1.5"])
    assert ended.value.code == 2 and "--compression: expected a number in [0, 1)" in capsys.readouterr().err
    assert cli.main(["stages", "--shape", "1", "4", "16", "16", "4", "5", "5", "2", "1", "--algorithm", "winograd"]) == 2
    assert "winograd" in capsys.readouterr().out  # a ConvError: one line, exit 2
    with pytest.raises(SystemExit):
        cli.main(["stages", "--layer", "no-such-layer"])


def test_recommend_measures_once_then_answers_from_the_store(tmp_path, monkeypatch, capsys):
    from convbench.measure import recommend

    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    calls = []
    real = recommend.measure_all
    monkeypatch.setattr(recommend, "measure_all", lambda *a, **k: calls.append(a) or real(*a, **k))
    argv = ["recommend", "1", "4", "12", "12", "4", "3", "3", "--padding", "1", "1"]
    assert cli.main(argv) == 0
    first = capsys.readouterr().out
    assert "measured now" in first
    assert "time [ms]" in first  # the unit survives rich's markup
    stored = json.loads((tmp_path / "recommend.json").read_text())
    (times,) = stored.values()
    assert set(times) == set(registry.LABELS) and all(t > 0 for t in times.values())
    fastest = sorted(times, key=times.get)[0]
    assert f"recommended: {fastest}" in first
    assert cli.main(argv) == 0
    assert "from stored measurements" in capsys.readouterr().out
    assert len(calls) == 1


def test_recommend_picks_the_smallest_measured_time(tmp_path, monkeypatch):
    from convbench.measure import recommend

    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    fake = {"direct": 3e-3, "winograd": 2e-3, "fft": 5e-4, "torch": 1e-3}
    monkeypatch.setattr(recommend, "measure_all", lambda *a, **k: dict(fake))
    best, times, measured = recommend.recommend(convbench.ConvSpec(1, 4, 12, 12, 4, 3, 3, padding=1))
    assert (best, times, measured) == ("fft", fake, True)


def test_targets_prints_each_chosen_ratio(capsys):
    assert cli.main(["targets", "--only", "fft 7x7 c=0.5", "--repeats", "1", "--no-fail"]) == 0
    out = capsys.readouterr().out
    assert "fft 7x7 c=0.5 vs c=0" in out and ">= 1.67" in out
    assert "winograd" not in out


def test_targets_exits_non_zero_when_a_goal_is_missed(monkeypatch, capsys):
    rows = [runs.TargetRow("a met goal", ">= 1.00", 1.2, True), runs.TargetRow("a missed goal", ">= 2.00", 1.5, False),
            runs.TargetRow("no goal", "-", 0.3, None)]
    monkeypatch.setattr(runs, "targets", lambda only, repeats: rows)
    assert cli.main(["targets"]) == 1
    assert "1 goal(s) missed" in capsys.readouterr().out
    assert cli.main(["targets", "--no-fail"]) == 0
    monkeypatch.setattr(runs, "targets", lambda only, repeats: rows[:1] + rows[2:])
    assert cli.main(["targets"]) == 0


def test_the_loops_are_library_functions():
    """What the CLI prints, a notebook gets as data."""
    rows, unchecked = runs.check(runs.CHECK_SPECS[:2])
    available_peers = {a.name for a in registry.implementations(peers=True) if a.available and a.backend == "cpu"
                       and a.name in registry.PEER_VARIANTS}
    assert {row.algorithm for row in rows} == set(registry.LABELS) | available_peers
    assert all(row.ok for row in rows if row.error is not None) and isinstance(unchecked, list)
    spec = convbench.ConvSpec(N=1, C=4, H=16, W=16, K=4, R=5, S=5, padding=2)
    stages = runs.stages(spec, "fft", (0.0, 0.5), repeats=1)
    assert [row.stage for row in stages[:6]] == ["filter transform", "input transform", "contraction",
                                                  "output transform", "call", "sum of stages"]
    assert stages[6].achieved > 0.4 and all(row.seconds > 0 for row in stages)
    assert stages[5].seconds == pytest.approx(sum(row.seconds for row in stages[:4]))


def test_check_judges_by_the_budgets_the_tests_use(monkeypatch):
    """One definition of correct: shrinking a variant's budget in core.error_budget fails `check` for it alone."""
    from convbench.core import error_budget

    spec = runs.CHECK_SPECS[0]
    rows, _ = runs.check(specs=(spec,))
    fft = [row for row in rows if row.algorithm == "fft" and row.backend == "cpu"]
    assert fft and all(row.ok and row.units is not None and row.allowed == error_budget.budget("fft") for row in fft)
    monkeypatch.setitem(error_budget.MEASURED_WORST, ("fft", "forward"), 0.0)
    rows, _ = runs.check(specs=(spec,))
    failed = {row.algorithm for row in rows if row.ok is False}
    assert failed == {"fft"}
