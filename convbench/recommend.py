"""Which algorithm is fastest for a shape on this machine, from measurements.

Like cudnn.benchmark or NNPACK's auto choice: the first time a shape is asked
for, every available exact algorithm (compression 0) is timed on it; the
times are stored in $CONVBENCH_CACHE/recommend.json (default
~/.cache/convbench) per machine and backend, and later questions are
answered from the store.
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from convbench.algorithms.gpu import on_backend

from . import registry
from .api import plan
from .measure import median_seconds
from .signals import random_problem
from .spec import ConvSpec


def store_path() -> Path:
    root = os.environ.get("CONVBENCH_CACHE") or Path.home() / ".cache" / "convbench"
    return Path(root) / "recommend.json"


def _key(spec: ConvSpec, backend: str) -> str:
    return f"{platform.node()}|{backend}|{spec!r}"


def measure_all(spec: ConvSpec, backend: str = "cpu", repeats: int = 3) -> dict[str, float]:
    """Median seconds per call of every available algorithm that can compute spec."""
    (x, w), sync = on_backend(backend, *random_problem(spec))
    times = {}
    for name in registry.ALGORITHMS:
        if registry.supports(name, backend, spec):
            p = plan(spec, name, backend)
            times[name] = median_seconds(lambda: p(x, w), repeats=repeats, sync=sync)
    return times


def recommend(spec: ConvSpec, backend: str = "cpu", remeasure: bool = False) -> tuple[str, dict[str, float], bool]:
    """(fastest algorithm, seconds per algorithm, whether it was measured just now)."""
    registry.check_names("direct", backend)
    path = store_path()
    stored = json.loads(path.read_text()) if path.exists() else {}
    key = _key(spec, backend)
    measured = remeasure or key not in stored
    if measured:
        stored[key] = measure_all(spec, backend)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=1))
    times = stored[key]
    return min(times, key=times.get), times, measured
