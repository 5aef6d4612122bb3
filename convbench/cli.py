"""The `convbench` command."""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from convbench.interface import registry
from convbench.measure import runs
from convbench.core.errors import ConvError
from convbench.core.interrupt import exit_on_interrupt
from convbench.measure.measurement_lock import measuring
from convbench.workloads.layers import ALL_LAYERS, LAYER_SETS, layer
from convbench.core.signal import SignalSpec
from convbench.core.spec import ConvSpec

# piped or captured output gets wide tables rather than rich's 80-column default
console = Console() if sys.stdout.isatty() else Console(width=200)


def _table(title: str, columns, right=()) -> Table:
    # escaped: rich reads "[ms]" in "time [ms]" as a style tag and drops the unit
    table = Table(title=escape(title))
    for column in columns:
        table.add_column(escape(column), justify="right" if column in right else "left")
    return table


def cmd_list(args) -> int:
    table = _table("convbench algorithms", ("algorithm", "backend", "available", "why not"))
    for a in registry.implementations(peers=True):
        table.add_row(a.name, a.backend, "[green]yes[/]" if a.available else "[red]no[/]", a.reason)
    console.print(table)
    from convbench.algorithms.gpu import simulated
    if simulated():
        console.print("cuda runs on Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1): for correctness checks "
                      "on tiny shapes, not for timing")
    return 0


def cmd_check(args) -> int:
    rows, unchecked = runs.check()
    table = _table("against the float64 oracle, each within what convbench.core.error_budget allows it: rounding "
                   "units for ours on the CPU (the tests' budget), the relative L2 error on real layers otherwise",
                   ("shape", "algorithm", "backend", "pass", "rel. L2 error", "rounding units", "allowed", "result"))
    for row in rows:
        if row.error is None:
            table.add_row(str(row.spec), row.algorithm, row.backend, row.direction, "-", "-", "-",
                          f"n/a ({row.why_not})")
        else:
            allowed = f"{row.allowed:.3g} units" if row.units is not None else f"{row.allowed:.2g} rel."
            table.add_row(str(row.spec), row.algorithm, row.backend, row.direction, f"{row.error:.2e}",
                          "-" if row.units is None else f"{row.units:.2f}", allowed,
                          "[green]ok[/]" if row.ok else "[red]FAIL[/]")
    console.print(table)
    if unchecked:
        console.print("not checked: " + "; ".join(unchecked))
    failures = sum(row.ok is False for row in rows)
    console.print(f"{failures} failure(s)" if failures else "all available algorithms agree with the oracle")
    return 1 if failures else 0


def _model_layers(args):
    """The unique convolutions of --model for --input, with --batch as N."""
    from convbench.workloads.models import model_layers

    shape = list(args.input)
    if args.batch:
        shape[0] = args.batch
    return model_layers(args.model, shape), tuple(shape)


def _progress(total: int, what: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console, transient=True)
    return progress, progress.add_task(what, total=total)


def _ms(seconds) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.3g}"


def cmd_model_sweep(args) -> int:
    layers, shape = _model_layers(args)
    labels = args.algorithms or registry.LABELS
    progress, task = _progress(len(layers), f"timing {len(layers)} unique convolutions of {args.model}")
    with progress:
        rows = runs.model_sweep(layers, labels, args.repeats, inference=args.inference,
                                on_layer=lambda row: progress.update(task, advance=1, description=row.layer.name))
    totals = runs.model_totals(rows)
    shown = list(totals.seconds)
    mode = "inference, filters fixed by set_weights" if args.inference else "filters passed in every call"
    per_layer = _table(f"{args.model}, input {shape} ({mode}): time per call [ms], median of {args.repeats}, "
                       f"'-': cannot compute it", ("layer", "count", "shape", *shown, "winner", "x torch"),
                       right=("count", *shown, "x torch"))
    for row in rows:
        per_layer.add_row(row.layer.name, str(row.layer.count), str(row.layer.spec),
                          *(_ms(row.seconds.get(label)) for label in shown), row.winner,
                          f"{row.seconds['torch'] / row.seconds[row.winner]:.2f}")
    console.print(per_layer)
    model = _table(f"{args.model}: one forward pass's {sum(r.layer.count for r in rows)} convolutions "
                   f"({len(rows)} unique), count x time per layer",
                   ("algorithm", "total [ms]", "x torch", "layers computed"), right=("total [ms]", "x torch"))
    for label in shown:
        own = totals.own_layers[label]
        model.add_row(label, _ms(totals.seconds[label]), f"{totals.vs_torch[label]:.2f}",
                      f"{own} of {len(rows)}" + ("" if own == len(rows) else " (torch's time on the rest)"))
    model.add_section()
    model.add_row("[bold]cherry-pick[/] (best per layer)", _ms(totals.cherry_pick), f"{totals.cherry_pick_vs_torch:.2f}",
                  f"{len(rows)} of {len(rows)}")
    console.print(model)
    console.print(f"cherry-picking the fastest variant per layer: {totals.cherry_pick_vs_torch:.2f}x torch's total "
                  f"(x torch > 1 is faster; all timed in this run)")
    records = runs.model_records(args.model, shape, rows, totals, args.inference)
    if args.csv:
        runs.write_csv(records["layers"], args.csv)
        console.print(f"wrote {args.csv}")
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
        console.print(f"wrote {args.json}")
    return 0


def cmd_corpus_sweep(args) -> int:
    from convbench.corpus import sweep

    shard = sweep.parse_shard(args.shard)
    labels = args.algorithms or registry.SWEPT_LABELS
    layers = sweep.tier_layers(args.corpus, shard, args.sample)
    runner = None
    if args.ray:
        from convbench.corpus.cluster import RayRunner

        runner = RayRunner(args.ray, threads=args.threads)
        console.print(f"Ray cluster at {args.ray}: {runner.slots} measuring slot(s)")
    progress, task = _progress(len(layers), f"corpus tier {args.corpus}: {len(layers)} layers")
    with progress:
        result = sweep.sweep_corpus(args.corpus, shard, labels, args.batch or 1, args.check, args.repeats, args.sample,
                                    args.store, tag=args.tag, runner=runner,
                                    on_layer=lambda record, todo: progress.update(task, advance=1,
                                                                                  description=record["layer"]))
    console.print(f"{result.measured} layers measured, {result.skipped} already in "
                  + ", ".join(str(path) for path in result.paths))
    _print_answers(result.records, f"corpus tier {args.corpus} in {result.path.name}")
    if args.check:
        failures = result.failures
        checked = sum(1 for r in result.records for v in r["variants"].values() if "ok" in v)
        if failures:
            table = _table(f"{len(failures)} of {checked} checked outputs outside their tolerance",
                           ("layer", "variant", "rel. error", "tolerance"), right=("rel. error", "tolerance"))
            for layer_id, label, error, tolerance in failures:
                table.add_row(layer_id, label, f"{error:.2e}", f"{tolerance:.1e}")
            console.print(table)
            return 1
        console.print(f"check: all {checked} outputs within their variant's tolerance of the float64 oracle")
    return 0


def _print_answers(records, title: str) -> None:
    from convbench.corpus import answers

    found = answers.answer(records)
    table = _table(f"{title}: {found.layers} layers", ("variant", "wins (by occurrence)", "wins (layers)",
                   "median x torch", "layers run"), right=("wins (by occurrence)", "wins (layers)", "median x torch",
                                                           "layers run"))
    for label in (label for label in registry.SWEPT_LABELS if label == "torch" or label in found.speedups):
        median = found.median_speedup(label)
        table.add_row(label, f"{100 * found.wins.get(label, 0):.1f}%", f"{100 * found.wins_unweighted.get(label, 0):.1f}%",
                      "-" if label == "torch" else (f"{median:.2f}" if median else "-"),
                      str(found.layers if label == "torch" else len(found.speedups.get(label, []))))
    console.print(table)
    families = _table(f"{title}: which algorithm wins, by its best implementation (ours or a peer's)",
                      ("algorithm", "wins (by occurrence)"), right=("wins (by occurrence)",))
    for family, share in sorted(found.family_wins.items(), key=lambda item: -item[1]):
        families.add_row(family, f"{100 * share:.1f}%")
    console.print(families)
    if found.models:
        ratios = sorted(torch_total / best for _, torch_total, best, _ in found.models)
        console.print(f"per model ({len(ratios)} models with a measured layer): the cherry-pick's total is "
                      f"{statistics.median(ratios):.2f}x torch's at the median, {ratios[-1]:.2f}x at best "
                      f"(x torch > 1 is faster)")


def cmd_corpus(args) -> int:
    from convbench.corpus import answers, table

    if args.action == "build":
        from convbench.corpus import build

        progress, task = _progress(len(build.zoo()), "models of timm and torchvision")
        with progress:
            records = build.extract_all(on_model=lambda record, todo: progress.update(
                task, advance=1, description=f"{record['source']}/{record['name']}"))
        meta = build.assemble(records)
        console.print(f"corpus: {meta['layers']} unique layers from {meta['models']} models ({meta['failed']} failed), "
                      f"sha256 {meta['sha256'][:16]}, in {table.DATA}")
        return 0
    if args.action == "show":
        meta = table.metadata()
        console.print(f"corpus {meta['sha256'][:16]} (verified: {table.verify()[:16]}), versions {meta['versions']}")
        tiers = _table("tiers", ("tier", "layers"), right=("layers",))
        for name, count in meta["tiers"].items():
            tiers.add_row(name, str(count))
        console.print(tiers)
        odd = [row for row in table.layers() if not table.expressible(row)]
        listed = _table(f"{len(odd)} layers convbench cannot express", ("layer", "shape", "why not", "models"),
                        right=("models",))
        for row in odd[:args.limit]:
            listed.add_row(row["layer"], f"{row['C']}x{row['H']}x{row['W']} -> {row['K']}, {row['R']}x{row['S']} "
                           f"stride {row['stride_h']}", row["why_not"], row["models"])
        console.print(listed)
        return 0
    records = answers.load(args.store, args.machine)
    if not records:
        raise ConvError(f"no corpus records for machine {args.machine or 'this machine'!r} under {args.store}: "
                        f"run `convbench sweep --corpus smoke`")
    _print_answers(records, f"corpus store {args.store}" + (f", machine {args.machine}" if args.machine else ""))
    return 0


def cmd_sweep(args) -> int:
    if (args.ray or args.threads) and not args.corpus:
        raise ConvError("--ray and --threads distribute a corpus sweep: give --corpus TIER too")
    if args.corpus:
        return cmd_corpus_sweep(args)
    if args.model:
        return cmd_model_sweep(args)
    table = _table("time per call (median) and error against the float64 oracle",
                   ("layer", "shape", "algorithm", "time [ms]", "x torch", "GFLOP/s", "rel. error"),
                   right=("time [ms]", "x torch", "GFLOP/s", "rel. error"))
    last = None
    for row in runs.sweep(args.layers, args.repeats):
        if last is not None and row.layer != last:
            table.add_section()
        last = row.layer
        table.add_row(row.layer, str(row.spec), row.algorithm, f"{row.seconds * 1e3:.1f}", f"{row.vs_torch:.2f}",
                      f"{row.gflops:.1f}", f"{row.error:.1e}")
    console.print(table)
    console.print("x torch > 1 means faster than torch.nn.functional.conv2d, timed in this run.")
    return 0


def _layer_spec(args) -> ConvSpec:
    """The convolution a --layer NAME or --shape N C H W K R S PAD STRIDE names."""
    return layer(args.layer).spec if args.layer else ConvSpec(*args.shape[:7], padding=args.shape[7], stride=args.shape[8])


def cmd_stages(args) -> int:
    from convbench.measure.roofline import measured_ceilings
    from convbench.algorithms import blas

    if args.signal and args.peer:
        raise ConvError("--peer nnpack: NNPACK's phases are of 2-D convolutions; expected no --peer with --signal")
    spec = SignalSpec(*args.signal) if args.signal else _layer_spec(args)
    columns = ("compression", "achieved", "stage", "time [ms]", "moved [MB]", "GFLOP", "bound [ms]", "of bound",
               "plan traced [MiB]", "call traced [MiB]", "call RSS rise [MiB]")
    table = _table(f"{args.algorithm} stages on {spec} (median of {args.repeats}, timed in turns)", columns,
                   right=columns)
    rows = runs.stages(spec, args.algorithm, args.compression, args.repeats)
    last = None
    for row in rows:
        first = row.compression != last
        if first and last is not None:
            table.add_section()
        last = row.compression
        memory = (f"{row.plan_traced_bytes / 2**20:.1f}", f"{row.call_traced_bytes / 2**20:.1f}",
                  f"{row.call_rss_bytes / 2**20:.1f}") if first else ("", "", "")
        roofline = ("-",) * 4 if row.bound_seconds is None else (
            f"{row.work_bytes / 1e6:.1f}", f"{row.work_flops / 1e9:.3f}", f"{row.bound_seconds * 1e3:.2f}",
            f"{row.of_bound:.2f}")
        table.add_row(f"{row.compression:g}" if first else "", f"{row.achieved:.3f}" if first else "", row.stage,
                      f"{row.seconds * 1e3:.2f}", *roofline, *memory)
    console.print(table)
    if args.peer:
        label, phases = runs.nnpack_stages(spec, args.algorithm, args.repeats)
        ours = {row.stage: row.seconds for row in rows if row.compression == rows[0].compression}
        beside = _table(f"{args.algorithm} beside {label}, stage by stage (NNPACK's nnp_profile, median of "
                        f"{args.repeats} calls)", ("stage", "ours [ms]", "nnpack [ms]", "ours / nnpack"),
                        right=("ours [ms]", "nnpack [ms]", "ours / nnpack"))
        for stage, seconds in phases.items():
            mine = ours.get(stage)
            beside.add_row(stage, _ms(mine), _ms(seconds), f"{mine / seconds:.2f}" if mine and seconds else "-")
        console.print(beside)
    for compression, ratio in runs.call_over_stages(rows).items():
        console.print(f"c={compression:g}: call / sum of stages = {ratio:.2f}")
    if any(row.bound_seconds is not None for row in rows):
        ceilings = measured_ceilings()
        console.print(f"bound = max(bytes / {ceilings.bytes_per_second / 1e9:.1f} GB/s copy, "
                      f"flops / {ceilings.flops_per_second / 1e9:.0f} GFLOP/s fp32 FMA peak), both measured "
                      f"here now (torch's sgemm reaches {ceilings.sgemm_flops_per_second / 1e9:.0f}, our GEMMs' "
                      f"engine, {blas.engine()}, {ceilings.engine_sgemm_flops_per_second / 1e9:.0f}); bytes and "
                      "flops are counted from the shapes (a bound, not a measurement)")
    return 0


def cmd_interference(args) -> int:
    spec = _layer_spec(args)
    columns = (f"it after {args.against}", f"{args.against} after it")
    table = _table(f"thread pools and caches: a call right after the other side's / right after itself, on {spec}",
                   ("algorithm", *columns), right=columns)
    for name, found in runs.interference(spec, args.algorithms, args.repeats, args.against).items():
        table.add_row(name, f"{found['ours after peer']:.2f}", f"{found['peer after ours']:.2f}")
    console.print(table)
    console.print("1.00: the other side's call left nothing behind that slows this one (median of "
                  f"{args.repeats} rounds, the four orders in turns)")
    return 0


def cmd_model_recommend(args) -> int:
    from convbench.measure.recommend import recommend

    layers, shape = _model_layers(args)
    table = _table(f"{args.model}, input {shape}: the fastest exact variant per layer, stored for algorithm='auto'",
                   ("layer", "count", "shape", "recommended", "time [ms]", "x torch", "source"),
                   right=("count", "time [ms]", "x torch"))
    progress, task = _progress(len(layers), f"measuring {len(layers)} unique convolutions of {args.model}")
    with progress:
        for found in layers:
            best, times, measured = recommend(found.spec, args.backend, remeasure=args.remeasure)
            progress.update(task, advance=1, description=found.name)
            table.add_row(found.name, str(found.count), str(found.spec), best, _ms(times[best]),
                          f"{times['torch'] / times[best]:.2f}" if "torch" in times else "-",
                          "measured now" if measured else "stored")
    console.print(table)
    console.print("plan(spec, 'auto') now picks these on this machine (convbench.measure.recommend's store)")
    return 0


def cmd_recommend(args) -> int:
    from convbench.measure.recommend import recommend

    if args.model:
        return cmd_model_recommend(args)
    if len(args.shape) != 7:
        raise ConvError(f"recommend needs a shape N C H W K R S (7 ints) or --model; got {len(args.shape)} ints")
    N, C, H, W, K, R, S = args.shape
    spec = ConvSpec(N=N, C=C, H=H, W=W, K=K, R=R, S=S, padding=tuple(args.padding), stride=tuple(args.stride),
                    dilation=tuple(args.dilation), groups=args.groups)
    best, times, measured = recommend(spec, args.backend, remeasure=args.remeasure)
    console.print(f"{spec} on {args.backend} ({'measured now' if measured else 'from stored measurements'})")
    table = _table("", ("algorithm", "time [ms]", "x fastest"), right=("algorithm", "time [ms]", "x fastest"))
    for name, seconds in sorted(times.items(), key=lambda item: item[1]):
        table.add_row(name, f"{seconds * 1e3:.2f}", f"{seconds / times[best]:.2f}")
    console.print(table)
    console.print(f"recommended: [bold]{best}[/]")
    return 0


def cmd_calibrate(args) -> int:
    from convbench.measure import calibrate

    if args.check:
        return _check_calibration(args)
    progress, task = _progress(None, "calibrating")
    with progress:
        record = calibrate.calibrate(args.repeats, report=lambda line: progress.update(task, description=line))
    path = calibrate.write(record, folder=args.out)
    from convbench.interface.machine_thresholds import threshold_text

    table = _table(f"the auto rule's thresholds on {record['machine']}", ("threshold", "shipped", "here", "measured on"),
                   right=("shipped", "here"))
    for name, value in record["thresholds"].items():
        table.add_row(name, threshold_text(record["shipped"][name]), threshold_text(value),
                      record["ladders"].get(name) or record["fitted"].get(name, ""))
    console.print(table)
    _print_check(record["check"], "the layers it was derived from")
    console.print(f"written: {path} (algorithm='auto' reads it on this machine; `convbench calibrate --check` "
                  f"measures the layers again)")
    return 0


def _check_calibration(args) -> int:
    from convbench.interface.machine_thresholds import calibration_file
    from convbench.measure import calibrate

    path = calibration_file(folder=args.out)
    if not path.exists():
        raise ConvError(f"--check needs this machine's calibration, {path}; run `convbench calibrate` first")
    record = json.loads(path.read_text())
    progress, task = _progress(len(record["rungs"]), "measuring the calibration's layers again")
    with progress:
        found = calibrate.check_again(record, args.repeats, report=lambda line: progress.update(
            task, advance=1, description=line))
    return 0 if _print_check(found, f"a new measurement of {path}'s layers") else 1


def _print_check(found: dict, what: str) -> bool:
    """Print the check's verdict; True when the calibrated rule was within the target on every layer."""
    from convbench.interface.machine_thresholds import check_summary

    summary, target = check_summary(found), found["target"]
    console.print(f"auto, calibrated: within {target}x of the fastest exact variant on {summary.within} of "
                  f"{summary.layers} layers ({what}; worst {summary.worst:.2f}x); with the shipped thresholds: "
                  f"{summary.shipped_within} of {summary.layers}")
    for row in summary.missed:
        console.print(f"[red]beyond {target}x[/] {row[2]}: {row[5]} {row[6]}x, fastest {row[3]}")
    return not summary.missed


def cmd_targets(args) -> int:
    if args.compare:
        return cmd_targets_compare(args)
    table = _table("speed targets: peer time / algorithm time, timed alternately (median of repeats)",
                   ("case", "goal", "measured", "met", "threads"), right=("goal", "measured", "met"))
    rows = runs.targets(args.only, args.repeats or 5)
    for row in rows:
        met = "-" if row.met is None else "[green]yes[/]" if row.met else "[red]no[/]"
        table.add_row(row.name, row.goal, f"{row.measured:.2f}" if not row.why_not else "n/a", met, row.placement)
    console.print(table)
    for row in (row for row in rows if row.why_not):
        console.print(f"n/a {row.name}: {row.why_not}")
    console.print("threads: the placement each ratio was measured in (`convbench placement`): 'shared L3', "
                  "'split' (the threads on two core complexes), or 'changed' under every measurement")
    if args.save:
        from convbench.measure import guard

        saved = [row for row in rows if row.name in runs.speedup_targets() and not row.why_not]
        path = guard.save_ratios({row.name: row.measured for row in saved}, store=args.store,
                                 placements={row.name: row.placement for row in saved})
        console.print(f"stored {len(saved)} ratios for machine {guard.machine_id()} in {path}")
    missed = [row.name for row in rows if row.met is False]
    if missed:
        console.print(f"{len(missed)} goal(s) missed" + ("" if args.fail else " (--no-fail: exit 0)"))
    return 1 if missed and args.fail else 0


def cmd_placement(args) -> int:
    from convbench.measure.placement import SHARED, SPLIT, SPLIT_ABOVE, cross_read_ratio, placement

    ratio = cross_read_ratio()
    if ratio is None:
        console.print("one thread: nothing is handed between threads")
    else:
        console.print(f"a thread reading its neighbour's block / its own: {ratio:.2f} ({placement(ratio)}; split "
                      f"above {SPLIT_ABOVE})")
    if not args.effect:
        if args.record:
            raise ConvError("--record keeps what --effect measured; give --effect TEXT")
        return 0
    places = (SHARED, SPLIT)
    table = _table(f"speed targets by the threads' placement, rounds of {args.repeats} calls a side for about "
                   f"{args.seconds:.0f} s (median ratio, rounds)", ("case", *places), right=places)
    run = runs.placement_effect(args.effect, args.seconds, args.repeats)
    rows = [[found.name, *[f"{statistics.median(found.ratios[where]):.2f} ({len(found.ratios[where])})"
                           if found.ratios.get(where) else "-" for where in places]] for found in run.effects]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    probes = [f"{min(run.probes[where]):.2f}-{max(run.probes[where]):.2f} ({len(run.probes[where])})"
              if run.probes.get(where) else "-" for where in places]
    console.print(f"the probe, min-max (probes): {places[0]} {probes[0]}, {places[1]} {probes[1]}")
    if args.record:
        from convbench.report.record_file import write_record

        path = write_record(
            "thread-placement", "Speed targets by where the threads sat: one L3, or two core complexes",
            "Each case's two calls timed in turns, round after round; each round's ratio (peer time / ours) filed "
            "under the threads' placement probed before and after it (measure.placement; a round whose placement "
            "changed is dropped): the median and the number of rounds. The first row is the probe itself, a "
            "thread's read of its neighbour's block over its read of its own: min-max and the number of probes, "
            "the gap between the two states where placement.SPLIT_ABOVE sits.",
            ["case", "shared L3", "split"],
            [[f"probe: neighbour's read / own read (split above {SPLIT_ABOVE})", *probes], *rows],
            "convbench/measure/placement.py (SPLIT_ABOVE), docs/content/design/measuring.md")
        console.print(f"recorded in {path}")
    return 0


def cmd_targets_compare(args) -> int:
    from convbench.core.machine import machine_id
    from convbench.measure import against_ref

    def said(done, rounds):
        console.print(f"round {done} of {rounds} done (REF and this tree, each in a fresh process)", style="dim")

    if args.save:  # the guard's ratios are this tree's against REF's, not the figures of record
        raise ConvError("--save stores the ratios of `convbench targets` as this machine's figures; with --compare "
                        "nothing is stored: run the two commands apart")
    cases = None  # the guard's quick subset
    if args.only:
        from convbench.measure.runs import speedup_targets

        cases = [name for name in speedup_targets() if args.only in name]
        if not cases:
            raise ConvError(f"--only must be part of a ratio target's name (see convbench targets); got {args.only!r}")
    sha, rows, missing = against_ref.compare_with_ref(args.compare, cases, rounds=args.rounds,
                                                      repeats=args.repeats or 3, on_round=said)
    table = _table(f"regression guard on {machine_id()}: this tree against {args.compare} ({sha[:8]}), "
                   f"measured now in turns (ratio = peer time / ours, higher is better)",
                   ("case", f"{args.compare} (rounds)", "this tree (rounds)", "change", "noise", "threads (rounds)",
                    "verdict"),
                   right=("change", "noise"))
    for row in rows:
        verdict = "[red]FELL[/]" if row.fell else "[green]ok[/]"
        counts = Counter(where for where in row.placements if where)
        table.add_row(row.case, " ".join(f"{r:.2f}" for r in row.ref), " ".join(f"{t:.2f}" for t in row.tree),
                      f"{row.change:.2f}", f"±{row.threshold:.0%}",
                      ", ".join(f"{count} {where}" for where, count in counts.items()) or "-", verdict)
    console.print(table)
    for case, why in missing.items():
        console.print(f"n/a {case}: {why}")
    console.print("change: the geometric mean over rounds of this tree's ratio over REF's in the same round, both "
                  "measured back to back; noise: the fall this run can tell from its own spread (at least "
                  f"{against_ref.FLOOR:.0%}); threads: where the two vCPUs sat during each round's pair "
                  "(`convbench placement`); FELL: beyond the noise, and slower in every round")
    fell = [row.case for row in rows if row.fell]
    if fell:
        console.print(f"{len(fell)} ratio(s) fell beyond this run's noise: this tree is slower than {args.compare}")
        return 1
    console.print(f"no ratio fell beyond this run's noise against {args.compare}")
    return 0


def cmd_bench(args) -> int:
    from convbench.report.bench import main_job

    def announce(title, command):
        console.rule(f"[bold]{title}")
        if command:
            console.print("$ " + " ".join(command), style="dim")

    done = main_job(args.quick, args.machine, args.bench, args.results, args.out, announce)
    for path in done["charts"]:
        console.print(f"wrote {path}")
    console.rule("[bold]done")
    html = done["html"].parent
    console.print(f"HTML:   {done['html']}  (serve it: `asv preview` or `python -m http.server -d {html}`)")
    console.print(f"charts: {Path(args.out)}/")
    console.print(f"report: {done['report']}  (every chart with what it shows; linked from the index)")
    console.print(f"docs:   {done['docs']}  (the findings pages: these results as tables)")
    corpus = done["corpus"]
    checked = sum(1 for r in corpus.records for v in r["variants"].values() if "ok" in v)
    console.print(f"corpus: {len(corpus.records)} smoke layers in {corpus.path} ({corpus.measured} measured now), "
                  f"{checked - len(corpus.failures)} of {checked} outputs within tolerance of the float64 oracle")
    for layer_id, label, error, tolerance in corpus.failures:
        console.print(f"[red]check failed:[/] layer {layer_id}, {label}: relative error {error:.2e} > {tolerance:.1e}")
    return 1 if corpus.failures else 0


def cmd_accuracy(args) -> int:
    from convbench.workloads.accuracy import accuracy_table, pareto_front, tuning_verdict
    from convbench.report.plot import chart_accuracy  # seaborn and matplotlib load only for this
    from convbench.report.record_file import write_record

    from convbench.measure.timing import peak_rss_or_none

    rows = accuracy_table(args.compressions, args.epochs, peak_memory=peak_rss_or_none)
    front = pareto_front([row for row in rows if row.model == "fft"])  # the compression rates to choose from
    table = _table(f"digits (8x8, scikit-learn), {args.epochs} epochs: test accuracy against compression",
                   ("conv layers", "compression", "achieved", "test accuracy", "time per epoch [s]", "x torch",
                    "memory rise [MiB]", "on the front"),
                   right=("compression", "achieved", "test accuracy", "time per epoch [s]", "x torch",
                          "memory rise [MiB]"))
    base = rows[0].seconds_per_epoch

    def mebibytes(row):
        return None if row.peak_memory_bytes is None else round(row.peak_memory_bytes / 2**20, 1)
    for row in rows:
        table.add_row("torch.nn.Conv2d" if row.model == "torch" else "convbench.nn.Conv2d(fft)",
                      "-" if row.model == "torch" else f"{row.compression:g}",
                      "-" if row.model == "torch" else f"{row.achieved:.2f}", f"{100 * row.test_accuracy:.1f}%",
                      f"{row.seconds_per_epoch:.2f}", f"{row.seconds_per_epoch / base:.1f}",
                      "-" if mebibytes(row) is None else f"{mebibytes(row):.1f}", "yes" if row in front else "")
    console.print(table)
    console.print("accuracy vs performance (the front of time per epoch against accuracy): " + tuning_verdict(rows))
    for path in chart_accuracy(rows, Path(args.out)):
        console.print(f"wrote {path}")
    grid = [[row.model, None if row.model == "torch" else row.compression,
             None if row.model == "torch" else round(row.achieved, 4), round(row.test_accuracy, 4),
             round(row.seconds_per_epoch, 3), round(row.seconds_per_epoch / base, 2), mebibytes(row), row in front]
            for row in rows]
    console.print("wrote " + str(write_record(
        "digits-accuracy", "The digits CNN's test accuracy against compression",
        f"scikit-learn's 8x8 digits, {args.epochs} epochs, the same seed and initial weights for every "
        f"compression; torch's Conv2d as the baseline. Memory: the rise of the process's peak resident memory "
        f"during the timed epochs. On the front: no other compression rate is as fast and as accurate, and "
        f"better in one. "
        f"Accuracy vs performance {tuning_verdict(rows)}.",
        ["conv layers", "compression", "achieved", "test accuracy", "seconds per epoch", "x torch's time",
         "peak memory rise [MiB]", "on the rates' time-accuracy front"],
        grid, "docs/content/guide/training.md", args.records)))
    return 0


def cmd_noise(args) -> int:
    import math
    import statistics

    from convbench.workloads.accuracy import COMPRESSIONS
    from convbench.workloads.noise import SIGMAS, at_chance_from, mean_curve, noise_accuracy, noise_verdict, sigmas_half
    from convbench.report.plot import chart_noise  # seaborn and matplotlib load only for this
    from convbench.report.record_file import write_record

    rows, chance = noise_accuracy(args.compressions or COMPRESSIONS, args.sigmas or SIGMAS, args.epochs,
                                  args.test_images, args.draws, args.seeds)
    half = sigmas_half(rows, chance.accuracy)
    sigmas = sorted({row.sigma for row in rows})
    table = _table(f"digits CNN, {args.epochs} epochs: test accuracy with Gaussian noise of standard deviation "
                   f"sigma (clipped to [0, 1]), the mean of {args.seeds} training seeds x {args.draws} noise draws; "
                   f"chance {100 * chance.accuracy:.1f}%",
                   ("model", *(f"{s:g}" for s in sigmas), "sigma half (seeds' range)", "at chance from"),
                   right=(*(f"{s:g}" for s in sigmas), "sigma half (seeds' range)", "at chance from"))
    chance_from = {}
    for model, seeds in half.items():
        curve = mean_curve([row for row in rows if row.model == model])
        chance_from[model] = at_chance_from(curve, chance)
        spread = sorted(seeds.values())
        table.add_row(model, *(f"{100 * curve[s]:.1f}%" for s in sigmas),
                      f"{statistics.mean(spread):.2f} ({spread[0]:.2f}-{spread[-1]:.2f})",
                      "not reached" if math.isnan(chance_from[model]) else f"{chance_from[model]:g}")
    console.print(table)
    missing = [model for model, sigma in chance_from.items() if math.isnan(sigma)]
    if missing:
        console.print(f"not at chance by sigma {max(sigmas):g}: {', '.join(missing)} (pass larger --sigmas)")
    verdict = noise_verdict(rows, chance.accuracy)
    console.print(f"a more band-limited model is more robust to noise: {verdict}")
    for path in chart_noise(rows, chance.accuracy, Path(args.out)):
        console.print(f"wrote {path}")
    grid = [[row.model, row.compression, row.seed, row.sigma, round(row.accuracy, 4)] for row in rows]
    console.print("wrote " + str(write_record(
        "noise-accuracy", "The digits CNN's test accuracy under Gaussian input noise, at each compression",
        f"scikit-learn's 8x8 digits, {args.epochs} epochs; each seed draws the split and the initial weights, "
        f"the same for every model; each test digit plus Gaussian noise of standard deviation sigma, clipped to "
        f"[0, 1], the mean over {args.draws} draws shared by every model. Chance (the most frequent class): "
        f"{chance.accuracy:.4f}. Sigma half (the noise that takes a model half the way from its clean accuracy "
        f"to chance), the mean of the seeds: "
        + ", ".join(f"{model} {statistics.mean(seeds.values()):.3f}" for model, seeds in half.items())
        + f". Verdict: {verdict}.",
        ["model", "compression", "seed", "sigma", "accuracy"], grid, "README.md; docs/content/guide/robustness.md",
        args.records)))
    return 0


def cmd_learning_order(args) -> int:
    from convbench.workloads.learning_order import (COMPRESSIONS, DIGITS_GRID, SETTLED, band_order,
                                                    learning_order_verdict, order_verdict, record_training)
    from convbench.report.plot import chart_learning_order  # seaborn and matplotlib load only for this
    from convbench.report.record_file import write_record

    histories = [record_training(c, args.epochs, args.every, bands=args.bands, seed=args.seed)
                 for c in (None, *(args.compressions or COMPRESSIONS))]
    bands = [f"band {b}" for b in range(args.bands)]
    table = _table(f"digits CNN, {args.epochs} epochs: the training step at which each frequency band settled "
                   f"(its progress within {SETTLED:g} of its final change from then on; band 0 the lowest)",
                   ("model", "layer", *bands, "low first?"), right=tuple(bands))
    grid, verdicts = [], []
    for history in histories:
        for layer_name in history.changes:
            settled = band_order(history, layer_name)
            verdicts.append(order_verdict(settled))
            table.add_row(history.model, layer_name, *(str(step) for step in settled), verdicts[-1])
            grid.append([history.model, layer_name, *(int(step) for step in settled), verdicts[-1]])
    console.print(table)
    verdict = learning_order_verdict(verdicts)
    console.print(f"low frequency coefficients are learned first: {verdict}")
    for path in chart_learning_order(histories, Path(args.out)):
        console.print(f"wrote {path}")
    console.print("wrote " + str(write_record(
        "learning-order", "Which frequency bands of the digits CNN's filters settle first in training",
        f"scikit-learn's 8x8 digits, {args.epochs} epochs, seed {args.seed}, recorded every {args.every} steps: "
        f"each conv layer's weight change since initialisation on its {DIGITS_GRID}x{DIGITS_GRID} FFT grid, in "
        f"{args.bands} rings of frequency radius; a band has settled from the first record after which its progress "
        f"(the projection of its change on the final change, over the final change's energy) stays within "
        f"{SETTLED:g} of 1. "
        f"Verdict: {verdict}.",
        ["model", "layer", *(f"{b} settled at step" for b in bands), "low first?"], grid,
        "README.md; docs/content/guide/training.md", args.records)))
    return 0


def cmd_spectrum(args) -> int:
    from convbench.workloads.photographs import INPUTS, low_frequency_verdict, what_band_limiting_keeps
    from convbench.report.record_file import write_record

    spec = layer(args.layer).spec
    rows = what_band_limiting_keeps(spec, args.compressions, args.inputs)
    table = _table(f"what band-limiting keeps on {spec}: fft at each compression, per input",
                   ("input", "compression", "achieved", "energy kept", "relative error"),
                   right=("compression", "achieved", "energy kept", "relative error"))
    for row in rows:
        table.add_row(row.input, f"{row.compression:g}", f"{row.achieved:.3f}", f"{row.retained_energy:.4f}",
                      f"{row.relative_error:.2e}")
    console.print(table)
    verdict = low_frequency_verdict(rows)
    console.print(f"natural images keep more in the low frequencies: {verdict}")
    grid = [[row.input, row.compression, round(row.achieved, 4), round(row.retained_energy, 4),
             float(f"{row.relative_error:.3e}")] for row in rows]
    console.print("wrote " + str(write_record(
        "low-frequency-energy", "What band-limiting keeps of photographs, a 1/f^2 spectrum and white noise",
        f"The fft plan of {spec} at each compression rate: the fraction of the input's spectral energy kept "
        f"and the output's relative error against the exact float64 convolution, per input ("
        + "; ".join(f"{name}: {what}" for name, what in INPUTS.items() if name in args.inputs)
        + f"). Verdict: {verdict}.",
        ["input", "compression", "achieved", "energy kept", "relative error"], grid,
        "README.md; docs/content/guide/suites.md", args.records)))
    return 0


def cmd_robustness(args) -> int:
    from convbench.workloads.robustness import CW_SEARCH_STEPS, CW_STEPS, CW_STEPSIZE, robustness
    from convbench.report.plot import chart_robustness  # seaborn and matplotlib load only for this
    from convbench.report.record_file import write_record

    models, defences = robustness(args.compressions, args.epsilons, args.epochs, args.pgd_steps, args.test_images)
    table = _table(f"digits CNN, {args.epochs} epochs: test accuracy under white-box L-inf attacks (foolbox)",
                   ("model", "attack", *(f"eps {e:g}" for e in args.epsilons)),
                   right=tuple(f"eps {e:g}" for e in args.epsilons))
    for model in dict.fromkeys(row.model for row in models):
        for attack in dict.fromkeys(row.attack for row in models):
            cells = {row.epsilon: row.accuracy for row in models if row.model == model and row.attack == attack}
            table.add_row(model, attack, *(f"{100 * cells[e]:.1f}%" for e in args.epsilons))
    console.print(table)
    attacks = [a for a in dict.fromkeys(row.attack for row in defences) if a != "clean"]
    # quoted from the proposal's table (ResNet-50 on ImageNet, FGSM / PGD / C&W), not measured here
    proposal = {"none": ("0.0", "0.0", "0.0"), "FFT compression (c=0.5)": ("73.8", "82.1", "78.7"),
                "feature squeezing (2 bits)": ("76.0", "82.9", "80.9"),
                "Gaussian noise (sigma=0.2)": ("75.4", "80.9", "80.4")}
    sizes = {row.attack: row.epsilon for row in defences if row.attack != "clean"}
    headers = [f"{a} (median {'L2' if a == 'C&W' else 'eps'} {sizes[a]:.2f})" for a in attacks]
    table = _table("lossy input channels as defences: the plain model on each digit's minimal adversarial "
                   "(the proposal's table beside it: ResNet-50, ImageNet, FGSM / PGD / C&W)",
                   ("defence", "clean", *headers, "proposal FGSM", "proposal PGD", "proposal C&W"),
                   right=("clean", *headers))
    for name in dict.fromkeys(row.model for row in defences):
        cells = {row.attack: row.accuracy for row in defences if row.model == name}
        table.add_row(name, f"{100 * cells['clean']:.1f}%", *(f"{100 * cells[a]:.1f}%" for a in attacks),
                      *proposal.get(name, ("-", "-", "-")))
    console.print(table)
    for path in chart_robustness(models, Path(args.out)):
        console.print(f"wrote {path}")
    grid = [[row.model, row.attack, row.epsilon, round(row.accuracy, 4)] for row in models]
    console.print("wrote " + str(write_record(
        "robustness-under-attack", "The digits CNN under white-box attacks, at each compression",
        f"Test accuracy (fraction) under foolbox's FGSM and L-inf PGD ({args.pgd_steps} steps) through the "
        f"model's own gradients, {args.epochs} epochs of training.", ["model", "attack", "epsilon", "accuracy"],
        grid, "docs/content/guide/robustness.md", args.records)))
    grid = [[row.model, row.attack, round(row.epsilon, 4), round(row.accuracy, 4),
             *proposal.get(row.model, ("", "", ""))] for row in defences]
    console.print("wrote " + str(write_record(
        "robustness-lossy-channels", "Lossy input channels as defences, beside the proposal's table",
        "The plain model on each test digit's minimal adversarial passed through the channel (the attacker does "
        "not see it); epsilon is the median size of the least fooling perturbation (L-inf for FGSM and PGD, L2 "
        f"for C&W: {CW_SEARCH_STEPS} binary-search steps of {CW_STEPS}, step {CW_STEPSIZE:g}). The last three "
        "columns are the "
        "proposal's (ResNet-50 on ImageNet, FGSM / PGD / C&W), quoted, not measured here.",
        ["defence", "attack", "median epsilon", "accuracy", "proposal FGSM", "proposal PGD", "proposal C&W"], grid,
        "docs/content/guide/robustness.md", args.records)))
    return 0


def cmd_recovery_window(args) -> int:
    from convbench.workloads.recovery_window import (CHANNELS, DISTORTIONS, KEEPS_CLEAN, RECOVERS, recovery,
                                                     recovery_verdict, window)
    from convbench.report.plot import chart_recovery_window  # seaborn and matplotlib load only for this
    from convbench.report.record_file import write_record

    channels = {name: CHANNELS[name] for name in args.channels}
    rows = recovery(args.distortions or DISTORTIONS, channels, args.epochs, args.pgd_steps, args.test_images)
    distortions = sorted({row.distortion for row in rows if row.distortion > 0})
    for name, channel in channels.items():
        cells = {(row.strength, row.distortion): row for row in rows if row.channel == name}
        fooled = ", ".join(f"{d:g}x: {cells[(channel.strengths[0], d)].digits}" for d in distortions)
        table = _table(f"{name}: clean digits kept, and fooled digits given back at each multiple of the minimal "
                       f"adversarial perturbation (fooled digits {fooled})",
                       (channel.strength, "clean kept", *(f"{d:g}x" for d in distortions)),
                       right=("clean kept", *(f"{d:g}x" for d in distortions)))
        for strength in channel.strengths:
            table.add_row(f"{strength:g}", f"{100 * cells[(strength, 0.0)].fraction:.1f}%",
                          *(f"{100 * cells[(strength, d)].fraction:.1f}%" for d in distortions))
        console.print(table)
        console.print("window (gives back more than " + f"{RECOVERS:.0%}, keeps at least {KEEPS_CLEAN:.0%} clean): "
                      + "; ".join(f"{d:g}x " + (", ".join(f"{s:g}" for s in window(rows, name, d)) or "none")
                                  for d in distortions))
    verdict = recovery_verdict(rows)
    console.print(f"the recovery window shrinks with higher adversarial distortion: {verdict}")
    for path in chart_recovery_window(rows, Path(args.out)):
        console.print(f"wrote {path}")
    grid = [[row.channel, row.strength, row.distortion, round(row.fraction, 4), row.digits] for row in rows]
    console.print("wrote " + str(write_record(
        "recovery-window", "The recovery window of each lossy input channel as the adversarial distortion grows",
        f"The plain digits CNN ({args.epochs} epochs, torch's Conv2d); the test digits it classifies right, each at "
        f"its minimal adversarial (the least PGD epsilon, {args.pgd_steps} steps, that fools it) with that "
        f"perturbation scaled by the distortion, clipped to [0, 1]. Distortion 0: the clean digits, fraction = those "
        f"the channel keeps right; else fraction = the fooled digits the channel gives their class back; digits = "
        f"how many the fraction is of. Window: more than {RECOVERS:.0%} given back and at least {KEEPS_CLEAN:.0%} of "
        f"the clean kept. Verdict: {verdict}.",
        ["channel", "strength", "distortion", "fraction", "digits"], grid,
        "README.md; docs/content/guide/robustness.md", args.records)))
    return 0


def cmd_curvature(args) -> int:
    import statistics

    from convbench.workloads.curvature import KINDS, RECOVERING_RATE, curvature, curvature_verdict
    from convbench.report.plot import chart_curvature  # seaborn and matplotlib load only for this
    from convbench.report.record_file import write_record

    rows = curvature(args.compressions, args.epochs, args.pgd_steps, args.test_images, args.iterations)
    table = _table(f"digits CNN, {args.epochs} epochs: the loss's input gradient norm and top Hessian eigenvalue, "
                   f"median (quartiles) over the digits; recovered: FFT compression at c = {RECOVERING_RATE:g} gave "
                   f"the adversarial digit its class back",
                   ("model", "input", "digits", "gradient norm", "top eigenvalue"),
                   right=("digits", "gradient norm", "top eigenvalue"))
    grid = []
    for model in dict.fromkeys(row.model for row in rows):
        for kind in KINDS:
            chosen = [row for row in rows if row.model == model and row.kind == kind]
            if not chosen:
                table.add_row(model, kind, "0", "-", "-")
                continue
            cells = []
            for values in ([r.gradient_norm for r in chosen], [r.top_eigenvalue for r in chosen]):
                low, middle, high = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
                cells.append((low, middle, high))
            table.add_row(model, kind, str(len(chosen)),
                          *(f"{m:.3g} ({lo:.3g}-{hi:.3g})" for lo, m, hi in cells))
            grid.append([model, chosen[0].compression, kind, len(chosen),
                         *(round(value, 6) for cell in cells for value in cell)])
    console.print(table)
    verdict = curvature_verdict(rows)
    console.print(f"adversarial digits sit where the loss is steeper and more curved, and recovery flattens it: {verdict}")
    for path in chart_curvature(rows, Path(args.out)):
        console.print(f"wrote {path}")
    console.print("wrote " + str(write_record(
        "input-curvature", "How steep and how curved the loss is around natural, adversarial and recovered digits",
        f"The digits CNN ({args.epochs} epochs) at each compression and torch's; the first test digits it "
        f"classifies right (natural), each at its minimal adversarial (the least PGD epsilon, {args.pgd_steps} "
        f"steps, that fools it), and the adversarial digits FFT compression of the input at c = {RECOVERING_RATE:g} "
        f"gives back (recovered). The loss: cross-entropy against the true class. Gradient norm: the L2 norm of "
        f"its input gradient; top eigenvalue: of its Hessian with respect to the input, {args.iterations} power "
        f"iterations on autograd Hessian-vector products. Quartiles over the digits. Verdict: {verdict}.",
        ["model", "compression", "input", "digits", "gradient norm q1", "gradient norm median", "gradient norm q3",
         "top eigenvalue q1", "top eigenvalue median", "top eigenvalue q3"], grid,
        "README.md; docs/content/guide/robustness.md", args.records)))
    return 0


def cmd_layers(args) -> int:
    found, shape = _model_layers(args)
    table = _table(f"{args.model}: {len(found)} unique convolutions for input {shape}",
                   ("count", "shape", "groups", "dilation", "modules"), right=("count", "groups"))
    for conv in found:
        shown = ", ".join(conv.names[:3]) + (f" (+{len(conv.names) - 3})" if len(conv.names) > 3 else "")
        dilation = conv.spec.dilation
        table.add_row(str(conv.count), str(conv.spec), str(conv.spec.groups), f"{dilation[0]}x{dilation[1]}", shown)
    console.print(table)
    console.print(f"{sum(conv.count for conv in found)} convolutions in one forward pass")
    return 0


def cmd_plot(args) -> int:
    from convbench.report.corpus_charts import plot_corpus
    from convbench.report.plot import plot_all  # seaborn and matplotlib load only for this command

    paths = plot_all(args.results, args.out, machine=args.machine)
    # the corpus store of the machine asked for (its asv name and its corpus id are one name), else this one's
    paths += plot_corpus(Path(args.results) / "corpus", args.out, machine=args.machine)
    for path in paths:
        console.print(f"wrote {path}")
    return 0 if paths else 1


def cmd_docs(args) -> int:
    from convbench.report.docs_site import build_site

    console.print(f"docs: {build_site(out=args.out, results=args.results) / 'index.html'}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage block), with exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _at_least(low, kind=int):
    """An argparse type: a number of `kind` >= low, else one line naming the value and the bound."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value >= low:  # NaN compares false too
            raise argparse.ArgumentTypeError(f"expected {'an int' if kind is int else 'a number'} >= {low}; "
                                             f"got {text!r}")
        return value
    parse.__name__ = f"{kind.__name__} >= {low}"
    return parse


def _fraction(text):
    """An argparse type for a compression: a number in [0, 1)."""
    value = _at_least(0.0, float)(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1); got {text!r}")
    return value


def _measures(parser) -> None:
    """A command that times: it takes the machine's measurement lock (measure.measurement_lock)."""
    parser.add_argument("--no-wait", action="store_true",
                        help="when another process is measuring on this machine, stop at once (exit 2) instead "
                             "of waiting for it")
    parser.set_defaults(measures=True)


def _model_arguments(parser, required: bool) -> None:
    parser.add_argument("--model", required=required, help="package.module:factory, or a torchvision / timm model name")
    parser.add_argument("--input", type=_at_least(1), nargs=4, default=[1, 3, 224, 224], metavar=("N", "C", "H", "W"),
                        help="the model's input shape (default 1 3 224 224)")
    parser.add_argument("--batch", type=_at_least(1), help="N of --input (with --corpus: of each layer, default 1)")


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser (the docs' CLI reference is rendered from it)."""
    parser = _Parser(prog="convbench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="algorithms x backends, available or why not").set_defaults(run=cmd_list)
    commands.add_parser("check", help="cross-check every available algorithm against the float64 oracle").set_defaults(run=cmd_check)
    sweep = commands.add_parser("sweep", help="time and error per algorithm on real layers, or on a model's")
    sweep.add_argument("--layers", nargs="+", choices=sorted(LAYER_SETS), default=["convnet"])
    sweep.add_argument("--repeats", type=_at_least(1), default=3)
    _model_arguments(sweep, required=False)
    sweep.add_argument("--algorithms", nargs="+", choices=registry.SWEPT_LABELS, metavar="LABEL",
                       help="with --model: these variants (torch is always timed); default: all")
    sweep.add_argument("--inference", action="store_true",
                       help="with --model: fix the filters first (set_weights: transformed once), time plan(x)")
    sweep.add_argument("--csv", help="with --model: write the per-layer times here (one row per layer and variant)")
    sweep.add_argument("--json", help="with --model: write the per-layer times and the per-model totals here")
    sweep.add_argument("--corpus", choices=("smoke", "dense", "grouped", "pointwise", "all"),
                       help="a tier of the layer corpus (convbench corpus show), into the resumable store")
    sweep.add_argument("--shard", default="1/1", help="with --corpus: I/N, every N-th layer from the I-th")
    sweep.add_argument("--sample", type=_at_least(1), help="with --corpus: a stable sample of this many layers, "
                                                  "stratified over kind and size")
    sweep.add_argument("--check", action="store_true", help="with --corpus: each output against the float64 "
                                                            "oracle within its variant's tolerance; exit 1 on a failure")
    sweep.add_argument("--store", type=Path, default=Path("results") / "corpus",
                       help="with --corpus: the results store (default: results/corpus)")
    sweep.add_argument("--tag", default="", help="with --corpus: added to the store file's name (a new run)")
    sweep.add_argument("--ray", nargs="?", const="auto", metavar="ADDRESS",
                       help="with --corpus: measure the layers on a Ray cluster's nodes, one at a time on each node "
                            "offering a 'convbench' slot (default address: auto, the cluster `ray start` made here)")
    sweep.add_argument("--threads", type=_at_least(1), help="with --ray: the threads each task runs (default: the node's cores)")
    _measures(sweep)
    sweep.set_defaults(run=cmd_sweep)
    stages = commands.add_parser("stages", help="time and memory of each stage of one plan")
    stages.add_argument("--algorithm", default="fft", choices=registry.LABELS, help="an algorithm or variant label, e.g. \"fft tile 16\"")
    stages.add_argument("--peer", choices=["nnpack"], help="also NNPACK's phases (nnp_profile) of the same algorithm "
                                                          "(wt8x8 beside F(6x6,3x3), ft8x8 / ft16x16 beside fft tile 8 / 16)")
    stages.add_argument("--layer", choices=sorted(ALL_LAYERS), help="a named layer (see convbench.workloads.layers)")
    stages.add_argument("--shape", type=_at_least(0), nargs=9, metavar=("N", "C", "H", "W", "K", "R", "S", "PAD", "STRIDE"),
                        default=[8, 64, 56, 56, 64, 7, 7, 3, 1])
    stages.add_argument("--signal", type=_at_least(1), nargs=5, metavar=("N", "C", "L", "K", "R"),
                        help="a 1-D convolution instead (valid, stride 1), e.g. 4 8 65536 8 4096")
    stages.add_argument("--compression", type=_fraction, nargs="+", default=None,
                        help="default: 0 and 0.5 for fft, 0 for the other variants")
    stages.add_argument("--repeats", type=_at_least(1), default=5)
    _measures(stages)
    stages.set_defaults(run=cmd_stages)
    interference = commands.add_parser("interference", help="how much our calls and torch's slow each other down")
    interference.add_argument("--layer", choices=sorted(ALL_LAYERS), help="a named layer (see convbench.workloads.layers)")
    interference.add_argument("--shape", type=_at_least(0), nargs=9, metavar=("N", "C", "H", "W", "K", "R", "S", "PAD", "STRIDE"),
                              default=[8, 64, 56, 56, 64, 3, 3, 1, 1], help="default: ResNet-18's 64@56 at N=8")
    interference.add_argument("--algorithms", nargs="+", default=["direct", "winograd F(4x4,3x3)", "fft", "fft tile 16"],
                              choices=registry.SWEPT_LABELS, help="ours, or peers (NNPACK's pthreadpool, oneDNN 2.6 "
                                                                  "on torch's OpenMP)")
    interference.add_argument("--against", default="torch", choices=registry.SWEPT_LABELS,
                              help="the other side of each pair (default: torch; one of ours, beside a peer)")
    interference.add_argument("--repeats", type=_at_least(1), default=15)
    _measures(interference)
    interference.set_defaults(run=cmd_interference)
    targets = commands.add_parser("targets", help="the speed targets: ours against a peer, as ratios measured now")
    targets.add_argument("--only", help="cases whose name contains this text (with --compare: the guard measures "
                                        "those instead of its quick subset)")
    targets.add_argument("--repeats", type=_at_least(1), default=None,
                         help="timed calls a side for each ratio (default: 5; 3 with --compare, whose rounds "
                              "repeat it)")
    targets.add_argument("--compare", nargs="?", const="main", metavar="REF",
                         help="the regression guard: the quick subset measured on REF (default: main, from a git "
                              "worktree) and on this tree, in turns in fresh processes (a few minutes); exits 1 "
                              "when a ratio fell beyond the noise measured in the same run")
    targets.add_argument("--rounds", type=_at_least(2), default=4,
                         help="with --compare: fresh processes per side, first in turns (default: 4)")
    targets.add_argument("--save", action="store_true", help="store the measured ratios as this machine's figures")
    targets.add_argument("--store", type=Path, default=Path("results") / "targets",
                         help="where the per-machine figures live (default: results/targets)")
    targets.add_argument("--no-fail", dest="fail", action="store_false",
                         help="exit 0 even when a goal is missed (default: exit 1)")
    _measures(targets)
    targets.set_defaults(run=cmd_targets)
    where = commands.add_parser("placement", help="whether this machine's threads share an L3 now, and how far "
                                                  "the speed targets move when they do not")
    where.add_argument("--effect", metavar="TEXT", help="the CPU speed targets whose name contains TEXT, measured "
                                                        "round after round and filed by placement")
    where.add_argument("--seconds", type=_at_least(1.0, float), default=60.0, help="with --effect: how long (default: 60)")
    where.add_argument("--repeats", type=_at_least(1), default=5, help="with --effect: timed calls a side a round")
    where.add_argument("--record", action="store_true",
                       help="with --effect: keep the table as results/records/thread-placement.json")
    _measures(where)
    where.set_defaults(run=cmd_placement)
    rec = commands.add_parser("recommend", help="the fastest exact algorithm for a shape, measured once and stored")
    rec.add_argument("shape", type=_at_least(1), nargs="*", metavar="N C H W K R S", help="one shape, or --model")
    rec.add_argument("--padding", type=_at_least(0), nargs=2, default=[0, 0], metavar=("PH", "PW"))
    rec.add_argument("--stride", type=_at_least(1), nargs=2, default=[1, 1], metavar=("SH", "SW"))
    rec.add_argument("--dilation", type=_at_least(1), nargs=2, default=[1, 1], metavar=("DH", "DW"))
    rec.add_argument("--groups", type=_at_least(1), default=1)
    _model_arguments(rec, required=False)
    rec.add_argument("--backend", default="cpu")
    rec.add_argument("--remeasure", action="store_true", help="measure again even if a result is stored")
    _measures(rec)
    rec.set_defaults(run=cmd_recommend)
    cal = commands.add_parser("calibrate", help="measure the auto rule's thresholds on this machine and store them "
                                                "(a minute or two)")
    cal.add_argument("--repeats", type=_at_least(1), default=5, help="timed calls per variant and layer (median)")
    cal.add_argument("--out", type=Path, help="the folder of calibration files (default: $CONVBENCH_CALIBRATION "
                                              "or results/calibration; algorithm='auto' reads it from there)")
    cal.add_argument("--check", action="store_true",
                     help="measure the stored calibration's layers again and check its thresholds on them "
                          "(exit 1 when auto is beyond 1.3x of the fastest there); writes nothing")
    _measures(cal)
    cal.set_defaults(run=cmd_calibrate)
    bench = commands.add_parser("bench", help="the main job: asv sweep -> HTML -> charts")
    bench.add_argument("--quick", action="store_true", help="the quick subset, each benchmark run once (a few minutes)")
    bench.add_argument("--machine", help="asv machine name (default: names the hardware, e.g. amd-epyc-f25-m1-s1-avx2-2-cores; "
                                            "refused when results/NAME/machine.json is other hardware)")
    bench.add_argument("--bench", help="only benchmarks matching this regex")
    bench.add_argument("--results", default="results")
    bench.add_argument("--out", default="results/figures")
    _measures(bench)
    bench.set_defaults(run=cmd_bench)
    lay = commands.add_parser("layers", help="the unique convolutions of a torch model, with counts")
    _model_arguments(lay, required=True)
    lay.set_defaults(run=cmd_layers)
    acc = commands.add_parser("accuracy", help="train a small CNN on the digits with band-limited fft convolutions "
                                               "at several compressions, against torch's (about a minute)")
    acc.add_argument("--compressions", type=_fraction, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 0.9])
    acc.add_argument("--epochs", type=_at_least(1), default=5)
    acc.add_argument("--out", default="results/figures")
    acc.add_argument("--records", default="results/records", help="where the table is kept as a record")
    acc.set_defaults(run=cmd_accuracy)
    spectrum = commands.add_parser("spectrum", help="what band-limiting keeps of real photographs, a 1/f^2 "
                                                    "spectrum and white noise: energy and error per compression "
                                                    "(seconds)")
    spectrum.add_argument("--layer", choices=sorted(ALL_LAYERS), default="resnet18-conv2",
                          help="the layer whose fft plan band-limits the inputs (its input size is the crops')")
    spectrum.add_argument("--compressions", type=_fraction, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 0.9])
    spectrum.add_argument("--inputs", nargs="+", choices=["white noise", "1/f^2 spectrum", "photographs"],
                          default=["white noise", "1/f^2 spectrum", "photographs"])
    spectrum.add_argument("--records", default="results/records", help="where the table is kept as a record")
    spectrum.set_defaults(run=cmd_spectrum)
    noise = commands.add_parser("noise", help="the digits CNN at each compression, and torch's, under Gaussian input "
                                              "noise from sigma 0 to chance (about a minute)")
    noise.add_argument("--compressions", type=_fraction, nargs="+", default=None,
                       help="the fft models' rates (default: convbench accuracy's)")
    noise.add_argument("--sigmas", type=_at_least(0.0, float), nargs="+", default=None,
                       help="the noise's standard deviations, images in [0, 1] (default: 0 to 8)")
    noise.add_argument("--epochs", type=_at_least(1), default=5)
    noise.add_argument("--seeds", type=_at_least(1), default=3,
                       help="training seeds per model (each draws the split and the initial weights)")
    noise.add_argument("--draws", type=_at_least(1), default=3,
                       help="noise draws per sigma, the same for every model")
    noise.add_argument("--test-images", type=_at_least(1), default=None, help="only the first N test digits")
    noise.add_argument("--out", default="results/figures")
    noise.add_argument("--records", default="results/records", help="where the table is kept as a record")
    noise.set_defaults(run=cmd_noise)
    order = commands.add_parser("learning-order", help="which frequency bands of the digits CNN's filters settle "
                                                       "first while it trains, per compression (seconds)")
    order.add_argument("--compressions", type=_fraction, nargs="+", default=None,
                       help="the fft models' rates (default 0 and 0.5; torch's Conv2d is always trained too)")
    order.add_argument("--epochs", type=_at_least(1), default=5)
    order.add_argument("--every", type=_at_least(1), default=5, help="record every N training steps")
    order.add_argument("--bands", type=_at_least(2), default=4, help="rings of frequency radius")
    order.add_argument("--seed", type=_at_least(0), default=0)
    order.add_argument("--out", default="results/figures")
    order.add_argument("--records", default="results/records", help="where the table is kept as a record")
    order.set_defaults(run=cmd_learning_order)
    window = commands.add_parser("recovery-window", help="how strong each lossy input channel must be to give an "
                                                         "attacked digit its class back, as the distortion grows "
                                                         "(about half a minute)")
    window.add_argument("--distortions", type=_at_least(0.0, float), nargs="+", default=None,
                        help="multiples of each digit's minimal adversarial perturbation (default 1 1.5 2 3)")
    window.add_argument("--channels", nargs="+", choices=["FFT compression", "Gaussian noise", "feature squeezing"],
                        default=["FFT compression", "Gaussian noise", "feature squeezing"])
    window.add_argument("--epochs", type=_at_least(1), default=5)
    window.add_argument("--pgd-steps", type=_at_least(1), default=20)
    window.add_argument("--test-images", type=_at_least(1), default=None, help="only the first N test digits")
    window.add_argument("--out", default="results/figures")
    window.add_argument("--records", default="results/records", help="where the table is kept as a record")
    window.set_defaults(run=cmd_recovery_window)
    curve = commands.add_parser("curvature", help="the loss's input gradient norm and top Hessian eigenvalue at "
                                                  "natural, adversarial and recovered digits, per compression "
                                                  "(about a minute)")
    curve.add_argument("--compressions", type=_fraction, nargs="+", default=[0.0, 0.5, 0.75, 0.9])
    curve.add_argument("--epochs", type=_at_least(1), default=5)
    curve.add_argument("--pgd-steps", type=_at_least(1), default=20)
    curve.add_argument("--test-images", type=_at_least(1), default=120, help="the first N test digits")
    curve.add_argument("--iterations", type=_at_least(1), default=20, help="power iterations per eigenvalue")
    curve.add_argument("--out", default="results/figures")
    curve.add_argument("--records", default="results/records", help="where the table is kept as a record")
    curve.set_defaults(run=cmd_curvature)
    rob = commands.add_parser("robustness", help="the digits CNN at each compression under FGSM and PGD (foolbox), "
                                                 "and the proposal's lossy input channels as defences (about a minute)")
    rob.add_argument("--compressions", type=_fraction, nargs="+", default=[0.0, 0.5, 0.75, 0.9])
    rob.add_argument("--epsilons", type=_at_least(0.0, float), nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3])
    rob.add_argument("--epochs", type=_at_least(1), default=5)
    rob.add_argument("--pgd-steps", type=_at_least(1), default=20)
    rob.add_argument("--test-images", type=_at_least(1), default=None, help="attack only the first N test digits")
    rob.add_argument("--out", default="results/figures")
    rob.add_argument("--records", default="results/records", help="where the two tables are kept as records")
    rob.set_defaults(run=cmd_robustness)
    corpus = commands.add_parser("corpus", help="the layer corpus of timm and torchvision: build, show, report")
    corpus.add_argument("action", choices=("build", "show", "report"),
                        help="build: extract it (resumes); show: its tiers and the layers convbench cannot "
                             "express; report: the answers in this machine's store")
    corpus.add_argument("--store", type=Path, default=Path("results") / "corpus")
    corpus.add_argument("--limit", type=_at_least(0), default=20, help="show: list this many unexpressible layers")
    corpus.add_argument("--machine", help="report: the machine id whose store to read (default: this machine's; "
                                          "a Ray sweep files each node's records under its machine)")
    corpus.set_defaults(run=cmd_corpus)
    plot = commands.add_parser("plot", help="seaborn charts from the stored asv results (no re-measuring)")
    plot.add_argument("--results", default="results")
    plot.add_argument("--out", default="results/figures")
    plot.add_argument("--machine", help="only this machine's asv results and corpus store (default: every "
                                        "machine's asv results and this machine's store)")
    plot.set_defaults(run=cmd_plot)
    docs = commands.add_parser("docs", help="build the docs site (MkDocs, strict: a warning fails), its findings "
                                            "pages rendered from results/ and its CLI reference from this parser")
    docs.add_argument("--results", default="results", help="the results whose figures the findings pages show")
    docs.add_argument("--out", default="results/html/docs", help="the site's folder (default: beside the "
                                                                 "published asv page, which links to it)")
    docs.set_defaults(run=cmd_docs)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = "convbench " + " ".join(sys.argv[1:] if argv is None else argv)
    if argv is None and threading.current_thread() is threading.main_thread():  # the program, not a test's call
        resumes = args.command == "sweep" and getattr(args, "corpus", None)
        exit_on_interrupt("convbench: interrupted. " + (f"What was measured is stored: `{command}` resumes it."
                                                         if resumes else f"`{command}` starts it again."))
    try:
        if getattr(args, "measures", False) and not getattr(args, "ray", None):  # on Ray each node locks its own
            with measuring(command, wait=not args.no_wait,
                           say=lambda line: console.print(escape(line), style="yellow", soft_wrap=True)):
                return args.run(args)
        return args.run(args)
    except ConvError as err:
        console.print(f"[red]error:[/] {escape(str(err))}", soft_wrap=True)  # one line, however long
        return 2


if __name__ == "__main__":
    sys.exit(main())
