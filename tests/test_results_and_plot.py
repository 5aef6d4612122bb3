"""Reading asv results and drawing the charts from them."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from convbench.core.errors import ConvError
from convbench.interface import registry
from convbench.report.plot import crossover, plot_all
from convbench.report.results import load_results

ROOT = Path(__file__).resolve().parents[1]


def write_results(folder: Path):
    """A minimal asv results tree: one benchmark over two parameters, two runs of it."""
    name = "bench_x.X.time_conv"
    (folder / "m1").mkdir(parents=True)
    (folder / "benchmarks.json").write_text(json.dumps(
        {name: {"param_names": ["algorithm", "filter"], "unit": "seconds"}, "version": 2}))
    columns = ["result", "params", "version", "started_at", "duration"]
    for started, values in ((1, [1.0, 2.0, 3.0, None]), (2, [10.0, 20.0, 30.0, None])):
        result = [values, [["'direct'", "'fft'"], ["3", "7"]], "v", started, 1.0]
        (folder / "m1" / f"c{started}-env.json").write_text(json.dumps(
            {"commit_hash": f"c{started}", "date": started, "env_name": "env", "result_columns": columns,
             "results": {name: result}}))
    (folder / "m1" / "machine.json").write_text("{}")


def test_load_results_unrolls_parameters_and_keeps_the_newest_run(tmp_path):
    write_results(tmp_path)
    frame = load_results(tmp_path)
    assert len(frame) == 4 and set(frame.commit) == {"c2"}
    row = frame[(frame.algorithm == "fft") & (frame["filter"] == 3)]
    assert row.value.item() == 30.0
    assert np.isnan(frame[(frame.algorithm == "fft") & (frame["filter"] == 7)].value.item())  # n/a stays NaN
    assert len(load_results(tmp_path, latest_only=False)) == 8


def test_a_quick_run_updates_only_what_it_measured(tmp_path):
    write_results(tmp_path)
    name = "bench_x.X.time_conv"
    quick = [[100.0], [["'direct'"], ["3"]], "v", 3, 1.0]  # newer, one combination only
    (tmp_path / "m1" / "c3-env.json").write_text(json.dumps(
        {"commit_hash": "c3", "date": 3, "env_name": "env", "result_columns": ["result", "params", "version",
                                                                                "started_at", "duration"],
         "results": {name: quick}}))
    frame = load_results(tmp_path).set_index(["algorithm", "filter"])
    assert len(frame) == 4
    assert frame.loc[("direct", 3)].value == 100.0 and frame.loc[("direct", 3)].commit == "c3"
    assert frame.loc[("direct", 7)].value == 20.0 and frame.loc[("fft", 3)].value == 30.0  # the sweep's, kept


def test_load_results_says_when_there_is_nothing(tmp_path):
    (tmp_path / "benchmarks.json").write_text("{}")
    with pytest.raises(ConvError, match="convbench bench"):
        load_results(tmp_path)


@pytest.mark.parametrize("listing", [None, b'{"bench_x.X.time_conv": {"param_na', b"[1, 2]"])
def test_a_missing_or_cut_short_benchmark_list_is_one_line_and_exit_2(listing, tmp_path, capsys):
    from convbench.cli import main

    write_results(tmp_path)
    if listing is None:
        (tmp_path / "benchmarks.json").unlink()
    else:
        (tmp_path / "benchmarks.json").write_bytes(listing)
    assert main(["plot", "--results", str(tmp_path), "--out", str(tmp_path / "figures")]) == 2
    out = capsys.readouterr().out
    assert "benchmarks.json" in out and "Traceback" not in out and out.strip().count("\n") == 0


def test_results_without_the_parameters_a_chart_reads_skip_that_chart_in_one_line(tmp_path, capsys):
    write_results(tmp_path)  # one benchmark of two parameters, neither the charts' (backend, layer, ...)
    assert plot_all(tmp_path, tmp_path / "figures") == []
    out = capsys.readouterr().out
    assert "skipping the chart tiles: the results lack what it reads" in out and "Traceback" not in out


def test_crossover_is_where_fft_stays_faster():
    times = pd.DataFrame({"filter": [1, 3, 5, 7, 9] * 2, "algorithm": ["direct"] * 5 + ["fft"] * 5,
                          "value": [1, 2, 4, 8, 16, 3, 1, 5, 6, 7]})
    assert crossover(times, "fft", "direct") == 7  # fft wins at 3, loses at 5, wins from 7 on
    assert crossover(times, "direct", "fft") is None


def coloured_marks(path) -> int:
    """How many distinct saturated colours cover at least 0.05% of a chart each: the data's lines,
    bars and points (axes, grid and text are grey or black, the background white)."""
    import matplotlib.image

    pixels = matplotlib.image.imread(path)[..., :3].reshape(-1, 3)
    saturated = pixels[(pixels.max(axis=1) - pixels.min(axis=1)) > 0.25]
    colours, counts = np.unique(np.round(saturated * 8).astype(int), axis=0, return_counts=True)
    return int((counts >= 0.0005 * len(pixels)).sum())


def test_a_chart_without_data_is_caught(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_xlabel("filter size")
    fig.savefig(tmp_path / "empty.png")
    ax.plot([1, 2, 3], [1, 4, 9], color="tab:blue")
    ax.plot([1, 2, 3], [2, 3, 4], color="tab:orange")
    fig.savefig(tmp_path / "two.png")
    plt.close(fig)
    assert coloured_marks(tmp_path / "empty.png") == 0 and coloured_marks(tmp_path / "two.png") >= 2


def test_registry_knows_what_each_algorithm_supports():
    from convbench import ConvSpec
    three, five = ConvSpec(1, 1, 8, 8, 1, 3, 3), ConvSpec(1, 1, 8, 8, 1, 5, 5)
    assert registry.supports("winograd", "cpu", three) and not registry.supports("winograd", "cpu", five)
    assert registry.supports("fft", "cpu", five)
    assert not registry.supports("winograd", "cuda", five)


def test_model_chart_adds_up_count_times_time_with_torch_where_a_variant_cannot(tmp_path):
    from convbench.report.plot import chart_models, model_bars, model_layer_times

    layers = ["net/00 stem x1", "net/01 block.conv (+1) x2"]
    times = {("net/00 stem x1", "torch"): 1e-3, ("net/00 stem x1", "direct"): 3e-3,
             ("net/01 block.conv (+1) x2", "torch"): 2e-3, ("net/01 block.conv (+1) x2", "direct"): 1e-3,
             ("net/01 block.conv (+1) x2", "winograd"): 4e-3, ("net/00 stem x1", "winograd"): float("nan")}
    frame = pd.DataFrame([dict(machine="m", suite="Models", measure="time_conv", layer=layer, algorithm=algorithm,
                               value=value) for (layer, algorithm), value in times.items()])
    table = model_layer_times(frame)
    assert list(table.index.get_level_values("count")) == [1, 2]
    assert list(table.index.get_level_values("name")) == ["stem", "block.conv (+1)"]
    bars, own = model_bars(table.xs("net", level="model"))
    assert bars["torch"].sum() == pytest.approx(1 + 2 * 2)  # ms: count x time per layer
    assert bars["direct"].sum() == pytest.approx(3 + 2 * 1)
    # winograd cannot compute the stem: its total takes torch's 1 ms there, plus 2 x 4 ms
    assert bars["winograd"].sum() == pytest.approx(1 + 2 * 4) and list(own["winograd"]) == [False, True]
    assert bars["cherry-pick"].sum() == pytest.approx(1 + 2 * 1)  # torch's stem, direct's block
    paths = chart_models(frame, tmp_path)
    assert {p.name for p in paths} == {"model_convolutions.png", "model_convolutions.svg"}


def test_a_truncated_asv_result_file_is_reported_in_one_line_and_skipped(tmp_path, capsys):
    write_results(tmp_path)
    good = (tmp_path / "m1" / "c2-env.json").read_bytes()
    (tmp_path / "m1" / "c9-env.json").write_bytes(good[:len(good) // 2])  # what a run killed mid-write leaves
    frame = load_results(tmp_path)
    assert set(frame.commit) == {"c2"} and len(frame) == 4
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "skipping the unreadable asv result file" in out and "c9-env.json" in out


def test_convbench_plot_draws_every_chart_and_survives_truncated_result_and_store_files(
        charts_from_committed_results, tmp_path):
    """The committed results with one asv file cut short and a corpus store file cut short (conftest):
    `convbench plot` draws every chart, each showing data (the corpus's from the store's whole lines),
    and the report page lists them."""
    from convbench.report.page import write_report

    drawn = charts_from_committed_results
    assert drawn.status == 0
    out = drawn.printed
    assert "skipping the unreadable asv result file" in out and drawn.victim.name in out
    assert "cut short" in out and "Traceback" not in out
    charts = sorted(drawn.figures.glob("*.png"))
    names = {p.name for p in drawn.figures.iterdir()}
    for chart in ("time_vs_filter_size", "compression_time_workspace", "compression_error_energy", "gflops_per_layer",
                  "fft_or_winograd", "tile_error_time", "training_step_compression", "training_passes", "model_convolutions",
                  "gpu_layers_compression",  # from the committed GPU results
                  "corpus_winners", "corpus_speedups", "corpus_models", "corpus_machines"):  # the committed corpus store
        assert {f"{chart}.png", f"{chart}.svg"} <= names
    for path in charts:
        assert coloured_marks(path) >= 2 or path.name == "corpus_models.png", \
            f"{path.name} shows no data: fewer than 2 colours besides grey"
    page = write_report(tmp_path / "html", charts, "test").read_text()
    assert "corpus_speedups.png" in page and "time_vs_filter_size.png" in page


def test_the_main_job_refuses_a_machine_name_that_is_other_hardware(tmp_path):
    from convbench.core.errors import ConvError
    from convbench.report.bench import asv_machine_fields, asv_machine_name, check_machine_name

    (tmp_path / "vm").mkdir()
    (tmp_path / "vm" / "machine.json").write_text(json.dumps({"cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz",
                                                              "num_cpu": "2"}))
    with pytest.raises(ConvError, match="is another machine's"):
        check_machine_name(tmp_path, "vm")
    import os

    (tmp_path / "same").mkdir()
    (tmp_path / "same" / "machine.json").write_text(json.dumps({"machine": "same", **asv_machine_fields()}))
    check_machine_name(tmp_path, "same")  # this hardware: no error
    check_machine_name(tmp_path, "new")   # no machine.json yet
    (tmp_path / "named").mkdir()
    (tmp_path / "named" / "machine.json").write_text(json.dumps({"machine": "named", "version": 1}))
    check_machine_name(tmp_path, "named")  # a name alone says nothing of the hardware
    assert asv_machine_name().endswith(f"-{os.cpu_count()}-cores")


def test_the_main_job_refuses_the_folder_of_another_chip_of_the_same_model_name(tmp_path, monkeypatch):
    """A Zen 5 told to file into a Zen 4's folder (both 'AMD EPYC', AVX-512, 2 cores) is refused in one line
    before anything runs; without --machine it picks its own name."""
    from convbench.core.errors import ConvError
    from convbench.report import bench
    from helpers import ZEN4, ZEN5, plant_cpuinfo

    plant_cpuinfo(monkeypatch, tmp_path, ZEN4)
    zen4 = bench.asv_machine_name()
    (tmp_path / "results" / zen4).mkdir(parents=True)
    (tmp_path / "results" / zen4 / "machine.json").write_text(json.dumps({"machine": zen4, **bench.asv_machine_fields()}))
    plant_cpuinfo(monkeypatch, tmp_path, ZEN5)
    ran = []
    monkeypatch.setattr(bench, "_run", lambda *args, **kwargs: ran.append(args))
    monkeypatch.setattr(bench, "register_asv_machine", lambda *args: ran.append(args))
    with pytest.raises(ConvError) as refused:
        bench.main_job(quick=True, machine=zen4, results=str(tmp_path / "results"))
    message = str(refused.value)
    assert "\n" not in message and "another machine's" in message and "family '25', here '26'" in message
    assert ran == []  # refused before asv or the sweep wrote anything
    assert bench.asv_machine_name() != zen4
    bench.check_machine_name(tmp_path / "results", bench.asv_machine_name())  # its own name: a new folder


def test_the_main_job_registers_the_machine_with_its_hardware(tmp_path, monkeypatch):
    import os

    from convbench.core.machine import chip, cpu_model
    from convbench.report.bench import register_asv_machine

    monkeypatch.setenv("HOME", str(tmp_path))  # asv keeps its machines in ~/.asv-machine.json
    (tmp_path / ".asv-machine.json").write_text(json.dumps(  # an earlier registration, with a key no longer written
        {"this-hardware": {"machine": "this-hardware", "cpu": "AMD EPYC", "family": "25"}, "version": 1}))
    register_asv_machine("this-hardware", str(tmp_path / "results"))
    stored = json.loads((tmp_path / ".asv-machine.json").read_text())["this-hardware"]
    assert stored["machine"] == "this-hardware" and stored["num_cpu"] == str(os.cpu_count())
    # what check_machine_name compares, and results/<name>/machine.json holds: the chip inside asv's one `cpu` field
    assert stored["cpu"] == chip().cpu_text() and stored["cpu"].startswith(cpu_model())
    assert not {"vendor", "family", "model", "stepping", "isa"} & set(stored)  # no new selectors, none left over


def test_a_run_leaves_the_committed_machine_file_as_it_was(tmp_path, monkeypatch):
    """The kernel and the RAM a VM gets change between sessions on one chip: the folder's machine.json keeps
    its own, so asv's rewrite of it changes nothing."""
    from asv.machine import Machine

    from convbench.report.bench import asv_machine_fields, register_asv_machine

    monkeypatch.setenv("HOME", str(tmp_path))
    folder = tmp_path / "results" / "here"
    folder.mkdir(parents=True)
    committed = json.dumps({"arch": "x86_64", "machine": "here", "os": "Linux 1.0-old", "ram": "123",
                            **asv_machine_fields(), "version": 1}, indent=4, sort_keys=True)
    (folder / "machine.json").write_text(committed)
    register_asv_machine("here", str(tmp_path / "results"))
    Machine.load(machine_name="here").save(str(tmp_path / "results"))  # what `asv run` does
    assert (folder / "machine.json").read_text() == committed


def test_a_quick_run_keeps_the_full_list_of_benchmarks():
    from convbench.report.bench import listing_after_a_partial_run

    before = {"a.A.time_conv": {"code": "x", "param_names": ["n"], "params": [["1", "2", "3"]]},
              "b.B.track": {"code": "y", "param_names": ["n"], "params": [["1", "2"]], "setup_cache_key": "b:47"},
              "d.D.track": {"code": "w", "param_names": ["n"], "params": [["1", "2"]]}, "version": 2}
    after = {"a.A.time_conv": {"code": "x", "param_names": ["n"], "params": [["1"]]},
             "b.B.track": {"code": "y2", "param_names": ["n"], "params": [["2"]], "setup_cache_key": "b:48"},
             "c.C.new": {"code": "z", "param_names": ["n"], "params": [["1"]]},
             "d.D.track": {"code": "w", "param_names": ["n"], "params": [["5"]]}, "version": 2}
    kept = listing_after_a_partial_run(before, after)
    assert kept["a.A.time_conv"] == before["a.A.time_conv"]  # only the parameters differ: the full list's entry
    assert kept["b.B.track"] == {**after["b.B.track"], "params": [["1", "2"]]}  # edited: its code, the full values
    assert kept["c.C.new"] == after["c.C.new"] and kept["d.D.track"] == after["d.D.track"]  # new; new values
    assert kept["version"] == 2


def test_the_signal_chart_marks_where_fft_overtakes_conv1d(tmp_path):
    from convbench.report.plot import chart_signal

    rows = []
    for taps in (3, 64, 1024):
        for algorithm, seconds in (("fft", 1e-3), ("torch", 1e-6 * taps), ("direct", 2e-6 * taps)):
            rows.append(dict(machine="m", suite="Signal", measure="time_conv", algorithm=algorithm, length=16384,
                             filter=taps, channels=8, value=seconds))
    frame = pd.DataFrame(rows)
    assert crossover(frame, "fft", "torch") == 1024 and crossover(frame, "fft", "direct") == 1024
    paths = chart_signal(frame, tmp_path)
    assert {p.name for p in paths} == {"signal_time_vs_filter.png", "signal_time_vs_filter.svg"}
    assert chart_signal(frame[frame.suite == "nothing"], tmp_path) == []


@pytest.mark.parametrize("quick", [True, False])
def test_the_main_job_sweeps_the_corpus_with_the_peers_its_budget_allows(quick, tmp_path, monkeypatch):
    """The quick job's smoke tier: ours and the fast peers (oneDNN 2.6, NNPACK); the full job's: every CPU peer."""
    from convbench.corpus import sweep
    from convbench.interface import registry
    from convbench.report import bench

    asked = {}

    def sweep_corpus(tier, **options):
        asked.update(options, tier=tier)
        raise RuntimeError("stop here")

    monkeypatch.setattr(bench, "_run", lambda *args, **kwargs: None)
    monkeypatch.setattr(bench, "register_asv_machine", lambda machine, results: None)
    monkeypatch.setattr(sweep, "sweep_corpus", sweep_corpus)
    with pytest.raises(RuntimeError, match="stop here"):
        bench.main_job(quick, machine="m", results=str(tmp_path))
    assert asked["tier"] == "smoke" and asked["check"] is True
    expected = bench.QUICK_CORPUS_LABELS if quick else registry.SWEPT_LABELS
    assert tuple(asked["labels"]) == tuple(expected)
    assert set(registry.LABELS) <= set(asked["labels"]) and "nnpack ft16x16" in asked["labels"]
    assert ("scipy fftconvolve" in asked["labels"]) is not quick


@pytest.mark.parametrize("asked", [None, "cpu,cuda"])
def test_the_main_job_sweeps_only_the_backends_this_machine_runs(asked, tmp_path, monkeypatch):
    """Without a GPU the asv run gets CONVBENCH_BACKENDS=cpu (asv forks a process for each n/a cuda row
    too); a backends list the user set is passed on as it is."""
    from convbench.corpus import sweep
    from convbench.report import bench

    runs = []
    monkeypatch.setattr(bench, "_run", lambda title, command, announce, env=None: runs.append((command, env)))
    monkeypatch.setattr(bench, "register_asv_machine", lambda machine, results: None)
    monkeypatch.setattr(sweep, "sweep_corpus", lambda tier, **options: (_ for _ in ()).throw(RuntimeError("stop")))
    if asked:
        monkeypatch.setenv("CONVBENCH_BACKENDS", asked)
    else:
        monkeypatch.delenv("CONVBENCH_BACKENDS", raising=False)
    with pytest.raises(RuntimeError, match="stop"):
        bench.main_job(True, machine="m", results=str(tmp_path))
    (command, env), = [(command, env) for command, env in runs if "run" in command]
    assert env["CONVBENCH_BACKENDS"] == (asked or "cpu") and env["CONVBENCH_QUICK"] == "1"
    assert "--launch-method" not in command


@pytest.mark.parametrize("bench_regex", [None, "Layers"])
def test_the_full_main_job_sweeps_in_parts_that_each_save(bench_regex, tmp_path, monkeypatch):
    """The full sweep is one asv run per part after a discovery (a killed sweep keeps the parts it ran);
    `--bench` runs the part of the sweep it names as one asv run."""
    from convbench.corpus import sweep
    from convbench.report import bench, sweep_parts

    listing = {"version": 2, "s.A.a": {"params": [], "version": "1"}, "s.B.b": {"params": [], "version": "1"}}
    runs = []

    def run(title, command, announce, env=None):
        runs.append(command[command.index("run") + 1:])
        if sweep_parts.DISCOVER_ONLY in command:
            (tmp_path / "benchmarks.json").write_text(json.dumps(listing))

    monkeypatch.setattr(bench, "_run", run)
    monkeypatch.setattr(bench, "register_asv_machine", lambda machine, results: None)
    monkeypatch.setattr(sweep, "sweep_corpus", lambda tier, **options: (_ for _ in ()).throw(RuntimeError("stop")))
    with pytest.raises(RuntimeError, match="stop"):
        bench.main_job(False, machine="m", bench=bench_regex, results=str(tmp_path))
    selections = [[command[i + 1] for i, word in enumerate(command) if word == "--bench"] for command in runs]
    if bench_regex:
        assert selections == [[bench_regex]]
    else:
        assert selections == [[sweep_parts.DISCOVER_ONLY], [sweep_parts.selecting("s.A.a")],
                              [sweep_parts.selecting("s.B.b")]]
    assert all("--quick" not in command and "--set-commit-hash" in command for command in runs)
