"""Where the threads sat while asv timed each sample of a sweep's benchmarks: a log beside asv's results.

asv keeps a time, not the conditions it was measured in, and on a VM whose two vCPUs move between core
complexes our multi-stage calls run up to twice as slow split as in one L3 while the peers do not move
(measure.placement). So the full sweep that `convbench bench` runs probes the placement before each
timed sample's warm-up and after the sample (suites/common.py), in the benchmark's process, outside the
timed call, and appends a line per sample to results/placements/<machine>/<commit>.jsonl:
{"benchmark": asv's name, "params": asv's text of each parameter, "before": ..., "after": ...}.

Appends are single short writes to a file opened for appending, so two writers interleave whole lines;
a line a killed run cut short is reported in one line and skipped. asv's value is the median of a
case's samples: where more than half of them ran in one placement (both probes read it), so did the
median's (the samples of one placement are all faster, or all slower, than the others'), and the case
is filed under it; else under CHANGED.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

LOG_ENV = "CONVBENCH_PLACEMENT_LOG"  # the log's path, set for the sweep's processes; unset: nothing probed


def log_path(results: str | Path, machine: str, commit: str) -> Path:
    return Path(results) / "placements" / machine / f"{commit[:8]}.jsonl"


def append(path: str | Path, benchmark: str, params: list[str], before: str, after: str) -> None:
    line = json.dumps({"benchmark": benchmark, "params": params, "before": before, "after": after}) + "\n"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode())
    finally:
        os.close(descriptor)


def placements(path: str | Path) -> dict[tuple[str, tuple[str, ...]], str]:
    """{(benchmark, params): the placement more than half of its samples ran in, or CHANGED}; {} when there
    is no log. A line that does not read is reported in one line and skipped."""
    from convbench.measure.placement import CHANGED  # numba's import, only where a log is read

    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return {}
    samples: dict[tuple[str, tuple[str, ...]], Counter] = {}
    skipped = 0
    for line in lines:
        try:
            entry = json.loads(line)
            key = (str(entry["benchmark"]), tuple(str(p) for p in entry["params"]))
            where = str(entry["before"]) if entry["before"] == entry["after"] else CHANGED
        except (ValueError, KeyError, TypeError):
            skipped += 1
            continue
        samples.setdefault(key, Counter())[where] += 1
    if skipped:
        print(f"convbench: skipped {skipped} unreadable line(s) of the placement log {path}")
    found = {}
    for key, counts in samples.items():
        where, count = counts.most_common(1)[0]
        found[key] = where if count > sum(counts.values()) / 2 else CHANGED
    return found


def newest_log(results: str | Path, machine: str, commits: list[str]) -> Path | None:
    """The log of the first of `commits` (newest first) that has one, or None."""
    for commit in commits:
        path = log_path(results, machine, commit)
        if path.exists():
            return path
    return None


def counts(path: str | Path) -> Counter:
    """How many benchmark cases of the log were measured in each placement."""
    return Counter(placements(path).values())
