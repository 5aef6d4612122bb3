"""The convbench command: list, check (and that it can fail), stages, sweep."""
import numpy as np
import pytest

from convbench import cli


def test_list_says_why_cuda_is_unavailable(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "winograd" in out and "no CUDA GPU" in out


def test_check_passes_on_the_real_algorithms(capsys):
    assert cli.main(["check"]) == 0
    assert "FAIL" not in capsys.readouterr().out


def test_check_fails_when_an_algorithm_is_wrong(monkeypatch, capsys):
    real_plan = cli.plan

    def broken_plan(spec, name, backend, *args, **kwargs):
        p = real_plan(spec, name, backend, *args, **kwargs)
        if name == "winograd":
            return lambda x, w: p(x, w) * np.float32(1.001)  # a 0.1% error: far above float32 rounding
        return p

    monkeypatch.setattr(cli, "plan", broken_plan)
    assert cli.main(["check"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_stages_reports_each_fft_stage(capsys):
    assert cli.main(["stages", "--shape", "1", "4", "16", "16", "4", "5", "5", "2", "1",
                     "--compression", "0", "0.5", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for stage in ("filter transform", "input transform", "contraction", "output transform"):
        assert stage in out


def test_bad_arguments_exit_with_a_message(capsys):
    assert cli.main(["stages", "--shape", "1", "4", "16", "16", "4", "5", "5", "2", "1", "--compression", "1.5"]) == 2
    assert "compression" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["stages", "--layer", "no-such-layer"])
