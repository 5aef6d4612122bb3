"""A measurement a command makes once, kept as data under results/records/ (the docs' records page shows
each): what it measured, on which machine, when, at which commit, with which command, and its rows."""
from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

RECORDS = Path("results") / "records"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_record(name: str, title: str, what: str, columns: list[str], rows: list[list], used_by: str,
                 folder: str | Path = RECORDS) -> Path:
    """results/records/<name>.json, replaced whole (the record is this run's), written to a temporary file
    first so that a killed run leaves the previous record as it was."""
    from convbench.core.machine import machine_id

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    record = {"title": title, "what": what, "machine": machine_id(),
              "measured": f"{datetime.date.today().isoformat()}, commit {_commit()}",
              "command": "convbench " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("convbench") else None,
              "used_by": used_by, "columns": columns, "rows": rows}
    path = folder / f"{name}.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    partial.replace(path)
    return path
