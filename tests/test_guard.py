"""The regression guard: stored per-machine ratios, and a comparison that fails on a real fall only."""
import json
import re

from convbench import cli
from convbench.measure import guard
from convbench.measure import runs


def test_a_ratio_that_fell_fails_and_one_that_held_passes(tmp_path):
    guard.save_ratios({"fast": 2.0, "steady": 1.0}, store=tmp_path)
    calls = []

    def measure(case):
        calls.append(case)
        return {"fast": 1.4, "steady": 0.9}[case]  # 1.4 < 0.75 * 2.0; 0.9 >= 0.75 * 1.0

    rows = {row.case: row for row in guard.compare(measure, ["fast", "steady"], store=tmp_path)}
    assert rows["fast"].fell and not rows["steady"].fell
    assert calls.count("fast") == 2 and calls.count("steady") == 1  # a fall is measured twice


def test_one_slow_run_does_not_fail_a_change(tmp_path):
    guard.save_ratios({"case": 1.0}, store=tmp_path)
    readings = iter([0.5, 0.95])  # a descheduled first run, then the real figure
    (row,) = guard.compare(lambda case: next(readings), ["case"], store=tmp_path)
    assert not row.fell and row.now == 0.95


def test_a_case_with_no_stored_figure_is_not_a_fall(tmp_path):
    (row,) = guard.compare(lambda case: 0.1, ["unseen"], store=tmp_path)
    assert row.stored is None and not row.fell and row.change is None


def test_save_merges_with_what_was_stored(tmp_path):
    guard.save_ratios({"a": 1.5}, store=tmp_path)
    path = guard.save_ratios({"b": 0.5}, store=tmp_path)
    assert guard.stored_ratios(store=tmp_path) == {"a": 1.5, "b": 0.5}
    stored = json.loads(path.read_text())
    assert stored["machine"] == guard.machine_id() and path.name == f"{guard.machine_id()}.json"


def test_a_truncated_store_is_reported_in_one_line_and_skipped(tmp_path, capsys):
    path = guard.save_ratios({"a": 1.5, "b": 0.5}, store=tmp_path)
    path.write_text(path.read_text()[:20])  # what a run killed mid-write would leave without the rename
    assert guard.stored_ratios(store=tmp_path) == {}
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "unreadable" in out and str(path) in out


def test_machine_id_names_the_hardware_not_the_host():
    assert re.fullmatch(r"[a-z0-9-]+-\d+-cores", guard.machine_id())


def test_machine_id_tells_apart_cpus_of_one_name_by_their_vector_instructions(monkeypatch, tmp_path):
    """A Zen 3 and a Zen 4 both say 'AMD EPYC' (sgemm at about 110 and 330 GFLOP/s)."""
    import builtins

    from convbench.core import machine

    real_open = builtins.open

    def cpuinfo(flags):
        path = tmp_path / f"cpuinfo-{len(flags)}"
        path.write_text(f"model name\t: AMD EPYC\nflags\t\t: fpu sse2 {flags}\n")
        return lambda name, *args, **kwargs: real_open(path if name == "/proc/cpuinfo" else name, *args, **kwargs)

    names = {}
    for flags in ("avx avx2 avx512f avx512bw", "avx avx2", "sse4_2"):
        monkeypatch.setattr(builtins, "open", cpuinfo(flags))
        names[flags] = machine.machine_id()
    count = machine.os.cpu_count()
    assert names == {"avx avx2 avx512f avx512bw": f"amd-epyc-avx512-{count}-cores",
                     "avx avx2": f"amd-epyc-avx2-{count}-cores", "sse4_2": f"amd-epyc-{count}-cores"}


def test_cli_compare_exit_codes(monkeypatch, capsys):
    def rows(*readings):
        return lambda repeats, store: [guard.Comparison(f"case {i}", stored, now) for i, (stored, now) in
                                       enumerate(readings)]

    monkeypatch.setattr(runs, "compare_targets", rows((1.0, 0.9), (2.0, 2.1)))
    assert cli.main(["targets", "--compare"]) == 0
    monkeypatch.setattr(runs, "compare_targets", rows((1.0, 0.9), (2.0, 1.0)))
    assert cli.main(["targets", "--compare"]) == 1
    assert "1 ratio(s) fell" in capsys.readouterr().out
    monkeypatch.setattr(runs, "compare_targets", rows((None, 0.9)))
    assert cli.main(["targets", "--compare"]) == 2
    assert "--save" in capsys.readouterr().out


def test_every_quick_case_is_a_known_target():
    assert set(guard.QUICK) <= set(runs.speedup_targets())
