"""convbench learning-order: which frequency bands of a CNN's filters settle first in training. The bands'
order is read from the recorded changes: planted histories are reported as planted, whichever band leads."""
import json

import numpy as np
import pytest

from convbench.workloads import learning_order as lo

pytest.importorskip("sklearn", reason="the accuracy extra (convbench[accuracy]) is not installed")

GRID, BANDS = 10, 4


def test_the_bands_are_rings_from_the_zero_frequency_to_the_corner():
    bands = lo.band_of_each_frequency(GRID, BANDS)
    assert bands[0, 0] == 0 and bands[GRID // 2, GRID // 2] == BANDS - 1
    assert set(np.unique(bands)) == set(range(BANDS))
    assert bands[0, 1] <= bands[1, 1] <= bands[2, 2]  # farther from zero, never a lower band
    assert np.array_equal(bands, bands.T) and np.array_equal(bands[1:, 1:], bands[1:, 1:][::-1, ::-1])


def _planted(arrivals: list[int], steps: list[int], seed: int = 0) -> lo.History:
    """A history whose band b makes its whole final change, linearly, by step arrivals[b] and then stays."""
    rng = np.random.default_rng(seed)
    bands = lo.band_of_each_frequency(GRID, BANDS)
    final = rng.standard_normal((4, 3, GRID, GRID)) + 1j * rng.standard_normal((4, 3, GRID, GRID))
    history = lo.History("planted", 0.0, GRID, BANDS, steps=list(steps))
    history.changes["conv1"] = [final * np.minimum(step / np.array(arrivals), 1.0)[bands] for step in steps]
    history.gradients["conv1"] = [np.ones(BANDS) for _ in steps]
    return history


def test_a_planted_history_whose_high_band_settles_first_is_reported_as_such():
    steps = list(range(5, 105, 5))
    high_first = _planted([98, 78, 42, 22], steps)
    settled = lo.band_order(high_first, "conv1")
    assert list(settled) == [90, 75, 40, 20]  # the first record at 90% of the way (within a tenth), and on
    assert lo.order_verdict(settled) == "does not hold"
    low_first = lo.band_order(_planted([22, 42, 78, 98], steps), "conv1")
    assert list(low_first) == [20, 40, 75, 90] and lo.order_verdict(low_first) == "holds"
    assert lo.order_verdict(np.array([20, 60, 40, 95])) == "holds partly"
    assert lo.order_verdict(np.array([50, 20, 30, 50])) == "cannot be told"


def test_a_band_that_overshoots_has_not_settled_until_it_comes_back():
    steps = [1, 2, 3, 4, 5]
    shares = np.array([[0.5], [1.0], [1.5], [1.05], [1.0]])  # at 1 by step 2, away at 3, back from 4
    assert list(lo.settled_at(steps, shares)) == [4]


def test_the_verdict_over_layers():
    assert lo.learning_order_verdict(["holds", "holds"]).startswith("holds here")
    assert lo.learning_order_verdict(["holds", "holds partly"]).startswith("holds partly here: in every layer")
    assert lo.learning_order_verdict(["holds", "does not hold"]).startswith("holds partly here: in some")
    assert lo.learning_order_verdict(["does not hold", "cannot be told"]).startswith("does not hold here")


def test_recorded_training_ends_at_its_final_change_and_fft_c0_learns_as_torch():
    torch_history = lo.record_training(None, epochs=1, every=5)
    fft_history = lo.record_training(0.0, epochs=1, every=5)
    assert torch_history.steps == fft_history.steps and torch_history.steps[-1] == 23  # 1437 digits, batches of 64
    assert list(torch_history.changes) == ["conv1", "conv2"]
    bands = lo.band_of_each_frequency(GRID, BANDS)
    for layer in ("conv1", "conv2"):
        mine, theirs = (lo.progress(h.changes[layer], bands) for h in (fft_history, torch_history))
        assert np.allclose(mine[-1], 1.0) and np.all(mine[0] < 0.9)  # it moved, and the last record is the end
        assert np.allclose(mine, theirs, atol=0.02)  # the same weights and exact gradients, float32 apart
        shares = lo.gradient_shares(torch_history, layer)
        assert np.allclose(shares.sum(1), 1.0) and np.all(shares > 0)


def test_convbench_learning_order_runs_end_to_end(tmp_path, capsys):
    from convbench.cli import main

    assert main(["learning-order", "--epochs", "1", "--compressions", "0.5", "--bands", "3", "--out", str(tmp_path),
                 "--records", str(tmp_path / "records")]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "low frequency coefficients are learned first:" in out
    assert (tmp_path / "learning_order.png").stat().st_size > 0
    record = json.loads((tmp_path / "records" / "learning-order.json").read_text())
    assert [row[:2] for row in record["rows"]] == [[m, layer] for m in ("torch", "fft c=0.5") for layer in ("conv1", "conv2")]
    assert all(0 < step <= 23 for row in record["rows"] for step in row[2:5])
