"""convbench recovery-window end to end on a reduced setting, and its window and verdict on planted rows."""
import json

import pytest

from convbench.workloads import recovery_window
from convbench.workloads.recovery_window import RecoveryRow, recovery_verdict, window, window_sizes


def planted(given_back: dict, clean: dict, channel: str = "c") -> list[RecoveryRow]:
    """Rows of one channel: clean {strength: kept}, given_back {distortion: {strength: fraction}}."""
    rows = [RecoveryRow(channel, strength, 0.0, kept, 100) for strength, kept in clean.items()]
    return rows + [RecoveryRow(channel, strength, distortion, fraction, 50)
                   for distortion, fractions in given_back.items() for strength, fraction in fractions.items()]


CLEAN = {0.0: 1.0, 0.1: 1.0, 0.2: 0.95, 0.3: 0.5}


def test_the_window_is_the_strengths_that_give_back_most_and_keep_clean_digits():
    rows = planted({1.0: {0.0: 0.0, 0.1: 0.7, 0.2: 0.9, 0.3: 0.95}}, CLEAN)
    assert window(rows, "c", 1.0) == [0.1, 0.2]  # 0.3 gives back most, but breaks half the clean digits


def test_a_window_that_shrinks_holds_and_one_that_widens_does_not():
    shrinking = planted({1.0: {0.0: 0.0, 0.1: 0.7, 0.2: 0.9, 0.3: 0.9}, 2.0: {0.0: 0.0, 0.1: 0.2, 0.2: 0.6, 0.3: 0.9},
                         3.0: {0.0: 0.0, 0.1: 0.0, 0.2: 0.1, 0.3: 0.4}}, CLEAN)
    assert window_sizes(shrinking) == {"c": {1.0: 2, 2.0: 1, 3.0: 0}}
    assert recovery_verdict(shrinking).startswith("holds:")
    widening = planted({1.0: {0.0: 0.0, 0.1: 0.1, 0.2: 0.6}, 3.0: {0.0: 0.0, 0.1: 0.6, 0.2: 0.7}}, CLEAN)
    assert recovery_verdict(widening).startswith("does not hold")
    both = shrinking + [RecoveryRow("w" + r.channel[1:], r.strength, r.distortion, r.fraction, r.digits)
                        for r in widening]
    assert recovery_verdict(both).startswith("holds partly: the window shrinks for c, not for w")


def test_no_window_anywhere_cannot_judge_the_claim():
    rows = planted({1.0: {0.0: 0.0, 0.1: 0.3}, 2.0: {0.0: 0.0, 0.1: 0.1}}, CLEAN)
    assert recovery_verdict(rows).startswith("cannot be judged")
    with_one = rows + planted({1.0: {0.0: 0.0, 0.1: 0.8}, 2.0: {0.0: 0.0, 0.1: 0.2}}, CLEAN, channel="d")
    verdict = recovery_verdict(with_one)
    assert verdict.startswith("holds partly") and "c has no window at any distortion (it gives back at most 30%" in verdict


def test_convbench_recovery_window_runs_end_to_end(tmp_path, capsys):
    pytest.importorskip("foolbox", reason="the robustness extra (convbench[robustness]) is not installed")
    pytest.importorskip("sklearn", reason="the accuracy extra (convbench[accuracy]) is not installed")
    from convbench.cli import main

    assert main(["recovery-window", "--epochs", "1", "--pgd-steps", "5", "--test-images", "60",
                 "--distortions", "1", "3", "--out", str(tmp_path), "--records", str(tmp_path / "records")]) == 0
    out = capsys.readouterr().out
    assert "the recovery window shrinks with higher adversarial distortion:" in out
    assert (tmp_path / "recovery_window.png").stat().st_size > 0
    record = json.loads((tmp_path / "records" / "recovery-window.json").read_text())
    rows = [RecoveryRow(*row) for row in record["rows"]]
    assert {row.channel for row in rows} == set(recovery_window.CHANNELS)
    assert {row.distortion for row in rows} == {0.0, 1.0, 3.0}
    noiseless = [row for row in rows if row.channel == "Gaussian noise" and row.strength == 0.0]
    # no noise is no channel: the digits chosen are the ones the model gets right, and the attacked ones stay fooled
    assert [row.fraction for row in noiseless if row.distortion == 0.0] == [1.0]
    assert all(row.fraction == 0.0 and row.digits > 0 for row in noiseless if row.distortion > 0)
