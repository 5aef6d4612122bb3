"""An append-only store of measured records: one JSON object per line, one file per writer.

A sweep of thousands of layers must survive a kill and never lose what it
measured. Each write is one complete line (a layer's records together) handed
to the kernel in a single write() and fsync'd before the sweep goes on, so a
SIGKILL loses at most the layer in flight. Writers append under an exclusive
advisory lock (flock) on the file and readers read under a shared one, so two
processes appending to one store lose nothing and a reader never sees a line
another writer has half written. What a crash mid-write can still leave (a
last line cut short, on a full disk or a power cut) is reported in one line
and skipped when read; before the next append, under the lock, so that no
other writer can be mid-line, the cut-short tail is moved aside to
`<file>.damaged` (kept, never deleted) so a new line never joins it. A line
that is not valid JSON anywhere else, or that a reader's schema refuses, is
reported in one line and skipped too.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path


def _report(path: Path, line_number: int, why: str) -> None:
    print(f"convbench: skipping line {line_number} of {path}: {why}")


@contextlib.contextmanager
def _locked(handle, kind):
    """flock on an open file for the length of a read (shared) or an append (exclusive)."""
    try:
        fcntl.flock(handle.fileno(), kind)
    except OSError:  # a file system without locks: a single writer is still safe
        yield
        return
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def read_records(path: Path, problem=None) -> list[dict]:
    """Every whole record in the file, in the order written ([] when it is missing or unreadable).
    problem(record) -> '' or why the record is not what this store holds (its schema): such a
    record is reported in one line and skipped, like a line that is not JSON."""
    try:
        with open(path, "rb") as handle, _locked(handle, fcntl.LOCK_SH):
            data = handle.read()
    except FileNotFoundError:
        return []
    except OSError as err:
        print(f"convbench: skipping the unreadable store {path} ({type(err).__name__}: {err})")
        return []
    records = []
    lines = data.split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as err:
            cut = number == len(lines)  # no newline after it: the write was cut short
            _report(path, number, "cut short (the run that wrote it was killed mid-write)" if cut
                    else f"not JSON ({err})")
            continue
        if not isinstance(record, dict):
            _report(path, number, "not a JSON object")
            continue
        why = problem(record) if problem else ""
        if why:
            _report(path, number, why)
            continue
        records.append(record)
    return records


def _repair_tail(path: Path) -> None:
    """Move a last line that has no newline (a write cut short) aside, so the next record starts a line.
    Called under the append lock only: no other writer can be in the middle of that line."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        data = handle.seek(0) or handle.read()
        keep = data.rfind(b"\n") + 1
        with open(path.with_name(path.name + ".damaged"), "ab") as damaged:
            damaged.write(data[keep:] + b"\n")
        handle.truncate(keep)
    print(f"convbench: {path} ended in a line cut short; moved it to {path.name}.damaged and went on")


def append_record(path: Path, record: dict) -> None:
    """Add one record as one line, on disk (fsync'd) when this returns; safe beside other writers."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, separators=(",", ":"), allow_nan=True) + "\n").encode()
    with open(path, "ab") as handle, _locked(handle, fcntl.LOCK_EX):
        _repair_tail(path)
        fd = handle.fileno()  # O_APPEND: each write lands at the end, after the repair's truncation too
        written = os.write(fd, line)
        while written < len(line):  # a short write is rare on a local disk, and still lands whole
            written += os.write(fd, line[written:])
        os.fsync(fd)


def merged(records, key) -> dict:
    """{key(record): one record} like newest(), but with every variant kept: each variant (a label of the
    records' "variants") comes from the newest record that measured it, so a sweep that added a variant
    to a store, or measured a subset, adds to what the store says instead of hiding it. A sweep times
    each record's variants in turns against torch, and a speed is a ratio measured in one run: a variant
    from an older record keeps its ratio to that record's torch time, its seconds scaled to the newest
    torch time (its own seconds are kept as "measured_seconds", and its run's time as "measured_when")."""
    by_key = {}
    for record in records:
        name = key(record)
        if name is not None and isinstance(record.get("variants"), dict):
            by_key.setdefault(name, []).append(record)
    found = {}
    for name, group in by_key.items():
        group = sorted(enumerate(group), key=lambda item: (str(item[1].get("when", "")), item[0]))
        group = [record for _, record in group]  # oldest first, a later line winning a tie
        variants, source = {}, {}
        for record in group:
            for label, value in record["variants"].items():
                variants[label], source[label] = value, record
        newest_record = group[-1]
        torch_now = _torch_seconds(source.get("torch"))
        for label, value in variants.items():
            then = _torch_seconds(source[label])
            if source[label] is not source.get("torch") and "seconds" in value and torch_now and then:
                variants[label] = {**value, "seconds": value["seconds"] * torch_now / then,
                                   "measured_seconds": value["seconds"], "measured_when": source[label].get("when")}
        found[name] = {**newest_record, "variants": variants}
    return found


def _torch_seconds(record) -> float | None:
    value = (record or {}).get("variants", {}).get("torch", {})
    return value.get("seconds") if isinstance(value, dict) else None
