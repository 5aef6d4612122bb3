"""The docs' findings pages, rendered from the files under results/: asv's runs, the guard's figures, the
corpus store and the records. A figure in the docs is a figure in one of those files, never typed by hand
(the way triton's perf_report writes its tables from what it measured)."""
from __future__ import annotations

import json
import math
from pathlib import Path

from convbench.core.errors import ConvError

# (suite.measure, what it answers, the parameter across the columns); the rows are the other parameters
SUITE_TABLES = [
    ("bench_layers.Layers.time_conv", "Time per call on real layers", "algorithm"),
    ("bench_layers.Layers.track_relative_error", "Relative L2 error against the float64 oracle", "algorithm"),
    ("bench_layers.Layers.track_workspace", "Workspace (measured peak of the call)", "algorithm"),
    ("bench_filter_size.FilterSize.time_conv", "Which algorithm wins as the filter grows", "algorithm"),
    ("bench_input_size.InputSize.time_conv", "Time as the input grows", "algorithm"),
    ("bench_families.Channels.time_conv", "Time as the channels grow", "algorithm"),
    ("bench_compression.Compression.time_conv", "Band-limited FFT: time at each compression rate", "compression"),
    ("bench_compression.Compression.track_relative_error", "Band-limited FFT: error at each compression rate",
     "compression"),
    ("bench_compression.Compression.track_workspace", "Band-limited FFT: workspace at each compression rate",
     "compression"),
    ("bench_training.TrainingPasses.time_step", "A training step (forward and both backward passes)", "algorithm"),
    ("bench_models.Models.time_conv", "A model's convolutions, layer by layer", "algorithm"),
    ("bench_signal.Signal.time_conv", "Long 1-D convolutions", "algorithm"),
    ("bench_speed_targets.SpeedTargets.track_speedup", "Speed targets (x faster than the peer)", None),
    ("bench_machine.Sgemm.track_fma_peak_gflops", "fp32 FMA peak (what the cores do: the roofline's ceiling)", None),
    ("bench_machine.Sgemm.track_torch_sgemm_gflops", "torch sgemm at 2048 (what this machine's GEMM reaches)", None),
    ("bench_machine.Sgemm.track_algorithms_sgemm_gflops", "sgemm at 2048 on our algorithms' GEMM engine", None),
    ("bench_machine.Copy.track_copy_gbps", "Copy of 64 MiB", None),
]


def figure(value, unit: str | None) -> str:
    """A measured value as the tables show it: seconds in ms, bytes in MiB, 3 significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "seconds":
        return f"{value * 1e3:.3g} ms"
    if unit == "bytes":
        return f"{value / 2**20:.3g} MiB"
    return f"{value:.3g}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _machine_text(folder: Path) -> str:
    try:
        data = json.loads((folder / "machine.json").read_text())
    except (OSError, ValueError):
        return "machine.json unreadable"
    return f"{data.get('cpu', '?')}, {data.get('num_cpu', '?')} cores" + (
        f", {data['gpu']}" if data.get("gpu") else "")


def _suite_table(frame, benchmark: str, across: str | None) -> str | None:
    rows = frame[frame["benchmark"] == benchmark]
    if rows.empty or rows["value"].notna().sum() == 0:
        return None
    unit = rows["unit"].dropna().iloc[0] if rows["unit"].notna().any() else None
    params = [c for c in rows.columns if c not in ("machine", "commit", "date", "env", "started", "benchmark",
                                                  "suite", "measure", "unit", "value") and rows[c].notna().any()]
    if "backend" in params and rows["backend"].nunique() == 1:
        params.remove("backend")
    if across not in params:
        across = None
    index = [p for p in params if p != across]
    columns = list(dict.fromkeys(rows[across])) if across else ["value"]
    body = []
    for key, group in rows.groupby(index, sort=False, dropna=False) if index else [((), rows)]:
        key = key if isinstance(key, tuple) else (key,)
        cells = {row[across] if across else "value": row["value"] for _, row in group.iterrows()}
        if all(math.isnan(value) for value in cells.values()):
            continue  # a backend or a case this machine has not run
        body.append([*key, *(figure(cells.get(column), unit) for column in columns)])
    commits = ", ".join(sorted({str(c)[:8] for c in rows["commit"]}))
    return markdown_table([*index, *map(str, columns)], body) + f"\n\n<small>asv results, commits {commits}</small>"


def _placement_text(results: Path, machine: str, commits: list[str]) -> str:
    """Where the threads sat during the machine's newest logged sweep (measure.placement_log; commits newest
    first), or ""."""
    from convbench.measure import placement_log

    path = placement_log.newest_log(results, machine, commits)
    found = placement_log.counts(path) if path else {}
    if not found:
        return ""
    return (f"\n\nWhere the threads sat while its newest logged sweep timed each case (commit {path.stem}, "
            f"`{path.relative_to(results).as_posix()}`; a case goes by more than half of its samples): "
            + ", ".join(f"{count} {where}" for where, count in found.most_common())
            + " (split, our multi-stage calls run slower and the peers do not: `convbench placement`)")


def suites_page(results: Path) -> str:
    from convbench.report.results import load_results

    try:
        frame = load_results(results)
    except ConvError as err:
        return f"# Suites\n\nNo asv results to show: {err}\n"
    parts = ["# What the asv suites measured, machine by machine",
             "Each machine's newest value of every benchmark and parameter combination, read from the asv result "
             "files under `results/<machine>/` (`convbench.report.findings`). n/a: the combination cannot run "
             "there (the suites say why). Figures from different machines are not comparable."]
    for machine in sorted(frame["machine"].unique()):
        mine = frame[frame["machine"] == machine]
        commits = list(dict.fromkeys(mine.sort_values("date", ascending=False)["commit"]))
        parts.append(f"## {machine}\n\n{_machine_text(results / machine)}{_placement_text(results, machine, commits)}")
        for benchmark, title, across in SUITE_TABLES:
            table = _suite_table(mine, benchmark, across)
            if table:
                parts.append(f"### {title}\n\n`{benchmark}`\n\n{table}")
    return "\n\n".join(parts) + "\n"


def _readable(folder: Path, needs: tuple[str, ...], parts: list[str]):
    """(path, data) for each JSON file in folder that reads and has the keys `needs`; one that does not is
    a section of `parts` saying so, and the page goes on with the rest."""
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            _ = [data[key] for key in needs]  # KeyError, or TypeError where it is not a JSON object
        except (OSError, ValueError, KeyError, TypeError) as err:
            parts.append(f"## {path.stem}\n\nunreadable ({type(err).__name__})")
            continue
        yield path, data


def targets_page(results: Path) -> str:
    parts = ["# Speed targets, as each machine stored them",
             "`convbench targets --save` stores the ratios it measured (ours against a peer, alternating calls in one "
             "process) under `results/targets/<machine>.json`, each with the threads' placement it was measured in "
             "(on a VM whose vCPUs move between core complexes, a ratio of ours against a peer moves with it). "
             "They are a record; the regression guard "
             "(`convbench targets --compare main`) measures both trees anew instead."]
    for path, data in _readable(results / "targets", ("ratios",), parts):
        placements = data.get("placements") if isinstance(data.get("placements"), dict) else {}
        rows = [[name, figure(value, None), placements.get(name, "")] for name, value in data["ratios"].items()]
        measured = f"measured {data.get('measured', '?')} at commit {data.get('commit', '?')}"
        calibration = data.get("calibration")
        if calibration:
            measured += ", calibration " + ", ".join(f"{key} {figure(value, None)}" for key, value in calibration.items())
        parts.append(f"## {data.get('machine', path.stem)}\n\n{measured}\n\n"
                     + markdown_table(["target", "ratio", "threads (`convbench placement`)"], rows))
    return "\n\n".join(parts) + "\n"


def corpus_page(results: Path) -> str:
    from convbench.corpus import answers

    parts = ["# The layer corpus: which variant and which algorithm win",
             "From each machine's corpus store (`results/corpus/<machine>/*.jsonl`, every run of every tier merged): "
             "the share of layers each variant wins, weighted by how often the layer occurs in the models, and "
             "the median speed against torch on the layers it ran."]
    for folder in sorted(p for p in (results / "corpus").glob("*") if p.is_dir()):
        records = answers.load(results / "corpus", folder.name)
        if not records:
            continue
        found = answers.answer(records)
        rows = []
        for label in sorted(set(found.speedups) | {"torch"}, key=lambda label: -found.wins.get(label, 0)):
            median = found.median_speedup(label) if label != "torch" else None
            rows.append([label, f"{100 * found.wins.get(label, 0):.1f}%",
                         "-" if median is None else f"{median:.2f}",
                         found.layers if label == "torch" else len(found.speedups.get(label, []))])
        families = [[family, f"{100 * share:.1f}%"] for family, share in
                    sorted(found.family_wins.items(), key=lambda item: -item[1])]
        parts.append(f"## {folder.name}\n\n{found.layers} layers\n\n"
                     + markdown_table(["variant", "wins (by occurrence)", "median x torch", "layers run"], rows)
                     + "\n\nBy algorithm, each at its best implementation (ours or a peer's):\n\n"
                     + markdown_table(["algorithm", "wins (by occurrence)"], families))
    return "\n\n".join(parts) + "\n"


def records_page(results: Path) -> str:
    """results/records/*.json: measurements made once by a script or by hand-run commands, each file with
    what was measured, where, when, the command, and its rows."""
    parts = ["# Records",
             "Measurements made by a command once, kept as data: each file under `results/records/` says what "
             "it measured, on which machine, when, with which command, and the code that reads it."]
    for path, data in _readable(results / "records", ("columns", "rows"), parts):
        header, rows = data["columns"], data["rows"]
        about = "\n".join(f"- {key}: {data[key]}" for key in ("machine", "measured", "command", "used_by")
                          if data.get(key))
        parts.append(f"## {data.get('title', path.stem)}\n\n`results/records/{path.name}`\n\n"
                     f"{data.get('what', '')}\n\n{about}\n\n" + markdown_table(header, [list(map(str, r)) for r in rows]))
    return "\n\n".join(parts) + "\n"


def calibration_page(results: Path) -> str:
    """results/calibration/<machine>.json (`convbench calibrate`): each machine's thresholds against the shipped
    ones, and how the auto rule then did on the layers it was derived from."""
    parts = ["# The auto rule's thresholds, per machine",
             "`convbench calibrate` measures the ladders of layers behind each threshold of the auto rule on the "
             "machine that uses them and stores them under `results/calibration/<machine>.json`, where "
             "`algorithm=\"auto\"` reads them on that machine (null: never). The check: what auto picks on each "
             "layer measured, as a multiple of the fastest exact variant's time there."]
    from convbench.interface.machine_thresholds import check_summary, threshold_text

    for path, data in _readable(results / "calibration", ("thresholds", "shipped", "check"), parts):
        how = {**data.get("ladders", {}), **data.get("fitted", {})}
        rows = [[name, threshold_text(data["shipped"].get(name)), threshold_text(value), how.get(name, "")]
                for name, value in data["thresholds"].items()]
        check = data["check"]
        summary = check_summary(check)
        checked = [[str(row[2]), row[3], row[5], figure(row[6], None), row[7], figure(row[8], None)]
                   for row in check["rows"]]
        parts.append(f"## {data.get('machine', path.stem)}\n\nmeasured {data.get('measured', '?')} at commit "
                     f"{data.get('commit', '?')}, {data.get('repeats', '?')} timed calls per variant and layer\n\n"
                     + markdown_table(["threshold", "shipped", "this machine", "measured on"], rows)
                     + f"\n\nauto within {check['target']}x of the fastest exact variant on {summary.within} of "
                       f"{summary.layers} layers calibrated, {summary.shipped_within} with the shipped thresholds\n\n"
                     + markdown_table(["layer", "fastest", "calibrated pick", "x fastest", "shipped pick",
                                       "x fastest"], checked))
    return "\n\n".join(parts) + "\n"


def pages(results: str | Path = "results") -> dict[str, str]:
    """Every findings page: {path under the docs: markdown}."""
    results = Path(results)
    return {"findings/suites.md": suites_page(results), "findings/targets.md": targets_page(results),
            "findings/corpus.md": corpus_page(results), "findings/records.md": records_page(results),
            "findings/calibration.md": calibration_page(results)}
