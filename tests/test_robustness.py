"""convbench robustness end to end on a reduced setting, and its lossy input channels."""
import numpy as np
import pytest
import torch

from convbench.workloads import robustness

pytest.importorskip("foolbox", reason="the robustness extra (convbench[robustness]) is not installed")
pytest.importorskip("sklearn", reason="the accuracy extra (convbench[accuracy]) is not installed")


def test_convbench_robustness_runs_end_to_end(tmp_path, capsys):
    from convbench.cli import main

    assert main(["robustness", "--epochs", "1", "--compressions", "0.5", "--epsilons", "0", "0.3",
                 "--pgd-steps", "5", "--test-images", "60", "--out", str(tmp_path),
                 "--records", str(tmp_path / "records")]) == 0
    out = capsys.readouterr().out
    for row in ("fft c=0.5", "feature squeezing", "Gaussian noise", "FFT compression", "proposal FGSM", "proposal C&W",
                "C&W (median L2"):
        assert row in out
    assert (tmp_path / "robustness_vs_compression.png").stat().st_size > 0
    assert {p.name for p in (tmp_path / "records").iterdir()} == {"robustness-under-attack.json",
                                                                 "robustness-lossy-channels.json"}


def test_attacks_hurt_and_minimal_attacks_fool_every_digit():
    models, defences = robustness.robustness(compressions=(0.5,), epsilons=(0.0, 0.3), epochs=1, pgd_steps=5,
                                             test_images=60)
    for model in ("torch", "fft c=0.5"):
        for attack in robustness.ATTACKS:
            clean, attacked = (next(r.accuracy for r in models if (r.model, r.attack, r.epsilon) == (model, attack, e))
                               for e in (0.0, 0.3))
            assert clean > 0.3 and attacked < clean / 2  # an epsilon of 0.3 on [0, 1] digits breaks the CNN
    for attack in robustness.MINIMAL_ATTACKS:  # the minimal adversarial of each digit fools the undefended model
        assert next(r.accuracy for r in defences if (r.model, r.attack) == ("none", attack)) == 0.0
    sizes = {r.attack: r.epsilon for r in defences if r.model == "none" and r.attack != "clean"}
    assert set(sizes) == set(robustness.MINIMAL_ATTACKS) and all(0 < size < 8 for size in sizes.values())


def test_the_lossy_channels():
    x = torch.tensor(np.random.default_rng(3).uniform(0, 1, (4, 1, 8, 8)), dtype=torch.float32)
    assert torch.allclose(robustness.fft_compression(x, 0.0), x, atol=1e-6)  # c = 0 keeps every frequency
    assert (robustness.fft_compression(x, 0.5) - x).abs().max() > 0.01
    squeezed = robustness.feature_squeezing(x, bits=2)
    assert set(torch.unique(squeezed * 3).round().tolist()) <= {0.0, 1.0, 2.0, 3.0}
    noisy = robustness.gaussian_noise(x)
    assert noisy.min() >= 0 and noisy.max() <= 1 and torch.equal(noisy, robustness.gaussian_noise(x))
