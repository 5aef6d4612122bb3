"""Every threshold of the auto rule (convbench.core.selection) has its measurement in the record
results/records/auto-rule-thresholds.json, with the value the code uses."""
import json
from pathlib import Path

import convbench.core.selection as selection

RECORD = Path(__file__).resolve().parents[1] / "results" / "records" / "auto-rule-thresholds.json"
# names that list what exists (methods, tile sizes), not a measured choice
ENUMERATIONS = {"DIRECT_METHODS", "FFT_TILES", "SIGNAL_TILES"}


def unrecorded(namespace: dict, record: dict) -> list[str]:
    """Thresholds without a row, or whose row holds another value."""
    rows = {row[0]: row for row in record["rows"]}
    thresholds = {name: value for name, value in namespace.items()
                  if name.isupper() and not name.startswith("_") and name not in ENUMERATIONS
                  and isinstance(value, (int, float, str, dict))}
    return [f"{name} = {value!r}: " + ("no row" if name not in rows else f"the record says {rows[name][1]}")
            for name, value in thresholds.items() if name not in rows or rows[name][1] != repr(value)]


def test_every_threshold_has_its_measurement_in_the_record():
    record = json.loads(RECORD.read_text())
    assert record["columns"][:2] == ["constant", "value"]
    assert not unrecorded(vars(selection), record)
    assert all(row[2] and row[3] for row in record["rows"]), "each row says why and what was measured"


def test_a_threshold_without_a_row_or_with_another_value_fails():
    record = json.loads(RECORD.read_text())
    planted = {**vars(selection), "NEW_THRESHOLD_FROM": 7, "LOOP_ABOVE": selection.LOOP_ABOVE + 1}
    assert sorted(line.split(" ")[0] for line in unrecorded(planted, record)) == ["LOOP_ABOVE", "NEW_THRESHOLD_FROM"]
