"""The regression guard: stored per-machine ratios, and a comparison that fails on a real fall only."""
import json
import re

from convbench import cli
from helpers import ZEN4, ZEN5, plant_cpuinfo
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


def test_machine_id_tells_apart_chips_that_share_a_model_name(monkeypatch, tmp_path):
    """A Zen 4 and a Zen 5 both say 'AMD EPYC' with AVX-512; their family, model and stepping differ."""
    from convbench.core import machine

    count = machine.os.cpu_count()
    plant_cpuinfo(monkeypatch, tmp_path, ZEN4)
    zen4 = machine.machine_id()
    plant_cpuinfo(monkeypatch, tmp_path, ZEN5)
    zen5 = machine.machine_id()
    assert zen4 == f"amd-epyc-f25-m17-s1-avx512-{count}-cores" and zen5 == f"amd-epyc-f26-m2-s0-avx512-{count}-cores"
    assert machine.chip().describe() == f"AMD EPYC (AuthenticAMD family 26 model 2 stepping 0, avx512, {count} cores)"
    plant_cpuinfo(monkeypatch, tmp_path, ZEN4, flags="fpu sse2 avx avx2")  # the vector width too
    assert machine.machine_id() == f"amd-epyc-f25-m17-s1-avx2-{count}-cores"


def test_machine_id_without_a_cpuinfo_is_still_a_name(monkeypatch, tmp_path):
    from convbench.core import machine

    monkeypatch.setenv("CONVBENCH_CPUINFO", str(tmp_path / "absent"))
    assert re.fullmatch(r"[a-z0-9-]+-\d+-cores", machine.machine_id())
    plant_cpuinfo(monkeypatch, tmp_path, "model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nvendor_id\t: GenuineIntel\n",
                  flags="sse2")
    assert machine.machine_id().startswith("intel-r-xeon-r-cpu-2-20ghz-")


def test_saved_figures_carry_the_chip_and_a_calibration(tmp_path):
    path = guard.save_ratios({"a": 1.5}, store=tmp_path)
    stored = json.loads(path.read_text())
    assert stored["chip"] == guard.chip().fields()
    assert stored["calibration"]["copy_gbps"] > 0 and stored["calibration"]["sgemm_gflops"] > 0


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
