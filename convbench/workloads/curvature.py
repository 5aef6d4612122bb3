"""The proposal's first- and second-order analysis: how steep and how curved the loss is around natural,
adversarial and recovered inputs, per compression rate.

The digits CNN of convbench accuracy (torch's Conv2d, and convbench's band-limited fft at each rate); the
test digits it classifies right (natural); each at its minimal adversarial against that model (PGD, the
least epsilon that fools it: robustness.py); and those adversarial digits that a lossy channel gives their
class back (recovered; the channel: FFT compression of the input, robustness.py). At each input, with the
loss the cross-entropy against the digit's true class:
- the input gradient's L2 norm;
- the largest eigenvalue of the loss's Hessian with respect to the input, by power iteration on
  Hessian-vector products from autograd (double backward: convbench.nn's passes are exact adjoints of
  one another, so the fft layers differentiate their own backward passes). Within a ReLU network's linear
  region the Hessian is J^T H J with H the softmax cross-entropy's (positive semi-definite), so the
  eigenvalue of largest magnitude that power iteration finds is the largest.

The proposal's picture (Hu et al.): natural inputs sit far from decision boundaries, where the loss is
flat; adversarial ones sit just past a boundary, where it is steep and curved; a recovering channel moves
them back to flat ground.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch

from convbench.workloads.accuracy import digits, trained
from convbench.workloads.robustness import (COMPRESSIONS, classified_right, fft_compression, foolbox,
                                           minimal_adversarial)

KINDS = ("natural", "adversarial", "recovered")
RECOVERING_RATE = 0.5          # the channel's compression rate (the defence table's)
POWER_ITERATIONS = 20          # the Rayleigh quotient changes in its third digit after about ten here


@dataclass(frozen=True)
class CurvatureRow:
    model: str            # "torch" or "fft c=..."
    compression: float    # 0 for torch
    kind: str             # natural, adversarial or recovered
    gradient_norm: float  # || d loss / d input ||_2
    top_eigenvalue: float  # the largest eigenvalue of d^2 loss / d input^2


def _loss(model, x, y):
    return torch.nn.functional.cross_entropy(model(x), y, reduction="sum")  # a sum: each digit's own Hessian


def steepness(model, x, y, iterations: int = POWER_ITERATIONS, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(each digit's input gradient norm, its largest Hessian eigenvalue), all digits at once: the summed
    loss's Hessian is block diagonal (a digit's loss depends on its own input only), so one Hessian-vector
    product of the batch is every digit's own; the gradient that power iteration differentiates gives the norms."""
    x = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(_loss(model, x, y), x, create_graph=True)
    v = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    eigenvalue = torch.zeros(len(x))
    for _ in range(iterations):
        v = v / v.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, *[1] * (v.dim() - 1))
        (product,) = torch.autograd.grad(gradient, x, grad_outputs=v, retain_graph=True)
        eigenvalue = (product * v).flatten(1).sum(1)
        v = product.detach()
    return gradient.detach().flatten(1).norm(dim=1), eigenvalue.detach()


def inputs(model, x, y, pgd_steps: int = 20) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{kind: (digits, true classes)}: the natural digits the model gets right, their minimal adversarial
    (those some epsilon fools), and the adversarial ones the channel gives back."""
    right = classified_right(model, x, y)
    x, y = x[right], y[right]
    attacked, epsilon = minimal_adversarial(model, x, y, "PGD", pgd_steps)
    fooled = ~torch.isnan(epsilon)
    attacked, y_attacked = attacked[fooled], y[fooled]
    through = fft_compression(attacked, RECOVERING_RATE)
    back = classified_right(model, through, y_attacked)
    return {"natural": (x, y), "adversarial": (attacked, y_attacked), "recovered": (through[back], y_attacked[back])}


def curvature(compressions=COMPRESSIONS, epochs: int = 5, pgd_steps: int = 20, test_images: int | None = 120,
              iterations: int = POWER_ITERATIONS, seed: int = 0) -> list[CurvatureRow]:
    """Each model's gradient norms and top Hessian eigenvalues at each kind of input, a row per digit."""
    foolbox()  # the clear error first, before any training
    _, _, x_test, y_test = digits(seed)
    if test_images:
        x_test, y_test = x_test[:test_images], y_test[:test_images]
    rows = []
    for name, compression in [("torch", None), *((f"fft c={c:g}", c) for c in compressions)]:
        model = trained(compression, epochs, seed=seed)[0].eval()
        for kind, (x, y) in inputs(model, x_test, y_test, pgd_steps).items():
            if not len(x):
                continue
            norms, eigenvalues = steepness(model, x, y, iterations, seed)
            rows += [CurvatureRow(name, compression or 0.0, kind, float(n), float(e))
                     for n, e in zip(norms, eigenvalues)]
    return rows


def medians(rows: list[CurvatureRow]) -> dict[tuple[str, str], tuple[float, float]]:
    """{(model, kind): (median gradient norm, median top eigenvalue)}."""
    found = {}
    for model in dict.fromkeys(row.model for row in rows):
        for kind in KINDS:
            chosen = [row for row in rows if row.model == model and row.kind == kind]
            if chosen:
                found[(model, kind)] = (statistics.median(r.gradient_norm for r in chosen),
                                        statistics.median(r.top_eigenvalue for r in chosen))
    return found


def curvature_verdict(rows: list[CurvatureRow]) -> str:
    """Holds for a model when its adversarial digits' median gradient norm and top eigenvalue are above the
    natural digits' and the recovered digits' are below the adversarial ones'."""
    found = medians(rows)
    models = list(dict.fromkeys(row.model for row in rows))
    judged = [m for m in models if all((m, kind) in found for kind in KINDS)]
    if not judged:
        return "cannot be judged: no model has natural, adversarial and recovered digits"

    def holds(model):
        natural, adversarial, recovered = (found[(model, kind)] for kind in KINDS)
        return all(adversarial[i] > natural[i] and recovered[i] < adversarial[i] for i in (0, 1))

    agree = [m for m in judged if holds(m)]
    missing = f" ({', '.join(m for m in models if m not in judged)}: no recovered digits)" if len(judged) < len(models) else ""
    if len(agree) == len(judged):
        return f"holds for every model{missing}"
    if agree:
        return (f"holds partly: for {', '.join(agree)}, not for {', '.join(m for m in judged if m not in agree)}"
                f"{missing}")
    return f"does not hold for any model{missing}"
