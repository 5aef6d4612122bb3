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
def direct_kernel(xp, w, out, stride_h, stride_w, dil_h, dil_w, groups):
    """out[n, k] = sum over c, r, s of w[k, c, r, s] * shifted xp[n, group(k)'s channel c]; xp is
    already padded.

    One output row of K_BLOCK filters accumulates in a small buffer that stays
    in L1; at unit stride the innermost loop is a plain axpy over the row,
    which LLVM vectorises (several times faster than a strided index: results/records/implementation-choices.json,
    row direct-loop-axpy). A block's filters are all
    of one group, so each input row read feeds all of them; depthwise, a block
    is one filter.
    """
    N = xp.shape[0]
    K, Cg, R, S = w.shape[0], w.shape[1], w.shape[2], w.shape[3]
    Kg = K // groups
    P, Q = out.shape[2], out.shape[3]
    blocks = (Kg + K_BLOCK - 1) // K_BLOCK  # per group
    for task in prange(N * groups * blocks):
        n = task // (groups * blocks)
        g = (task // blocks) % groups
        k0 = g * Kg + (task % blocks) * K_BLOCK
        kn = min(K_BLOCK, (g + 1) * Kg - k0)
        acc = np.empty((K_BLOCK, Q), dtype=out.dtype)  # once per (n, filter block), not per row
        for p in range(P):
            acc[:, :] = 0.0
            for c in range(Cg):
                image = xp[n, g * Cg + c]
                for r in range(R):
                    row = image[p * stride_h + r * dil_h]
                    for s in range(S):
                        x0 = s * dil_w
                        for kk in range(kn):
                            weight = w[k0 + kk, c, r, s]
                            a = acc[kk]
                            if stride_w == 1:
                                shifted = row[x0:x0 + Q]
                                for q in range(Q):
                                    a[q] += weight * shifted[q]
                            else:
                                for q in range(Q):
                                    a[q] += weight * row[q * stride_w + x0]
            for kk in range(kn):
                out[n, k0 + kk, p, :] = acc[kk]


class DirectCPU(Plan):
    """The sum as GEMMs over shifted slices, or over gathered valid positions on small images and
    at strides > 1:
    - position-major on channels-last rows, without groups, with 16 filters or more and enough output
      positions to pay for the filters' relayout (channels_last.py);
    - else channel-major (gemm.py; per group with groups of 4 channels or more);
    - a 1x1 filter at stride 1 without padding, on images big enough: one GEMM per image (pointwise.py);
    - depthwise: channels-last across the channels (depthwise.py);
    - small groups, and big filters with few of them: the Numba loop above.
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
            self._padded = padded_buffer((spec.N, spec.C), *spec.span)  # only what some output reads

    def run(self, x, w, out):
        if self.method == "depthwise":
            self._depthwise(x, w, out)
            return
        if self.method != "loop":
            self._gemm(x, w, out)
            return
        embed(x, self._padded, self.spec.pad_h, self.spec.pad_w)
        spec = self.spec
        direct_kernel(self._padded, w, out, spec.stride_h, spec.stride_w, spec.dil_h, spec.dil_w, spec.groups)
