"""`convbench corpus build`: every model of the zoo through extract, resumable, then the data files.

Each model's result (its layers, or its error) is appended to a progress file
in the cache (convbench.core.records: one fsync'd line per model) as soon as it
is known, so a killed build resumes at the next model. `assemble` then writes
the committed corpus (convbench.corpus.table reads it) from that file alone.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import warnings
from collections import defaultdict
from pathlib import Path

from convbench.core.cache import cache_root, write_atomically
from convbench.core.machine import package_version
from convbench.core.records import append_record, read_records
from convbench.corpus.extract import KEY_COLUMNS, layer_id, model_layers, zoo
from convbench.corpus.table import DATA, kind_of

LAYER_COLUMNS = ("layer", *KEY_COLUMNS, "kind", "why_not", "models", "occurrences")


def versions() -> dict:
    return {package: package_version(package) for package in ("torch", "torchvision", "timm")}


def progress_path() -> Path:
    tag = "-".join(f"{package}{version}" for package, version in versions().items())
    return cache_root() / f"corpus-build-{tag}.jsonl"


def extract_all(path: Path | None = None, models=None, on_model=None) -> list[dict]:
    """Every model not yet in the progress file, extracted and appended; every record of the file."""
    path = path or progress_path()
    done = {(r.get("source"), r.get("name")) for r in read_records(path)}
    todo = [m for m in (models if models is not None else zoo()) if m not in done]
    for source, name in todo:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # constructors' deprecation notes, once per model
                size, found, device = model_layers(source, name)
            record = dict(source=source, name=name, input=list(size), device=device, error="",
                          layers=[dict(key=list(f.key), modules=list(f.modules), count=f.count, why_not=f.why_not)
                                  for f in found])
        except Exception as err:  # noqa: BLE001 - recorded with its error, the build goes on
            record = dict(source=source, name=name, input=None, device="", error=str(err)[:2000], layers=[])
        append_record(path, record)
        if on_model:
            on_model(record, len(todo))
    return read_records(path)


def _csv(rows, columns) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode()


def assemble(records: list[dict], out: Path = DATA) -> dict:
    """Write layers.csv, occurrences.csv.gz, models.csv and corpus.json (versions, hash, counts) from
    the progress records; returns corpus.json's content."""
    layers, occurrences, why = {}, defaultdict(list), {}
    model_rows = []
    for record in sorted(records, key=lambda r: (r["source"], r["name"])):
        model = f"{record['source']}/{record['name']}"
        model_rows.append((model, " ".join(map(str, record["input"] or [])), record["device"],
                           len(record["layers"]), record["error"]))
        for found in record["layers"]:
            key = tuple(found["key"])
            layers[key] = layer_id(key)
            why[key] = found["why_not"]
            occurrences[key].append((model, " ".join(found["modules"]), found["count"]))
    layer_rows, occurrence_rows = [], []
    for key in sorted(layers, key=lambda k: layers[k]):
        seen = occurrences[key]
        row = dict(zip(KEY_COLUMNS, key))
        layer_rows.append((layers[key], *key, kind_of(row), why[key], len(seen), sum(c for _, _, c in seen)))
        occurrence_rows += [(layers[key], *one) for one in seen]
    files = {
        "layers.csv": _csv(layer_rows, LAYER_COLUMNS),
        "models.csv": _csv(model_rows, ("model", "input", "device", "layers", "error")),
        # mtime=0: the same corpus gives the same bytes, so the hash names the content
        "occurrences.csv.gz": gzip.compress(_csv(occurrence_rows, ("layer", "model", "modules", "count")), mtime=0),
    }
    digest = hashlib.sha256(b"".join(hashlib.sha256(files[name]).digest() for name in sorted(files))).hexdigest()
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_atomically(out / name, data)
    meta = dict(versions=versions(), sha256=digest, files={n: hashlib.sha256(d).hexdigest() for n, d in files.items()},
                models=len(model_rows), failed=sum(1 for r in model_rows if r[-1]), layers=len(layer_rows))
    write_atomically(out / "corpus.json", b"{}")  # the tiers are read from the new layers.csv
    from convbench.corpus import table

    table._layers.cache_clear()
    rows = table.layers(out)
    meta.update(kinds={kind: sum(r["kind"] == kind for r in rows) for kind in table.KINDS},
                tiers={name: len(table.tier(name, out)) for name in table.TIERS},
                unexpressible=sum(not table.expressible(r) for r in rows))
    write_atomically(out / "corpus.json", (json.dumps(meta, indent=1) + "\n").encode())
    return meta
