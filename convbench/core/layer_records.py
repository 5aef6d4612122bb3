"""What one line of the corpus store is (convbench.corpus.sweep writes them): its schema, types included.

Every reader of the store (the sweep's resume, `convbench corpus report`,
algorithm='auto') checks each line with line_problem before using it, so a
well-formed line of the wrong shape (a hand edit, another version's format) is
reported in one line and skipped instead of stopping the work.
"""
from __future__ import annotations

import math

SPEC_COUNTS = ("N", "C", "H", "W", "K", "R", "S")
SPEC_PAIRS = ("padding", "stride", "dilation")
OPTIONAL_TEXT = ("kind", "commit", "when", "tag")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _variant_problem(label, value) -> str:
    if not isinstance(value, dict):
        return f"variant {label!r} is not an object (a dict with seconds or why_not)"
    if "seconds" in value:
        if not _is_number(value["seconds"]) or value["seconds"] <= 0:
            return f"variant {label!r} has seconds={value['seconds']!r}; expected a positive finite number"
    elif not isinstance(value.get("why_not"), str):
        return f"variant {label!r} has neither positive seconds nor a why_not text"
    if "error" in value and (not _is_number(value["error"]) or value["error"] < 0):
        return f"variant {label!r} has error={value['error']!r}; expected a finite number >= 0"
    for flag in ("ok", "timed_once"):
        if flag in value and not isinstance(value[flag], bool):
            return f"variant {label!r} has {flag}={value[flag]!r}; expected true or false"
    return ""


def _spec_problem(spec) -> str:
    if spec is None:
        return ""
    if not isinstance(spec, dict):
        return "spec is neither null nor an object"
    for name in SPEC_COUNTS:
        if not _is_int(spec.get(name)) or spec[name] < 1:
            return f"spec {name}={spec.get(name)!r}; expected an int >= 1"
    for name in SPEC_PAIRS:
        pair = spec.get(name)
        if not (isinstance(pair, list) and len(pair) == 2 and all(_is_int(v) and v >= 0 for v in pair)):
            return f"spec {name}={pair!r}; expected two ints >= 0"
    if not _is_int(spec.get("groups")) or spec["groups"] < 1:
        return f"spec groups={spec.get('groups')!r}; expected an int >= 1"
    return ""


def line_problem(record: dict) -> str:
    """'' if record is a line of the corpus store, else what is wrong with it, in a few words."""
    if not isinstance(record.get("layer"), str) or not record["layer"]:
        return f"layer={record.get('layer')!r}; expected a layer id (text)"
    if not _is_int(record.get("batch")) or record["batch"] < 1:
        return f"batch={record.get('batch')!r}; expected an int >= 1"
    variants = record.get("variants")
    if not isinstance(variants, dict):
        return f"variants={variants!r}; expected an object of variant -> measurement"
    for label, value in variants.items():
        why = _variant_problem(label, value)
        if why:
            return why
    for name in OPTIONAL_TEXT:
        if name in record and not isinstance(record[name], str):
            return f"{name}={record[name]!r}; expected text"
    if "check" in record and not isinstance(record["check"], bool):
        return f"check={record['check']!r}; expected true or false"
    machine = record.get("machine")
    if machine is not None and not (isinstance(machine, dict) and isinstance(machine.get("id"), str)):
        return "machine is not an object with an id"
    return _spec_problem(record.get("spec"))
