"""`convbench calibrate`: the auto rule's thresholds measured on the machine that uses them.

Each threshold of the rule (convbench.core.selection.select, select_signal) separates two choices
along one axis of a layer: the channels, the output tiles, the filter's taps, the work N·C·K. A
ladder of layers walks that axis; on every rung every exact variant is timed in turns
(measure.timing.alternating_medians), and the threshold is the first rung from which the rule's
choice above it beat the choice below it on that rung and on every rung after it, so one noisy
rung cannot pull it down (math.inf, stored as null: it never won to the end of the ladder). A
ladder that depends on another threshold runs after it (the work at the calibrated taps); the
two Winograd thresholds are fitted together over both their ladders (best_winograd_thresholds). The fft variant's two cost weights are fitted from one layer's times.
Each FFT ladder walks 28x28 layers only, so the FFT thresholds are then raised where the whole rule loses
less time over every layer measured (raised_fft_thresholds): a 3x3 layer on a 4x4 image sent to the FFT
by a threshold read on 28x28 ran 7x torch's time.

Then the check, on the same measurements: on every rung, what the calibrated rule picks against
the fastest exact variant measured there (the target: within AUTO_TARGET of it), and what the
shipped thresholds would have picked. The file goes to interface.machine_thresholds.calibration_file,
where algorithm="auto" reads it.
"""
from __future__ import annotations

import datetime
import json
import math
import statistics
from dataclasses import asdict, dataclass, replace
from typing import Callable

from convbench.core.cache import write_atomically
from convbench.core.machine import chip, commit, machine_id
from convbench.core.selection import (FFT_TILES, SHIPPED, Thresholds, fft_tiles, fft_variant, select,
                                      select_signal, spectral_work, winograd_tiles)
from convbench.core.signal import SignalSpec
from convbench.core.spec import ConvSpec
from convbench.interface import registry
from convbench.interface.api import plan
from convbench.interface.machine_thresholds import CHECK_COLUMNS, calibration_file, thresholds_from, to_json
from convbench.measure.roofline import calibration
from convbench.measure.timing import alternating_medians
from convbench.workloads import layers
from convbench.workloads.random_inputs import random_problem

AUTO_TARGET = 1.3  # auto's goal: within this factor of the fastest exact variant measured on the layer

LADDERS = {  # threshold: what its rungs walk, in words
    "winograd_channels_from": "3x3, N=4, 28x28 (196 F(4x4) tiles): C = K",
    "winograd_tiles_from": "3x3, C=K=128: F(4x4) output tiles N·ceil(P/4)·ceil(Q/4); fitted with the channels",
    "fft_taps_from": "N=4, C=K=64, 28x28 'same': taps R·S",
    "fft_work_from": "at the calibrated taps, 28x28 'same': N·C·K",
    "fft_taps_always_from": "N=1, C=K=16, 28x28 'same': taps R·S",
    "signal_fft_taps_from": "1-D, N=4, C=K=16, L=4096: taps",
    "signal_fft_taps_from_one_channel": "1-D, N=16, C=K=1, L=4096: taps",
    "signal_overlap_save_taps_from_one_channel": "the same ladder: overlap-save against the whole signal's FFT",
}
FIT = {  # weights fitted from one layer's times, not a ladder
    "fft_tile_step_up": "time per tile of the tile twice as large over this tile's (N=2, C=K=32, 64x64, 5x5)",
    "whole_image_work_weight": "time per spectral product of the whole image over a tile's, median over the tiles",
}
TAPS_1D = (4, 8, 16, 32, 64, 128)
COST_LAYER = ConvSpec(N=2, C=32, H=64, W=64, K=32, R=5, S=5, padding=2)
CHECKED_ONLY = "resnet18 (check only)"  # ResNet-18's 3x3 layers at N=8: checked, no threshold read from them


@dataclass(frozen=True)
class Rung:
    ladder: str     # the threshold this rung calibrates
    value: float    # the rung's value on the ladder's axis
    spec: ConvSpec | SignalSpec
    seconds: dict   # {label: median seconds per call} of every exact variant that ran on it


def _square(N, C, size, k) -> ConvSpec:
    return ConvSpec(N=N, C=C, H=size, W=size, K=C, R=k, S=k, padding=k // 2)


def _fft_label(spec: ConvSpec, thresholds: Thresholds) -> str:
    """The fft variant the rule picks for spec: its choice above the fft thresholds."""
    return fft_variant(spec.N, spec.P, spec.Q, spec.R, spec.S, _grid(spec), thresholds)


def _grid(spec: ConvSpec) -> tuple[int, int]:
    fft, _, _ = registry.resolved_implementation("fft", "cpu")
    return fft.spectral_grid(spec)


def measure(spec, repeats: int) -> dict:
    """{label: median seconds} of every exact variant of spec the sweeps run (registry.why_not_swept; 1-D: all)."""
    x, w = random_problem(spec)
    if isinstance(spec, SignalSpec):
        labels = registry.SIGNAL_LABELS
    else:
        labels = [name for name in registry.LABELS if not registry.why_not_swept(name, "cpu", spec)]
    plans = {name: plan(spec, name, "cpu") for name in labels}
    return alternating_medians({name: (lambda p=p: p(x, w)) for name, p in plans.items()}, repeats)


def _lost(rung: Rung, above: str, below: str, picks_above: bool) -> float:
    """log(the picked one's time / the faster of the two's) on the rung: 0 when the pick was the faster,
    math.inf when the pick did not run there."""
    ours, theirs = (rung.seconds.get(label, math.inf) for label in (above, below))
    picked = ours if picks_above else theirs
    return math.log(picked / min(ours, theirs)) if picked < math.inf else math.inf


def best_threshold(rungs: list[Rung], above: Callable[[Rung], str], below: str = "torch") -> float:
    """The rung value from which picking above(rung) (and `below` under it) loses the least time over the
    whole ladder: the sum over rungs of log(picked time / the faster of the two). A rung where the two
    are within noise costs little either way, so one noisy rung cannot move the threshold far; math.inf
    (never) when `below` everywhere loses least. Ties go to the higher threshold."""
    def loss(threshold):
        return sum(_lost(rung, above(rung), below, rung.value >= threshold) for rung in rungs)

    candidates = [math.inf, *sorted((rung.value for rung in rungs), reverse=True)]
    return min(candidates, key=loss)  # min keeps the first of equals: the higher threshold


def best_winograd_thresholds(rungs: list[Rung]) -> tuple[float, float]:
    """(channels, tiles) from which picking F(4x4,3x3) over torch loses the least time over both Winograd
    ladders. The rule needs both at once, so each is read against the other: the tiles read at the channels'
    threshold alone are wrong on wider layers, and the other way round. Ties go to the higher thresholds."""
    def tiles(spec):
        return winograd_tiles(spec.N, spec.P, spec.Q)

    def loss(channels_from, tiles_from):
        return sum(_lost(rung, "winograd F(4x4,3x3)", "torch",
                         min(rung.spec.C, rung.spec.K) >= channels_from and tiles(rung.spec) >= tiles_from)
                   for rung in rungs)

    channels = [math.inf, *sorted({min(r.spec.C, r.spec.K) for r in rungs}, reverse=True)]
    counts = sorted({tiles(r.spec) for r in rungs}, reverse=True)
    return min(((c, t) for c in channels for t in counts), key=lambda pair: loss(*pair))


def _rule_lost(rung: Rung, thresholds: Thresholds) -> float:
    """log(the rule's pick's time / the fastest's) on the rung; math.inf when the pick did not run there."""
    picked = rung.seconds.get(pick(rung.spec, thresholds), math.inf)
    return math.log(picked / min(rung.seconds.values())) if picked < math.inf else math.inf


def raised_fft_thresholds(rungs: list[Rung], thresholds: Thresholds) -> Thresholds:
    """The FFT thresholds, each raised to a higher value of its own ladder (or never) where the whole rule
    then loses less time over every 2-D layer measured: each ladder reads its threshold on its own layers, all
    28x28, and a threshold read there can send a layer no ladder of its walked to the FFT at a loss (a 3x3
    layer on a 4x4 image, where Winograd's tiles are too few). Only a strict gain raises one."""
    planar = [rung for rung in rungs if isinstance(rung.spec, ConvSpec)]
    for name in ("fft_taps_from", "fft_work_from", "fft_taps_always_from"):
        current = getattr(thresholds, name)
        higher = sorted({rung.value for rung in planar if rung.ladder == name and rung.value > current})
        best, least = current, sum(_rule_lost(rung, thresholds) for rung in planar)
        for value in (*higher, math.inf):
            loss = sum(_rule_lost(rung, replace(thresholds, **{name: value})) for rung in planar)
            if loss < least:
                best, least = value, loss
        thresholds = replace(thresholds, **{name: best})
    return replace(thresholds, fft_taps_always_from=max(thresholds.fft_taps_always_from, thresholds.fft_taps_from))


def fitted_fft_weights(seconds: dict, spec: ConvSpec = COST_LAYER) -> dict:
    """fft_tile_step_up and whole_image_work_weight from every fft variant's time on spec. The rule steps
    up from tile T to 2T when tiles(T) > step·tiles(2T): equal cost where step is the time of one 2T tile
    over one T tile. The whole image against a tile by spectral work (core.selection.spectral_work):
    the weight is the time of one whole-image product over one tiled product."""
    N, P, Q, R, S, grid = spec.N, spec.P, spec.Q, spec.R, spec.S, _grid(spec)
    per_tile = {T: seconds[f"fft tile {T}"] / fft_tiles(N, P, Q, R, S, T)
                for T in FFT_TILES if f"fft tile {T}" in seconds}
    step_up = {T: _two_figures(per_tile[2 * T] / per_tile[T]) for T in FFT_TILES[:-1]
               if T in per_tile and 2 * T in per_tile}
    found = {"fft_tile_step_up": {**SHIPPED.fft_tile_step_up, **step_up}}
    if "fft" in seconds and per_tile:
        whole = seconds["fft"] / spectral_work(N, P, Q, R, S, None, grid, 1)
        found["whole_image_work_weight"] = _two_figures(statistics.median(
            whole / (seconds[f"fft tile {T}"] / spectral_work(N, P, Q, R, S, T, grid)) for T in per_tile))
    return found


def _two_figures(value: float) -> float:
    return float(f"{value:.2g}")


def calibrate(repeats: int = 5, report: Callable[[str], None] = lambda line: None) -> dict:
    """Measure every ladder, derive this machine's thresholds and check them; the record (not yet written)."""
    rungs: list[Rung] = []

    def climb(ladder: str, values_specs) -> list[Rung]:
        climbed = [Rung(ladder, value, spec, measure(spec, repeats)) for value, spec in values_specs]
        rungs.extend(climbed)
        return climbed

    report("fitting the fft variant's cost weights")
    cost = Rung("fft cost weights", 0, COST_LAYER, measure(COST_LAYER, repeats))
    rungs.append(cost)
    t = replace(SHIPPED, **fitted_fft_weights(cost.seconds))

    def fft_choice(rung):
        return _fft_label(rung.spec, t)

    report("Winograd: channels")
    channels = climb("winograd_channels_from", [(C, _square(4, C, 28, 3)) for C in (16, 32, 64, 128, 256)])
    report("Winograd: output tiles")
    ladder = [_square(1, 128, size, 3) for size in (4, 8, 12, 16, 20, 28)] + [_square(2, 128, 28, 3)]
    tiled = climb("winograd_tiles_from", [(winograd_tiles(spec.N, spec.P, spec.Q), spec) for spec in ladder])
    channels_from, tiles_from = best_winograd_thresholds(channels + tiled)
    t = replace(t, winograd_channels_from=channels_from,
                winograd_tiles_from=tiles_from if channels_from < math.inf else math.inf)

    report("FFT: taps")
    taps = climb("fft_taps_from", [(k * k, _square(4, 64, 28, k)) for k in (3, 5, 7, 9, 11, 13)])
    t = replace(t, fft_taps_from=best_threshold(taps, fft_choice))
    if t.fft_taps_from < math.inf:
        report("FFT: work N·C·K")
        k = math.isqrt(int(t.fft_taps_from))
        sizes = ((1, 16), (1, 32), (2, 32), (1, 64), (2, 64), (4, 64), (8, 64))
        t = replace(t, fft_work_from=best_threshold(climb("fft_work_from", [
            (N * C * C, _square(N, C, 28, k)) for N, C in sizes]), fft_choice))
    else:
        t = replace(t, fft_work_from=math.inf)
    report("FFT: taps at the smallest work")
    always = climb("fft_taps_always_from", [(k * k, _square(1, 16, 28, k)) for k in (5, 7, 9, 11, 15, 19, 23)])
    t = replace(t, fft_taps_always_from=max(best_threshold(always, fft_choice), t.fft_taps_from))
    t = raised_fft_thresholds(rungs, t)

    report("1-D: taps")
    climbed = climb("signal_fft_taps_from", [(R, SignalSpec(N=4, C=16, L=4096, K=16, R=R)) for R in TAPS_1D])
    t = replace(t, signal_fft_taps_from=best_threshold(climbed, lambda _rung: "fft overlap-save"))
    # one channel: overlap-save against the whole signal's FFT first, then the rule's FFT against torch
    climbed = climb("signal_fft_taps_from_one_channel", [(R, SignalSpec(N=16, C=1, L=4096, K=1, R=R))
                                                         for R in TAPS_1D])
    t = replace(t, signal_overlap_save_taps_from_one_channel=best_threshold(
        climbed, lambda _rung: "fft overlap-save", below="fft"))
    t = replace(t, signal_fft_taps_from_one_channel=best_threshold(
        climbed, lambda rung: "fft" if rung.value < t.signal_overlap_save_taps_from_one_channel else "fft overlap-save"))
    report("ResNet-18's 3x3 layers, for the check")
    climb(CHECKED_ONLY, [(layer.spec.C, layer.spec) for layer in layers.RESNET18])

    return {"title": "The auto rule's thresholds, measured on this machine",
            "machine": machine_id(), "chip": chip().fields(), "cores": chip().cores,
            "measured": datetime.date.today().isoformat(), "commit": commit(), "command": "convbench calibrate",
            "repeats": repeats, "calibration": calibration(),
            "thresholds": to_json(t), "shipped": to_json(SHIPPED), "ladders": LADDERS, "fitted": FIT,
            "rungs": [{"ladder": r.ladder, "value": r.value, "spec": repr(r.spec), "shape": _shape(r.spec),
                       "seconds": {k: round(v, 7) for k, v in r.seconds.items()}} for r in rungs],
            "check": check(rungs, t)}


def _shape(spec) -> dict:
    return {"kind": type(spec).__name__, **asdict(spec)}


def _spec(shape: dict):
    fields = {k: v for k, v in shape.items() if k != "kind"}
    return SignalSpec(**fields) if shape["kind"] == "SignalSpec" else ConvSpec.from_json(fields)


def check_again(record: dict, repeats: int = 5, report: Callable[[str], None] = lambda line: None) -> dict:
    """The stored thresholds checked on a new measurement of the stored record's layers (out of the
    sample they were derived from): check()'s table."""
    thresholds = thresholds_from(record, machine_id())
    rungs = []
    for number, stored in enumerate(record["rungs"], 1):
        report(f"layer {number} of {len(record['rungs'])}")
        spec = _spec(stored["shape"])
        rungs.append(Rung(stored["ladder"], stored["value"], spec, measure(spec, repeats)))
    return check(rungs, thresholds)


def pick(spec, thresholds: Thresholds) -> str:
    """What algorithm="auto" runs on spec under these thresholds (with nothing measured stored)."""
    if isinstance(spec, SignalSpec):
        return select_signal(spec, thresholds).label
    return select(spec, "cpu", grid=_grid(spec), thresholds=thresholds).label


def check(rungs: list[Rung], thresholds: Thresholds) -> dict:
    """On every rung: the fastest exact variant, and what the calibrated and the shipped rule pick, each as a
    multiple of the fastest's time (None where the pick was not among those timed)."""
    rows = []
    for rung in rungs:
        fastest = min(rung.seconds, key=rung.seconds.get)
        row = [rung.ladder, rung.value, repr(rung.spec), fastest, round(rung.seconds[fastest] * 1e3, 4)]
        for rule in (thresholds, SHIPPED):
            chosen = pick(rung.spec, rule)
            row += [chosen, round(rung.seconds[chosen] / rung.seconds[fastest], 3) if chosen in rung.seconds else None]
        rows.append(row)
    return {"target": AUTO_TARGET, "columns": list(CHECK_COLUMNS), "rows": rows}


def write(record: dict, folder=None):
    """The record into folder (default: where algorithm="auto" reads it), as <machine id>.json."""
    path = calibration_file(record["machine"], folder)
    write_atomically(path, (json.dumps(record, indent=1, ensure_ascii=False) + "\n").encode())
    return path
