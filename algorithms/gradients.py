"""The two backward passes that every algorithm can share, as they are written in the field.

backward-data as a forward convolution: dx = conv(dy dilated by the stride,
the filter flipped and with its channels swapped within each group), stride 1,
the forward's dilation and groups, with the padding that makes the output the
input's size. An algorithm runs it with its own
forward pass (direct, Winograd, tiled FFT): DataGradient holds the derived
shape and the two re-laid-out operands.

backward-filter as GEMMs: dw[:, :, r, s] = sum over (n, p, q) of dy times
the window of the padded input that tap (r, s) read, one
(K x N·P·Q)(N·P·Q x C) product per tap (per group: (K/g x N·P·Q)(N·P·Q x C/g)),
on the GEMMs' engine (blas.py's pool); at stride 1 the windows are blocks of
consecutive rows of the flat, channels-last padded images, read in place.
"""
from __future__ import annotations

from functools import partial

import numpy as np
import torch

from convbench.core.arrays import aligned_zeros
from convbench.core.spec import ConvSpec

from .blas import product
from .direct.flat_grid import SharedPaddingGrid


class DataGradient:
    """dx for `spec` as a stride-1 forward convolution of shape `self.spec`:
    input prepare(dy) (N, K, H', W'), filters flipped(w) (C, K/groups, R, S), output (N, C, H, W)."""

    def __init__(self, spec: ConvSpec):
        self.source = spec
        # dy dilated by the stride, with the rows and columns the stride skipped at the end
        # (H + 2·pad - E + 1 positions in all, E the dilated filter's extent), then padded by
        # E - 1 - pad: the full correlation, read at the input's positions. Padding beyond
        # E - 1 crops dy instead.
        eh, ew = spec.extent_h, spec.extent_w
        self.span = (spec.H + 2 * spec.pad_h - eh + 1, spec.W + 2 * spec.pad_w - ew + 1)
        self.crop = (max(0, spec.pad_h - eh + 1), max(0, spec.pad_w - ew + 1))
        pad = (max(0, eh - 1 - spec.pad_h), max(0, ew - 1 - spec.pad_w))
        height, width = self.span[0] - 2 * self.crop[0], self.span[1] - 2 * self.crop[1]
        self.spec = ConvSpec(N=spec.N, C=spec.K, H=height, W=width, K=spec.C, R=spec.R, S=spec.S, padding=pad,
                             dilation=spec.dilation, groups=spec.groups)
        # dy is the input as it stands unless a stride spaces it out or a padding crops it
        self.needs_placing = spec.stride != (1, 1) or self.crop != (0, 0)
        self._dilated = None  # the host's zero grid for dy, made on the first call that needs it

    def prepare(self, dy: np.ndarray) -> np.ndarray:
        if not self.needs_placing:
            return dy
        if self._dilated is None:
            self._dilated = aligned_zeros((self.source.N, self.source.K, *self.span))
        sh, sw = self.source.stride
        self._dilated[:, :, :(self.source.P - 1) * sh + 1:sh, :(self.source.Q - 1) * sw + 1:sw] = dy
        (top, left), (height, width) = self.crop, (self.spec.H, self.spec.W)
        return np.ascontiguousarray(self._dilated[:, :, top:top + height, left:left + width])

    def flipped(self, w: np.ndarray) -> np.ndarray:
        """w (K, C/g, R, S) -> (C, K/g, R, S), flipped: in each group the (K/g, C/g) block transposed."""
        g, (K, Cg, R, S) = self.source.groups, w.shape
        blocks = w[:, :, ::-1, ::-1].reshape(g, K // g, Cg, R, S).transpose(0, 2, 1, 3, 4)
        return np.ascontiguousarray(blocks).reshape(g * Cg, K // g, R, S)


def filter_gradient(spec: ConvSpec):
    """dw = filter_gradient(spec)(x, dy), (K, C/groups, R, S): one GEMM per tap (r, s) (and group) over the
    input window it read. At stride 1 a ShiftedFilterGradient, whose padded grids serve every call of the
    plan that keeps it; otherwise each tap's strided window."""
    if spec.stride == (1, 1):
        return ShiftedFilterGradient(spec)
    return partial(filter_gradient_windows, spec=spec)


class ShiftedFilterGradient:
    """Stride 1, one (K x L)(L x C) GEMM per tap of two slices that BLAS reads in place: the padded images
    stored flat and channels-last, (L, C), so that the window tap (r, s) read is a block of consecutive rows
    of them, and dy on the same grid, channel by channel (zeros where no output sits). The grid's rows and
    images share their padding (direct/flat_grid.py's SharedPaddingGrid): the GEMMs' inner side L holds
    about half the padded grid's wasted positions (ResNet-18's 512@7, N=8: 512 positions where the grid
    padded on every side had 648; results/records/implementation-choices.json, row
    filter-gradient-shared-padding). A copy of every strided window took the time (ResNet-18 64@56, N=8:
    0.32x torch's backward-filter with the copies), and the images channel by channel, read transposed, made
    the GEMMs slower (row filter-gradient-images-channels-last).
    The grids are kept (a plan keeps this object): their zeros are written once, and a call
    writes only the images and dy into them, not the first touch of fresh pages."""

    def __init__(self, spec: ConvSpec):
        self.spec = spec
        self.grid = SharedPaddingGrid(spec)
        self._images = torch.zeros(self.grid.length, spec.C)
        self._dy = torch.zeros(spec.K, self.grid.positions)
        self._dw = torch.empty(spec.R, spec.S, spec.groups, spec.K // spec.groups, spec.C_per_group)

    def __call__(self, x: np.ndarray, dy: np.ndarray) -> np.ndarray:
        spec, grid, g = self.spec, self.grid, self.spec.groups
        images = self._images[:grid.positions].view(spec.N, grid.rows, grid.cols, spec.C)
        images[:, grid.top:, grid.left:].copy_(torch.from_numpy(x).permute(0, 2, 3, 1))
        self._dy.view(spec.K, spec.N, grid.rows, grid.cols)[:, :, :spec.P, :spec.Q].copy_(
            torch.from_numpy(dy).permute(1, 0, 2, 3))
        flat = self._images.view(-1, g, spec.C_per_group).transpose(0, 1)  # (g, length, C/g)
        dy_by_group = self._dy.view(g, spec.K_per_group, -1)
        for tap, offset in enumerate(grid.offsets):
            first = grid.origin + offset  # where the window of the grid's first output starts
            product(dy_by_group, flat[:, first:first + grid.positions], self._dw.view(-1, g, *self._dw.shape[3:])[tap])
        return self._dw.reshape(spec.R, spec.S, spec.K, -1).permute(2, 3, 0, 1).contiguous().numpy()


def filter_gradient_windows(x: np.ndarray, dy: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """Any stride: each tap's strided window of the padded input, contracted with dy."""
    xp = torch.nn.functional.pad(torch.from_numpy(x), (spec.pad_w, spec.pad_w, spec.pad_h, spec.pad_h))
    dy_t = torch.from_numpy(dy)
    dw = torch.empty(spec.filter_shape, dtype=torch.float32)
    rows, cols = (spec.P - 1) * spec.stride_h + 1, (spec.Q - 1) * spec.stride_w + 1
    N, g, P, Q = spec.N, spec.groups, spec.P, spec.Q
    for r in range(spec.R):
        top = r * spec.dil_h
        for s in range(spec.S):
            left = s * spec.dil_w
            window = xp[:, :, top:top + rows:spec.stride_h, left:left + cols:spec.stride_w]  # (N, C, P, Q)
            if g == 1:
                dw[:, :, r, s] = torch.tensordot(dy_t, window, dims=([0, 2, 3], [0, 2, 3]))
            else:  # the diagonal blocks only: (K/g x N·P·Q)(N·P·Q x C/g) for each group
                dw[:, :, r, s] = torch.einsum("ngkpq,ngcpq->gkc", dy_t.reshape(N, g, -1, P, Q),
                                              window.reshape(N, g, -1, P, Q)).reshape(spec.K, -1)
    return dw.numpy()
