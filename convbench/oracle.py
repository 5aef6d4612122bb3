"""The float64 reference convolution, for tests and checks only (not in the registry).

Plain numpy, written independently of every algorithm: for each filter tap
(r, s), add w[:, :, r, s] times the shifted, strided input plane.
"""
from __future__ import annotations

import numpy as np

from .spec import ConvSpec


def reference_conv2d(x, w, padding=0, stride=1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    spec = ConvSpec.from_shapes(x.shape, w.shape, padding=padding, stride=stride)
    xp = np.pad(x, ((0, 0), (0, 0), (spec.pad_h,) * 2, (spec.pad_w,) * 2))
    out = np.zeros(spec.output_shape)
    rows = (spec.P - 1) * spec.stride_h + 1
    cols = (spec.Q - 1) * spec.stride_w + 1
    for r in range(spec.R):
        for s in range(spec.S):
            window = xp[:, :, r:r + rows:spec.stride_h, s:s + cols:spec.stride_w]  # (N, C, P, Q)
            out += np.tensordot(window, w[:, :, r, s], axes=([1], [1])).transpose(0, 3, 1, 2)
    return out


def relative_error(result, reference) -> float:
    """||result - reference||_2 / ||reference||_2 (0 when both are zero)."""
    result = np.asarray(result, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    norm = np.linalg.norm(reference)
    diff = np.linalg.norm(result - reference)
    return float(diff / norm) if norm else float(diff)
