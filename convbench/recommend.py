"""Which algorithm is fastest for a shape on this machine, from measurements.

Like cudnn.benchmark or NNPACK's auto choice: the first time a shape is asked
for, every available exact algorithm (compression 0) is timed on it; the
times are stored in $CONVBENCH_CACHE/recommend.json (default
~/.cache/convbench) per machine and backend, and later questions are
answered from the store.
"""
from __future__ import annotations

import platform
from pathlib import Path

from convbench.algorithms.fft.bandlimit import fft_grid

from . import registry
from .api import plan
from .cache import cache_root, read_json, update_json
from .measure import alternating_medians, on_backend
from .selection import rule
from .signals import random_problem
from .spec import ConvSpec


def store_path() -> Path:
    return cache_root() / "recommend.json"


def _key(spec: ConvSpec, backend: str) -> str:
    return f"{platform.node()}|{backend}|{spec!r}"


def measure_all(spec: ConvSpec, backend: str = "cpu", repeats: int = 3, labels=registry.LABELS,
                inference: bool = False) -> dict[str, float]:
    """Median seconds per call of every available algorithm and variant (of labels) that can compute spec,
    the variants called in turns (measure.alternating_medians). inference: the filters fixed once by
    set_weights (their transform done then), each call plan(x)."""
    (x, w), sync = on_backend(backend, *random_problem(spec))
    plans = {name: plan(spec, name, backend) for name in labels if registry.supports(name, backend, spec)}
    if inference:
        calls = {name: (lambda p=p.set_weights(w): p(x)) for name, p in plans.items()}
    else:
        calls = {name: (lambda p=p: p(x, w)) for name, p in plans.items()}
    return alternating_medians(calls, repeats, sync=sync)


def recommend(spec: ConvSpec, backend: str = "cpu", remeasure: bool = False) -> tuple[str, dict[str, float], bool]:
    """(fastest algorithm, seconds per algorithm, whether it was measured just now)."""
    registry.check_names("direct", backend)
    times = None if remeasure else stored(spec, backend)
    measured = times is None
    if measured:
        times = measure_all(spec, backend)
        update_json(store_path(), {_key(spec, backend): times})
    return min(times, key=times.get), times, measured


def stored(spec: ConvSpec, backend: str = "cpu") -> dict[str, float] | None:
    """The stored seconds per algorithm for spec on this machine, or None (nothing is measured)."""
    times = read_json(store_path()).get(_key(spec, backend))
    return times if _valid(times) else None


def choose(spec: ConvSpec, backend: str = "cpu") -> tuple[str, str]:
    """(algorithm, why) for algorithm="auto": a stored measurement, else convbench.selection's rule."""
    registry.check_names("direct", backend)
    times = stored(spec, backend)
    if times:
        runnable = {name: t for name, t in times.items() if registry.supports(name, backend, spec)}
        if runnable:
            best = min(runnable, key=runnable.get)
            return best, f"fastest exact algorithm measured here ({1e3 * runnable[best]:.3g} ms a call, convbench recommend)"
    algorithm, why = rule(spec.N, spec.C, spec.K, spec.R, spec.S, spec.stride == (1, 1), backend,
                          spec.P, spec.Q, fft_grid(spec), spec.plain)
    return algorithm, f"rule (convbench.selection): {why}"


def _valid(times) -> bool:
    """A stored entry is {algorithm: seconds}; anything else (a hand edit, an old format) is measured again."""
    return (isinstance(times, dict) and bool(times)
            and all(name in registry.LABELS and isinstance(t, (int, float)) for name, t in times.items()))
