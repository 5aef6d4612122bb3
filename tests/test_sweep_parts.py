"""The full sweep runs in parts that each save, and a killed sweep resumes where it stopped."""
import json
import math
import re
import sys

import pytest

from convbench.report import sweep_parts

MACHINE, COMMIT = "m", "0123456789abcdef0123456789abcdef01234567"


def listing(**benchmarks):
    """asv's listing: name -> (params, version, setup_cache_key)."""
    return {"version": 2, **{name: {"name": name, "params": params, "param_names": [f"p{i}" for i in range(len(params))],
                                    "version": version, "setup_cache_key": cache}
                             for name, (params, version, cache) in benchmarks.items()}}


def store(results, bench_listing, name, values, params=None, version=None):
    """File one benchmark's values as asv does: merged into the commit's result file."""
    from asv.results import Results
    from asv.runner import BenchmarkResult

    path = sweep_parts.result_file(results, MACHINE, COMMIT)
    env_name = path.name[len(COMMIT[:8]) + 1:-len(".json")]
    stored = Results({"machine": MACHINE, "python": "3.11"}, {}, COMMIT, 0, "3.11", env_name, {})
    stored.load_data(str(results))
    benchmark = dict(bench_listing[name])
    benchmark["params"] = params if params is not None else benchmark["params"]
    benchmark["version"] = version or benchmark["version"]
    stored.add_result(benchmark, BenchmarkResult(result=values, samples=[None if v is None else [v] for v in values], number=[1] * len(values),
                                                 errcode=0, stderr="", profile=None))
    stored.save(str(results))


def test_a_part_is_one_benchmark_or_the_benchmarks_that_share_a_setup_cache():
    found = sweep_parts.parts(listing(**{"s.B.track_b": ([], "1", "s:10"), "s.A.time_a": ([], "1", None),
                                         "s.B.track_c": ([], "1", "s:10"), "s.C.time_d": ([], "1", "s:20")}))
    assert found == [["s.A.time_a"], ["s.B.track_b", "s.B.track_c"], ["s.C.time_d"]]


def test_a_part_selects_every_parameter_combination_of_its_benchmark_and_no_neighbour():
    selection = re.compile(sweep_parts.selecting("s.A.time_f"))
    assert selection.search("s.A.time_f") and selection.search("s.A.time_f('fft', 3)")
    assert not selection.search("s.A.time_forward('fft', 3)") and not selection.search("xs.A.time_f")


def test_only_a_benchmark_stored_whole_at_its_version_is_complete(tmp_path):
    """n/a combinations (NaN) count as measured; a failed one (None), a quick run's fewer parameters and
    an older version of the benchmark do not."""
    known = listing(**{name: ([["1", "2"], ["'a'", "'b'"]], "v2", None)
                       for name in ("s.A.whole", "s.A.failed", "s.A.quick", "s.A.older", "s.A.absent")})
    store(tmp_path, known, "s.A.whole", [1.0, math.nan, 2.0, 3.0])
    store(tmp_path, known, "s.A.failed", [1.0, None, 2.0, 3.0])
    store(tmp_path, known, "s.A.quick", [1.0], params=[["1"], ["'a'"]])
    store(tmp_path, known, "s.A.older", [1.0, 1.0, 2.0, 3.0], version="v1")
    assert sweep_parts.complete(sweep_parts.result_file(tmp_path, MACHINE, COMMIT), known) == {"s.A.whole"}


def test_an_unreadable_result_file_is_reported_in_one_line_and_measured_again(tmp_path, capsys):
    path = sweep_parts.result_file(tmp_path, MACHINE, COMMIT)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert sweep_parts.complete(path, listing(**{"s.A.a": ([], "1", None)})) == set()
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1 and str(path) in out and "measuring all again" in out


def test_a_killed_full_sweep_resumes_with_the_parts_it_had_not_finished(tmp_path):
    """The fake asv discovers five benchmarks and measures each part it is asked for, filing it as asv
    does; the first sweep is killed during its third part. The second runs only the third part onwards,
    and at its end every benchmark is complete."""
    known = listing(**{"s.A.a": ([["1", "2"]], "1", None), "s.B.b": ([], "1", "s:1"), "s.B.c": ([], "1", "s:1"),
                       "s.C.d": ([["1"]], "1", None), "s.D.e": ([["1", "2"]], "1", None)})
    asked = []

    def asv(kill_at=None):
        def runner(title, command):
            selection = [command[i + 1] for i, word in enumerate(command) if word == "--bench"]
            if selection == [sweep_parts.DISCOVER_ONLY]:
                (tmp_path / "benchmarks.json").write_text(json.dumps(known))
                return
            names = [name for name in known if name != "version"
                     and any(re.search(regex, name) for regex in selection)]
            asked.append(names)
            if len(asked) == kill_at:
                raise KeyboardInterrupt  # killed before asv saved this part
            for name in names:
                store(tmp_path, known, name, [0.5] * max(1, math.prod(len(p) for p in known[name]["params"])))
        return runner

    run = [sys.executable, "-m", "asv", "run", "--machine", MACHINE, "--set-commit-hash", COMMIT]
    with pytest.raises(KeyboardInterrupt):
        sweep_parts.run_in_parts(run, tmp_path, MACHINE, COMMIT, runner=asv(kill_at=3))
    assert asked == [["s.A.a"], ["s.B.b", "s.B.c"], ["s.C.d"]]
    asked.clear()
    ran = sweep_parts.run_in_parts(run, tmp_path, MACHINE, COMMIT, runner=asv())
    assert ran == asked == [["s.C.d"], ["s.D.e"]]
    path = sweep_parts.result_file(tmp_path, MACHINE, COMMIT)
    assert sweep_parts.complete(path, known) == {name for name in known if name != "version"}
    assert sweep_parts.run_in_parts(run, tmp_path, MACHINE, COMMIT, runner=asv()) == []
