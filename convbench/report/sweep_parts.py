"""The full sweep in parts that each save as they end, so that a killed sweep resumes where it stopped.

asv keeps a run's results only when the run ends, and the full sweep takes hours on a small machine: one
killed run would lose all it had measured. Here each benchmark is an asv run of its own (those that share
a setup_cache run together: it runs once per run); asv merges each into the commit's result file (it
loads what the file holds before it saves), and a rerun for the same commit skips every part the file
already holds complete at the benchmark's present version."""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Callable

# asv's `--bench` value that discovers the suites, writes results/benchmarks.json and runs nothing
DISCOVER_ONLY = "just-discover"


def parts(listing: dict) -> list[list[str]]:
    """The benchmarks of asv's listing (results/benchmarks.json) in the parts that run as one asv run
    each, in name order: one per benchmark, those that share a setup_cache together."""
    groups: dict[str, list[str]] = {}
    for name in sorted(key for key in listing if key != "version"):
        groups.setdefault(listing[name].get("setup_cache_key") or name, []).append(name)
    return list(groups.values())


def result_file(results: str | Path, machine: str, commit: str, executable: str = sys.executable) -> Path:
    """Where asv files this commit's run under `--python=same` (its environment is named after the
    interpreter's path)."""
    from asv.environment import get_env_name
    from asv.results import get_filename

    env_name = get_env_name("existing", executable.replace(os.path.sep, "_"), {}, {})
    return Path(results) / get_filename(machine, commit, env_name)


def complete(path: Path, listing: dict) -> set[str]:
    """The benchmarks of `listing` whose every parameter combination the result file holds, measured or
    n/a, at the benchmark's present version. A failed combination (asv's None) is run again; so is a
    benchmark that a quick run measured with fewer parameters."""
    from asv.results import Results
    from asv.util import UserError

    if not path.exists():
        return set()
    try:
        stored = Results.load(str(path))
    except (UserError, OSError, ValueError, KeyError) as err:
        print(f"convbench: skipping the unreadable {path} ({type(err).__name__}: {err}); measuring all again")
        return set()
    done = set()
    for name in stored.get_result_keys(listing):
        values = stored.get_result_value(name, listing[name].get("params") or [])
        if all(value is not None for value in (values if isinstance(values, list) else [values])):
            done.add(name)
    return done


def selecting(name: str) -> str:
    """asv's `--bench` regex for one benchmark, every parameter combination of it (asv matches a
    parameterised benchmark's regex against 'name(param, ...)')."""
    return f"^{re.escape(name)}(\\(.*\\))?$"


def run_in_parts(run: list[str], results: str | Path, machine: str, commit: str,
                 runner: Callable[[str, list[str]], None],
                 announce: Callable[[str, list[str]], None] = lambda title, command: None) -> list[list[str]]:
    """Discover the suites, then run each part of the sweep not yet complete for `commit` with `run` (an
    `asv run` command line with the machine and the commit hash set). Returns the parts it ran."""
    runner(f"discover the suites ({DISCOVER_ONLY})", [*run, "--bench", DISCOVER_ONLY])
    listing_path = Path(results) / "benchmarks.json"
    listing = json.loads(listing_path.read_text()) if listing_path.exists() else {}
    stored = result_file(results, machine, commit)
    done = complete(stored, listing)
    every = parts(listing)
    todo = [part for part in every if not set(part) <= done]
    announce(f"{len(every) - len(todo)} of {len(every)} parts already complete in {stored}; "
             f"{len(todo)} to run", [])
    for number, part in enumerate(todo, 1):
        selection = [argument for name in part for argument in ("--bench", selecting(name))]
        runner(f"part {number}/{len(todo)}: {', '.join(part)}", [*run, *selection])
    return todo
