"""algorithm="auto": the fastest exact algorithm stored for this machine and shape, else the rule.

Like cudnn.benchmark: `convbench recommend` (convbench.measure.recommend) times every
exact algorithm on a shape and stores the times in $CONVBENCH_CACHE/recommend.json
(default ~/.cache/convbench), per machine and backend. The corpus sweep's store
(results/corpus/<machine id>/*.jsonl, or $CONVBENCH_CORPUS_STORE) holds the same
for the corpus's layers on this hardware, and is read when recommend has no entry.
This module only reads those stores, so plan(spec, "auto") needs nothing above the
interface.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from convbench.core.cache import cache_root, read_json
from convbench.core.machine import machine_id
from convbench.core.layer_records import line_problem
from convbench.core.records import merged, read_records
from convbench.core.selection import select
from convbench.core.spec import ConvSpec
from convbench.interface import registry
from convbench.interface.machine_thresholds import thresholds_here


def store_path() -> Path:
    return cache_root() / "recommend.json"


def store_key(spec: ConvSpec, backend: str) -> str:
    """Per machine identity (core.machine), never the hostname: a VM keeps its name across hardware."""
    return f"{machine_id()}|{backend}|{spec!r}"


def stored(spec: ConvSpec, backend: str = "cpu") -> dict[str, float] | None:
    """The stored seconds per algorithm for spec on this machine, or None (nothing is measured):
    `convbench recommend`'s, else the corpus sweep's."""
    times = read_json(store_path()).get(store_key(spec, backend))
    if _valid(times):
        return times
    times = corpus_times().get(repr(spec)) if backend == "cpu" else None
    return times if _valid(times) else None


def corpus_store() -> Path:
    return Path(os.environ.get("CONVBENCH_CORPUS_STORE") or Path("results") / "corpus") / machine_id()


_corpus_index: dict = {}  # {(file, mtime, size) of every store file: {repr(spec): {label: seconds}}}


def corpus_times() -> dict[str, dict[str, float]]:
    """{repr(spec): {label: seconds}} of every layer in this machine's corpus store (each variant from the
    newest record of the spec that measured it, core.records.merged); read again only when a file changed."""
    files = sorted(corpus_store().glob("*.jsonl"))
    state = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    if state not in _corpus_index:
        def spec_key(record):
            try:
                return repr(ConvSpec.from_json(record["spec"]))
            except (KeyError, TypeError, AttributeError, ValueError):
                return None  # a layer convbench cannot express (spec None), or another version's format

        latest = merged((record for path in files for record in read_records(path, line_problem)), spec_key)
        found = {}
        for key, record in latest.items():
            try:
                found[key] = {label: v["seconds"] for label, v in record["variants"].items()
                              if "seconds" in v and not v.get("timed_once")}
            except (KeyError, TypeError, AttributeError):
                continue  # another version's format
        _corpus_index.clear()
        _corpus_index[state] = found
    return _corpus_index[state]


def choose(spec: ConvSpec, backend: str = "cpu") -> tuple[str, str]:
    """(algorithm, why) for algorithm="auto": a stored measurement, else convbench.core.selection's rule."""
    registry.check_names("direct", backend)
    times = stored(spec, backend)
    if times:
        runnable = {name: t for name, t in times.items() if registry.supports(name, backend, spec)}
        if runnable:
            best = min(runnable, key=runnable.get)
            return best, (f"fastest exact algorithm measured here ({1e3 * runnable[best]:.3g} ms a call, "
                          f"convbench recommend or the corpus sweep)")
    fft, _, _ = registry.resolved_implementation("fft", "cpu")
    thresholds, source = thresholds_here()
    choice = select(spec, backend, grid=fft.spectral_grid(spec), thresholds=thresholds)
    return choice.label, f"rule (convbench.core.selection, {source}): {choice.why}"


def _valid(times) -> bool:
    """A stored entry is {algorithm: positive finite seconds}; anything else (a hand edit, an old format, a
    time of -1 or NaN) is measured again."""
    return (isinstance(times, dict) and bool(times)
            and all(name in registry.LABELS and isinstance(t, (int, float)) and not isinstance(t, bool)
                    and math.isfinite(t) and t > 0 for name, t in times.items()))
