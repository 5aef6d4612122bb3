"""`convbench calibrate`: thresholds derived from measured ladders, stored per machine, read by algorithm='auto'."""
import dataclasses
import json
import math

import pytest

from convbench import cli
from convbench.core.machine import machine_id
from convbench.core.selection import SHIPPED
from convbench.core.signal import SignalSpec
from convbench.core.spec import ConvSpec
from convbench.interface import auto, machine_thresholds
from convbench.measure import calibrate
from convbench.measure.calibrate import Rung, best_threshold, fitted_fft_weights, raised_fft_thresholds

SPEC = ConvSpec(N=1, C=8, H=8, W=8, K=8, R=3, S=3, padding=1)
WIDE_3X3 = ConvSpec(N=8, C=256, H=14, W=14, K=256, R=3, S=3, padding=1)  # the shipped rule's Winograd layer


def rungs(*speedups):
    """Rungs 1, 2, 3, ... where 'above' took 1 s and torch that many times as long."""
    return [Rung("x", value, SPEC, {"above": 1.0, "torch": speedup}) for value, speedup in enumerate(speedups, 1)]


def above(_rung):
    return "above"


def test_the_threshold_is_the_rung_from_which_the_choice_above_loses_least_time_over_the_ladder():
    assert best_threshold(rungs(0.5, 0.5, 2, 2), above) == 3
    assert best_threshold(rungs(1.05, 0.5, 2, 2), above) == 3  # a near tie won low on the ladder does not pull it down
    assert best_threshold(rungs(2, 0.95, 2, 2), above) == 1  # nor does a near tie lost in the middle push it up
    assert best_threshold(rungs(2, 2, 2), above) == 1
    assert best_threshold(rungs(0.5, 0.5, 0.9), above) == math.inf  # torch everywhere: never
    assert best_threshold(rungs(1, 1, 1), above) == math.inf  # ties go to the higher threshold
    assert best_threshold([Rung("x", 1, SPEC, {"torch": 1.0})], above) == math.inf  # 'above' did not run


def test_the_fft_weights_are_fitted_from_the_time_per_tile():
    spec = calibrate.COST_LAYER
    grid = calibrate._grid(spec)
    per_tile = {8: 1.0, 16: 3.0, 32: 9.0, 64: 18.0}
    seconds = {f"fft tile {T}": per_tile[T] * calibrate.fft_tiles(spec.N, spec.P, spec.Q, spec.R, spec.S, T)
               for T in per_tile}
    # the whole image's product planted at 2.5 times a tile-16 product
    tile_product = seconds["fft tile 16"] / calibrate.spectral_work(spec.N, spec.P, spec.Q, spec.R, spec.S, 16, grid)
    seconds["fft"] = 2.5 * tile_product * calibrate.spectral_work(spec.N, spec.P, spec.Q, spec.R, spec.S, None, grid, 1)
    found = fitted_fft_weights(seconds)
    assert found["fft_tile_step_up"] == {8: 3.0, 16: 3.0, 32: 2.0}
    ratios = sorted(2.5 * tile_product / (seconds[f"fft tile {T}"] / calibrate.spectral_work(
        spec.N, spec.P, spec.Q, spec.R, spec.S, T, grid)) for T in per_tile)
    assert found["whole_image_work_weight"] == pytest.approx((ratios[1] + ratios[2]) / 2, rel=0.05)


@pytest.mark.parametrize("small_image_fft_seconds, raised", [(7.0, 25), (0.5, 9)])
def test_an_fft_threshold_its_ladder_read_is_raised_where_the_whole_rule_loses_on_other_layers(
        small_image_fft_seconds, raised):
    t = dataclasses.replace(SHIPPED, fft_taps_from=9, fft_work_from=16384, fft_taps_always_from=81)
    three, five = (ConvSpec(N=4, C=64, H=28, W=28, K=64, R=k, S=k, padding=k // 2) for k in (3, 5))
    small = ConvSpec(N=1, C=128, H=4, W=4, K=128, R=3, S=3, padding=1)  # 16384 = N·C·K: the FFT's, at 9 taps
    fft = {spec: calibrate._fft_label(spec, t) for spec in (three, five, small)}
    measured = [Rung("fft_taps_from", 9, three, {"torch": 2.0, fft[three]: 1.0}),
                Rung("fft_taps_from", 25, five, {"torch": 2.0, fft[five]: 1.0}),
                Rung("winograd_tiles_from", 1, small, {"torch": 1.0, fft[small]: small_image_fft_seconds})]
    # 3x3 on a 4x4 image: its ladder never walked small images; there the FFT is 7x torch's time
    assert raised_fft_thresholds(measured, t).fft_taps_from == raised
    assert raised_fft_thresholds(measured, t).fft_taps_always_from == 81


def planted_times(spec, repeats):
    """A machine where Winograd wins from 64 channels and 49 tiles, the FFT from 81 taps, 1-D FFT from 32 taps
    (one channel: the whole signal's from 16, overlap-save from 64)."""
    if isinstance(spec, SignalSpec):  # with one channel the whole signal's FFT wins under 64 taps
        whole = (10.0 if spec.R < 64 else 40.0) if spec.C == 1 else 1e3
        return {"torch": float(spec.R), "fft overlap-save": 20.0, "fft": whole, "direct": 1e3}
    work = spec.N * spec.C * spec.K * spec.P * spec.Q
    seconds = {"torch": work * spec.R * spec.S, "direct": 1e12}
    seconds.update({label: work * 50.0 for label in ("fft", "fft tile 8", "fft tile 16", "fft tile 32", "fft tile 64")})
    if (spec.R, spec.S) == (3, 3):
        tiles = spec.N * -(-spec.P // 4) * -(-spec.Q // 4)
        seconds["winograd F(4x4,3x3)"] = work * 9 * (0.5 if spec.C >= 64 and tiles >= 49 else 2)
    return seconds


@pytest.fixture
def planted_machine(monkeypatch, tmp_path):
    monkeypatch.setattr(calibrate, "measure", planted_times)
    monkeypatch.setattr(calibrate, "calibration", lambda: {"copy_gbps": 1.0, "sgemm_gflops": 1.0})
    monkeypatch.setenv("CONVBENCH_CALIBRATION", str(tmp_path))
    return tmp_path


def test_calibrate_derives_each_threshold_from_its_ladder(planted_machine):
    record = calibrate.calibrate(repeats=1)
    t = record["thresholds"]
    assert (t["winograd_channels_from"], t["winograd_tiles_from"]) == (64, 49)
    assert (t["fft_taps_from"], t["fft_work_from"], t["fft_taps_always_from"]) == (81, 256, 81)
    assert (t["signal_fft_taps_from"], t["signal_fft_taps_from_one_channel"]) == (32, 16)
    assert t["signal_overlap_save_taps_from_one_channel"] == 64
    assert record["machine"] == machine_id() and record["shipped"]["winograd_channels_from"] == 128
    rows = record["check"]["rows"]
    shared = {"signal_overlap_save_taps_from_one_channel"}  # read from the one-channel ladder's rungs
    assert {row[0] for row in rows} == (set(calibrate.LADDERS) - shared) | {calibrate.CHECKED_ONLY, "fft cost weights"}
    assert all(row[6] == 1.0 for row in rows), "on a noiseless planted machine the calibrated rule picks the fastest"
    assert any(row[8] is not None and row[8] > 1.3 for row in rows), "the shipped thresholds do not fit it"


def test_the_command_writes_the_file_auto_then_reads(planted_machine, capsys):
    before, why_before = auto.choose(WIDE_3X3)
    assert before == "winograd F(4x4,3x3)" and "shipped" in why_before
    assert cli.main(["calibrate", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "within 1.3x of the fastest exact variant on" in out and "winograd_channels_from" in out
    stored = json.loads((planted_machine / f"{machine_id()}.json").read_text())
    assert stored["thresholds"]["fft_taps_from"] == 81
    thresholds, source = machine_thresholds.thresholds_here()
    assert thresholds.fft_taps_from == 81 and "calibrated here" in source
    # a 7x7 layer: the shipped rule's FFT, this machine's torch (its FFT wins from 81 taps)
    seven = ConvSpec(N=8, C=64, H=28, W=28, K=64, R=7, S=7, padding=3)
    assert auto.choose(seven)[0] == "torch" and "calibrated here" in auto.choose(seven)[1]


def write(folder, record):
    path = folder / f"{machine_id()}.json"
    path.write_text(json.dumps(record))
    return path


def test_null_means_never_and_unset_thresholds_stay_shipped(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVBENCH_CALIBRATION", str(tmp_path))
    write(tmp_path, {"machine": machine_id(), "measured": "today", "thresholds": {"winograd_channels_from": None}})
    thresholds, _ = machine_thresholds.thresholds_here()
    assert thresholds.winograd_channels_from == math.inf and thresholds.fft_taps_from == SHIPPED.fft_taps_from
    assert auto.choose(WIDE_3X3)[0] == "torch"


@pytest.mark.parametrize("record, why", [
    ({"machine": "another-chip", "measured": "today", "thresholds": {}}, "another-chip"),
    ({"machine": None, "measured": "today", "thresholds": {"fft_taps_from": 49}}, "measured on"),
    ("MACHINE", "unknown thresholds ['fft_taps'"),
    ("MACHINE-negative", "fft_taps_from is -1"),
    ("not json", "JSONDecodeError"),
])
def test_a_file_of_another_machine_or_unreadable_is_reported_in_one_line_and_skipped(monkeypatch, tmp_path, capsys,
                                                                                      record, why):
    monkeypatch.setenv("CONVBENCH_CALIBRATION", str(tmp_path))
    if record == "MACHINE":
        record = {"machine": machine_id(), "measured": "today", "thresholds": {"fft_taps": 49}}
    elif record == "MACHINE-negative":
        record = {"machine": machine_id(), "measured": "today", "thresholds": {"fft_taps_from": -1}}
    path = tmp_path / f"{machine_id()}.json"
    path.write_text(record if isinstance(record, str) else json.dumps(record))
    thresholds, source = machine_thresholds.thresholds_here()
    lines = capsys.readouterr().out.strip().splitlines()
    assert thresholds == SHIPPED and "unreadable" in source
    assert len(lines) == 1 and why in lines[0] and str(path) in lines[0]
    assert auto.choose(WIDE_3X3)[0] == "winograd F(4x4,3x3)"


def test_check_measures_the_stored_layers_again_and_fails_when_auto_is_beyond_the_target(planted_machine, monkeypatch,
                                                                                          capsys):
    assert cli.main(["calibrate", "--repeats", "1"]) == 0
    assert cli.main(["calibrate", "--check", "--repeats", "1"]) == 0
    assert "a new measurement of" in capsys.readouterr().out

    def torch_now_faster_on_9x9(spec, repeats):
        seconds = planted_times(spec, repeats)
        if isinstance(spec, ConvSpec) and spec.R == 9:
            seconds["torch"] = min(seconds.values()) / 2
        return seconds

    monkeypatch.setattr(calibrate, "measure", torch_now_faster_on_9x9)
    assert cli.main(["calibrate", "--check", "--repeats", "1"]) == 1
    out = capsys.readouterr().out
    assert "beyond 1.3x" in out and "R=9" in out


def test_check_without_a_calibration_says_what_to_run(planted_machine, capsys):
    assert cli.main(["calibrate", "--check"]) == 2
    assert "run `convbench calibrate` first" in capsys.readouterr().out


def test_the_winograd_thresholds_are_fitted_together():
    """Read at 64 channels alone the tiles threshold would be 100, and lose the wider layers' wins at 25 tiles;
    fitted over both ladders it is 25, at the cost of one near tie at 64 channels."""
    def rung(C, N, size, torch_seconds):
        spec = ConvSpec(N=N, C=C, H=size, W=size, K=C, R=3, S=3, padding=1)
        return Rung("w", 0, spec, {"winograd F(4x4,3x3)": 1.0, "torch": torch_seconds})

    rungs = [rung(16, 4, 20, 0.5), rung(64, 4, 20, 2.0), rung(128, 4, 20, 2.0), rung(256, 4, 20, 2.0),  # 100 tiles
             rung(64, 1, 20, 0.9), rung(128, 1, 20, 2.0), rung(256, 1, 20, 2.0), rung(256, 1, 8, 0.5)]  # 25, 4
    assert calibrate.best_winograd_thresholds(rungs) == (64, 25)
    assert calibrate.best_winograd_thresholds([rung(64, 1, 20, 0.5)])[0] == math.inf
