"""Which algorithm is fastest for a shape on this machine, measured: `convbench recommend`.

Like cudnn.benchmark or NNPACK's auto choice: the first time a shape is asked
for, every available exact algorithm (compression 0) is timed on it; the times
are stored per machine and backend where algorithm="auto" reads them
(convbench.interface.auto), and later questions are answered from the store.
"""
from __future__ import annotations

from convbench.core.cache import update_json
from convbench.core.spec import ConvSpec
from convbench.interface import registry
from convbench.interface.api import plan
from convbench.interface.auto import store_key, store_path, stored
from convbench.measure.timing import alternating_medians, on_backend
from convbench.workloads.random_inputs import random_problem

__all__ = ["measure_all", "recommend", "store_path", "stored"]


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
        update_json(store_path(), {store_key(spec, backend): times})
    return min(times, key=times.get), times, measured
