"""The speed targets' ratios as a record per machine (`convbench targets --save`), and the quick
subset of cases the regression guard measures (`convbench targets --compare REF`,
convbench.measure.against_ref).

The stored figures are a record, not the yardstick: a ratio swings between hours and between
chips, so the guard measures REF and this tree now, in turns. Each saved file is keyed by the
machine's identity (convbench.core.machine.machine_id) and carries the chip's fields and a
calibration measured in the same run, in results/targets/<machine>.json. A file that cannot be
read is reported in one line and treated as absent; a save goes through a temporary file renamed
over the old one, so a killed run leaves the old figures whole.
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path

from convbench.core.cache import update_json
from convbench.core.machine import chip, commit, machine_id

STORE = Path("results") / "targets"
# The quick subset `--compare` measures: one case per algorithm and kind of pass whose speed the
# suite's answers rest on.
QUICK = (
    "fft 7x7 vs torch",
    "fft 11x11 vs torch",
    "fft 7x7 c=0.5 vs c=0",
    "fft tile 16 7x7 valid vs torch",
    "winograd resnet18 256@14 vs torch",
    "winograd F(4x4,3x3) resnet18 128@28 vs torch",
    "winograd F(4x4,3x3) resnet18 512@7 vs torch",  # its filters transformed and multiplied by blocks
    "direct resnet18 512@7 vs torch",
    "direct backward_data resnet18 128@28 vs torch",
    "fft step 7x7 valid vs torch",
)


def store_path(machine: str | None = None, store: Path = STORE) -> Path:
    return Path(store) / f"{machine or machine_id()}.json"


def stored_ratios(machine: str | None = None, store: Path = STORE) -> dict[str, float]:
    """{case: stored ratio} for the machine ({} when none are stored, or the file is unreadable:
    reported in one line, never a traceback)."""
    return _stored_figures(store_path(machine, store))[0]


def _stored_figures(path: Path) -> tuple[dict[str, float], dict[str, str]]:
    """({case: ratio}, {case: placement}) stored at path, both {} when there are none or the file is
    unreadable (reported in one line); placements {} where the file has none."""
    try:
        data = json.loads(path.read_text())
        ratios = {case: float(value) for case, value in data["ratios"].items()}
    except FileNotFoundError:
        return {}, {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        print(f"convbench: ignoring the unreadable stored figures {path} ({type(err).__name__}: {err})")
        return {}, {}
    placements = data.get("placements")
    return ratios, placements if isinstance(placements, dict) else {}


def save_ratios(ratios: dict[str, float], machine: str | None = None, store: Path = STORE,
                placements: dict[str, str] | None = None) -> Path:
    """Merge ratios into the machine's stored figures (kept: the cases not measured now), with the threads'
    placement each was measured in (measure.placement; a case stored without one drops its old one)."""
    path = store_path(machine, store)
    old, old_placements = _stored_figures(path)
    kept = {case: where for case, where in old_placements.items() if case not in ratios}
    from convbench.measure.roofline import calibration

    update_json(path, {"machine": machine or machine_id(), "chip": chip().fields(), "commit": commit(),
                       "measured": datetime.date.today().isoformat(), "calibration": calibration(),
                       "ratios": {**old, **ratios}, "placements": {**kept, **(placements or {})}})
    return path
