"""algorithm="auto": the fastest exact algorithm stored for this machine and shape, else the rule.

Like cudnn.benchmark: `convbench recommend` (convbench.measure.recommend) times every
exact algorithm on a shape and stores the times in $CONVBENCH_CACHE/recommend.json
(default ~/.cache/convbench), per machine and backend; this module only reads that
store, so plan(spec, "auto") needs nothing above the interface.
"""
from __future__ import annotations

import platform
from pathlib import Path

from convbench.core.cache import cache_root, read_json
from convbench.core.selection import select
from convbench.core.spec import ConvSpec
from convbench.interface import registry


def store_path() -> Path:
    return cache_root() / "recommend.json"


def store_key(spec: ConvSpec, backend: str) -> str:
    return f"{platform.node()}|{backend}|{spec!r}"


def stored(spec: ConvSpec, backend: str = "cpu") -> dict[str, float] | None:
    """The stored seconds per algorithm for spec on this machine, or None (nothing is measured)."""
    times = read_json(store_path()).get(store_key(spec, backend))
    return times if _valid(times) else None


def choose(spec: ConvSpec, backend: str = "cpu") -> tuple[str, str]:
    """(algorithm, why) for algorithm="auto": a stored measurement, else convbench.core.selection's rule."""
    registry.check_names("direct", backend)
    times = stored(spec, backend)
    if times:
        runnable = {name: t for name, t in times.items() if registry.supports(name, backend, spec)}
        if runnable:
            best = min(runnable, key=runnable.get)
            return best, f"fastest exact algorithm measured here ({1e3 * runnable[best]:.3g} ms a call, convbench recommend)"
    fft, _, _ = registry.resolved_implementation("fft", "cpu")
    choice = select(spec, backend, grid=fft.spectral_grid(spec))
    return choice.label, f"rule (convbench.core.selection): {choice.why}"


def _valid(times) -> bool:
    """A stored entry is {algorithm: seconds}; anything else (a hand edit, an old format) is measured again."""
    return (isinstance(times, dict) and bool(times)
            and all(name in registry.LABELS and isinstance(t, (int, float)) for name, t in times.items()))
