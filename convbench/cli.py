"""The `convbench` command."""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from . import registry
from .api import plan
from .errors import ConvError
from .layers import ALL_LAYERS, LAYER_SETS, layer
from .measure import median_seconds, peak_rss_bytes, peak_traced_bytes, rss_peak_supported
from .oracle import reference_conv2d, relative_error
from .signals import random_problem
from .spec import ConvSpec

# piped or captured output gets wide tables rather than rich's 80-column default
console = Console() if sys.stdout.isatty() else Console(width=160)
TOLERANCE = 1e-5

CHECK_SPECS = (
    ConvSpec(N=2, C=3, H=9, W=11, K=4, R=3, S=3, padding=1),
    ConvSpec(N=1, C=4, H=17, W=12, K=3, R=3, S=3),
    ConvSpec(N=2, C=8, H=20, W=20, K=8, R=7, S=7, padding=3),
    ConvSpec(N=1, C=3, H=19, W=23, K=2, R=5, S=2, padding=(2, 1), stride=(2, 3)),
    ConvSpec(N=1, C=16, H=32, W=32, K=16, R=31, S=31, padding=15),
)


def cmd_list(args) -> int:
    table = Table(title="convbench algorithms")
    for column in ("algorithm", "backend", "available", "why not"):
        table.add_column(column)
    for a in registry.implementations():
        table.add_row(a.name, a.backend, "[green]yes[/]" if a.available else "[red]no[/]", a.reason)
    console.print(table)
    from convbench.algorithms.gpu import simulated
    if simulated():
        console.print("cuda runs on Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1): for correctness checks "
                      "on tiny shapes, not for timing")
    return 0


def cmd_check(args) -> int:
    from convbench.algorithms.gpu import simulated
    # the simulator runs a thread at a time in Python: these shapes would take hours there
    skipped_sim = simulated()
    available = [a for a in registry.implementations() if a.available and not (skipped_sim and a.backend == "cuda")]
    table = Table(title=f"relative L2 error against the float64 oracle (pass: <= {TOLERANCE:g})")
    for column in ("shape", "algorithm", "backend", "rel. L2 error", "max abs error", "result"):
        table.add_column(column)
    failures = 0
    for spec in CHECK_SPECS:
        x, w = random_problem(spec)
        reference = reference_conv2d(x, w, spec.padding, spec.stride)
        for a in available:
            if not registry.supports(a.name, a.backend, spec):
                table.add_row(str(spec), a.name, a.backend, "-", "-", "n/a (needs 3x3, stride 1)")
                continue
            result = plan(spec, a.name, a.backend)(x, w)
            error = relative_error(result, reference)
            ok = error <= TOLERANCE
            failures += not ok
            table.add_row(str(spec), a.name, a.backend, f"{error:.2e}", f"{np.abs(result - reference).max():.2e}",
                          "[green]ok[/]" if ok else "[red]FAIL[/]")
    console.print(table)
    missing = [f"{a.name}/{a.backend}: {a.reason}" for a in registry.implementations() if not a.available]
    if missing:
        console.print("not checked (unavailable here): " + "; ".join(missing))
    if skipped_sim:
        console.print("cuda not checked: Numba's CUDA simulator is on; tests/test_cuda.py checks it on tiny shapes")
    console.print(f"{failures} failure(s)" if failures else "all available algorithms agree with the oracle")
    return 1 if failures else 0


def cmd_sweep(args) -> int:
    """A small sweep: time (ratio to torch, measured in this run) and error per algorithm and layer."""
    chosen = [one for name in args.layers for one in LAYER_SETS[name]]
    table = Table(title="time per call (median) and error against the float64 oracle")
    for column in ("layer", "shape", "algorithm", "time [ms]", "x torch", "GFLOP/s", "rel. error"):
        table.add_column(column, justify="right" if column not in ("layer", "shape", "algorithm") else "left")
    for named in chosen:
        spec = named.spec
        x, w = random_problem(spec)
        reference = reference_conv2d(x, w, spec.padding, spec.stride)
        times = {}
        for name in ("torch", "direct", "winograd", "fft"):
            if not registry.supports(name, "cpu", spec):
                continue
            p = plan(spec, name, "cpu")
            times[name] = median_seconds(lambda: p(x, w), repeats=args.repeats)
            error = relative_error(p(x, w), reference)
            table.add_row(named.name, str(spec), name, f"{times[name] * 1e3:.1f}",
                          f"{times['torch'] / times[name]:.2f}", f"{spec.flops / times[name] / 1e9:.1f}", f"{error:.1e}")
        table.add_section()
    console.print(table)
    console.print("x torch > 1 means faster than torch.nn.functional.conv2d, timed in this run.")
    return 0


def cmd_stages(args) -> int:
    """Where the time and memory of one call go, stage by stage, at each compression."""
    spec = layer(args.layer).spec if args.layer else ConvSpec(*args.shape[:7], padding=args.shape[7], stride=args.shape[8])
    x, w = random_problem(spec)
    table = Table(title=f"{args.algorithm} stages on {spec} (median of {args.repeats})")
    for column in ("compression", "achieved", "stage", "time [ms]", "plan traced [MiB]", "call traced [MiB]", "call RSS rise [MiB]"):
        table.add_column(column, justify="right")
    for compression in args.compression:
        built = {}
        plan_bytes = peak_traced_bytes(lambda: built.setdefault("plan", plan(spec, args.algorithm, "cpu", compression)))
        p = built["plan"]
        p(x, w)  # first-call work (dispatch, lazy buffers) is not the steady state
        call_bytes = peak_traced_bytes(lambda: p(x, w))
        rss_bytes = peak_rss_bytes(lambda: p(x, w)) if rss_peak_supported() else float("nan")
        stages = p.stages(x, w)
        if len(stages) > 1:
            stages["call"] = lambda: p(x, w)
        for i, (name, run) in enumerate(stages.items()):
            memory = (f"{plan_bytes / 2**20:.1f}", f"{call_bytes / 2**20:.1f}", f"{rss_bytes / 2**20:.1f}") if i == 0 else ("", "", "")
            table.add_row(f"{compression:g}" if i == 0 else "", f"{p.compression:.3f}" if i == 0 else "", name,
                          f"{median_seconds(run, repeats=args.repeats) * 1e3:.2f}", *memory)
        table.add_section()
    console.print(table)
    return 0


def cmd_recommend(args) -> int:
    from .recommend import recommend

    N, C, H, W, K, R, S = args.shape
    spec = ConvSpec(N=N, C=C, H=H, W=W, K=K, R=R, S=S, padding=tuple(args.padding), stride=tuple(args.stride))
    best, times, measured = recommend(spec, args.backend, remeasure=args.remeasure)
    table = Table(title=f"{spec} on {args.backend} ({'measured now' if measured else 'from stored measurements'})")
    for column in ("algorithm", "time [ms]", "x fastest"):
        table.add_column(column, justify="right")
    for name, seconds in sorted(times.items(), key=lambda item: item[1]):
        table.add_row(name, f"{seconds * 1e3:.2f}", f"{seconds / times[best]:.2f}")
    console.print(table)
    console.print(f"recommended: [bold]{best}[/]")
    return 0


def cmd_targets(args) -> int:
    """Each speed target's ratio, timed alternately against its peer in this process."""
    from .registry import supports
    from .targets import GPU_RATIOS, INFERENCE, TARGETS, WORKSPACE_GOAL, compression_workspace_ratio, measured_speedup

    table = Table(title="speed targets: peer time / algorithm time, timed alternately (median of repeats)")
    for column in ("case", "goal", "measured", "met"):
        table.add_column(column, justify="left" if column == "case" else "right")
    wanted = lambda name: not args.only or args.only in name  # noqa: E731
    for name, target in TARGETS.items():
        if wanted(name):
            ratio = measured_speedup(target, args.repeats)
            table.add_row(name, f">= {target.goal:.2f}", f"{ratio:.2f}", "[green]yes[/]" if ratio >= target.goal else "[red]no[/]")
    for name, target in INFERENCE.items():
        if wanted(name):
            ratio = measured_speedup(target, args.repeats, inference=True)
            table.add_row(name + " (set_weights)", f"({target.goal:.2f} per call)", f"{ratio:.2f}", "-")
    name = "fft 7x7 workspace c=0.5 / c=0"
    if wanted(name):
        ratio = compression_workspace_ratio()
        table.add_row(name, f"<= {WORKSPACE_GOAL:.2f}", f"{ratio:.2f}", "[green]yes[/]" if ratio <= WORKSPACE_GOAL else "[red]no[/]")
    for name, target in GPU_RATIOS.items():
        if wanted(name) and supports("torch", "cuda", target.spec):  # a GPU with cuDNN only
            table.add_row(name, "-", f"{measured_speedup(target, args.repeats):.2f}", "-")
    console.print(table)
    return 0


def _step(title: str, command: list[str], env=None) -> None:
    console.rule(f"[bold]{title}")
    console.print("$ " + " ".join(command), style="dim")
    subprocess.run(command, check=True, env=env)


def _head_commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def cmd_bench(args) -> int:
    """The main job: asv run on this machine -> asv publish -> offline HTML UI -> charts."""
    asv = [sys.executable, "-m", "asv"]
    env = dict(os.environ, CONVBENCH_QUICK="1" if args.quick else "0")
    machine = args.machine or platform.node() or "this-machine"
    _step("1/5 register this machine with asv", [*asv, "machine", "--yes", "--machine", machine])
    run = [*asv, "run", "--python=same", "--set-commit-hash", _head_commit(), "--machine", machine]
    if args.quick:
        run.append("--quick")
    if registry.supports("torch", "cuda", ConvSpec(N=1, C=1, H=4, W=4, K=1, R=3, S=3)):
        run += ["--launch-method", "spawn"]  # a real GPU: CUDA does not survive asv's forkserver
    if args.bench:
        run += ["--bench", args.bench]
    _step(f"2/5 run the {'quick' if args.quick else 'full'} sweep on the working tree (results/{machine}/)", run, env)
    _step("3/5 publish the history as HTML", [*asv, "publish"])
    html = Path("results/html")
    _step("4/5 install the offline UI (asv-tachyon; the legacy page needs CDNs)",
          [sys.executable, "-m", "asv_tachyon", "install", str(html)])
    console.rule("[bold]5/5 draw the charts")
    args.machine = machine
    cmd_plot(args)
    console.rule("[bold]done")
    console.print(f"HTML:   {html / 'index.html'}  (serve it: `asv preview` or `python -m http.server -d {html}`)")
    console.print(f"charts: {Path(args.out)}/")
    return 0


def cmd_plot(args) -> int:
    from .plot import plot_all  # seaborn and matplotlib load only for this command

    paths = plot_all(args.results, args.out, machine=args.machine)
    for path in paths:
        console.print(f"wrote {path}")
    return 0 if paths else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="convbench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="algorithms x backends, available or why not").set_defaults(run=cmd_list)
    commands.add_parser("check", help="cross-check every available algorithm against the float64 oracle").set_defaults(run=cmd_check)
    sweep = commands.add_parser("sweep", help="time and error per algorithm on real layers")
    sweep.add_argument("--layers", nargs="+", choices=sorted(LAYER_SETS), default=["convnet"])
    sweep.add_argument("--repeats", type=int, default=3)
    sweep.set_defaults(run=cmd_sweep)
    stages = commands.add_parser("stages", help="time and memory of each stage of one plan")
    stages.add_argument("--algorithm", default="fft", choices=registry.ALGORITHMS)
    stages.add_argument("--layer", choices=sorted(ALL_LAYERS), help="a named layer (see convbench.layers)")
    stages.add_argument("--shape", type=int, nargs=9, metavar=("N", "C", "H", "W", "K", "R", "S", "PAD", "STRIDE"),
                        default=[8, 64, 56, 56, 64, 7, 7, 3, 1])
    stages.add_argument("--compression", type=float, nargs="+", default=[0.0, 0.5])
    stages.add_argument("--repeats", type=int, default=5)
    stages.set_defaults(run=cmd_stages)
    targets = commands.add_parser("targets", help="the speed issue's target ratios, measured now")
    targets.add_argument("--only", help="cases whose name contains this text")
    targets.add_argument("--repeats", type=int, default=5)
    targets.set_defaults(run=cmd_targets)
    rec = commands.add_parser("recommend", help="the fastest exact algorithm for a shape, measured once and stored")
    rec.add_argument("shape", type=int, nargs=7, metavar=("N", "C", "H", "W", "K", "R", "S"))
    rec.add_argument("--padding", type=int, nargs=2, default=[0, 0], metavar=("PH", "PW"))
    rec.add_argument("--stride", type=int, nargs=2, default=[1, 1], metavar=("SH", "SW"))
    rec.add_argument("--backend", default="cpu")
    rec.add_argument("--remeasure", action="store_true", help="measure again even if a result is stored")
    rec.set_defaults(run=cmd_recommend)
    bench = commands.add_parser("bench", help="the main job: asv sweep -> HTML -> charts")
    bench.add_argument("--quick", action="store_true", help="the quick subset, each benchmark run once (about a minute)")
    bench.add_argument("--machine", help="asv machine name (default: this host's name)")
    bench.add_argument("--bench", help="only benchmarks matching this regex")
    bench.add_argument("--results", default="results")
    bench.add_argument("--out", default="results/figures")
    bench.set_defaults(run=cmd_bench)
    plot = commands.add_parser("plot", help="seaborn charts from the stored asv results (no re-measuring)")
    plot.add_argument("--results", default="results")
    plot.add_argument("--out", default="results/figures")
    plot.add_argument("--machine", help="only this asv machine's results (default: all)")
    plot.set_defaults(run=cmd_plot)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ConvError as err:
        console.print(f"[red]error:[/] {err}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
