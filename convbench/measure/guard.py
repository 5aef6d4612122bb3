"""The project's regression guard: the speed targets' ratios stored per machine, and a quick
comparison of this tree's ratios against them (`convbench targets --save` / `--compare`).

A ratio (peer time / ours, timed alternately in one process) travels between commits far
better than an absolute time on a shared machine, but not between machines: the figures are
kept per machine identity (CPU model and core count, not the hostname, which asv uses and which
put an AMD EPYC's and an Intel Xeon's results under one name), in
results/targets/<machine>.json, committed beside asv's results. A file that cannot be read is
reported in one line and treated as absent; a save goes through a temporary file renamed
over the old one, so a killed run leaves the old figures whole.
"""
from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path

from convbench.core.cache import update_json
from convbench.core.machine import chip, commit, machine_id

STORE = Path("results") / "targets"
FALL = 0.25  # a ratio more than this far below its stored figure fails the comparison
# The quick subset `--compare` measures: about a minute here (AMD EPYC, 2 cores), one case per
# algorithm and kind of pass whose speed the suite's answers rest on.
QUICK = (
    "fft 7x7 vs torch",
    "fft 11x11 vs torch",
    "fft 7x7 c=0.5 vs c=0",
    "fft tile 16 7x7 valid vs torch",
    "winograd resnet18 256@14 vs torch",
    "winograd F(4x4,3x3) resnet18 128@28 vs torch",
    "direct resnet18 512@7 vs torch",
    "direct backward_data resnet18 128@28 vs torch",
    "fft step 7x7 valid vs torch",
)


def store_path(machine: str | None = None, store: Path = STORE) -> Path:
    return Path(store) / f"{machine or machine_id()}.json"


def stored_ratios(machine: str | None = None, store: Path = STORE) -> dict[str, float]:
    """{case: stored ratio} for the machine ({} when none are stored, or the file is unreadable:
    reported in one line, never a traceback)."""
    path = store_path(machine, store)
    try:
        data = json.loads(path.read_text())
        ratios = data["ratios"]
        return {case: float(value) for case, value in ratios.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        print(f"convbench: ignoring the unreadable stored figures {path} ({type(err).__name__}: {err})")
        return {}


def save_ratios(ratios: dict[str, float], machine: str | None = None, store: Path = STORE) -> Path:
    """Merge ratios into the machine's stored figures (kept: the cases not measured now)."""
    path = store_path(machine, store)
    old = stored_ratios(machine, store)
    from convbench.measure.roofline import calibration

    update_json(path, {"machine": machine or machine_id(), "chip": chip().fields(), "commit": commit(),
                       "measured": datetime.date.today().isoformat(), "calibration": calibration(),
                       "ratios": {**old, **ratios}})
    return path


@dataclass(frozen=True)
class Comparison:
    case: str
    stored: float | None
    now: float

    @property
    def change(self) -> float | None:
        return None if self.stored is None else self.now / self.stored

    @property
    def fell(self) -> bool:
        return self.stored is not None and self.now < (1 - FALL) * self.stored


def compare(measure, cases=QUICK, machine: str | None = None, store: Path = STORE) -> list[Comparison]:
    """Each case measured now (measure(case) -> ratio) against its stored figure. A case that seems
    to have fallen is measured once more and keeps the better of the two: one descheduled run on
    a shared 2-core machine must not fail a change, a real slowdown shows twice."""
    stored = stored_ratios(machine, store)
    rows = []
    for case in cases:
        now = measure(case)
        row = Comparison(case, stored.get(case), now)
        if row.fell:
            row = Comparison(case, row.stored, max(now, measure(case)))
        rows.append(row)
    return rows
