"""The on-disk cache ($CONVBENCH_CACHE, default ~/.cache/convbench): where, and how to read and write it.

A cache is only a cache. A corrupt or unreadable file (what a run killed
mid-write, or another version, leaves) gives a one-line warning and is
rebuilt; a write goes to a temporary file that is then renamed over the old
one, so a reader never sees half a file; and a read-modify-write holds a lock,
so two processes adding entries at once keep both.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import warnings
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("CONVBENCH_CACHE") or Path.home() / ".cache" / "convbench")


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)


def read_json(path: Path) -> dict:
    """The stored dict, or {} (with a warning) when the file is missing, unreadable or corrupt."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        warnings.warn(f"convbench: ignoring the unreadable cache {path} ({type(err).__name__}: {err}); "
                      f"it will be rebuilt", stacklevel=2)
        return {}
    if not isinstance(data, dict):
        warnings.warn(f"convbench: ignoring the cache {path} (not a JSON object); it will be rebuilt", stacklevel=2)
        return {}
    return data


@contextlib.contextmanager
def locked(path: Path):
    """An exclusive lock on path's companion .lock file for a read-modify-write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update_json(path: Path, entries: dict) -> dict:
    """Add entries to the JSON object at path (under the lock, written atomically); the merged object."""
    with locked(path):
        stored = read_json(path)
        stored.update(entries)
        write_atomically(path, json.dumps(stored, indent=1).encode())
    return stored
