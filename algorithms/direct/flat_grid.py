"""The flat padded grids direct's GEMM paths compute on (gemm.py channel-major, channels_last.py
channels-last, whose slices take SharedPaddingGrid): every image's padded rows end to end, so the input
tap (r, s) reads for position j lies r·dil_h·cols + s·dil_w positions further on, and a run of positions
is a plain slice. The valid (at a stride, the strided) outputs of a run of whole images, whole output rows
or part of one row read a window of the grid: one strided view, (images, output rows, columns, r, s),
copied in one go."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class OutputRun(NamedTuple):
    """Outputs in (n, p, q) order: columns column .. column + columns - 1 of rows row .. row + rows - 1 of
    images image .. image + images - 1 (all P rows when images > 1, all Q columns when rows > 1); start is
    the first one's index among the N·P·Q outputs."""
    start: int
    image: int
    images: int
    row: int
    rows: int
    column: int
    columns: int

    @property
    def outputs(self) -> int:
        return self.images * self.rows * self.columns


class SharedPaddingGrid:
    """Stride 1, the images stored flat with neighbours sharing their padding (spec.shared_padding_span):
    per image, gap zero rows then its H rows, each row gap zeros then its W inputs, where the padded grid
    above keeps both paddings on every side. The window of output (n, p, q) starts origin positions after
    (n, p, q)'s own place on the grid, so every position is computed and the outputs are the grid's first P
    rows and Q columns of each image: the wasted positions, (rows·cols) / (P·Q) - 1, are about half the
    padded grid's (ResNet-18's 3x3 layers: 57² / 56² against 58² / 56², 8² / 7² against 9² / 7²;
    results/records/implementation-choices.json, row direct-channels-last-shared-padding).
    rows, cols: per image; top, left: where its data starts; positions: N·rows·cols, all computed;
    length: the positions read, to the last one's last tap; offsets: as FlatGrid's."""

    def __init__(self, spec):
        self.rows, self.cols = spec.shared_padding_span
        self.top, self.left = self.rows - spec.H, self.cols - spec.W
        self.positions = spec.N * self.rows * self.cols
        self.origin = (self.top - spec.pad_h) * self.cols + self.left - spec.pad_w
        self.offsets = [r * spec.dil_h * self.cols + s * spec.dil_w for r in range(spec.R) for s in range(spec.S)]
        self.length = self.origin + self.positions + self.offsets[-1]


class FlatGrid:
    """rows, cols: the padded rows and columns some output reads (spec.span); positions: N·rows·cols;
    length: positions and the tail that keeps the last run's shifted slices in bounds; offsets: how
    far on each tap reads, in the filters' (r, s) order."""

    def __init__(self, spec):
        self.spec = spec
        self.rows, self.cols = spec.span
        self.positions = spec.N * self.rows * self.cols
        self.length = self.positions + (spec.extent_h - 1) * self.cols + spec.extent_w
        self.offsets = [r * spec.dil_h * self.cols + s * spec.dil_w for r in range(spec.R) for s in range(spec.S)]

    def output_runs(self, outputs: int) -> list[OutputRun]:
        """The valid outputs in runs of at most `outputs` (and at least one), each a window: whole images
        where one image has fewer outputs, else bands of whole rows of one image, else pieces of one row."""
        N, P, Q = self.spec.N, self.spec.P, self.spec.Q
        if outputs >= P * Q:
            per_run = outputs // (P * Q)
            return [OutputRun(image * P * Q, image, min(per_run, N - image), 0, P, 0, Q)
                    for image in range(0, N, per_run)]
        if outputs >= Q:
            rows = outputs // Q
            return [OutputRun((image * P + row) * Q, image, 1, row, min(rows, P - row), 0, Q)
                    for image in range(N) for row in range(0, P, rows)]
        columns = max(1, outputs)
        return [OutputRun((image * P + row) * Q + column, image, 1, row, 1, column, min(columns, Q - column))
                for image in range(N) for row in range(P) for column in range(0, Q, columns)]

    def window(self, flat: torch.Tensor, run: OutputRun, channels_last: bool) -> torch.Tensor:
        """What the run's outputs read, as one strided view of flat, the padded images stored flat:
        channels-last, flat (length, C), the view (images, output rows, columns, r, s, c); channel by
        channel, flat (C, length), the view (c, r, s, images, output rows, columns): each in the order
        of the block its caller stacks."""
        spec = self.spec
        unit = spec.C if channels_last else 1  # elements between two positions of one channel
        line, plane = self.cols * unit, self.rows * self.cols * unit
        outputs, output_steps = (run.images, run.rows, run.columns), (plane, spec.stride_h * line, spec.stride_w * unit)
        taps, tap_steps = (spec.R, spec.S), (spec.dil_h * line, spec.dil_w * unit)
        first = run.image * plane + run.row * spec.stride_h * line + run.column * spec.stride_w * unit
        if channels_last:
            return flat.as_strided((*outputs, *taps, spec.C), (*output_steps, *tap_steps, 1), first)
        return flat.as_strided((spec.C, *taps, *outputs), (flat.stride(0), *tap_steps, *output_steps), first)

    def stack_window(self, flat: torch.Tensor, run: OutputRun, channels_last: bool, into: torch.Tensor) -> torch.Tensor:
        """The run's window (window()) copied, in one torch copy, into the start of into (flat, large enough):
        the contiguous block both gathers multiply, in the window's order and shape."""
        window = self.window(flat, run, channels_last)
        block = into[:window.numel()].view(window.shape)
        block.copy_(window)
        return block

    def valid_positions(self) -> torch.Tensor:
        """Flat positions of the valid (at a stride, the strided) outputs, in (n, p, q) order."""
        spec = self.spec
        p, q = np.meshgrid(np.arange(spec.P), np.arange(spec.Q), indexing="ij")
        image = (p * spec.stride_h * self.cols + q * spec.stride_w).ravel()
        return torch.from_numpy((np.arange(spec.N)[:, None] * (self.rows * self.cols) + image).ravel())
