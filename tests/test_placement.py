"""The threads' placement probe (convbench.measure.placement) and the ratios filed by it: a measurement the
placement changed under is taken again, and each stored ratio says where its threads were."""
import json
import math

import numpy as np
import pytest

from convbench import cli
from convbench.core.errors import ConvError
from convbench.measure import guard, placement, runs


def test_the_probe_kernels_write_and_read_the_blocks_asked(rng):
    blocks = rng.standard_normal((3, 1000)).astype(np.float32)
    sums = np.zeros(3, np.float32)
    placement._read(blocks, 1, sums)  # each thread its neighbour's block
    np.testing.assert_allclose(sums, blocks[[1, 2, 0]].astype(np.float64).sum(axis=1), rtol=1e-4)
    placement._write(blocks, 2.0)
    np.testing.assert_array_equal(blocks, np.broadcast_to(2.0 + np.arange(1000, dtype=np.float32), (3, 1000)))


def test_the_probe_is_a_ratio_of_two_times_and_none_with_one_thread():
    ratio = placement.cross_read_ratio(threads=2, repeats=1)
    assert math.isfinite(ratio) and ratio > 0
    assert placement.cross_read_ratio(threads=1) is None


def test_the_placement_is_read_against_its_threshold(monkeypatch):
    assert placement.placement(placement.SPLIT_ABOVE * 1.1) == placement.SPLIT
    assert placement.placement(1.0) == placement.SHARED
    monkeypatch.setattr(placement, "cross_read_ratio", lambda: None)
    assert placement.placement() == placement.ONE_THREAD


def _probes(*answers):
    answers = iter(answers)
    return lambda: next(answers)


def test_a_measurement_is_taken_again_while_the_placement_changes_under_it():
    calls = []
    measure = lambda: calls.append(len(calls)) or len(calls)  # noqa: E731  (returns 1, 2, ...)
    assert placement.in_one_placement(measure, probe=_probes("shared L3", "split", "split", "split")) == (2, "split")
    calls.clear()
    never = _probes(*["shared L3", "split"] * 3)
    assert placement.in_one_placement(measure, tries=3, probe=never) == (3, placement.CHANGED)


def test_each_target_row_says_where_its_threads_were(monkeypatch):
    monkeypatch.setattr(placement, "placement", lambda: "split")
    rows = runs.targets("fft 7x7 c=0.5 vs c=0", repeats=1)
    assert [(row.name, row.placement) for row in rows] == [("fft 7x7 c=0.5 vs c=0", "split")]


def test_saved_ratios_keep_their_placement_and_drop_a_stale_one(tmp_path):
    guard.save_ratios({"a": 1.5, "c": 2.0}, store=tmp_path, placements={"a": "split", "c": "shared L3"})
    path = guard.save_ratios({"b": 0.5}, store=tmp_path, placements={"b": "shared L3"})
    assert json.loads(path.read_text())["placements"] == {"a": "split", "b": "shared L3", "c": "shared L3"}
    path = guard.save_ratios({"a": 1.6}, store=tmp_path)  # measured again, placement unknown: not the old one
    assert json.loads(path.read_text())["placements"] == {"b": "shared L3", "c": "shared L3"}


def test_the_effect_files_each_round_under_its_placement(monkeypatch):
    ratios = iter([1.0, 2.0, 2.0, 2.0])  # a round that began in one L3 and ended split, then one split
    monkeypatch.setattr(placement, "cross_read_ratio", lambda: next(ratios))
    run = runs.placement_effect("fft 7x7 c=0.5 vs c=0", seconds=0, repeats=1)
    assert [effect.name for effect in run.effects] == ["fft 7x7 c=0.5 vs c=0"]
    assert run.effects[0].ratios == {}  # its placement changed: dropped, and the time was up
    assert run.probes == {"shared L3": [1.0], "split": [2.0]}
    monkeypatch.setattr(placement, "cross_read_ratio", lambda: 1.0)
    (effect,) = runs.placement_effect("fft 7x7 c=0.5 vs c=0", seconds=0, repeats=1).effects
    assert list(effect.ratios) == ["shared L3"] and len(effect.ratios["shared L3"]) == 1
    assert effect.ratios["shared L3"][0] > 0


def test_an_effect_naming_no_target_is_refused_by_name():
    with pytest.raises(ConvError, match="--effect 'no such case'"):
        runs.placement_effect("no such case", seconds=0)


def test_the_command_prints_the_probe_and_the_placement(capsys):
    assert cli.main(["placement"]) == 0
    out = capsys.readouterr().out
    assert ("neighbour's block / its own" in out and ("shared L3" in out or "split" in out)) or "one thread" in out
