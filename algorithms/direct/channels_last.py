"""Direct convolution without groups as GEMMs over channels-last positions.

The same sum as the sliding window, O[n,k,p,q] = sum_{c,r,s} F[k,c,r,s] I[n,c,p+r,q+s],
with the same C·R·S multiplies per output: only the order changes. The padded images are stored
channels-last and flat, one row of C channels per position, all images end to end. In that
layout what tap (r, s) reads for output position j is row j + r·Wp + s, so for a run of positions
it is a plain (n, C) slice of rows, a matrix BLAS reads in place. Each output row holds the K
filters' outputs at one position: the GEMMs are position-major, (positions x C)(C x K), the shape
the sgemm kernels run best when K is small (ResNet-18's 64 filters), where the channel-major
(K x C·R·S)(C·R·S x positions) product of gemm.py runs slowest.

Two ways through the positions, as in gemm.py:
- slice: every position of a grid whose rows and images share their padding (flat_grid.py's
  SharedPaddingGrid), R·S GEMMs per run of positions, each tap's slice of rows times its (C x K)
  filter matrix, summed into the run's outputs (beta = 1). Nothing is stacked; the shared padding's
  rows and columns are computed and dropped ((H + pad)·(W + pad)/(P·Q) of the work).
- gather: only the valid (or strided) positions: each run of output rows' R·S·C inputs per position
  copied into a (n, R·S·C) block, then one GEMM with the (R·S·C x K) filter matrix. The block costs a
  copy; the GEMM's inner dimension is R·S·C. What a run reads is a window of the padded images, one
  strided view (images, output rows, columns, r, s, c), so the copy is one torch copy whose inner run is
  a filter row's S·C floats: an index_select of whole C-float rows copied one float per row when C = 1
  (results/records/implementation-choices.json, row direct-channels-last-window).

convbench.core.selection.direct_method chooses between them (its measurements: the record).
"""
from __future__ import annotations

import torch

from ..blas import product, right_hand_operand
from ..work import FLOAT, Work, gemm_flops
from ..layout import to_channels_first
from ..padding import embed_channels_last
from .flat_grid import FlatGrid, SharedPaddingGrid

# positions per run of slice's R·S GEMMs, and per gathered block: both past where the time
# stops falling (results/records/implementation-choices.json, row direct-channels-last-runs)
SLICE_RUN = 16384
GATHER_RUN = 1024
# bytes of a gathered block, up to which a run takes more than GATHER_RUN positions: with few channels a
# run's block is small, and longer runs are faster (results/records/implementation-choices.json, row
# direct-channels-last-window)
GATHER_BLOCK_BYTES = 2 << 20


def gather_run_positions(taps_times_channels: int) -> int:
    """Outputs per gathered run: GATHER_RUN, or as many as fill GATHER_BLOCK_BYTES where that is more."""
    return max(GATHER_RUN, GATHER_BLOCK_BYTES // (4 * taps_times_channels))


class ChannelsLastGemm:
    """Buffers and row offsets for one spec without groups; __call__(x, w, out) convolves, and
    __call__(dy, w, dx, flipped=True) takes the forward's w of the convolution whose data gradient
    this spec is (gradients.DataGradient), with no flipped copy of it.

    gather: compute only the valid positions (True), or every padded position (False; stride 1 only).
    """

    def __init__(self, spec, gather: bool):
        self.spec = spec
        C, K = spec.C, spec.K
        self.gather = gather or spec.stride != (1, 1)
        grid = self.grid = FlatGrid(spec) if self.gather else SharedPaddingGrid(spec)
        self.padded = torch.zeros(grid.length, C)  # the zero border is written once
        self.taps = len(grid.offsets)
        # slices: one (C x K) matrix per tap, rows (r, s, c), w transposed. gathered: w with each filter's
        # taps outermost, (K, R·S·C), read transposed in place by the GEMM and copied from (K, C, R, S)
        # one filter at a time, where the (R·S·C, K) transpose reads w K-strided (on ResNet-18 512@7 it
        # took a fifth of the GEMM's time: results/records/implementation-choices.json, row
        # direct-channels-last-filters-by-row)
        # A data gradient's filters, the forward's w flipped with its channels swapped, are read from that w
        # into (R·S·C, K) on either path, tap by tap: each tap's (C x K) matrix is a plain strided block of it,
        # where the flip and the (K, R·S·C) rows each took another pass over w (512@7: the two copies took a
        # quarter of the GEMM's time: results/records/implementation-choices.json, row
        # direct-data-gradient-filters-by-tap)
        # The (R·S·C, K) matrix's rows are padded where their length slows the GEMM (blas.right_hand_operand;
        # results/records/implementation-choices.json, row direct-filter-rows-padded); the gathered forward's
        # (K, R·S·C) filters, read transposed, fill the same memory unpadded (padding them was slower there).
        self.by_tap = torch.from_numpy(right_hand_operand((self.taps * C, K)))
        self.by_filter = self.by_tap.as_strided((K, self.taps * C), (self.taps * C, 1))
        self.matrix = None  # the (R·S·C, K) matrix the GEMMs read, as the last load left it
        if self.gather:
            self.runs = grid.output_runs(gather_run_positions(self.taps * C))
            self.stacked = torch.empty(max(run.outputs for run in self.runs) * self.taps * C)
            self.computed = spec.N * spec.P * spec.Q
        else:
            self.run = SLICE_RUN
            self.computed = grid.positions
        self.result = torch.empty(self.computed, K)

    def _load_filters(self, w, flipped: bool):
        """w (K, C, R, S) into the matrix the GEMMs read; flipped: w is the forward's (C, K, R, S) filter of the
        convolution whose data gradient this spec computes, its taps read in reverse."""
        spec, filters = self.spec, torch.from_numpy(w)
        by_tap = self.by_tap.view(spec.R, spec.S, spec.C, spec.K)
        if flipped:
            for r in range(spec.R):
                for s in range(spec.S):
                    by_tap[r, s].copy_(filters[:, :, spec.R - 1 - r, spec.S - 1 - s])
            self.matrix = self.by_tap
        elif self.gather:
            self.by_filter.view(spec.K, spec.R, spec.S, spec.C).copy_(filters.permute(0, 2, 3, 1))
            self.matrix = self.by_filter.t()
        else:
            by_tap.copy_(filters.permute(2, 3, 1, 0))
            self.matrix = self.by_tap

    def _gathered(self, run) -> torch.Tensor:
        """The run's (outputs, R·S·C) block: its row i holds what each tap reads for the run's output i."""
        return self.grid.stack_window(self.padded, run, True, self.stacked).view(run.outputs, -1)

    def _gathered_products(self):
        for run in self.runs:
            product(self._gathered(run), self.matrix, self.result[run.start:run.start + run.outputs])

    def _sliced_products(self):
        C, origin = self.spec.C, self.grid.origin
        for start in range(0, self.computed, self.run):
            n = min(self.run, self.computed - start)
            result = self.result[start:start + n]
            for tap, offset in enumerate(self.grid.offsets):
                first = origin + start + offset
                product(self.padded[first:first + n], self.matrix[tap * C:(tap + 1) * C], result, accumulate=tap > 0)

    def _embed(self, x):
        spec, grid = self.spec, self.grid
        images = self.padded[:grid.positions].view(spec.N, grid.rows, grid.cols, spec.C)
        top, left = (spec.pad_h, spec.pad_w) if self.gather else (grid.top, grid.left)
        embed_channels_last(x, images.numpy(), top, left)

    def _products(self):
        if self.gather:
            self._gathered_products()
        else:
            self._sliced_products()

    def _write(self, out):
        spec, grid = self.spec, self.grid
        if self.gather:
            result = self.result.view(spec.N, spec.P, spec.Q, spec.K)
        else:
            result = self.result.view(spec.N, grid.rows, grid.cols, spec.K)[:, :spec.P, :spec.Q]
        to_channels_first(result.numpy(), out)

    def __call__(self, x, w, out, flipped: bool = False):
        self._embed(x)
        self._load_filters(w, flipped)
        self._products()
        self._write(out)

    def stages(self, x, w, out) -> dict:
        """The call's four steps as NNPACK names its phases, each a zero-argument callable (after one call)."""
        return {"filter transform": lambda: self._load_filters(w, False), "input transform": lambda: self._embed(x),
                "contraction": self._products, "output transform": lambda: self._write(out)}

    def stage_work(self) -> dict:
        """What each step must move and compute (algorithms/work.py): the filters' and the images' relayouts,
        the GEMMs (over every position of the grid for the slices, the valid ones when gathered; the gathered
        block's copy is no compulsory traffic), and the results back to NCHW."""
        spec, grid = self.spec, self.grid
        filters, outputs = FLOAT * spec.K * spec.C * self.taps, FLOAT * spec.N * spec.P * spec.Q * spec.K
        products = Work(FLOAT * grid.length * spec.C + filters + FLOAT * self.computed * spec.K,
                        gemm_flops(self.computed, spec.K, spec.C * self.taps))
        images = FLOAT * spec.N * spec.C * spec.H * spec.W
        return {"filter transform": Work(2 * filters, 0), "input transform": Work(2 * images, 0),
                "contraction": products, "output transform": Work(2 * outputs, 0)}
