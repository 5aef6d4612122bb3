"""The sweep's log of where the threads sat around each timed benchmark (convbench.measure.placement_log):
whole lines from two writers, a cut line skipped, a case's processes combined, and asv's own runner
calling the probes around time_conv under the names and parameter texts its results use."""
import itertools
import json
import sys
import threading
from pathlib import Path

from convbench.measure import placement, placement_log

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from suites import common  # noqa: E402


def test_two_writers_interleave_whole_lines(tmp_path):
    path = tmp_path / "placements" / "m" / "abcdef12.jsonl"

    def write(name):
        for index in range(300):
            placement_log.append(path, f"bench.{name}.time_conv", [repr(index)], placement.SHARED, placement.SPLIT)

    writers = [threading.Thread(target=write, args=(name,)) for name in ("A", "B")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 600 and all(json.loads(line)["after"] == placement.SPLIT for line in lines)
    assert len(placement_log.placements(path)) == 600


def test_a_case_is_filed_under_the_placement_of_more_than_half_of_its_samples(tmp_path, capsys):
    path = tmp_path / "log.jsonl"
    shared, split = (placement.SHARED,) * 2, (placement.SPLIT,) * 2
    moved = (placement.SPLIT, placement.SHARED)
    for params, samples in ((["'x'", "1"], [shared, shared, split]), (["'x'", "2"], [split, shared]),
                            (["'y'", "1"], [moved, moved, split]), (["'y'", "2"], [split, split, moved])):
        for before, after in samples:
            placement_log.append(path, "s.A.time_conv", params, before, after)
    with path.open("a") as log:
        log.write('{"benchmark": "s.A.time_conv", "par')  # what a killed run leaves
    found = placement_log.placements(path)
    assert found == {("s.A.time_conv", ("'x'", "1")): placement.SHARED,
                     ("s.A.time_conv", ("'x'", "2")): placement.CHANGED,  # half is not more than half
                     ("s.A.time_conv", ("'y'", "1")): placement.CHANGED,  # the placement moved during two
                     ("s.A.time_conv", ("'y'", "2")): placement.SPLIT}
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "1 unreadable line" in out and str(path) in out
    assert placement_log.counts(path) == {placement.SHARED: 1, placement.CHANGED: 2, placement.SPLIT: 1}
    assert placement_log.placements(tmp_path / "none.jsonl") == {}


def test_asv_runs_the_probes_around_each_sample_of_time_conv_under_its_own_names(tmp_path, monkeypatch):
    """asv's runner, as it times one parameter combination: the class's setup, time_conv's own, a sample,
    time_conv's teardown, again for each sample. From the second sample on the placement is probed before
    the warm-up and after the sample, and each line names the benchmark and its parameters as asv's
    listing does. Without the log's variable, and for peakmem_, nothing is probed (nor on the GPU's rows,
    which the suites' setup leaves out)."""
    from asv_runner.discovery import _get_benchmark
    from suites import bench_filter_size

    listing = json.loads((Path(__file__).resolve().parents[1] / "results" / "benchmarks.json").read_text())
    probes = iter([placement.SPLIT, placement.SHARED, placement.SHARED, placement.SHARED])
    monkeypatch.setattr(placement, "placement", lambda: next(probes))
    log = tmp_path / "log.jsonl"
    suite = bench_filter_size.FilterSize
    benchmarks = {name: _get_benchmark(name, bench_filter_size, suite, getattr(suite, name))
                  for name in ("time_conv", "peakmem_conv")}
    combinations = list(itertools.product(*benchmarks["time_conv"].params))  # asv's texts of the parameters
    cpu = ("'direct'", "'cpu'", "32", "3")

    def samples(benchmark, combination, count):
        """What asv's process for one combination does (each a fresh process: nothing marked yet)."""
        common._probed.clear()
        benchmark.set_param_idx(combinations.index(combination))
        benchmark._redo_setup_next = False
        skipped = benchmark.do_setup()
        for _ in range(count if not skipped else 0):
            benchmark.redo_setup()  # before each sample: teardown and setup, except before the first
            benchmark.func()
        benchmark.do_teardown()
        return skipped

    monkeypatch.delenv(placement_log.LOG_ENV, raising=False)
    assert not samples(benchmarks["time_conv"], cpu, 2) and not log.exists()
    monkeypatch.setenv(placement_log.LOG_ENV, str(log))
    benchmark = benchmarks["time_conv"]
    assert not samples(benchmark, cpu, 3)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["before"], line["after"]) for line in lines] == [(placement.SPLIT, placement.SHARED),
                                                                   (placement.SHARED, placement.SHARED)]
    assert all(line["benchmark"] == benchmark.name == "bench_filter_size.FilterSize.time_conv" for line in lines)
    assert all(line["params"] == list(cpu) for line in lines)
    assert all(text in choices for text, choices in zip(cpu, listing[benchmark.name]["params"]))
    assert not samples(benchmarks["peakmem_conv"], cpu, 2)
    assert len(log.read_text().splitlines()) == 2


def test_the_suites_page_says_where_the_threads_sat_in_the_newest_sweep(tmp_path):
    from convbench.report import findings

    older, newer = "0123456789" * 4, "abcdef0123" * 4
    placement_log.append(placement_log.log_path(tmp_path, "m", older), "s.A.time_conv", ["1"], placement.SPLIT,
                         placement.SPLIT)
    assert "1 split" in findings._placement_text(tmp_path, "m", [newer, older])  # the newer sweep kept no log
    for params, where in ((["1"], placement.SHARED), (["2"], placement.SHARED), (["3"], placement.SPLIT)):
        placement_log.append(placement_log.log_path(tmp_path, "m", newer), "s.A.time_conv", params, where, where)
    text = findings._placement_text(tmp_path, "m", [newer, older])
    assert "commit abcdef01" in text and "2 shared L3, 1 split" in text
    assert findings._placement_text(tmp_path, "other machine", [newer]) == ""


def test_every_timed_benchmark_files_its_samples_by_placement():
    """A time_ benchmark added without the hooks would leave the sweep's verdicts on it unfiled."""
    import importlib
    import inspect

    timed = []
    for path in sorted((Path(__file__).resolve().parents[1] / "suites").glob("bench_*.py")):
        module = importlib.import_module(f"suites.{path.stem}")
        for cls in vars(module).values():
            if inspect.isclass(cls) and cls.__module__ == module.__name__:
                for name in (name for name in dir(cls) if name.startswith("time_")):
                    timed.append(f"{path.stem}.{cls.__name__}.{name}")
                    method = getattr(cls, name)
                    assert method.teardown is common.placement_after, timed[-1]
                    assert "placement_before_warm_up" in inspect.getsource(cls.setup), timed[-1]
    assert "bench_layers.Layers.time_conv" in timed and "bench_training.TrainingPasses.time_step" in timed
