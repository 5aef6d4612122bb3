"""convbench noise: accuracy under Gaussian input noise, end to end on a reduced setting, and its verdict read
from the measured curves (planted ones here)."""
import json
import math

import numpy as np
import pytest
import torch

from convbench.workloads import noise
from convbench.workloads.noise import NoiseRow

pytest.importorskip("sklearn", reason="the accuracy extra (convbench[accuracy]) is not installed")


def test_convbench_noise_runs_end_to_end(tmp_path, capsys):
    from convbench.cli import main

    assert main(["noise", "--epochs", "1", "--compressions", "0", "0.75", "--sigmas", "0.5", "8", "--seeds", "1",
                 "--draws", "1", "--test-images", "90", "--out", str(tmp_path),
                 "--records", str(tmp_path / "records")]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "fft c=0.75" in out and "more robust to noise:" in out
    assert {p.name for p in tmp_path.glob("*.png")} == {"accuracy_vs_noise.png"}
    record = json.loads((tmp_path / "records" / "noise-accuracy.json").read_text())
    sigmas = {row[3] for row in record["rows"]}
    assert sigmas == {0.0, 0.5, 8.0}  # sigma 0 (the clean accuracy) is always measured
    accuracy = {(row[0], row[3]): row[4] for row in record["rows"]}
    for model in ("torch", "fft c=0", "fft c=0.75"):
        assert accuracy[model, 8.0] < accuracy[model, 0.0] - 0.2  # noise this strong breaks every model


def test_noise_is_seeded_clipped_and_grows_with_sigma():
    x = torch.tensor(np.random.default_rng(5).uniform(0, 1, (6, 1, 8, 8)), dtype=torch.float32)
    assert torch.equal(noise.noisy(x, 0.3, 1), noise.noisy(x, 0.3, 1))
    assert not torch.equal(noise.noisy(x, 0.3, 1), noise.noisy(x, 0.3, 2))
    assert torch.equal(noise.noisy(x, 0.0, 1), x)
    loud = noise.noisy(x, 3.0, 1)
    assert loud.min() >= 0 and loud.max() <= 1
    assert (noise.noisy(x, 0.1, 1) - x).abs().mean() < (loud - x).abs().mean()


def test_sigma_half_interpolates_the_measured_curve():
    # chance 0.1, clean 0.9: half way is 0.5, between sigma 1 (0.7) and 2 (0.3)
    assert noise.sigma_half({0.0: 0.9, 1.0: 0.7, 2.0: 0.3}, 0.1) == pytest.approx(1.5)
    assert math.isnan(noise.sigma_half({0.0: 0.9, 1.0: 0.8}, 0.1))
    # a model that starts lower is judged against its own clean accuracy: 0.3 is half way from 0.5 to 0.1
    assert noise.sigma_half({0.0: 0.5, 1.0: 0.4, 2.0: 0.2}, 0.1) == pytest.approx(1.5)


def test_at_chance_from_needs_the_curve_to_stay_there():
    chance = noise.Chance(0.1, 400)  # two standard errors: 0.13
    assert noise.at_chance_from({0.0: 0.9, 1.0: 0.12, 2.0: 0.2, 4.0: 0.11}, chance) == 4.0
    assert math.isnan(noise.at_chance_from({0.0: 0.9, 1.0: 0.5}, chance))


def _planted(widths: dict[float, list[float]]) -> list[NoiseRow]:
    """Rows of logistic-like curves whose sigma_half is each seed's width, per compression (torch's like c = 0)."""
    rows = []
    for compression, seeds in {None: widths[0.0], **widths}.items():
        model = "torch" if compression is None else f"fft c={compression:g}"
        for seed, width in enumerate(seeds):
            for sigma in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0):
                rows.append(NoiseRow(model, compression or 0.0, seed, sigma, 0.1 + 0.8 / (1 + (sigma / width) ** 3)))
    return rows


def test_the_verdict_is_read_from_the_measured_curves():
    holds = noise.noise_verdict(_planted({0.0: [0.5, 0.6], 0.5: [0.55, 0.65], 0.9: [0.7, 0.8]}), 0.1)
    assert holds.startswith("holds here")
    assert noise.noise_verdict(_planted({0.0: [0.5, 0.6], 0.5: [0.4, 0.5], 0.9: [0.3, 0.4]}), 0.1).startswith(
        "does not hold here")
    # better in one seed, worse in the other: not "more", as c = 0 and the rate share each seed's split and weights
    mixed = noise.noise_verdict(_planted({0.0: [0.5, 0.6], 0.9: [0.7, 0.55]}), 0.1)
    assert mixed.startswith("does not hold here") and "less" not in mixed
    partly = noise.noise_verdict(_planted({0.0: [0.5, 0.6], 0.5: [0.6, 0.7], 0.9: [0.3, 0.4]}), 0.1)
    assert partly.startswith("holds partly here") and "c = 0.5 bears more" in partly and "c = 0.9 bears less" in partly
    assert noise.noise_verdict(_planted({0.0: [0.5], 0.9: [9.0]}), 0.1).startswith("cannot be judged")
