"""convbench curvature end to end on a reduced setting; its power iteration against an explicit Hessian."""
import json

import numpy as np
import pytest
import torch

from convbench.workloads import curvature
from convbench.workloads.curvature import CurvatureRow, curvature_verdict


def small_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(3 * 4 * 4, 5))


def test_power_iteration_finds_each_digits_largest_hessian_eigenvalue():
    """Against torch.autograd.functional.hessian, digit by digit (ReLU, as the digits CNN: the Hessian is
    J^T H J, H the cross-entropy's, positive semi-definite)."""
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.uniform(0, 1, (3, 1, 4, 4)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 5, 3))
    model = small_model()
    gradient, found = curvature.steepness(model, x, y, iterations=200)
    for i in range(3):
        loss = lambda image: torch.nn.functional.cross_entropy(model(image.view(1, 1, 4, 4)), y[i:i + 1])
        hessian = torch.autograd.functional.hessian(loss, x[i].flatten()).double()
        eigenvalues = torch.linalg.eigvalsh(hessian).sort().values
        assert eigenvalues[0] > -1e-6 * eigenvalues[-1]
        largest, typical = eigenvalues[-1].item(), eigenvalues.median().item()
        # a Rayleigh quotient never exceeds the largest; power iteration gets close to it (two near-equal top
        # eigenvalues slow it down), far above a typical one
        assert 0.98 * largest <= found[i].item() <= largest * (1 + 1e-4) and largest > 3 * typical
    x_grad = x.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(model(x_grad[:1]), y[:1]).backward()
    assert gradient[0].item() == pytest.approx(x_grad.grad[0].norm().item(), rel=1e-5)


def rows(natural, adversarial, recovered, model="m"):
    return [CurvatureRow(model, 0.0, kind, norm, eigen) for kind, values in
            (("natural", natural), ("adversarial", adversarial), ("recovered", recovered)) for norm, eigen in values]


def test_the_verdict_compares_the_measured_medians():
    steep = rows([(0.1, 1.0)] * 3, [(5.0, 30.0)] * 3, [(2.0, 10.0)] * 3)
    assert curvature_verdict(steep) == "holds for every model"
    flat_adversarial = rows([(0.1, 1.0)] * 3, [(0.05, 30.0)] * 3, [(0.01, 10.0)] * 3, model="n")
    assert curvature_verdict(steep + flat_adversarial) == "holds partly: for m, not for n"
    unrecovered = rows([(0.1, 1.0)] * 3, [(5.0, 30.0)] * 3, [(9.0, 10.0)] * 3)
    assert curvature_verdict(unrecovered) == "does not hold for any model"
    assert curvature_verdict(rows([(0.1, 1.0)], [(5.0, 30.0)], [])).startswith("cannot be judged")


def test_convbench_curvature_runs_end_to_end(tmp_path, capsys):
    pytest.importorskip("foolbox", reason="the robustness extra (convbench[robustness]) is not installed")
    pytest.importorskip("sklearn", reason="the accuracy extra (convbench[accuracy]) is not installed")
    from convbench.cli import main

    assert main(["curvature", "--epochs", "1", "--compressions", "0", "--pgd-steps", "5", "--test-images", "40",
                 "--iterations", "5", "--out", str(tmp_path), "--records", str(tmp_path / "records")]) == 0
    out = capsys.readouterr().out
    assert "recovery flattens it:" in out and (tmp_path / "curvature.png").stat().st_size > 0
    record = json.loads((tmp_path / "records" / "input-curvature.json").read_text())
    found = {(row[0], row[2]): row for row in record["rows"]}
    # the fft at c = 0 computes what torch's Conv2d does, forward and both backward passes (same initial weights)
    for kind in ("natural", "adversarial"):
        torch_row, fft_row = found[("torch", kind)], found[("fft c=0", kind)]
        assert fft_row[3] == torch_row[3]
        assert fft_row[5] == pytest.approx(torch_row[5], rel=0.05) and fft_row[8] == pytest.approx(torch_row[8], rel=0.05)
    # the adversarial digits sit past a decision boundary: the loss is steeper there than at natural ones (less
    # so for a model of one epoch, less sure of the natural digits than a trained one)
    assert found[("torch", "adversarial")][5] > 1.3 * found[("torch", "natural")][5]
