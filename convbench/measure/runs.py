"""The harness's loops, callable from Python (a notebook) as from the CLI: check, sweep, model_sweep,
stages, targets.

Each returns rows of plain data; `convbench` (cli.py) only prints them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convbench.core.errors import ConvError
from convbench.interface import registry
from convbench.interface.api import plan
from convbench.workloads.layers import LAYER_SETS
from convbench.workloads.models import forward_costs
from convbench.measure.timing import alternating_medians, peak_rss_bytes, peak_traced_bytes, rss_peak_supported
from convbench.core import error_budget
from convbench.core.oracle import reference_for, relative_error
from convbench.workloads.random_inputs import random_problem, uniform
from convbench.core.spec import ConvSpec

CHECK_SPECS = (
    ConvSpec(N=2, C=3, H=9, W=11, K=4, R=3, S=3, padding=1),
    ConvSpec(N=1, C=4, H=17, W=12, K=3, R=3, S=3),
    ConvSpec(N=2, C=8, H=20, W=20, K=8, R=7, S=7, padding=3),
    ConvSpec(N=1, C=3, H=19, W=23, K=2, R=5, S=2, padding=(2, 1), stride=(2, 3)),
    ConvSpec(N=1, C=16, H=32, W=32, K=16, R=31, S=31, padding=15),
    ConvSpec(N=2, C=8, H=15, W=14, K=12, R=3, S=3, padding=2, dilation=2, groups=4),
    ConvSpec(N=2, C=16, H=14, W=14, K=16, R=3, S=3, padding=1, groups=16),  # depthwise
)


@dataclass(frozen=True)
class CheckRow:
    spec: ConvSpec
    algorithm: str
    backend: str
    error: float | None      # relative L2 error; None where the algorithm cannot compute the spec
    why_not: str = ""
    direction: str = "forward"     # or a training pass, checked for the peers that have them
    units: float | None = None     # rounding units (core.error_budget), where the variant has a budget in them
    allowed: float = 0.0           # the budget: rounding units where units is set, else the relative error

    @property
    def ok(self) -> bool | None:
        if self.error is None:
            return None
        return (self.units if self.units is not None else self.error) <= self.allowed


def _judged(spec, name, backend, direction, result, references) -> CheckRow:
    """One output against the oracle, by what core.error_budget says is correct for the variant: rounding
    units for ours on the CPU (the tests' budget), the relative error on real layers otherwise."""
    reference, scale = references
    error = relative_error(result, reference)
    if backend == "cpu" and error_budget.has_budget(name, direction):
        return CheckRow(spec, name, backend, error, direction=direction,
                        units=error_budget.rounding_units(result, reference, scale),
                        allowed=error_budget.budget(name, direction))
    return CheckRow(spec, name, backend, error, direction=direction, allowed=error_budget.tolerance(name, backend))


def _checked_labels(available) -> list[tuple[str, str]]:
    """(label, backend) of every available variant: ours by algorithm, the peers' by their own label."""
    found = []
    for a in available:
        if a.name in registry.PEER_VARIANTS:
            found.append((a.name, a.backend))
        else:
            found.extend((name, a.backend) for name in registry.LABELS if registry.VARIANTS[name][0] == a.name)
    return found


def _check_passes(p, spec, x, w, name, backend) -> list[CheckRow]:
    """A peer's training passes, where it has them, against the oracle's exact adjoints."""
    if name not in registry.PEER_VARIANTS or not p.training_passes:
        return []
    dy = uniform(np.random.default_rng(7), spec.output_shape)
    return [_judged(spec, name, backend, "backward_data", p.backward_data(dy, w),
                    error_budget.data_references(spec, dy, w)),
            _judged(spec, name, backend, "backward_filter", p.backward_filter(x, dy),
                    error_budget.filter_references(spec, x, dy))]


def check(specs=CHECK_SPECS, include_simulated_cuda: bool = False) -> tuple[list[CheckRow], list[str]]:
    """Every available (algorithm, backend), each variant and each peer, against the float64 oracle on each
    spec (a peer's training passes too, where it has them).

    Returns (rows, what was not checked and why). The CUDA simulator runs a thread
    at a time in Python, so cuda is left out under it unless asked for."""
    from convbench.algorithms.gpu import simulated

    skip_cuda = simulated() and not include_simulated_cuda
    listed = registry.implementations(peers=True)
    available = [a for a in listed if a.available and not (skip_cuda and a.backend == "cuda")]
    rows = []
    for spec in specs:
        x, w = random_problem(spec)
        references = error_budget.forward_references(spec, x, w)
        for name, backend in _checked_labels(available):
            why_not = registry.why_not(name, backend, spec)
            if why_not:
                rows.append(CheckRow(spec, name, backend, None, why_not))
                continue
            p = plan(spec, name, backend)
            rows.append(_judged(spec, name, backend, "forward", p(x, w), references))
            rows.extend(_check_passes(p, spec, x, w, name, backend))
    unchecked = [f"{a.name}/{a.backend}: {a.reason}" for a in listed if not a.available]
    if skip_cuda:
        unchecked.append("cuda: Numba's CUDA simulator is on (tests/test_cuda.py checks it on tiny shapes)")
    return rows, unchecked


@dataclass(frozen=True)
class SweepRow:
    layer: str
    spec: ConvSpec
    algorithm: str
    seconds: float
    vs_torch: float          # torch's time / this time, both measured in this run
    gflops: float            # effective: 2·N·K·C·R·S·P·Q / time
    error: float             # relative L2 error against the float64 oracle


def sweep(layer_sets=("convnet",), repeats: int = 3, backend: str = "cpu") -> list[SweepRow]:
    """Median time, ratio to torch, effective GFLOP/s and error of every algorithm and variant on real
    layers, the variants of a layer timed in turns (measure.alternating_medians)."""
    rows = []
    for named in (one for name in layer_sets for one in LAYER_SETS[name]):
        spec = named.spec
        x, w = random_problem(spec)
        reference = reference_for(spec, x, w)
        plans = {name: plan(spec, name, backend) for name in ("torch", *(a for a in registry.LABELS if a != "torch"))
                 if registry.supports(name, backend, spec)}
        times = alternating_medians({name: (lambda p=p: p(x, w)) for name, p in plans.items()}, repeats)
        for name, p in plans.items():
            seconds = times[name]
            rows.append(SweepRow(named.name, spec, name, seconds, times["torch"] / seconds, spec.flops / seconds / 1e9,
                                 relative_error(p(x, w), reference)))
        del plans
    return rows


@dataclass(frozen=True)
class ModelLayerRow:
    """One unique convolution of a model: every variant's median time per call, measured in one run."""
    layer: object            # convbench.workloads.models.ModelLayer: spec, module names, count
    seconds: dict            # label -> median seconds per call, for each variant that can compute it

    @property
    def winner(self) -> str:
        return min(self.seconds, key=self.seconds.get)


@dataclass(frozen=True)
class ModelTotals:
    """One forward pass's convolutions: each variant's total (count x time per layer, torch's time
    on the layers it cannot compute), and the cherry-pick: the fastest variant on every layer."""
    seconds: dict            # label -> total seconds
    own_layers: dict         # label -> unique layers it computed itself (the rest are torch's)
    cherry_pick: float
    layers: int

    @property
    def vs_torch(self) -> dict:
        return {label: self.seconds["torch"] / seconds for label, seconds in self.seconds.items()}

    @property
    def cherry_pick_vs_torch(self) -> float:
        return self.seconds["torch"] / self.cherry_pick


def model_sweep(layers, labels=registry.LABELS, repeats: int = 3, backend: str = "cpu",
                on_layer=None, inference: bool = False) -> list[ModelLayerRow]:
    """Every variant of labels (torch always among them) timed on each of a model's unique
    convolutions (convbench.workloads.models.from_model); on_layer(row) is called as each finishes.
    inference: the filters fixed by set_weights first, as a deployed model has them."""
    from convbench.measure.recommend import measure_all

    wanted = ("torch", *(label for label in labels if label != "torch"))
    rows = []
    for found in layers:
        row = ModelLayerRow(found, measure_all(found.spec, backend, repeats, wanted, inference))
        rows.append(row)
        if on_layer:
            on_layer(row)
    return rows


def model_totals(rows: list[ModelLayerRow]) -> ModelTotals:
    present = {label for row in rows for label in row.seconds}
    labels = ["torch", *(label for label in registry.SWEPT_LABELS if label in present and label != "torch")]
    costs, computed = forward_costs([row.layer.count for row in rows],
                                    {label: [row.seconds.get(label) for row in rows] for label in labels})
    seconds = {label: sum(costs[label]) for label in labels}
    own = {label: sum(computed[label]) for label in labels}
    return ModelTotals(seconds, own, sum(costs["cherry-pick"]), len(rows))


def model_records(model: str, input_shape, rows: list[ModelLayerRow], totals: ModelTotals,
                  inference: bool = False) -> dict:
    """The model sweep as plain data (JSON, CSV): a record per (layer, variant), and the totals."""
    layers = []
    for row in rows:
        spec = row.layer.spec
        shape = dict(N=spec.N, C=spec.C, H=spec.H, W=spec.W, K=spec.K, R=spec.R, S=spec.S,
                     padding=list(spec.padding), stride=list(spec.stride), dilation=list(spec.dilation),
                     groups=spec.groups)
        for label, seconds in row.seconds.items():
            layers.append(dict(model=model, layer=row.layer.name, modules=list(row.layer.names), count=row.layer.count,
                               **shape, algorithm=label, seconds=seconds, winner=label == row.winner))
    return dict(model=model, input=list(input_shape), inference=inference, layers=layers,
                totals=dict(seconds=totals.seconds, own_layers=totals.own_layers, cherry_pick=totals.cherry_pick,
                            cherry_pick_vs_torch=totals.cherry_pick_vs_torch))


def write_csv(records: list[dict], path) -> None:
    import csv

    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        for record in records:
            writer.writerow({k: " ".join(map(str, v)) if isinstance(v, list) else v for k, v in record.items()})


@dataclass(frozen=True)
class StageRow:
    compression: float
    achieved: float
    stage: str               # a stage's name, "call" (the whole call) or "sum of stages"
    seconds: float
    plan_traced_bytes: int   # what building the plan allocated (tracemalloc)
    call_traced_bytes: int   # peak of one call (tracemalloc)
    call_rss_bytes: float    # peak RSS rise of one call (nan where unsupported)
    work_bytes: float | None = None   # compulsory bytes moved, counted from the shapes (algorithms/work.py)
    work_flops: float | None = None   # flops of the stage's method, counted likewise
    bound_seconds: float | None = None  # roofline bound: max(bytes / copy bandwidth, flops / fp32 FMA peak)

    @property
    def of_bound(self) -> float | None:
        """The fraction of its roofline bound the stage reaches (1 = at the bound)."""
        return None if self.bound_seconds is None else self.bound_seconds / self.seconds


PEER_PHASES = {"input_transform": "input transform", "kernel_transform": "filter transform",
               "block_multiplication": "contraction", "output_transform": "output transform"}


def nnpack_stages(spec: ConvSpec, algorithm: str, repeats: int = 5) -> tuple[str, dict]:
    """(NNPACK's variant of algorithm's family, {our stage name: median seconds of NNPACK's phase}) from
    nnp_profile over `repeats` calls: NNPACK's stages beside ours (`convbench stages --peer nnpack`)."""
    family = registry.FAMILY.get(algorithm)
    nnpack = [name for name, (peer, _) in registry.CPU_PEER_VARIANTS.items() if peer == "nnpack"]
    label = next((name for name in nnpack if registry.FAMILY[name] == family), None)
    if label is None:
        peers = sorted({registry.FAMILY[name] for name in nnpack})
        raise ConvError(f"--peer nnpack: NNPACK has no implementation of {algorithm!r}'s family ({family}); "
                        f"expected an algorithm of {', '.join(peers)}")
    why = registry.why_not(label, "cpu", spec)
    if why:
        raise ConvError(f"--peer nnpack: {label} cannot compute {spec}: {why}")
    x, w = random_problem(spec)
    p = plan(spec, label)
    p(x, w)
    profiles = [p.profile(x, w) for _ in range(repeats)]
    return label, {ours: float(np.median([found[phase] for found in profiles])) for phase, ours in PEER_PHASES.items()}


def stages(spec: ConvSpec, algorithm: str = "fft", compressions=None, repeats: int = 5) -> list[StageRow]:
    """Where the time and memory of one CPU call go, stage by stage, at each compression
    (default: 0 and 0.5 for the band-limited fft, 0 for every other variant).

    The stages and the whole call are timed in turns (measure.alternating_medians), each timed
    run after an untimed one of itself, so the call's overhead over the sum of its stages is
    what the call does besides them (its checks, handing the cores between pools), not drift.
    Staged plans add each stage's counted bytes and flops and its roofline bound
    (convbench.measure.roofline: this machine's measured copy bandwidth and fp32 FMA peak)."""
    from convbench.measure.roofline import measured_ceilings

    if compressions is None:
        compressions = (0.0, 0.5) if algorithm in registry.COMPRESSIBLE else (0.0,)
    x, w = random_problem(spec)
    rows = []
    for compression in compressions:
        built = {}
        plan_bytes = peak_traced_bytes(lambda: built.setdefault("plan", plan(spec, algorithm, "cpu", compression)))
        p = built["plan"]
        p(x, w)  # first-call work (dispatch, lazy buffers) is not the steady state
        call_bytes = peak_traced_bytes(lambda: p(x, w))
        rss_bytes = peak_rss_bytes(lambda: p(x, w)) if rss_peak_supported() else float("nan")
        named = p.stages(x, w)
        staged = len(named) > 1
        if staged:
            named["call"] = lambda: p(x, w)
        times = alternating_medians(named, repeats)
        work = p.stage_work() if staged else {}
        ceilings = measured_ceilings() if work else None
        memory = (plan_bytes, call_bytes, rss_bytes)
        for stage, seconds in times.items():
            done = work.get(stage)
            rows.append(StageRow(compression, p.compression, stage, seconds, *memory,
                                 *((done.bytes, done.flops, ceilings.bound_seconds(done)) if done else ())))
        if staged:
            total = sum(seconds for stage, seconds in times.items() if stage != "call")
            bound = sum(row.bound_seconds for row in rows[-len(times):] if row.bound_seconds is not None)
            rows.append(StageRow(compression, p.compression, "sum of stages", total, *memory,
                                 sum(item.bytes for item in work.values()), sum(item.flops for item in work.values()),
                                 bound))
    return rows


def call_over_stages(rows: list[StageRow]) -> dict:
    """{compression: the call's time over the sum of its stages' times} (1.0: no overhead)."""
    calls = {row.compression: row.seconds for row in rows if row.stage == "call"}
    sums = {row.compression: row.seconds for row in rows if row.stage == "sum of stages"}
    return {c: calls[c] / sums[c] for c in calls if c in sums}


@dataclass(frozen=True)
class TargetRow:
    name: str
    goal: str                # as printed: ">= 1.50", "<= 0.60", or what it is compared with
    measured: float
    met: bool | None         # None: no goal (inference mode, the GPU ratios), or not measured here
    why_not: str = ""        # why a peer ratio was not measured on this machine
    placement: str = ""      # the threads' placement it was measured in (measure.placement); "" unprobed (workspace, GPU)


def targets(only: str | None = None, repeats: int = 5) -> list[TargetRow]:
    """Each speed target's ratio, timed alternately against its peer in this process, in one placement of
    the threads (measure.placement.in_one_placement)."""
    from convbench.measure.placement import in_one_placement
    from convbench.measure.targets import GPU_RATIOS, INFERENCE, PEER_RATIOS, SIGNAL, TARGETS, TRAINING, WORKSPACE_GOAL, compression_workspace_ratio, measured_speedup, peer_problem, signal_workspace_ratio, training_workspace_ratio

    wanted = lambda name: not only or only in name  # noqa: E731
    rows = []

    def against_goals(targets):
        for name, target in targets.items():
            if not wanted(name):
                continue
            why = peer_problem(target)  # a peer that cannot run here (a library, an instruction set): n/a
            if why:
                rows.append(TargetRow(name, f">= {target.goal:.2f}", float("nan"), None, why))
                continue
            ratio, where = in_one_placement(lambda: measured_speedup(target, repeats))
            rows.append(TargetRow(name, f">= {target.goal:.2f}", ratio, ratio >= target.goal, placement=where))

    def workspace(name, measured_ratio):
        if wanted(name):
            ratio = measured_ratio()
            rows.append(TargetRow(name, f"<= {WORKSPACE_GOAL:.2f}", ratio, ratio <= WORKSPACE_GOAL))

    against_goals(TARGETS)
    against_goals(TRAINING)
    workspace("fft step 7x7 valid workspace c=0.5 / c=0", training_workspace_ratio)
    for name, target in INFERENCE.items():
        if wanted(name):
            ratio, where = in_one_placement(lambda: measured_speedup(target, repeats, inference=True))
            rows.append(TargetRow(name + " (set_weights)", f"({target.goal:.2f} per call)", ratio, None, placement=where))
    workspace("fft 7x7 workspace c=0.5 / c=0", compression_workspace_ratio)
    against_goals(SIGNAL)
    workspace("1-D fft 65536x4096 workspace c=0.5 / c=0", signal_workspace_ratio)
    against_goals(PEER_RATIOS)
    for name, target in GPU_RATIOS.items():
        if wanted(name) and registry.supports("torch", "cuda", target.spec):  # a GPU with cuDNN only
            ratio = measured_speedup(target, repeats)  # no placement: a GPU call's time does not rest on the host's caches
            goal = target.goal or None  # most GPU rows are measured against no goal yet
            rows.append(TargetRow(name, f">= {goal:.2f}" if goal else "-", ratio, None if goal is None else ratio >= goal))
    return rows


@dataclass(frozen=True)
class PlacementEffect:
    name: str
    ratios: dict[str, list[float]]  # {placement: the ratios of the rounds measured in it}


@dataclass(frozen=True)
class PlacementRun:
    effects: list[PlacementEffect]
    probes: dict[str, list[float]]  # {placement: the probes read as it (neighbour's read / own read)}


def placement_effect(only: str, seconds: float = 60.0, repeats: int = 5) -> PlacementRun:
    """How far each speed target whose name contains `only` moves with the threads' placement: its two
    calls timed in turns (alternating_medians), round after round for about `seconds`, each round's ratio
    filed under the placement probed before and after it; a round in which it changed is dropped. The
    CPU targets only (a GPU call's time does not rest on the host's caches)."""
    import time

    from convbench.measure import placement
    from convbench.measure.targets import peer_problem, timed_calls

    chosen = {name: target for name, target in speedup_targets().items()
              if only in name and target.backend == "cpu" and not peer_problem(target)}
    if not chosen:
        raise ConvError(f"--effect {only!r} names no CPU speed target this machine runs (see `convbench targets`)")
    calls = {}
    for name, target in chosen.items():
        calls[name, "ours"], calls[name, "peer"] = timed_calls(target)[:2]
    found, probes = {name: {} for name in chosen}, {}

    def probe() -> str:
        ratio = placement.cross_read_ratio()
        where = placement.placement(ratio)
        probes.setdefault(where, []).append(ratio)
        return where

    end = time.monotonic() + seconds
    while True:
        times, where = placement.in_one_placement(lambda: alternating_medians(calls, repeats), tries=1, probe=probe)
        if where != placement.CHANGED:
            for name in chosen:
                found[name].setdefault(where, []).append(times[name, "peer"] / times[name, "ours"])
        if time.monotonic() >= end:
            return PlacementRun([PlacementEffect(name, ratios) for name, ratios in found.items()], probes)


def speedup_targets() -> dict:
    """Every ratio target the regression guard may compare, by name (workspace ratios aside)."""
    from convbench.measure.targets import PEER_RATIOS, SIGNAL, TARGETS, TRAINING

    return {**TARGETS, **TRAINING, **SIGNAL, **PEER_RATIOS}


def interference(spec: ConvSpec, algorithms=("direct", "winograd F(4x4,3x3)", "fft", "fft tile 16"),
                 repeats: int = 15, against: str = "torch") -> dict:
    """{variant: measure.interference of it against `against` (torch, or one of ours beside a peer) on
    spec}: each side's call right after the other's, over the same call right after itself (1.0: no
    effect). A peer brings its own pool: NNPACK's pthreadpool, oneDNN 2.6
    on torch's OpenMP runtime."""
    from convbench.measure.timing import interference as measured

    x, w = random_problem(spec)
    peer = plan(spec, against)
    found = {}
    for name in algorithms:
        if registry.supports(name, "cpu", spec):
            ours = plan(spec, name)
            found[name] = measured(lambda: ours(x, w), lambda: peer(x, w), repeats)
    return found
