"""Real photographs as convolution inputs, and what band-limiting keeps of them.

The proposal claims that natural images put more of their information in the low frequencies, which
is why dropping the high ones costs little. The compression suite's inputs were white noise (a flat
spectrum, the worst case) and random planes with a 1/f^2 spectrum (a model of natural images). Here
are real ones: scikit-learn's two bundled photographs (china.jpg and flower.jpg, 427 x 640 RGB, in the
package: no download), cut into planes of any size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convbench.core.errors import ConvError
from convbench.workloads import random_inputs

# the three inputs the band-limit is judged on: name -> what it is
INPUTS = {"white noise": "uniform white noise, a flat spectrum (the worst case)",
          "1/f^2 spectrum": "random planes whose power falls off as 1/f^2 (a model of natural images)",
          "photographs": "crops of scikit-learn's two bundled photographs"}


def _sample_images() -> list[np.ndarray]:
    try:
        from sklearn.datasets import load_sample_images
    except ImportError as err:
        raise ConvError("photographs need scikit-learn (its two bundled sample images): "
                        "pip install 'convbench[accuracy]'") from err
    return [np.asarray(image, dtype=np.float64) for image in load_sample_images().images]


def photographs(rng: np.random.Generator, shape) -> np.ndarray:
    """float32 (N, C, H, W): plane (n, c) is one colour channel of one photograph (they alternate),
    cropped at a random place (reflected where the plane is larger than the photograph), with its mean
    removed and scaled to unit RMS, as random_inputs.natural's planes are."""
    N, C, H, W = shape
    images = _sample_images()
    planes = np.empty((N * C, H, W), dtype=np.float64)
    for index in range(N * C):
        image = images[index % len(images)][:, :, (index // len(images)) % 3]
        rows, cols = image.shape
        if H > rows or W > cols:
            image = np.pad(image, ((0, max(0, H - rows)), (0, max(0, W - cols))), mode="reflect")
            rows, cols = image.shape
        top, left = rng.integers(0, rows - H + 1), rng.integers(0, cols - W + 1)
        plane = image[top:top + H, left:left + W]
        plane = plane - plane.mean()
        planes[index] = plane / max(np.sqrt(np.mean(plane**2)), 1e-12)
    return planes.reshape(N, C, H, W).astype(np.float32)


def band_limit_input(name: str, rng: np.random.Generator, shape) -> np.ndarray:
    """The input called `name` in INPUTS, of `shape`."""
    if name == "white noise":
        return random_inputs.uniform(rng, shape)
    if name == "1/f^2 spectrum":
        return random_inputs.natural(rng, shape)
    if name == "photographs":
        return photographs(rng, shape)
    raise ConvError(f"input {name!r}: expected one of {', '.join(map(repr, INPUTS))}")


@dataclass(frozen=True)
class KeptRow:
    input: str
    compression: float      # requested
    achieved: float         # the fraction of one-sided coefficients the plan drops
    retained_energy: float  # the fraction of the input's spectral energy kept (Parseval)
    relative_error: float   # the band-limited output against the exact float64 convolution


def what_band_limiting_keeps(spec, rates, inputs=tuple(INPUTS), seed: int = 0) -> list[KeptRow]:
    """For each input and compression rate: the energy kept and the output's error, on the fft plan
    of `spec` (the float64 oracle is the exact convolution)."""
    from convbench.core.oracle import reference_for, relative_error
    from convbench.interface.api import plan as make_plan

    w = random_inputs.uniform(np.random.default_rng(seed + 1), spec.filter_shape)
    plans = {rate: make_plan(spec, "fft", compression=rate) for rate in rates}  # one per rate, for every input
    rows = []
    for name in inputs:
        x = band_limit_input(name, np.random.default_rng(seed), spec.input_shape)
        exact = reference_for(spec, x, w)
        for rate, plan in plans.items():
            rows.append(KeptRow(name, rate, plan.compression, plan.retained_energy(x),
                                relative_error(plan(x, w), exact)))
    return rows


def low_frequency_verdict(rows: list[KeptRow]) -> str:
    """Whether the measured rows bear the proposal's claim out: at every rate that drops coefficients,
    the photographs keep more of their energy than white noise, and their output's error is smaller.
    One line, with the figures at the rate nearest 0.5."""
    by = {(row.input, row.compression): row for row in rows}
    rates = sorted({row.compression for row in rows if row.achieved > 0})
    pairs = [(by.get(("photographs", rate)), by.get(("white noise", rate))) for rate in rates]
    pairs = [(photo, noise) for photo, noise in pairs if photo and noise]
    if not pairs:
        return "cannot be judged: no rate that drops coefficients was measured on both photographs and white noise"
    holds = all(photo.retained_energy > noise.retained_energy and photo.relative_error < noise.relative_error
                for photo, noise in pairs)
    photo, noise = min(pairs, key=lambda pair: abs(pair[0].compression - 0.5))
    figures = (f"at c = {photo.compression:g} the photographs keep {photo.retained_energy:.0%} of their energy "
               f"(error {photo.relative_error:.2f}), white noise {noise.retained_energy:.0%} "
               f"(error {noise.relative_error:.2f})")
    if holds:
        return f"holds here: {figures}"
    return f"does not hold here at every rate measured: {figures}"
