"""Direct convolution at unit stride as GEMMs over the padded image's positions.

The same sum as the sliding window, O[n,k,p,q] = sum_{c,r,s} F[k,c,r,s] I[n,c,p+r,q+s],
with the same C·R·S multiplies per output: only the order changes. Every
image is stored channel-major and padded, flattened to one row per channel,
all images end to end. In that flat layout the input a tap (r, s) needs for
output position j is at j + r·Wp + s, so a run of positions is a plain slice.
For each run (chunk) of positions the R·S shifted slices are stacked into a
(R·S·C, chunk) block and one BLAS GEMM with the (K, R·S·C) filter matrix
writes all K outputs. Positions in the padding's columns and rows are computed
and then dropped: (Hp·Wp)/(P·Q) of the work, 1.07 on a 56² layer.

Chunking keeps the stacked block in cache (im2col of the whole input would
be R·S times its size).

On small images the padding's share is large (7x7 outputs on a 9x9 grid:
(Hp·Wp)/(P·Q) = 1.65), so there the chunks can run over the valid positions
only, gathered with np.take instead of sliced. A gather costs more per
element than a slice, and the GEMM it saves costs K multiply-adds per
element, so it pays when (waste - 1)·K is large. Measured, gather vs slice
(same process, alternately): ResNet-18 512@7 (0.65·512 = 333) 1.35x;
256@14 (0.31·256 = 79) 1.05x; 64 channels at 13² (0.33·64 = 21) 0.67x;
128@28 (19) 0.82x; 64@56 (4.5) 0.64x.

With groups the stacked block is group-major (group, tap, channel of the
group), so the product is one batched GEMM of each group's (K/g, R·S·C/g)
filters with its own rows: the block-diagonal product, zero blocks never formed.

At stride > 1 the outputs are every stride-th position of the same flat grid
(p·sh rows, q·sw columns down), so gathering those alone computes exactly the
strided outputs; the slices would compute stride² times as many.
"""
from __future__ import annotations

import numpy as np

from ..blas import matmul
from ..padding import embed

CHUNK_BYTES = 4 << 20  # the stacked block of one chunk
MAX_CHUNK = 1024       # positions per GEMM; beyond it the block spills L2 for no gain
MIN_CHUNK = 64


def chunk_positions(taps_times_channels: int) -> int:
    """Positions per GEMM: as many as fit CHUNK_BYTES, a multiple of 64, within [64, 1024]."""
    fit = CHUNK_BYTES // (4 * taps_times_channels)
    return int(min(MAX_CHUNK, max(MIN_CHUNK, fit // 64 * 64)))


class ShiftedGemm:
    """Buffers and offsets for one stride-1 spec; __call__(x, w, out) convolves.

    gather: compute only the valid positions (True), or every padded position (False; stride 1
    only); convbench.core.selection.direct_method chooses.
    """

    def __init__(self, spec, gather: bool):
        self.spec = spec
        N, C, K = spec.N, spec.C, spec.K
        sh, sw = spec.stride
        self.rows, self.cols = spec.span
        self.positions = N * self.rows * self.cols
        # the tail lets the last chunk's shifted slices stay in bounds
        tail = (spec.extent_h - 1) * self.cols + spec.extent_w
        self.padded = np.zeros((C, self.positions + tail), dtype=np.float32)
        # tap (r, s) reads dilation·(r, s) further on
        self.offsets = [r * spec.dil_h * self.cols + s * spec.dil_w for r in range(spec.R) for s in range(spec.S)]
        self.chunk = chunk_positions(len(self.offsets) * C)
        self.stacked = np.empty((len(self.offsets) * C, self.chunk), dtype=np.float32)
        self.taken = np.empty((C, self.chunk), dtype=np.float32) if spec.groups > 1 else None
        self.gather = gather or (sh, sw) != (1, 1)
        if self.gather:  # flat positions of the valid outputs, in (n, p, q) order
            p, q = np.meshgrid(np.arange(spec.P), np.arange(spec.Q), indexing="ij")
            image = (p * sh * self.cols + q * sw).ravel()
            self.valid = (np.arange(N)[:, None] * (self.rows * self.cols) + image).ravel()
            self.computed = self.valid.size
        else:
            self.computed = self.positions
        self.result = np.empty((K, self.computed), dtype=np.float32)
        self.filters = np.empty((K, spec.R, spec.S, C // spec.groups), dtype=np.float32)

    def _images(self, flat):
        return flat[:, :self.positions].reshape(-1, self.spec.N, self.rows, self.cols)

    def __call__(self, x, w, out):
        spec, C, g = self.spec, self.spec.C, self.spec.groups
        taps = len(self.offsets)
        # the zero border was written once: every call fills the same interior, the rows and
        # columns some output reads (at stride 1 all of x; a stride may leave the last ones unread)
        embed(x.transpose(1, 0, 2, 3), self._images(self.padded), spec.pad_h, spec.pad_w)
        self.filters[...] = w.transpose(0, 2, 3, 1)  # (K, R·S·C/g), tap-major like the stacked block
        filters = self.filters.reshape(g, spec.K // g, -1)
        # (group, tap, channel of the group, position); with one group, (tap, channel, position)
        blocks = self.stacked.reshape(g, taps, C // g, self.chunk)
        for start in range(0, self.computed, self.chunk):
            n = min(self.chunk, self.computed - start)
            for tap, offset in enumerate(self.offsets):
                if self.gather:
                    where = self.valid[start:start + n] + offset
                    if g == 1:
                        np.take(self.padded, where, axis=1, out=blocks[0, tap, :, :n])
                        continue
                    source = np.take(self.padded, where, axis=1, out=self.taken[:, :n])
                else:
                    source = self.padded[:, start + offset:start + offset + n]
                blocks[:, tap, :, :n] = source.reshape(g, C // g, n)
            stacked = self.stacked.reshape(g, -1, self.chunk)[:, :, :n]
            matmul(filters, stacked, out=self.result.reshape(g, spec.K // g, -1)[:, :, start:start + n])
        if self.gather:
            out[...] = self.result.reshape(spec.K, spec.N, spec.P, spec.Q).transpose(1, 0, 2, 3)
        else:
            out[...] = self._images(self.result)[:, :, :spec.P, :spec.Q].transpose(1, 0, 2, 3)
