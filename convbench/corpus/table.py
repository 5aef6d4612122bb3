"""The committed corpus: its layers, where each occurs, its tiers, its hash.

The data files live in convbench/corpus/data/ (written by convbench.corpus.build):
  layers.csv          one row per unique layer: its id, ConvBench's key, kind, why convbench
                      cannot compute it (empty when it can), in how many models, how often it runs
  occurrences.csv.gz  (layer, model, module names, count): every model that runs the layer
  models.csv          every model of the zoo: input size, device it ran on, layers, error
  corpus.json         torch / torchvision / timm versions, the content hash, the counts
"""
from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import json
from pathlib import Path

from convbench.core.errors import ConvError

DATA = Path(__file__).parent / "data"
KINDS = ("dense", "pointwise", "grouped", "dilated", "rectangular")
TIERS = ("smoke", "dense", "grouped", "pointwise", "all")
# The smoke tier: layers per kind, spread evenly over three flop terciles of that kind, each at most
# SMOKE_MAX_FLOPS at batch 1 so that timing all nine variants on the 50 takes about a minute here.
SMOKE_PER_KIND = {"dense": 14, "pointwise": 12, "grouped": 14, "dilated": 5, "rectangular": 5}
SMOKE_MAX_FLOPS = 2e8


def kind_of(row: dict) -> str:
    """ConvBench's classes, made exclusive: grouped (depthwise included), pointwise (1x1), dilated,
    rectangular, else dense (ConvBench's "common")."""
    if int(row["groups"]) > 1:
        return "grouped"
    if int(row["R"]) == int(row["S"]) == 1:
        return "pointwise"
    if int(row["dil_h"]) > 1 or int(row["dil_w"]) > 1:
        return "dilated"
    if int(row["R"]) != int(row["S"]):
        return "rectangular"
    return "dense"


def flops(row: dict) -> int:
    """2·N·K·(C/groups)·R·S·P·Q, at the layer's own batch."""
    return 2 * int(row["N"]) * int(row["K"]) * (int(row["C"]) // int(row["groups"])) * int(row["R"]) * int(row["S"]) \
        * int(row["P"]) * int(row["Q"])


def _read(name: str, data: Path) -> bytes:
    path = Path(data) / name
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConvError(f"the corpus file {path} is missing: run `convbench corpus build`") from None


def metadata(data: Path = DATA) -> dict:
    return json.loads(_read("corpus.json", data))


def verify(data: Path = DATA) -> str:
    """The corpus's content hash, after checking each file against corpus.json (ConvError if one differs)."""
    meta = metadata(data)
    for name, digest in meta["files"].items():
        if hashlib.sha256(_read(name, data)).hexdigest() != digest:
            raise ConvError(f"corpus file {Path(data) / name} does not match the sha256 in corpus.json: "
                            f"rebuild it with `convbench corpus build`")
    return meta["sha256"]


@functools.lru_cache(maxsize=4)
def _layers(data: Path) -> tuple[dict, ...]:
    return tuple(csv.DictReader(io.StringIO(_read("layers.csv", data).decode())))


def layers(data: Path = DATA) -> list[dict]:
    """Every unique layer, as a dict of layers.csv's columns (strings)."""
    return [dict(row) for row in _layers(Path(data))]


def occurrences(data: Path = DATA) -> list[dict]:
    """Every (layer, model, modules, count)."""
    text = gzip.decompress(_read("occurrences.csv.gz", data)).decode()
    return list(csv.DictReader(io.StringIO(text)))


def models(data: Path = DATA) -> list[dict]:
    return list(csv.DictReader(io.StringIO(_read("models.csv", data).decode())))


def expressible(row: dict) -> bool:
    return not row["why_not"]


def _smoke(rows: list[dict]) -> list[dict]:
    picked = []
    for kind, wanted in SMOKE_PER_KIND.items():
        pool = sorted((r for r in rows if r["kind"] == kind and expressible(r) and flops(r) <= SMOKE_MAX_FLOPS),
                      key=flops)
        thirds = [pool[i * len(pool) // 3:(i + 1) * len(pool) // 3] for i in range(3)]
        for i, third in enumerate(thirds):
            share = wanted // 3 + (i < wanted % 3)
            picked += sorted(third, key=lambda r: r["layer"])[:share]  # by id: stable, and spread like a hash
    return sorted(picked, key=lambda r: r["layer"])


def tier(name: str, data: Path = DATA) -> list[dict]:
    """The layers of a tier, sorted by id: smoke (about 50, stratified over kind and size), dense (groups 1,
    kernel > 1), grouped (depthwise included), pointwise (1x1, groups 1), all."""
    rows = layers(data)
    if name == "smoke":
        return _smoke(rows)
    if name == "dense":
        return [r for r in rows if int(r["groups"]) == 1 and int(r["R"]) * int(r["S"]) > 1]
    if name == "grouped":
        return [r for r in rows if int(r["groups"]) > 1]
    if name == "pointwise":
        return [r for r in rows if r["kind"] == "pointwise"]
    if name == "all":
        return rows
    raise ConvError(f"tier must be one of {', '.join(TIERS)}; got {name!r}")


def sample(rows: list[dict], size: int) -> list[dict]:
    """A stable sample of `size` layers stratified over kind and flop decile: each stratum gives its
    share, by layer id."""
    if size >= len(rows):
        return list(rows)
    strata: dict = {}
    ordered = sorted(rows, key=flops)
    for i, row in enumerate(ordered):
        strata.setdefault((row["kind"], 10 * i // len(ordered)), []).append(row)
    picked = []
    for group in strata.values():
        picked += sorted(group, key=lambda r: r["layer"])[:max(1, round(size * len(group) / len(rows)))]
    return sorted(picked, key=lambda r: r["layer"])[:size] if len(picked) > size else sorted(picked, key=lambda r: r["layer"])
