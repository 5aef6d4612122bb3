"""The float64 reference convolution, for tests and checks only (not in the registry).

Plain numpy, written independently of every algorithm: for each filter tap
(r, s) and each group g, add w[k in g, :, r, s] times the group's input
channels, read at the tap's offset (r·dilation_h, s·dilation_w) with the stride.
"""
from __future__ import annotations

import numpy as np

from convbench.core.spec import ConvSpec


def _tap_windows(spec: ConvSpec):
    """(r, s, inputs, outputs, index) for each filter tap and group: the group's input and output
    channels (slices), and the index of the strided (N, C/groups, P, Q) window of the padded input
    that the tap reads for that group."""
    rows = (spec.P - 1) * spec.stride_h + 1
    cols = (spec.Q - 1) * spec.stride_w + 1
    Cg, Kg = spec.C_per_group, spec.K_per_group
    for g in range(spec.groups):
        inputs, outputs = slice(g * Cg, (g + 1) * Cg), slice(g * Kg, (g + 1) * Kg)
        for r in range(spec.R):
            top = r * spec.dil_h
            for s in range(spec.S):
                left = s * spec.dil_w
                yield r, s, inputs, outputs, (slice(None), inputs, slice(top, top + rows, spec.stride_h),
                                              slice(left, left + cols, spec.stride_w))


def _padded(x, spec: ConvSpec) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (spec.pad_h,) * 2, (spec.pad_w,) * 2))


def reference_conv2d(x, w, padding=0, stride=1, dilation=1, groups=1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    spec = ConvSpec.from_shapes(x.shape, w.shape, padding=padding, stride=stride, dilation=dilation, groups=groups)
    xp = _padded(x, spec)
    out = np.zeros(spec.output_shape)
    for r, s, _, outputs, window in _tap_windows(spec):
        out[:, outputs] += np.tensordot(xp[window], w[outputs, :, r, s], axes=([1], [1])).transpose(0, 3, 1, 2)
    return out


def reference_for(spec: ConvSpec, x, w) -> np.ndarray:
    """The float64 reference of spec's convolution (padding, stride, dilation, groups) of x and w."""
    return reference_conv2d(x, w, spec.padding, spec.stride, spec.dilation, spec.groups)


def relative_error(result, reference) -> float:
    """||result - reference||_2 / ||reference||_2 (0 when both are zero)."""
    result = np.asarray(result, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    norm = np.linalg.norm(reference)
    diff = np.linalg.norm(result - reference)
    return float(diff / norm) if norm else float(diff)


def reference_backward_data(dy, w, input_shape, padding=0, stride=1, dilation=1, groups=1) -> np.ndarray:
    """float64 dx = d<dy, conv2d(x, w)>/dx for x of input_shape: each tap's filter slice
    times dy, added back onto the strided window it was read from."""
    dy = np.asarray(dy, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    spec = ConvSpec.from_shapes(tuple(input_shape), w.shape, padding=padding, stride=stride, dilation=dilation,
                                groups=groups)
    xp = np.zeros((spec.N, spec.C, spec.H + 2 * spec.pad_h, spec.W + 2 * spec.pad_w))
    for r, s, _, outputs, window in _tap_windows(spec):
        # (N, P, Q, C/groups) -> NCPQ
        xp[window] += np.tensordot(dy[:, outputs], w[outputs, :, r, s], axes=([1], [0])).transpose(0, 3, 1, 2)
    return xp[:, :, spec.pad_h:spec.pad_h + spec.H, spec.pad_w:spec.pad_w + spec.W]


def reference_backward_filter(x, dy, filter_shape, padding=0, stride=1, dilation=1, groups=1) -> np.ndarray:
    """float64 dw = d<dy, conv2d(x, w)>/dw for w of filter_shape: each tap is the
    correlation of dy with the strided input window that tap reads."""
    x = np.asarray(x, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    spec = ConvSpec.from_shapes(x.shape, tuple(filter_shape), padding=padding, stride=stride, dilation=dilation,
                                groups=groups)
    xp = _padded(x, spec)
    dw = np.zeros(spec.filter_shape)
    for r, s, _, outputs, window in _tap_windows(spec):
        dw[outputs, :, r, s] = np.tensordot(dy[:, outputs], xp[window], axes=([0, 2, 3], [0, 2, 3]))
    return dw


class Float64Oracle:
    """The convolution of a spec and its two exact adjoints, in float64: what a plan computes
    unless it computes another map (Plan.float64)."""

    def __init__(self, spec: ConvSpec):
        self.spec = spec
        self._parameters = dict(padding=spec.padding, stride=spec.stride, dilation=spec.dilation, groups=spec.groups)

    def __call__(self, x, w) -> np.ndarray:
        return reference_for(self.spec, x, w)

    def backward_data(self, dy, w) -> np.ndarray:
        return reference_backward_data(dy, w, self.spec.input_shape, **self._parameters)

    def backward_filter(self, x, dy) -> np.ndarray:
        return reference_backward_filter(x, dy, self.spec.filter_shape, **self._parameters)
