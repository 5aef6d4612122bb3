"""Direct convolution at unit stride as channel-major GEMMs over the padded image's positions: with
groups, with fewer filters than CHANNELS_LAST_FILTERS_FROM, and for 1x1 filters on small images
(otherwise channels_last.py's position-major GEMMs run; convbench.core.selection decides).

The same sum as the sliding window, O[n,k,p,q] = sum_{c,r,s} F[k,c,r,s] I[n,c,p+r,q+s],
with the same C·R·S multiplies per output: only the order changes. Every
image is stored channel-major and padded, flattened to one row per channel,
all images end to end. In that flat layout the input a tap (r, s) needs for
output position j is at j + r·Wp + s, so a run of positions is a plain slice.
For each run (chunk) of positions the R·S shifted slices are stacked into a
(C·R·S, chunk) block and one BLAS GEMM with the (K, C·R·S) filter matrix (w
itself, reshaped) writes all K outputs. Positions in the padding's columns and rows are computed
and then dropped: (Hp·Wp)/(P·Q) of the work, 1.07 on a 56² layer.

Chunking keeps the stacked block in cache (im2col of the whole input would
be R·S times its size).

On small images the padding's share is large (7x7 outputs on a 9x9 grid:
(Hp·Wp)/(P·Q) = 1.65), so there the chunks can run over the valid positions
only, gathered instead of sliced. Output rows of GATHER_WINDOW_ROW_FROM or more
are gathered as windows of whole rows (flat_grid.py), one strided copy that
moves no more than the slices': they always gather. Shorter rows are gathered
element by element, which costs more per element than a slice, and the GEMM it
saves costs K multiply-adds per element, so it pays when (waste - 1)·K is
large (GATHER_ABOVE; both in convbench.core.selection, measured in
results/records/auto-rule-thresholds.json; with torch's copies:
results/records/implementation-choices.json, row direct-gather-vs-slice-torch).

With groups the stacked block is group-major (its channels are), so the product is one batched GEMM of each group's (K/g, R·S·C/g)
filters with its own rows: the block-diagonal product, zero blocks never formed.

At stride > 1 the outputs are every stride-th position of the same flat grid
(p·sh rows, q·sw columns down), so gathering those alone computes exactly the
strided outputs; the slices would compute stride² times as many.
"""
from __future__ import annotations

import numpy as np
import torch

from convbench.core.selection import direct_gathers_by_windows

from ..blas import product
from ..padding import embed
from .flat_grid import FlatGrid

CHUNK_BYTES = 4 << 20  # the stacked block of one chunk
MAX_CHUNK = 1024       # positions per GEMM; beyond it the block spills L2 for no gain
MIN_CHUNK = 64


def chunk_positions(taps_times_channels: int) -> int:
    """Positions per GEMM: as many as fit CHUNK_BYTES, a multiple of 64, within [64, 1024]."""
    fit = CHUNK_BYTES // (4 * taps_times_channels)
    return int(min(MAX_CHUNK, max(MIN_CHUNK, fit // 64 * 64)))


class ShiftedGemm:
    """Buffers and offsets for one spec; __call__(x, w, out) convolves.

    gather: compute only the valid positions (True), or every padded position (False; stride 1
    only); convbench.core.selection.direct_method chooses.

    The stacked block's rows are ordered (channel, r, s), the filters' own order, so the filter
    matrix is w itself, reshaped (with groups, its rows are already group-major). A chunk's block is
    one torch copy: of a strided view of the flat images (slices: the R·S shifted runs are an affine
    pattern), or of a window of output rows or an index_select (gathered positions), all on torch's pool.
    Stacked by numpy, one slice at a time, the copies ran on one core and took most of the call
    (results/records/implementation-choices.json, row direct-stack-by-torch-copy).
    """

    def __init__(self, spec, gather: bool):
        self.spec = spec
        C, K = spec.C, spec.K
        grid = self.grid = FlatGrid(spec)
        self.rows, self.cols, self.positions = grid.rows, grid.cols, grid.positions
        self.padded = np.zeros((C, grid.length), dtype=np.float32)
        self.taps = spec.R * spec.S
        self.chunk = chunk_positions(self.taps * C)
        self.gather = gather or spec.stride != (1, 1)
        # windows of output rows where a row is a long enough contiguous run, else an index of each element
        # (results/records/implementation-choices.json, row direct-gather-window-or-index)
        self.windows = self.gather and direct_gathers_by_windows(spec)
        if self.windows:
            self.runs = grid.output_runs(self.chunk)
        elif self.gather:
            self.valid = grid.valid_positions()
            self.offsets = torch.tensor(grid.offsets, dtype=torch.int64)
        self.computed = spec.N * spec.P * spec.Q if self.gather else self.positions
        self.stacked = torch.empty(self.taps * C * self.chunk)  # a chunk's block is its first taps·C·n
        self.result = torch.empty(K, self.computed)
        self.filters = None  # w's copy, made on the first read-only w

    def _images(self, flat):
        return flat[:, :self.positions].reshape(-1, self.spec.N, self.rows, self.cols)

    def _sliced(self, start: int, n: int) -> torch.Tensor:
        """The chunk's stacked input, (C·R·S, n): row (c, r, s) holds what tap (r, s) of channel c
        reads for positions start .. start + n - 1."""
        spec, C = self.spec, self.spec.C
        images = torch.from_numpy(self.padded)
        shifted = images.as_strided((C, spec.R, spec.S, n), (images.stride(0), spec.dil_h * self.cols, spec.dil_w, 1),
                                    start)
        block = self.stacked[:C * self.taps * n]
        block.view(C, spec.R, spec.S, n).copy_(shifted)
        return block.view(C * self.taps, n)

    def _indexed(self, start: int, n: int) -> torch.Tensor:
        """The chunk's stacked input, (C·R·S, n): row (c, r, s) holds what tap (r, s) of channel c reads for
        the valid positions start .. start + n - 1, element by element."""
        C = self.spec.C
        where = (self.valid[start:start + n][None, :] + self.offsets[:, None]).reshape(-1)
        block = self.stacked[:C * self.taps * n]
        torch.index_select(torch.from_numpy(self.padded), 1, where, out=block.view(C, self.taps * n))
        return block.view(C * self.taps, n)

    def _windowed(self, run) -> torch.Tensor:
        """The run's stacked input, (C·R·S, outputs): row (c, r, s) holds what tap (r, s) of channel c reads
        for each of the run's outputs."""
        block = self.grid.stack_window(torch.from_numpy(self.padded), run, False, self.stacked)
        return block.view(self.spec.C * self.taps, run.outputs)

    def _blocks(self):
        """Each chunk's first output (of those computed), its outputs, and its stacked input."""
        if self.windows:
            for run in self.runs:
                yield run.start, run.outputs, self._windowed(run)
            return
        stack = self._indexed if self.gather else self._sliced
        for start in range(0, self.computed, self.chunk):
            n = min(self.chunk, self.computed - start)
            yield start, n, stack(start, n)

    def _filter_matrix(self, w) -> torch.Tensor:
        """w as the (K, C/g·R·S) filter matrix, rows (group, K/g), columns (c, r, s): w itself (a float32
        C-contiguous array here), read in place; copied only where it is read-only, which torch wraps only
        with a warning. The copy was a single-threaded pass over all the filters each call: 9.4 MB at
        DeepBench's vgg-7 (results/records/implementation-choices.json, row direct-filters-read-in-place)."""
        if w.flags.writeable:
            return torch.from_numpy(w).view(self.spec.K, -1)
        if self.filters is None:
            self.filters = torch.empty(self.spec.K, w[0].size)
        self.filters.numpy()[...] = w.reshape(self.spec.K, -1)
        return self.filters

    def __call__(self, x, w, out):
        spec, g = self.spec, self.spec.groups
        # the zero border was written once: every call fills the same interior, the rows and
        # columns some output reads (at stride 1 all of x; a stride may leave the last ones unread)
        embed(x.transpose(1, 0, 2, 3), self._images(self.padded), spec.pad_h, spec.pad_w)
        matrix = self._filter_matrix(w)
        filters = matrix.view(g, spec.K // g, -1)
        for start, n, block in self._blocks():
            result = self.result[:, start:start + n]
            if g == 1:
                product(matrix, block, result)
            else:
                product(filters, block.view(g, -1, n), result.view(g, spec.K // g, n))
        if self.gather:
            result = self.result.view(spec.K, spec.N, spec.P, spec.Q)
        else:
            result = self._images(self.result)[:, :, :spec.P, :spec.Q]
        torch.from_numpy(out).copy_(result.permute(1, 0, 2, 3))
