"""Random inputs from a seeded generator: white noise, and noise with a natural image's spectrum.

White uniform noise spreads its energy evenly over all frequencies: the worst
case for band-limiting. Natural images have power falling off about as 1/f^2
(Field, 1987), so most of their energy sits where the mask keeps it.
"""
from __future__ import annotations

import numpy as np


def uniform(rng: np.random.Generator, shape) -> np.ndarray:
    """float32 uniform[-1, 1], as Lavin & Gray's error tables use."""
    return rng.uniform(-1, 1, shape).astype(np.float32)


def random_problem(spec, seed: int | np.random.Generator = 0):
    """Input and filters of spec, float32 uniform[-1, 1] (as Lavin & Gray's error tables use), from
    default_rng(seed), or from the generator itself when one is given: never zeros, which would hide
    unwritten outputs."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return uniform(rng, spec.input_shape), uniform(rng, spec.filter_shape)


def natural(rng: np.random.Generator, shape, exponent: float = 2.0) -> np.ndarray:
    """float32 random planes whose power spectrum falls off as 1/f^exponent, scaled to unit RMS."""
    *lead, H, W = shape
    fy = np.fft.fftfreq(H)[:, None]
    fx = np.fft.rfftfreq(W)[None, :]
    radius = np.hypot(fy, fx)
    radius[0, 0] = 1.0 / max(H, W)  # keep DC finite
    noise = np.fft.rfft2(rng.standard_normal((*lead, H, W)))
    planes = np.fft.irfft2(noise * radius ** (-exponent / 2), s=(H, W))
    planes /= np.sqrt(np.mean(planes**2, axis=(-2, -1), keepdims=True))
    return planes.astype(np.float32)
