"""Direct convolution on the CPU: the proposal's conv-layer sum, compiled with Numba
(any stride, dilation and groups), as BLAS GEMMs over shifted or gathered
positions (channels_last.py without groups; gemm.py channel-major, per group), or channels-last
when depthwise (depthwise.py).

O[n,k,p,q] = sum_c sum_r sum_s I[n, g(k)·C/G + c, p*sh + r*dh, q*sw + s*dw] * F[k, c, r, s]

with c over the C/G input channels of output k's group g(k) = k // (K/G).
"""
from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from convbench.core.arrays import aligned_empty, aligned_zeros
from convbench.core.errors import ConvError
from convbench.core.selection import DIRECT_METHODS, LOOP_TASKS_PER_THREAD, direct_method, direct_per_image

from ..base import Plan
from .channels_last import ChannelsLastGemm
from .depthwise import DepthwiseNHWC
from .gemm import ShiftedGemm
from .pointwise import PerImageGemm
from ..padding import embed, padded_buffer


FILTERS_PER_PASS = 4  # filters accumulated together: each loaded input run feeds all of them
TAPS_PER_PASS = 3  # taps added per pass over an output row: one load and store of each accumulator for three


@njit(parallel=True, cache=True)
def direct_kernel(phases, packed, taps, out, groups, row_chunks):
    """out[n, k] = sum over c, r, s of w[k, c, r, s] * the shifted input of group(k)'s channel c.

    phases is the padded input with each channel's plane split by the stride (embed_by_stride): block
    (a, b) of rows x cols holds the positions (i·stride_h + a, j·stride_w + b); at stride 1 it is the
    padded input. What tap (r, s) reads for output row p, columns q = 0 .. Q - 1, is then one
    contiguous run of one block, at any stride; read in place, every q one stride_w apart, it was
    4-8x slower (results/records/implementation-choices.json, row direct-loop-stride-phases).
    taps (loop_taps) lists each tap of a group's channels as (channel, first row, first column) of its
    run for output row 0, padded to whole passes with taps of weight zero; packed (pack_filters) holds
    the weights as (group's block of FILTERS_PER_PASS filters, tap, filter).

    FILTERS_PER_PASS output rows accumulate in small buffers that stay in L1. The innermost loop runs
    along the row, which LLVM vectorises (several times faster than a strided index:
    results/records/implementation-choices.json, row direct-loop-axpy), and adds TAPS_PER_PASS taps'
    products for every filter of the block at once, the weights held in registers: per multiply-add,
    about one load or store of L1 instead of three (row direct-loop-taps-by-three). A block of one
    filter (depthwise, or the last of K = 1, 5, ...) keeps one accumulator, a block of two two.
    row_chunks cuts each image's output rows into parallel tasks where there are few images and
    blocks of filters (LOOP_TASKS_PER_THREAD).
    """
    N = phases.shape[0]
    K, P, Q = out.shape[1], out.shape[2], out.shape[3]
    Kg, Cg, blocks = K // groups, phases.shape[1] // groups, packed.shape[0] // groups
    rows = -(-P // row_chunks)
    for task in prange(N * groups * blocks * row_chunks):
        p0 = (task % row_chunks) * rows
        block = (task // row_chunks) % (groups * blocks)
        n = task // (row_chunks * groups * blocks)
        g = block // blocks
        k0 = g * Kg + (block % blocks) * FILTERS_PER_PASS
        kn = min(FILTERS_PER_PASS, (g + 1) * Kg - k0)
        weights = packed[block]
        a0, a1 = np.empty(Q, dtype=out.dtype), np.empty(Q, dtype=out.dtype)
        a2, a3 = np.empty(Q, dtype=out.dtype), np.empty(Q, dtype=out.dtype)
        for p in range(p0, min(P, p0 + rows)):
            a0[:] = 0.0
            if kn > 1:
                a1[:] = 0.0
                a2[:] = 0.0
                a3[:] = 0.0
            for t in range(0, taps.shape[0], TAPS_PER_PASS):
                x0 = phases[n, g * Cg + taps[t, 0], taps[t, 1] + p, taps[t, 2]:taps[t, 2] + Q]
                x1 = phases[n, g * Cg + taps[t + 1, 0], taps[t + 1, 1] + p, taps[t + 1, 2]:taps[t + 1, 2] + Q]
                x2 = phases[n, g * Cg + taps[t + 2, 0], taps[t + 2, 1] + p, taps[t + 2, 2]:taps[t + 2, 2] + Q]
                u0, v0, z0 = weights[t, 0], weights[t + 1, 0], weights[t + 2, 0]
                if kn == 1:
                    for q in range(Q):
                        a0[q] += u0 * x0[q] + v0 * x1[q] + z0 * x2[q]
                    continue
                u1, v1, z1 = weights[t, 1], weights[t + 1, 1], weights[t + 2, 1]
                if kn == 2:
                    for q in range(Q):
                        i0, i1, i2 = x0[q], x1[q], x2[q]
                        a0[q] += u0 * i0 + v0 * i1 + z0 * i2
                        a1[q] += u1 * i0 + v1 * i1 + z1 * i2
                    continue
                u2, v2, z2 = weights[t, 2], weights[t + 1, 2], weights[t + 2, 2]
                u3, v3, z3 = weights[t, 3], weights[t + 1, 3], weights[t + 2, 3]
                for q in range(Q):
                    i0, i1, i2 = x0[q], x1[q], x2[q]
                    a0[q] += u0 * i0 + v0 * i1 + z0 * i2
                    a1[q] += u1 * i0 + v1 * i1 + z1 * i2
                    a2[q] += u2 * i0 + v2 * i1 + z2 * i2
                    a3[q] += u3 * i0 + v3 * i1 + z3 * i2
            out[n, k0, p, :] = a0
            if kn > 1:
                out[n, k0 + 1, p, :] = a1
            if kn > 2:
                out[n, k0 + 2, p, :] = a2
            if kn > 3:
                out[n, k0 + 3, p, :] = a3


def loop_taps(spec, block_rows: int, block_cols: int) -> np.ndarray:
    """(taps, 3) int64: for each tap (c, r, s) of a group's channels, in that order, the channel and the
    first row and column of its run in the stride's blocks of block_rows x block_cols (embed_by_stride),
    then taps of weight zero (copies of the first) up to whole passes of TAPS_PER_PASS."""
    (sh, sw), (dh, dw) = spec.stride, spec.dilation
    rows = [(r * dh) % sh * block_rows + (r * dh) // sh for r in range(spec.R)]
    cols = [(s * dw) % sw * block_cols + (s * dw) // sw for s in range(spec.S)]
    taps = [(c, row, col) for c in range(spec.C_per_group) for row in rows for col in cols]
    taps += taps[:1] * (-len(taps) % TAPS_PER_PASS)
    return np.array(taps, dtype=np.int64)


def pack_filters(w: np.ndarray, groups: int, packed: np.ndarray) -> np.ndarray:
    """packed[g·blocks + b, t, i] = w[filter b·FILTERS_PER_PASS + i of group g, tap t], its taps (c, r, s)
    flattened as loop_taps lists them; the padding (filters past the group's, taps past its last) stays 0."""
    K, taps = w.shape[0], w[0].size
    Kg, whole = K // groups, K // groups // FILTERS_PER_PASS
    by_block = packed.reshape(groups, -1, packed.shape[1], FILTERS_PER_PASS)
    by_filter = w.reshape(groups, Kg, taps)
    by_block[:, :whole, :taps] = by_filter[:, :whole * FILTERS_PER_PASS].reshape(
        groups, whole, FILTERS_PER_PASS, taps).transpose(0, 1, 3, 2)
    if Kg % FILTERS_PER_PASS:
        by_block[:, whole, :taps, :Kg % FILTERS_PER_PASS] = by_filter[:, whole * FILTERS_PER_PASS:].transpose(0, 2, 1)
    return packed


def stride_blocks(spec) -> list[tuple[tuple, tuple]]:
    """Where embed_by_stride copies each stride block from: (block's index in the phases viewed as (N, C, sh,
    rows, sw, cols), x's strided index) per block (a, b). A block holds the padded input's positions
    (i·sh + a, j·sw + b), of which only those below the span (what some output reads) that hold an input are
    copied: the rest stay the zeros the plan allocated."""
    def runs(phase, step, pad, size, extent):  # block positions [first, stop), the input index of the first
        first = max(0, -(-(pad - phase) // step))
        stop = max(first, min(-(-(extent - phase) // step), -(-(size + pad - phase) // step)))
        return slice(first, stop), slice(first * step + phase - pad, None, step), stop - first

    (sh, sw), (top, left), (rows, cols) = spec.stride, spec.padding, spec.span
    copies = []
    for a in range(sh):
        block_rows, x_rows, n_rows = runs(a, sh, top, spec.H, rows)
        for b in range(sw):
            block_cols, x_cols, n_cols = runs(b, sw, left, spec.W, cols)
            if n_rows and n_cols:
                copies.append(((slice(None), slice(None), a, block_rows, b, block_cols),
                               (slice(None), slice(None), x_rows, x_cols)))
    return copies


def embed_by_stride(x: np.ndarray, phases: np.ndarray, stride: tuple[int, int], copies) -> None:
    """phases[n, c, a·rows + i, b·cols + j] = the padded input's (i·sh + a, j·sw + b), (sh, sw) = stride: each
    plane split into sh x sw blocks of rows x cols, copied straight from x (stride_blocks says where from; a
    padded copy first, then split, moved the input twice: results/records/implementation-choices.json, row
    direct-loop-stride-phases)."""
    (sh, sw), N, C = stride, phases.shape[0], phases.shape[1]
    blocks = phases.reshape(N, C, sh, phases.shape[2] // sh, sw, phases.shape[3] // sw)
    for block, source in copies:
        target = blocks[block]
        target[...] = x[source][:, :, :target.shape[2], :target.shape[3]]


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
            rows, cols = spec.span  # only what some output reads
            sh, sw = spec.stride  # at stride 1 one block: the padded input itself
            self._phases = padded_buffer((spec.N, spec.C), sh * -(-rows // sh), sw * -(-cols // sw))
            self._stride_blocks = stride_blocks(spec)
            self._taps = loop_taps(spec, self._phases.shape[2] // sh, self._phases.shape[3] // sw)
            blocks = -(-spec.K_per_group // FILTERS_PER_PASS)
            self._packed = aligned_zeros((spec.groups * blocks, len(self._taps), FILTERS_PER_PASS))
            tasks = spec.N * spec.groups * blocks
            self._row_chunks = min(spec.P, -(-LOOP_TASKS_PER_THREAD * get_num_threads() // tasks))

    def stages(self, x, w) -> dict:
        """On channels-last GEMMs, the call's four steps (ChannelsLastGemm.stages) for `convbench stages`; the
        other methods are one step, the call."""
        if not isinstance(getattr(self, "_gemm", None), ChannelsLastGemm):
            return super().stages(x, w)
        x, w = self.check_inputs(x, w)
        return self._gemm.stages(x, w, self(x, w))

    def stage_work(self) -> dict:
        return self._gemm.stage_work()

    def _backward_data(self, dy, w, reuse_forward=False):
        problem, forward = self._data_gradient_plan()
        gemm = getattr(forward, "_gemm", None)
        if not isinstance(gemm, ChannelsLastGemm):
            return super()._backward_data(dy, w, reuse_forward)
        dx = aligned_empty(problem.spec.output_shape)
        gemm(problem.prepare(dy), w, dx, flipped=True)  # reads w's taps in reverse: no flipped copy
        return dx

    def run(self, x, w, out):
        if self.method == "depthwise":
            self._depthwise(x, w, out)
            return
        if self.method != "loop":
            self._gemm(x, w, out)
            return
        spec = self.spec
        if spec.stride == (1, 1):
            embed(x, self._phases, spec.pad_h, spec.pad_w)
        else:
            embed_by_stride(x, self._phases, spec.stride, self._stride_blocks)
        pack_filters(w, spec.groups, self._packed)
        direct_kernel(self._phases, self._packed, self._taps, out, spec.groups, self._row_chunks)
