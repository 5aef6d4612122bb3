"""A measurement a command makes once, kept as data under results/records/ (the docs' records page shows
each): what it measured, on which machine, when, at which commit, with which command, and its rows."""
from __future__ import annotations

import datetime
import json
import shlex
import sys
from pathlib import Path

RECORDS = Path("results") / "records"


def write_record(name: str, title: str, what: str, columns: list[str], rows: list[list], used_by: str,
                 folder: str | Path = RECORDS) -> Path:
    """folder/<name>.json, replaced whole (the record is this run's) and atomically, so that a killed run
    leaves the previous record as it was."""
    from convbench.core.cache import write_atomically
    from convbench.core.machine import commit, machine_id

    record = {"title": title, "what": what, "machine": machine_id(),
              "measured": f"{datetime.date.today().isoformat()}, commit {commit()}",
              "command": "convbench " + shlex.join(sys.argv[1:]) if sys.argv[0].endswith("convbench") else None,
              "used_by": used_by, "columns": columns, "rows": rows}
    path = Path(folder) / f"{name}.json"
    write_atomically(path, (json.dumps(record, indent=1, ensure_ascii=False) + "\n").encode())
    return path
