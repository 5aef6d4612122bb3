"""Direct convolution on the CPU: the proposal's conv-layer sum, compiled with Numba
(any stride, dilation and groups), as BLAS GEMMs over shifted or gathered
positions (channels_last.py without groups; gemm.py channel-major, per group), or channels-last
when depthwise (depthwise.py).

O[n,k,p,q] = sum_c sum_r sum_s I[n, g(k)·C/G + c, p*sh + r*dh, q*sw + s*dw] * F[k, c, r, s]

with c over the C/G input channels of output k's group g(k) = k // (K/G).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from convbench.core.errors import ConvError
from convbench.core.selection import DIRECT_METHODS, direct_method, direct_per_image

from ..base import Plan
from .channels_last import ChannelsLastGemm
from .depthwise import DepthwiseNHWC
from .gemm import ShiftedGemm
from .pointwise import PerImageGemm
from ..padding import embed, padded_buffer


K_BLOCK = 4  # filters computed together: each loaded input row feeds K_BLOCK accumulators


@njit(parallel=True, cache=True)
def direct_kernel(phases, w, out, stride_h, stride_w, dil_h, dil_w, groups):
    """out[n, k] = sum over c, r, s of w[k, c, r, s] * the shifted input of group(k)'s channel c.

    phases is the padded input with each channel's plane split by the stride (split_by_stride): block
    (a, b) of rows x cols holds the positions (i·stride_h + a, j·stride_w + b); at stride 1 it is the
    padded input. What tap (r, s) reads for output row p, columns q = 0 .. Q - 1, is then one
    contiguous run of one block, at any stride; read in place, every q one stride_w apart, it was
    4-8x slower (results/records/implementation-choices.json, row direct-loop-stride-phases).

    One output row of K_BLOCK filters accumulates in a small buffer that stays
    in L1; the innermost loop is a plain axpy over the row,
    which LLVM vectorises (several times faster than a strided index: results/records/implementation-choices.json,
    row direct-loop-axpy). A block's filters are all
    of one group, so each input row read feeds all of them; depthwise, a block
    is one filter.
    """
    N = phases.shape[0]
    K, Cg, R, S = w.shape[0], w.shape[1], w.shape[2], w.shape[3]
    Kg = K // groups
    P, Q = out.shape[2], out.shape[3]
    rows, cols = phases.shape[2] // stride_h, phases.shape[3] // stride_w  # one block's
    blocks = (Kg + K_BLOCK - 1) // K_BLOCK  # per group
    # where each tap's run starts, worked out once (a division in the loops costs as much as a short row)
    tap_row, tap_col = np.empty(R, dtype=np.int64), np.empty(S, dtype=np.int64)
    for r in range(R):
        tap_row[r] = (r * dil_h) % stride_h * rows + (r * dil_h) // stride_h
    for s in range(S):
        tap_col[s] = (s * dil_w) % stride_w * cols + (s * dil_w) // stride_w
    for task in prange(N * groups * blocks):
        n = task // (groups * blocks)
        g = (task // blocks) % groups
        k0 = g * Kg + (task % blocks) * K_BLOCK
        kn = min(K_BLOCK, (g + 1) * Kg - k0)
        acc = np.empty((K_BLOCK, Q), dtype=out.dtype)  # once per (n, filter block), not per row
        for p in range(P):
            acc[:, :] = 0.0
            for c in range(Cg):
                image = phases[n, g * Cg + c]
                for r in range(R):
                    row = image[tap_row[r] + p]
                    for s in range(S):
                        shifted = row[tap_col[s]:tap_col[s] + Q]
                        for kk in range(kn):
                            weight = w[k0 + kk, c, r, s]
                            a = acc[kk]
                            for q in range(Q):
                                a[q] += weight * shifted[q]
            for kk in range(kn):
                out[n, k0 + kk, p, :] = acc[kk]


def split_by_stride(padded: np.ndarray, phases: np.ndarray, stride: tuple[int, int]) -> None:
    """phases[n, c, a·rows + i, b·cols + j] = padded[n, c, i·sh + a, j·sw + b]: each plane split into
    sh x sw blocks of rows x cols, (sh, sw) = stride."""
    (sh, sw), N, C = stride, phases.shape[0], phases.shape[1]
    blocks = phases.reshape(N, C, sh, phases.shape[2] // sh, sw, phases.shape[3] // sw)
    for a in range(sh):
        for b in range(sw):
            part = padded[:, :, a::sh, b::sw]
            blocks[:, :, a, :part.shape[2], b, :part.shape[3]] = part


class DirectCPU(Plan):
    """The sum as GEMMs over shifted slices, or over gathered valid positions on small images and
    at strides > 1:
    - position-major on channels-last rows, without groups, with 16 filters or more and enough output
      positions to pay for the filters' relayout (channels_last.py);
    - else channel-major (gemm.py; per group with groups of 4 channels or more);
    - a 1x1 filter at stride 1 without padding, on images big enough: one GEMM per image (pointwise.py);
    - depthwise: channels-last across the channels (depthwise.py);
    - small groups, big filters with few of them, and plain layers with little work per output (a few
      channels into a few filters): the Numba loop above.
    convbench.core.selection.direct_method picks one.

    method: "auto", or one of DIRECT_METHODS to force one (to compare them).
    """
    algorithm = "direct"
    backend = "cpu"
    takes_groups = takes_dilation = True

    def __init__(self, spec, method: str = "auto"):
        super().__init__(spec)
        if method not in ("auto", *DIRECT_METHODS):
            raise ConvError(f"method must be one of {', '.join(map(repr, ('auto', *DIRECT_METHODS)))} for direct; "
                            f"got {method!r}")
        if method == "depthwise" and not spec.C_per_group == spec.K_per_group == 1:
            raise ConvError(f"method='depthwise' needs groups = C = K; got groups={spec.groups} with C = {spec.C}, "
                            f"K = {spec.K}")
        if method in ("slice", "channels-last slice") and spec.stride != (1, 1):
            gather = method.replace("slice", "gather")
            raise ConvError(f"method={method!r} (every position of the grid as GEMMs) needs stride 1; got stride "
                            f"{spec.stride} (method={gather!r} computes the strided positions only)")
        if method == "per image" and not direct_per_image(spec):
            raise ConvError(f"method='per image' needs a 1x1 filter at stride 1 without padding or groups; got "
                            f"{spec.R}x{spec.S}, stride {spec.stride}, padding {spec.padding}, groups={spec.groups}")
        if method.startswith("channels-last") and spec.groups != 1:
            raise ConvError(f"method={method!r} needs groups = 1; got groups={spec.groups} (method='slice' or "
                            f"'gather' runs the GEMMs per group)")
        # convbench.core.selection.direct_method decides, with the measurements behind each threshold
        self.method = direct_method(spec) if method == "auto" else method
        if self.method == "depthwise":
            self._depthwise = DepthwiseNHWC(spec)
        elif self.method in ("slice", "gather"):
            self._gemm = ShiftedGemm(spec, gather=self.method == "gather")
        elif self.method == "per image":
            self._gemm = PerImageGemm(spec)
        elif self.method.startswith("channels-last"):
            self._gemm = ChannelsLastGemm(spec, gather=self.method == "channels-last gather")
        else:
            rows, cols = spec.span
            self._padded = padded_buffer((spec.N, spec.C), rows, cols)  # only what some output reads
            sh, sw = spec.stride
            if (sh, sw) == (1, 1):  # one block: the padded input itself
                self._phases = self._padded
            else:
                self._phases = np.zeros((spec.N, spec.C, sh * -(-rows // sh), sw * -(-cols // sw)), dtype=np.float32)

    def run(self, x, w, out):
        if self.method == "depthwise":
            self._depthwise(x, w, out)
            return
        if self.method != "loop":
            self._gemm(x, w, out)
            return
        embed(x, self._padded, self.spec.pad_h, self.spec.pad_w)
        spec = self.spec
        if spec.stride != (1, 1):
            split_by_stride(self._padded, self._phases, spec.stride)
        direct_kernel(self._phases, w, out, spec.stride_h, spec.stride_w, spec.dil_h, spec.dil_w, spec.groups)
