"""This machine's thresholds for the auto rule: `convbench calibrate`'s file for this machine, else the shipped ones.

`convbench calibrate` (convbench.measure.calibrate) writes results/calibration/<machine id>.json
(or into $CONVBENCH_CALIBRATION), keyed by the chip's identity (core.machine), never by hostname:
another chip never reads this one's thresholds. A file that cannot be read, or that names another
machine or an unknown threshold, is reported in one line and the shipped thresholds are used.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

from convbench.core.machine import machine_id

# A calibration file's check: one row per layer measured (convbench.measure.calibrate.check)
CHECK_COLUMNS = ("ladder", "value", "layer", "fastest", "fastest ms", "calibrated pick", "x fastest",
                 "shipped pick", "x fastest (shipped)")
_CALIBRATED, _SHIPPED = CHECK_COLUMNS.index("x fastest"), CHECK_COLUMNS.index("x fastest (shipped)")
from convbench.core.selection import SHIPPED, Thresholds

_read: dict = {}  # {(path, mtime, size): (Thresholds, source)}: read again only when the file changed


def calibration_store() -> Path:
    return Path(os.environ.get("CONVBENCH_CALIBRATION") or Path("results") / "calibration")


def calibration_file(machine: str | None = None, folder=None) -> Path:
    """<folder, default calibration_store()>/<machine id, default this machine's>.json."""
    return Path(folder or calibration_store()) / f"{machine or machine_id()}.json"


def thresholds_here() -> tuple[Thresholds, str]:
    """(the thresholds the rule uses on this machine, where they come from, in words)."""
    path = calibration_file()
    try:
        stat = path.stat()
    except OSError:
        return SHIPPED, "shipped thresholds (no `convbench calibrate` for this machine)"
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _read:
        _read.clear()
        _read[key] = _parse(path)
    return _read[key]


def _parse(path: Path) -> tuple[Thresholds, str]:
    try:
        record = json.loads(path.read_text())
        return thresholds_from(record, machine_id()), f"thresholds calibrated here on {record['measured']}"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        print(f"convbench: ignoring the calibration {path} ({type(err).__name__}: {err}); "
              f"using the shipped thresholds")
        return SHIPPED, "shipped thresholds (this machine's calibration file is unreadable)"


def thresholds_from(record: dict, machine: str) -> Thresholds:
    """The Thresholds a calibration record holds (null: never); ValueError if it is another machine's or
    holds a name or value the rule does not know."""
    if record.get("machine") != machine:
        raise ValueError(f"it was measured on {record.get('machine')!r}, this machine is {machine!r}")
    values = record["thresholds"]
    unknown = set(values) - set(Thresholds.names())
    if unknown:
        raise ValueError(f"unknown thresholds {sorted(unknown)}; expected some of {list(Thresholds.names())}")
    found = {}
    for name, value in values.items():
        if name == "fft_tile_step_up":
            found[name] = {**SHIPPED.fft_tile_step_up, **{int(tile): _number(name, v) for tile, v in value.items()}}
        else:
            found[name] = _number(name, value)
    return replace(SHIPPED, **found)


def _number(name: str, value) -> float:
    if value is None:
        return math.inf  # the choice above the threshold never won on this machine
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} is {value!r}; expected a positive number or null (never)")
    return value


def to_json(thresholds: Thresholds) -> dict:
    """The thresholds as the calibration file stores them (math.inf as null)."""
    def plain(value):
        return None if value == math.inf else value
    return {name: ({str(k): plain(v) for k, v in value.items()} if isinstance(value, dict) else plain(value))
            for name, value in ((n, getattr(thresholds, n)) for n in Thresholds.names())}


def threshold_text(value) -> str:
    """A stored threshold for people: 'never' for null, 'T: step, ...' for the tile step-ups."""
    if value is None:
        return "never"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {step:g}" for key, step in value.items())
    return f"{value:g}"


@dataclass(frozen=True)
class CheckSummary:
    within: int          # layers where the calibrated pick was within the target of the fastest
    shipped_within: int  # the same for the shipped thresholds' pick
    layers: int
    worst: float         # the calibrated pick's worst multiple of the fastest
    missed: list         # the rows where the calibrated pick was beyond the target (or not timed)


def check_summary(check: dict) -> CheckSummary:
    rows, target = check["rows"], check["target"]

    def within(row, column):
        return row[column] is not None and row[column] <= target

    return CheckSummary(within=sum(within(row, _CALIBRATED) for row in rows),
                        shipped_within=sum(within(row, _SHIPPED) for row in rows), layers=len(rows),
                        worst=max((row[_CALIBRATED] for row in rows if row[_CALIBRATED] is not None), default=1.0),
                        missed=[row for row in rows if not within(row, _CALIBRATED)])
