"""The on-disk cache ($CONVBENCH_CACHE, default ~/.cache/convbench): where, and how to read and write it.

A cache is only a cache. A corrupt or unreadable file (what a run killed
mid-write, or another version, leaves) gives a one-line warning and is
rebuilt; a write goes to a temporary file that is then renamed over the old
one, so a reader never sees half a file; and a read-modify-write holds a lock,
so two processes adding entries at once keep both. A cache that cannot be
written (a read-only folder, a directory where the file should be) gives one
warning and the command finishes without caching: what it measured is never
lost to the cache.
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
    try:
        os.replace(tmp.name, path)
    except OSError:  # a directory in the way, say: leave no temporary file behind
        os.unlink(tmp.name)
        raise


def _read(path: Path) -> tuple[dict, str]:
    """(the stored dict, '') or ({}, why it cannot be used); '' too when the file is missing."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, ""
    except (OSError, ValueError) as err:
        return {}, f"{type(err).__name__}: {err}"
    if not isinstance(data, dict):
        return {}, "not a JSON object"
    return data, ""


def read_json(path: Path) -> dict:
    """The stored dict, or {} (with a warning) when the file is missing, unreadable or corrupt."""
    data, why = _read(path)
    if why:
        warnings.warn(f"convbench: ignoring the unreadable cache {path} ({why}); it will be rebuilt", stacklevel=2)
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
    """Add entries to the JSON object at path (under the lock, written atomically); the merged object.
    When the cache cannot be written, one warning, and the merged object all the same."""
    stored, why = {}, ""
    try:
        with locked(path):
            stored, why = _read(path)
            stored = {**stored, **entries}
            write_atomically(path, json.dumps(stored, indent=1).encode())
    except OSError as err:
        warnings.warn(f"convbench: could not write the cache {path} ({type(err).__name__}: {err}); "
                      f"carrying on without caching", stacklevel=2)
        return {**stored, **entries}
    if why:
        warnings.warn(f"convbench: the unreadable cache {path} ({why}) was rebuilt", stacklevel=2)
    return stored
