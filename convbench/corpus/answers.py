"""What a machine's corpus store says: where each variant wins, by how much, and per model.

Read from the store's files alone (every run of the machine; each variant of each
(layer, batch) from the latest run that measured it), joined with the committed corpus for how often each
layer occurs. Weighted answers count a layer as often as the zoo's forward
passes run it (occurrences.csv.gz), so the 1x1 layer that 400 models share
outweighs the stem of one.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from convbench.core.machine import machine_id
from convbench.core.layer_records import line_problem
from convbench.core.records import merged, read_records
from convbench.corpus import table
from convbench.interface.registry import FAMILY
from convbench.workloads.models import forward_costs


def load(store: Path, machine: str | None = None, pattern: str = "*.jsonl") -> list[dict]:
    """One record of each (layer, batch) in the machine's store files, each variant from the newest run
    that measured it (core.records.merged); a file or line that cannot be read, or is not a line of the
    store (core.layer_records), is reported in one line and skipped."""
    def lines():
        for path in sorted((Path(store) / (machine or machine_id())).glob(pattern)):
            yield from read_records(path, line_problem)

    latest = merged(lines(), lambda record: (record["layer"], record.get("batch", 1)))
    return sorted(latest.values(), key=lambda r: (r["layer"], r.get("batch", 1)))


def times(record: dict) -> dict:
    """{variant: seconds} of the variants that ran on the layer."""
    return {label: v["seconds"] for label, v in record["variants"].items() if "seconds" in v}


def winner(record: dict) -> str | None:
    """The implementation that won the layer: ours or a peer's variant."""
    ran = times(record)
    return min(ran, key=ran.get) if ran else None


def family_times(record: dict) -> dict:
    """{algorithm family: its best implementation's seconds} on the layer, ours and the peers' alike."""
    best = {}
    for label, seconds in times(record).items():
        family = FAMILY.get(label, label)
        best[family] = min(seconds, best.get(family, seconds))
    return best


def winning_family(record: dict) -> str | None:
    """The algorithm that won the layer, by its best implementation (ours or a peer's)."""
    ran = family_times(record)
    return min(ran, key=ran.get) if ran else None


@dataclass(frozen=True)
class Answers:
    layers: int
    wins: dict              # variant -> share of layers won, weighted by occurrences: which implementation
    family_wins: dict       # algorithm family -> share of layers won by its best implementation, weighted
    wins_unweighted: dict   # variant -> share of layers won
    speedups: dict          # variant -> [torch's time / its time, one per layer it ran]
    models: list            # (model, torch total, cherry-pick total, layers of the model measured)

    def median_speedup(self, label: str) -> float | None:
        values = self.speedups.get(label)
        return statistics.median(values) if values else None


def answer(records: list[dict], data: Path = table.DATA) -> Answers:
    layer_rows = {row["layer"]: row for row in table.layers(data)}
    ran = [r for r in records if times(r) and "torch" in times(r)]
    weight = {r["layer"]: int(layer_rows[r["layer"]]["occurrences"]) if r["layer"] in layer_rows else 1 for r in ran}
    total = sum(weight.values()) or 1
    wins, counted, family_wins = defaultdict(float), defaultdict(int), defaultdict(float)
    speedups = defaultdict(list)
    for record in ran:
        best = winner(record)
        wins[best] += weight[record["layer"]] / total
        family_wins[winning_family(record)] += weight[record["layer"]] / total
        counted[best] += 1
        torch_time = times(record)["torch"]
        for label, seconds in times(record).items():
            if label != "torch":
                speedups[label].append(torch_time / seconds)
    return Answers(len(ran), dict(wins), dict(family_wins), {k: v / max(len(ran), 1) for k, v in counted.items()}, dict(speedups),
                   per_model(ran, data))


def per_model(records: list[dict], data: Path = table.DATA) -> list[tuple[str, float, float, int]]:
    """For each model with a measured layer: torch's total over those layers (count x time each), the
    cherry-pick's (the fastest variant of each), and how many of its layers were measured."""
    by_layer = {r["layer"]: r for r in records}
    found = defaultdict(list)
    for occurrence in table.occurrences(data):
        if occurrence["layer"] in by_layer:
            found[occurrence["model"]].append((int(occurrence["count"]), times(by_layer[occurrence["layer"]])))
    rows = []
    for model, layers in sorted(found.items()):
        counts = [count for count, _ in layers]
        labels = sorted({label for _, t in layers for label in t})
        costs, _ = forward_costs(counts, {label: [t.get(label) for _, t in layers] for label in labels})
        rows.append((model, sum(costs["torch"]), sum(costs["cherry-pick"]), len(layers)))
    return rows
