"""One measurement at a time per machine: the lock every command that times takes.

Two processes timing on the same cores at once measure each other: two
identical smoke-tier sweeps started together gave direct-to-torch ratios from
0.01x to 328x of a solo run's. So sweeps, targets, recommend, stages,
interference, the main job and asv's benchmark processes (through the suites'
setup) each hold one machine-wide lock while they time, as TVM's RPC server
and MITuna's one worker per GPU serve one measurement at a time.

The lock is an flock on one file per machine ($CONVBENCH_MEASUREMENT_LOCK,
default <tmp>/convbench-measurement.lock): the kernel releases it when the
holder exits, however it ends, so a killed run never leaves it taken. The
holder writes what it is into the file, so one that waits can say what for.
Processes the holder starts (asv's benchmark processes under `convbench
bench`) inherit CONVBENCH_MEASUREMENT_HOLDER and measure under its lock; under a
bare `asv run`, its setup_cache processes measure under the hold of the
forkserver beside them (asv runs them one at a time).
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
import sys
import tempfile
from pathlib import Path

from convbench.core.errors import ConvError

HOLDER = "CONVBENCH_MEASUREMENT_HOLDER"  # the holding process's pid, for the processes it starts


class MeasurementBusy(ConvError):
    """Another process is measuring on this machine and the caller would not wait."""


def lock_path() -> Path:
    return Path(os.environ.get("CONVBENCH_MEASUREMENT_LOCK") or Path(tempfile.gettempdir()) /
                "convbench-measurement.lock")


_held = {"depth": 0, "file": None}  # this process's hold: re-entrant, one file


def _on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _holder_text(handle) -> str:
    handle.seek(0)
    return handle.read().strip() or "another process"


def _holder_pid() -> int | None:
    """The pid the lock file names: its holder's, or its last holder's (the file outlives a hold)."""
    try:
        first = lock_path().read_text().split()[:2]
    except OSError:
        return None
    return int(first[1]) if len(first) == 2 and first[0] == "pid" and first[1].isdigit() else None


def _inherited() -> bool:
    """Whether a parent that holds the lock started this process (it measures under the parent's lock)."""
    pid = os.environ.get(HOLDER, "")
    return pid.isdigit() and int(pid) != os.getpid() and _holder_pid() == int(pid)


def _acquire(what: str, wait: bool, say) -> None:
    path = lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder_text(handle)
        if not wait:
            handle.close()
            raise MeasurementBusy(f"{holder} is measuring on this machine (lock {path}); nothing was measured. "
                                  f"Run again when it ends, or without --no-wait to wait")
        say(f"convbench: waiting for {holder} to finish measuring on this machine (lock {path})")
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    since = datetime.datetime.now().strftime("%H:%M:%S")
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} ({what}, since {since})\n")
    handle.flush()
    _held["file"] = handle
    os.environ[HOLDER] = str(os.getpid())


@contextlib.contextmanager
def measuring(what: str, wait: bool = True, say=None):
    """Hold the machine's measurement lock for the block (re-entrant; a no-op in a process its holder
    started). wait=False: MeasurementBusy at once when another process holds it."""
    say = say or _on_stderr
    if _held["depth"] == 0 and not _inherited():
        _acquire(what, wait, say)
    _held["depth"] += 1
    try:
        yield
    finally:
        _held["depth"] -= 1
        if _held["depth"] == 0 and _held["file"] is not None:
            handle, _held["file"] = _held["file"], None
            os.environ.pop(HOLDER, None)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


def _held_by_a_sibling() -> bool:
    """Whether the lock's holder is a live process with this process's parent: under a bare `asv run`, its
    forkserver holds the lock for the whole run while asv starts each setup_cache beside it, one at a time
    (a setup_cache that waited for the forkserver would wait for ever)."""
    pid = _holder_pid()
    if pid is None or pid == os.getpid():
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state; the name may hold spaces
    except (OSError, ValueError, IndexError):
        return False
    return parent == os.getppid()


def hold_for_this_process(what: str) -> None:
    """Take the lock until this process exits (an asv benchmark process: from its setup to its end); measure
    under the hold of its parent, or of a sibling asv started (its forkserver)."""
    if _held["depth"] == 0 and not _inherited() and not _held_by_a_sibling():
        _acquire(what, True, _on_stderr)
        _held["depth"] = 1  # never released here: the kernel releases it at exit
    elif _held["depth"] == 0:
        _held["depth"] = 1


def held() -> bool:
    return _held["depth"] > 0 or _inherited()
