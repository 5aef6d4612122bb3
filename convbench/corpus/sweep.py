"""`convbench sweep --corpus TIER`: every variant timed, and with check verified, on every layer of a
corpus tier, each layer's records on disk as soon as they are measured.

The store is one file per (machine, run) under results/corpus/<machine id>/, a
run being the tier, the shard and the batch (`dense-shard2of4-b1.jsonl`). Each
line is one layer: its id, its spec, the machine's identity, the commit, and
for each variant the median seconds (convbench's one timing protocol:
alternating turns, warm-up, an untimed call before each timed one), or n/a and
why, and with check its error and verdict. convbench.core.records writes each
line whole and fsync'd, so a killed sweep loses at most the layer in flight,
and a rerun skips the layers the machine's store already holds (sweep_corpus
says which count): nothing is measured twice.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from convbench.core import error_budget
from convbench.core.errors import ConvError
from convbench.core.machine import commit, identity, machine_id
from convbench.core.oracle import reference_for, relative_error
from convbench.core.layer_records import line_problem
from convbench.core.records import append_record, merged, read_records
from convbench.corpus import table
from convbench.corpus.extract import conv_spec
from convbench.interface import registry
from convbench.interface.api import plan
from convbench.measure.measurement_lock import measuring
from convbench.measure.roofline import calibration
from convbench.measure.timing import alternating_medians
from convbench.workloads.random_inputs import random_problem

STORE = Path("results") / "corpus"
# A variant whose filter spectra alone (a bound from the shapes: K·C/groups complex64 values per
# frequency it keeps) pass this is not run: 3 GiB, an eighth of this 24 GiB machine, leaves room for
# the other variants' plans alive beside it in the alternation. CONVBENCH_SPECTRUM_LIMIT overrides it.
SPECTRUM_LIMIT = 3 * 2**30


# Slower than SLOW x torch on one call (and slower than SLOW_FLOOR seconds, under which the turns are
# cheap): timed once. 10x: no variant that lost by 10x on one call has won the turns (smoke tier).
SLOW = 10.0
SLOW_FLOOR = 0.01


def spectrum_bound_bytes(spec, label: str) -> int:
    """Bytes of the filter spectra an fft variant holds for spec (0 for the others; fft-conv-pytorch's are on
    the padded input's grid; scipy's are bounded by its chunks)."""
    algorithm, options = registry.ALL_VARIANTS[label]
    if algorithm == "fft-conv-pytorch":
        return spec.K * spec.C_per_group * (spec.H + 2 * spec.pad_h) * ((spec.W + 2 * spec.pad_w) // 2 + 1) * 8
    if algorithm != "fft":
        return 0
    if "tile" in options:
        height = width = options["tile"]
    else:
        from convbench.algorithms.fft.bandlimit import fft_grid

        height, width = fft_grid(spec)
    return spec.K * spec.C_per_group * height * (width // 2 + 1) * 8


def spectrum_limit() -> int:
    return int(float(os.environ.get("CONVBENCH_SPECTRUM_LIMIT", SPECTRUM_LIMIT)))


def run_name(tier: str, shard: tuple[int, int] = (1, 1), batch: int = 1, sample: int | None = None) -> str:
    index, count = shard
    return (f"{tier}" + (f"-sample{sample}" if sample else "") + (f"-shard{index}of{count}" if count > 1 else "")
            + f"-b{batch}")


def store_path(run: str, store: Path = STORE, machine: str | None = None) -> Path:
    return Path(store) / (machine or machine_id()) / f"{run}.jsonl"


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' (1 <= I <= N) as (I, N)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConvError(f"shard must be I/N with 1 <= I <= N, e.g. 2/4; got {text!r}") from None
    if not 1 <= index <= count:
        raise ConvError(f"shard must be I/N with 1 <= I <= N, e.g. 2/4; got {text!r}")
    return index, count


def tier_layers(tier: str, shard=(1, 1), sample: int | None = None, data: Path = table.DATA) -> list[dict]:
    """The tier's layers (a stratified sample of them when asked), every count-th from index: a shard."""
    rows = table.tier(tier, data)
    if sample:
        rows = table.sample(rows, sample)
    index, count = shard
    return rows[index - 1::count]


def _spec_record(spec) -> dict:
    return dict(N=spec.N, C=spec.C, H=spec.H, W=spec.W, K=spec.K, R=spec.R, S=spec.S, padding=list(spec.padding),
                stride=list(spec.stride), dilation=list(spec.dilation), groups=spec.groups)


def _why_not(label: str, spec) -> str:
    why = registry.why_not_swept(label, "cpu", spec)  # a tile of mostly padding too; the whole-image fft covers it
    if why:
        return why
    bound, limit = spectrum_bound_bytes(spec, label), spectrum_limit()
    if bound > limit:
        return (f"its filter spectra would take {bound / 2**30:.1f} GiB (a bound from the shapes), over the "
                f"sweep's {limit / 2**30:.1f} GiB limit (CONVBENCH_SPECTRUM_LIMIT)")
    return ""


def _timed(spec, labels, repeats: int) -> dict:
    """{label: {"seconds": median} or {"why_not": ...}}: the runnable variants timed in turns; one that
    fails to build or to run is recorded with its error, and the others are timed without it. A variant
    whose second call takes over SLOW times torch's is timed by that call alone ("timed_once"): it
    cannot win the layer, and the turns would spend most of the sweep on it
    (results/records/implementation-choices.json, row sweep-slow-variant-timed-once)."""
    x, w = random_problem(spec)
    results, calls, torch_seconds = {}, {}, None
    for label in labels:  # torch first
        why = _why_not(label, spec)
        if why:
            results[label] = {"why_not": why}
            continue
        try:
            p = plan(spec, label)
            p(x, w)  # the first call: compilation and first-touch; a failure here is the variant's
            start = time.perf_counter()
            p(x, w)
            seconds = time.perf_counter() - start
        except (ConvError, MemoryError, ValueError, RuntimeError) as err:
            results[label] = {"why_not": f"failed: {type(err).__name__}: {str(err)[:300]}"}
            continue
        results[label] = what_ran(p)
        if label == "torch":
            torch_seconds = seconds
        if torch_seconds and seconds > SLOW * torch_seconds and seconds > SLOW_FLOOR:
            results[label].update(seconds=seconds, timed_once=True)
            del p
        else:
            calls[label] = lambda p=p: p(x, w)
    if calls:
        # warmup=0: each call above already ran twice
        for label, seconds in alternating_medians(calls, repeats, warmup=0).items():
            results[label]["seconds"] = seconds
    return results


def what_ran(p) -> dict:
    """What a peer's plan records of the kernel that ran and its threads ({} for ours): kept with its time."""
    found = {}
    if getattr(p, "ran", None):
        found["ran"] = dict(p.ran)
    if getattr(p, "threads", None):
        found["threads"] = p.threads
    return found


def _checked(spec, labels, found: dict) -> None:
    """Each variant that ran: its output on seeded batch-1 data against the float64 oracle, and whether
    its error is within the registry's tolerance for it."""
    one = conv_spec_at_batch(spec, 1)
    x, w = random_problem(one, 1)
    reference = reference_for(one, x, w)
    for label in labels:
        if "seconds" not in found[label]:
            continue
        error = relative_error(plan(one, label)(x, w), reference)
        found[label].update(error=error, tolerance=error_budget.TOLERANCE[label], ok=bool(error <= error_budget.TOLERANCE[label]))


def conv_spec_at_batch(spec, batch: int):
    return replace(spec, N=batch)


def measure_layer(row: dict, labels, batch: int = 1, check: bool = False, repeats: int = 3) -> dict:
    """One layer's line of the store: the variants asked for, and torch, the reference each ratio is
    measured against in the same turns, unless none of the others can run on the layer (then only
    their reasons: a variant added to a store costs nothing on the layers it cannot compute)."""
    record = dict(layer=row["layer"], kind=row["kind"], batch=batch, machine=identity(), calibration=calibration(),
                  commit=commit(),
                  when=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), check=check)
    others = [label for label in labels if label != "torch"]
    if not table.expressible(row):
        record.update(spec=None, variants={label: {"why_not": row["why_not"]} for label in ["torch", *others]})
        return record
    spec = conv_spec_at_batch(conv_spec({**row, "N": 1}), batch)
    reasons = {label: _why_not(label, spec) for label in others}
    if "torch" not in labels and others and all(reasons.values()):
        record.update(spec=_spec_record(spec), variants={label: {"why_not": why} for label, why in reasons.items()})
        return record
    labels = ["torch", *others]
    found = _timed(spec, labels, repeats)
    if check:
        _checked(spec, labels, found)
    record.update(spec=_spec_record(spec), variants={label: found[label] for label in labels})
    return record


def measure_here(todo, batch: int, check: bool, repeats: int):
    """Each (layer row, variants) of todo measured in this process, in order: sweep_corpus's default runner."""
    for row, labels in todo:
        yield measure_layer(row, labels, batch, check, repeats)


@dataclass(frozen=True)
class CorpusSweep:
    paths: list              # the store files read and written: this machine's, or each cluster machine's
    records: list            # the tier's layers in the store (per machine), each variant from its newest line
    measured: int            # layers measured by this call (all their variants, or those the store lacked)
    skipped: int             # layers the store held every variant of

    @property
    def path(self) -> Path:
        """The (first) machine's store file."""
        return self.paths[0]

    @property
    def failures(self) -> list[tuple[str, str, float, float]]:
        """(layer, variant, error, tolerance) of every checked variant outside its tolerance."""
        return [(r["layer"], label, v["error"], v["tolerance"]) for r in self.records
                for label, v in r["variants"].items() if v.get("ok") is False]


def sweep_corpus(tier: str = "smoke", shard=(1, 1), labels=registry.SWEPT_LABELS, batch: int = 1, check: bool = False,
                 repeats: int = 3, sample: int | None = None, store: Path = STORE, tag: str = "",
                 data: Path = table.DATA, on_layer=None, runner=None) -> CorpusSweep:
    """Measure every layer of the tier (shard) that the store does not hold yet, here, or with a runner
    (convbench.corpus.cluster.RayRunner: on a cluster's nodes); each record goes to the store of the
    machine that measured it. Here, the machine's measurement lock is held from reading the store to
    the last record (a second sweep of the tier waits, then finds the layers done: none is measured
    twice); on a cluster each node's measurements take that node's lock."""
    with contextlib.nullcontext() if runner else measuring(f"convbench sweep --corpus {tier}"):
        for name, value in (("batch", batch), ("repeats", repeats), ("sample", 1 if sample is None else sample)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                whole = " (or None: the whole tier)" if name == "sample" else ""
                raise ConvError(f"{name} must be an int >= 1{whole}; got {value!r}")
        for label in labels:
            registry.check_names(label, "cpu")
        if tag and not all(ch.isalnum() or ch in "-_." for ch in tag):
            raise ConvError(f"tag must be letters, digits, '-', '_' or '.'; got {tag!r}")
        run = run_name(tier, shard, batch, sample) + ("-check" if check else "") + (f"-{tag}" if tag else "")
        machines = (runner.machines() if runner else []) or [machine_id()]  # no node answered: resume by this machine's
        paths = {machine: store_path(run, store, machine) for machine in machines}
        rows = tier_layers(tier, shard, sample, data)
        wanted = ["torch", *(label for label in labels if label != "torch")]
        # a variant of a layer is done when measured (or n/a because convbench cannot express the layer, and
        # still cannot: a layer that a newer corpus can express is measured then) at this batch, checked for a
        # check run, in this run's file or, for a run without a tag, in any untagged file of the machine (the
        # dense tier after its sample measures only the rest; a new variant is measured alone, with torch);
        # on a cluster, by any of its machines (the layers are spread over the nodes)
        lines = {machine: defaultdict(list) for machine in machines}  # machine -> layer -> eligible lines, as read
        for machine, path in paths.items():
            others = [other for other in sorted(path.parent.glob("*.jsonl")) if other != path] if not tag else []
            for other in [*others, path]:
                for record in read_records(other, line_problem):
                    if ((other == path or not record.get("tag")) and record.get("batch") == batch
                            and (record.get("check") or not check) and isinstance(record.get("variants"), dict)):
                        lines[machine][record.get("layer")].append(record)

        def stored(machine, layer) -> dict | None:
            return merged(lines[machine][layer], lambda record: layer).get(layer)

        def missing(row) -> list[str]:
            def lacking(record):
                if record is None or (record.get("spec") is None and table.expressible(row)):
                    return wanted
                return [label for label in wanted if label not in record["variants"]]
            return min((lacking(stored(machine, row["layer"])) for machine in machines), key=len)

        todo = [(row, missing(row)) for row in rows]
        todo = [(row, labels_left) for row, labels_left in todo if labels_left]
        for record in (runner or measure_here)(todo, batch, check, repeats):
            record = {**record, "tag": tag}
            machine = record["machine"]["id"]
            if machine not in paths:  # a node whose machine did not answer the runner's probe
                paths[machine], lines[machine] = store_path(run, store, machine), defaultdict(list)
            append_record(paths[machine], record)
            lines[machine][record["layer"]].append(record)
            if on_layer:
                on_layer(record, len(todo))
        found = [stored(machine, row["layer"]) for machine in paths for row in rows]
        return CorpusSweep(list(paths.values()), [record for record in found if record is not None], len(todo),
                           len(rows) - len(todo))
