"""The float64 reference convolution, for tests and checks only (not in the registry).

Plain numpy, written independently of every algorithm: for each filter tap
(r, s), add w[:, :, r, s] times the shifted, strided input plane.
"""
from __future__ import annotations

import numpy as np

from .spec import ConvSpec


def _tap_windows(spec: ConvSpec):
    """(r, s, index): for each filter tap, the index of the strided (N, C, P, Q) window of the
    padded input that the tap reads."""
    rows = (spec.P - 1) * spec.stride_h + 1
    cols = (spec.Q - 1) * spec.stride_w + 1
    for r in range(spec.R):
        for s in range(spec.S):
            yield r, s, (slice(None), slice(None), slice(r, r + rows, spec.stride_h), slice(s, s + cols, spec.stride_w))


def _padded(x, spec: ConvSpec) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (spec.pad_h,) * 2, (spec.pad_w,) * 2))


def reference_conv2d(x, w, padding=0, stride=1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    spec = ConvSpec.from_shapes(x.shape, w.shape, padding=padding, stride=stride)
    xp = _padded(x, spec)
    out = np.zeros(spec.output_shape)
    for r, s, window in _tap_windows(spec):
        out += np.tensordot(xp[window], w[:, :, r, s], axes=([1], [1])).transpose(0, 3, 1, 2)
    return out


def relative_error(result, reference) -> float:
    """||result - reference||_2 / ||reference||_2 (0 when both are zero)."""
    result = np.asarray(result, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    norm = np.linalg.norm(reference)
    diff = np.linalg.norm(result - reference)
    return float(diff / norm) if norm else float(diff)


def reference_backward_data(dy, w, input_shape, padding=0, stride=1) -> np.ndarray:
    """float64 dx = d<dy, conv2d(x, w)>/dx for x of input_shape: each tap's filter slice
    times dy, added back onto the strided window it was read from."""
    dy = np.asarray(dy, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    spec = ConvSpec.from_shapes(tuple(input_shape), w.shape, padding=padding, stride=stride)
    xp = np.zeros((spec.N, spec.C, spec.H + 2 * spec.pad_h, spec.W + 2 * spec.pad_w))
    for r, s, window in _tap_windows(spec):
        xp[window] += np.tensordot(dy, w[:, :, r, s], axes=([1], [0])).transpose(0, 3, 1, 2)  # (N, P, Q, C) -> NCPQ
    return xp[:, :, spec.pad_h:spec.pad_h + spec.H, spec.pad_w:spec.pad_w + spec.W]


def reference_backward_filter(x, dy, filter_shape, padding=0, stride=1) -> np.ndarray:
    """float64 dw = d<dy, conv2d(x, w)>/dw for w of filter_shape: each tap is the
    correlation of dy with the strided input window that tap reads."""
    x = np.asarray(x, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    spec = ConvSpec.from_shapes(x.shape, tuple(filter_shape), padding=padding, stride=stride)
    xp = _padded(x, spec)
    dw = np.zeros(spec.filter_shape)
    for r, s, window in _tap_windows(spec):
        dw[:, :, r, s] = np.tensordot(dy, xp[window], axes=([0, 2, 3], [0, 2, 3]))
    return dw
