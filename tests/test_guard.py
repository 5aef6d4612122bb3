"""The regression guard: this tree against REF measured now in turns (a fall beyond the run's own noise
fails), and the per-machine record of the ratios."""
import json
import re

import pytest

from convbench import cli
from helpers import ZEN4, ZEN5, plant_cpuinfo
from convbench.measure import against_ref, guard
from convbench.measure import runs


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


def test_every_quick_case_is_a_known_target():
    assert set(guard.QUICK) <= set(runs.speedup_targets())


def rounds(*ratios):
    """Rounds of {case: ratio}: rounds(("a", 1.0, 1.1, 0.9)) is three rounds of case a."""
    count = len(ratios[0]) - 1
    return [{case: values[index] for case, *values in ratios} for index in range(count)]


QUIET = (("a", 1.00, 1.04, 0.97), ("b", 2.0, 2.1, 1.95), ("c", 0.50, 0.52, 0.49))


def test_an_unchanged_tree_passes_and_a_slower_one_fails():
    same = against_ref.changes(rounds(*QUIET), rounds(("a", 1.02, 0.98, 1.01), ("b", 1.97, 2.05, 2.0),
                                                      ("c", 0.51, 0.50, 0.49)))
    assert not any(row.fell for row in same)
    slower = against_ref.changes(rounds(*QUIET), rounds(("a", 0.70, 0.73, 0.69), ("b", 1.97, 2.05, 2.0),
                                                        ("c", 0.51, 0.50, 0.49)))
    verdicts = {row.case: row.fell for row in slower}
    assert verdicts == {"a": True, "b": False, "c": False}
    row = next(row for row in slower if row.case == "a")
    assert 0.69 < row.change < 0.73 and row.threshold == against_ref.FLOOR  # a quiet run tells 10% apart


def test_a_noisy_run_does_not_call_a_fall_it_cannot_tell_from_noise():
    """Round-to-round changes of 30% either way on b and c: a's 25% lower mean is within this run's noise."""
    ref = rounds(("a", 1.0, 1.0, 1.0), ("b", 2.0, 2.0, 2.0), ("c", 0.5, 0.5, 0.5))
    rows = against_ref.changes(ref, rounds(("a", 0.75, 0.95, 0.6), ("b", 2.8, 1.5, 2.4), ("c", 0.35, 0.65, 0.55)))
    a = next(row for row in rows if row.case == "a")
    assert a.change < 0.8 and max(a.paired) < 1  # slower in every round, but
    assert all(row.threshold > 0.3 for row in rows) and not any(row.fell for row in rows)


def test_one_round_where_the_tree_was_not_slower_is_not_a_fall():
    rows = against_ref.changes(rounds(*QUIET), rounds(("a", 0.70, 1.06, 0.69), *QUIET[1:]))
    assert not next(row for row in rows if row.case == "a").fell


def test_a_case_ref_cannot_measure_is_left_out():
    ref = rounds(*QUIET)
    for side in ref:
        side["c"] = None
    assert [row.case for row in against_ref.changes(ref, rounds(*QUIET))] == ["a", "b"]


def _fake_tree(root, ratio: float):
    """A checkout whose convbench answers cases a and b with `ratio`, refuses c as this CPU's peers can, and
    ends its process on case "crash" (what the guard's child imports); it prints as it imports and measures."""
    for package in ("convbench/measure", "convbench/core"):
        (root / package).mkdir(parents=True, exist_ok=True)
    (root / "algorithms").mkdir(exist_ok=True)
    for init in ("convbench", "convbench/measure", "convbench/core", "algorithms"):
        (root / init / "__init__.py").write_text("")
    (root / "convbench" / "__init__.py").write_text("print('convbench: a line of its own, then 2.5')\n")
    (root / "convbench" / "core" / "errors.py").write_text("class ConvError(ValueError):\n    pass\n")
    (root / "convbench" / "measure" / "runs.py").write_text(
        "def speedup_targets():\n    return {'a': 'a', 'b': 'b', 'c': 'c', 'crash': 'crash'}\n")
    (root / "convbench" / "measure" / "targets.py").write_text(
        "from convbench.core.errors import ConvError\n\n"
        "def measured_speedup(target, repeats):\n    print(0.1)\n    if target == 'c':\n"
        "        raise ConvError('no AVX-512')\n    if target == 'crash':\n        raise RuntimeError('out of memory')\n"
        f"    return {ratio}\n")


def test_each_side_runs_its_own_checkout_against_a_worktree_of_ref(tmp_path, monkeypatch):
    """A fake clone: REF (its commit) answers 2.0, the working tree, edited since, 1.4. The children import
    each side's convbench, not the installed one, and the worktree of REF is made once and kept."""
    import subprocess

    root = tmp_path / "clone"
    _fake_tree(root, 2.0)
    git = lambda *args: subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)  # noqa: E731
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "ref")
    _fake_tree(root, 1.4)  # this tree: uncommitted and slower
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(against_ref, "tree_root", lambda: root)
    side = against_ref.Side(root)
    side.ready()  # what the process prints besides its answers is not read as one
    assert [side.measure(case, 1) for case in ("a", "unknown", "c")] == [1.4, None, "n/a: no AVX-512"]
    with pytest.raises(against_ref.ConvError, match=r"failed \(exit 1\).*RuntimeError: out of memory"):
        side.measure("crash", 1)
    side.close()
    sha, rows, missing = against_ref.compare_with_ref("main", ["a", "b", "unknown", "c"], rounds=2, repeats=1,
                                                      probe=lambda: "shared L3")
    # each fell in two rounds, and again in two more; each round's pair in one placement
    assert [(row.case, row.ref, row.tree, row.fell, row.placements) for row in rows] == [
        ("a", (2.0,) * 4, (1.4,) * 4, True, ("shared L3",) * 4), ("b", (2.0,) * 4, (1.4,) * 4, True, ("shared L3",) * 4)]
    assert missing == {"unknown": "main does not measure it", "c": "no AVX-512"}  # c refused, not compared
    path, again = against_ref.worktree("main", root)
    assert again == sha and path.is_relative_to(tmp_path / "cache")
    with pytest.raises(against_ref.ConvError, match="ref must name a commit"):
        against_ref.worktree("no-such-branch", root)


def test_cli_compare_exit_codes(monkeypatch, capsys):
    def found(*tree):
        ref = rounds(*QUIET)
        return lambda name, cases, rounds, repeats, on_round: ("0" * 40, against_ref.changes(ref, tree), {})

    monkeypatch.setattr(against_ref, "compare_with_ref", found(*rounds(*QUIET)))
    assert cli.main(["targets", "--compare"]) == 0
    assert "no ratio fell" in capsys.readouterr().out
    monkeypatch.setattr(against_ref, "compare_with_ref",
                        found(*rounds(("a", 0.5, 0.52, 0.48), *QUIET[1:])))
    assert cli.main(["targets", "--compare", "main"]) == 1
    assert "1 ratio(s) fell" in capsys.readouterr().out


def test_cli_compare_only_guards_the_cases_it_names(monkeypatch, capsys):
    asked, unchanged = [], against_ref.changes(rounds(*QUIET), rounds(*QUIET))

    def found(name, cases, rounds, repeats, on_round):
        asked.append(cases)
        return "0" * 40, unchanged, {}

    monkeypatch.setattr(against_ref, "compare_with_ref", found)
    assert cli.main(["targets", "--compare", "--only", "F(4x4,3x3) resnet18 64@56"]) == 0
    assert asked[-1] and all("F(4x4,3x3) resnet18 64@56" in case for case in asked[-1])
    assert "winograd F(4x4,3x3) resnet18 64@56 vs torch" in asked[-1]
    assert cli.main(["targets", "--compare"]) == 0 and asked[-1] is None  # the quick subset
    assert cli.main(["targets", "--compare", "--only", "no such case"]) != 0
    assert "--only must be part of a ratio target's name" in capsys.readouterr().out
    asked.clear()
    assert cli.main(["targets", "--compare", "--save"]) != 0 and not asked  # refused before measuring
    assert "with --compare nothing is stored" in capsys.readouterr().out


def test_a_fall_is_measured_again_and_judged_on_both_sets(monkeypatch):
    """Four slow rounds of case a (a process's luck on a shared machine), then four even ones: a is
    measured again, alone, and judged on all eight rounds: not a fall. b held: measured once."""
    sets = iter([(rounds(("a", 2.0, 2.0, 2.0, 2.0), ("b", 1.0, 1.0, 1.0, 1.0)),
                  rounds(("a", 1.4, 1.4, 1.4, 1.4), ("b", 1.0, 1.02, 0.98, 1.0))),
                 (rounds(("a", 2.0, 2.0, 2.0, 2.0)), rounds(("a", 2.0, 2.04, 1.96, 2.0)))])
    asked = []

    def measured_in_turns(ref_root, root, cases, count, repeats, on_round=None, probe=None):
        asked.append(cases)
        ref, tree = next(sets)
        return ref, tree, [{case: "split" for case in cases}] * count

    monkeypatch.setattr(against_ref, "tree_root", lambda: "tree")
    monkeypatch.setattr(against_ref, "worktree", lambda ref, root: ("ref", "0" * 40))
    monkeypatch.setattr(against_ref, "_measured_in_turns", measured_in_turns)
    _, rows, _ = against_ref.compare_with_ref("main", ["a", "b"], rounds=4)
    assert asked == [["a", "b"], ["a"]]
    a, b = rows
    assert len(a.ref) == 8 and len(b.ref) == 4 and not a.fell and not b.fell
    assert a.placements == ("split",) * 8 and b.placements == ("split",) * 4


class _Side:
    """A side of the guard that answers each case with its next ratio, and keeps what it was asked."""

    def __init__(self, *ratios):
        self.ratios, self.asked = iter(ratios), []

    def measure(self, case, repeats):
        self.asked.append(case)
        return next(self.ratios)


def test_a_pair_is_measured_again_while_the_threads_moved_under_it():
    """The probe said split before the first pair and shared after it: both sides measure again, back to back,
    and the second pair (shared L3 before and after) is the one kept, filed as shared L3."""
    ref, tree = _Side(2.0, 1.6), _Side(1.0, 1.5)
    probes = iter(["split", "shared L3", "shared L3", "shared L3"])
    answers, where = against_ref.measured_pair([ref, tree], "a", 3, probe=lambda: next(probes))
    assert answers == [1.6, 1.5] and where == "shared L3"
    assert ref.asked == tree.asked == ["a", "a"]
    never = iter(["split", "shared L3"] * 3)
    answers, where = against_ref.measured_pair([_Side(2.0, 2.1, 2.2), _Side(1.0, 1.1, 1.2)], "a", 3,
                                               probe=lambda: next(never))
    assert answers == [2.2, 1.2] and where == "changed"  # three tries, the last kept


def test_the_guard_table_says_where_the_threads_sat(monkeypatch, capsys):
    ref, tree = rounds(*QUIET), rounds(*QUIET)
    placements = [{"a": "shared L3", "b": "split", "c": "shared L3"}, {"a": "split", "b": "split", "c": "shared L3"},
                  {"a": "shared L3", "b": "split", "c": "changed"}]
    monkeypatch.setattr(against_ref, "compare_with_ref", lambda name, cases, rounds, repeats, on_round: (
        "0" * 40, against_ref.changes(ref, tree, placements), {}))
    monkeypatch.setenv("COLUMNS", "250")
    assert cli.main(["targets", "--compare"]) == 0
    lines = {line.split()[1]: line for line in capsys.readouterr().out.splitlines() if line[2:4] in ("a ", "b ", "c ")}
    assert "2 shared L3, 1 split" in lines["a"] and "3 split" in lines["b"]
    assert "2 shared L3, 1 changed" in lines["c"]
