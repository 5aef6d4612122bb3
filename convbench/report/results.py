"""Reading asv's result files into one tidy table (no re-measuring)."""
from __future__ import annotations

import ast
import itertools
import json
from pathlib import Path

import pandas as pd

from convbench.core.errors import ConvError


def _param_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _rows(path: Path, data: dict, benchmarks: dict) -> list[dict]:
    """One result file's rows (raises on a file that is not asv's format)."""
    rows = []
    columns = data["result_columns"]
    for name, entry in data["results"].items():
        entry = dict(zip(columns, entry))
        meta = benchmarks.get(name, {})
        names = meta.get("param_names", [])
        combos = list(itertools.product(*entry.get("params", []))) or [()]
        values = entry["result"] if isinstance(entry["result"], list) else [entry["result"]]
        suite, _, measure = name.rpartition(".")
        for combo, value in zip(combos, values or [None] * len(combos)):
            row = dict(machine=path.parent.name, commit=data["commit_hash"], date=data.get("date"),
                       env=data.get("env_name"), started=entry.get("started_at"), benchmark=name,
                       suite=suite.split(".")[-1], measure=measure, unit=meta.get("unit"),
                       value=float("nan") if value is None else float(value))
            row.update({param: _param_value(v) for param, v in zip(names, combo)})
            rows.append(row)
    return rows


def load_results(results_dir="results", machine: str | None = None, latest_only: bool = True) -> pd.DataFrame:
    """One row per (result file, benchmark, parameter combination) with its value.

    Columns: machine, commit, date, env, benchmark, suite, measure, the
    benchmark's own parameter names, and value (NaN for n/a or failed).
    With latest_only, each machine keeps, for each benchmark and parameter
    combination, the value of its newest run that measured it: a quick run after
    a full sweep updates the quick subset and leaves the rest of the sweep in.
    """
    listing = Path(results_dir) / "benchmarks.json"
    try:
        benchmarks = json.loads(listing.read_text())
    except (OSError, ValueError) as err:
        raise ConvError(f"{listing} cannot be read ({type(err).__name__}: {err}); expected asv's list of "
                        f"benchmarks (`asv run` or `convbench bench` writes it)") from None
    if not isinstance(benchmarks, dict):
        raise ConvError(f"{listing} is not asv's list of benchmarks (a JSON object)")
    rows = []
    machines = [m.parent for m in Path(results_dir).glob("*/machine.json")]  # not html/, figures/
    for path in sorted(p for folder in machines for p in folder.glob("*.json")):
        if path.name == "machine.json" or (machine and path.parent.name != machine):
            continue
        try:
            rows += _rows(path, json.loads(path.read_text()), benchmarks)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            # what a run killed mid-write leaves; asv publish skips it the same way
            print(f"convbench: skipping the unreadable asv result file {path} ({type(err).__name__}: {err})")
    frame = pd.DataFrame(rows)
    if frame.empty:
        raise ConvError(f"no asv results under {results_dir}/ (run `convbench bench` first)")
    if latest_only:
        params = sorted({p for meta in benchmarks.values() if isinstance(meta, dict)
                         for p in meta.get("param_names", [])} & set(frame.columns))
        # a measured value beats an n/a; among those, the newest run wins
        ordered = frame.assign(_measured=frame["value"].notna()).sort_values(["_measured", "started"])
        frame = ordered.groupby(["machine", "benchmark", *params], dropna=False, sort=False).tail(1)
        frame = frame.drop(columns="_measured").sort_index()
    return frame
