"""Zero padding into a buffer that a plan allocates once and reuses."""
from __future__ import annotations

import numpy as np
import torch

from convbench.core.arrays import aligned_zeros
from convbench.core.selection import CHANNELS_LAST_COPY_BY_KERNEL_FROM

from .layout import to_channels_last


def inside(size: int, length: int, start: int, step: int = 1) -> int:
    """How many of the positions start, start + step, ... (size of them) lie inside a grid axis of
    this length: a plane placed on a grid is cut at its edge. Every placement uses this."""
    return max(0, min(size, -(-(length - start) // step)))


def on_grid(planes: np.ndarray, grid: tuple[int, int], offset=(0, 0), step=(1, 1), dtype=None) -> np.ndarray:
    """A new zero (..., Lh, Lw) grid with planes (..., h, w) placed at offset, every step, cut at its edge."""
    (Lh, Lw), (top, left) = grid, offset
    out = aligned_zeros((*planes.shape[:-2], Lh, Lw), dtype=dtype or planes.dtype)
    rows, cols = inside(planes.shape[-2], Lh, top, step[0]), inside(planes.shape[-1], Lw, left, step[1])
    out[..., top:top + rows * step[0]:step[0], left:left + cols * step[1]:step[1]] = planes[..., :rows, :cols]
    return out


def from_grid(grid_planes: np.ndarray, offset, shape, step=(1, 1)) -> np.ndarray:
    """on_grid's adjoint: the shape (rows, cols) positions every step from offset, zeros where they leave the grid."""
    (top, left), (rows, cols) = offset, shape
    out = aligned_zeros((*grid_planes.shape[:-2], rows, cols), dtype=grid_planes.dtype)
    Lh, Lw = grid_planes.shape[-2:]
    r, c = inside(rows, Lh, top, step[0]), inside(cols, Lw, left, step[1])
    out[..., :r, :c] = grid_planes[..., top:top + r * step[0]:step[0], left:left + c * step[1]:step[1]]
    return out


def padded_buffer(leading: tuple[int, ...], rows: int, cols: int) -> np.ndarray:
    """A zeroed float32 buffer (*leading, rows, cols) to embed padded inputs into."""
    return aligned_zeros((*leading, rows, cols))


def embed(src: np.ndarray, dst: np.ndarray, top: int, left: int) -> None:
    """dst[..., top + i, left + j] = src[..., i, j] wherever that lands inside dst.

    The rest of dst is left as it is: the plan zeroed it once, and every call
    writes the same region, so the zero border survives between calls.
    """
    rows, cols = inside(src.shape[-2], dst.shape[-2], top), inside(src.shape[-1], dst.shape[-1], left)
    dst[..., top:top + rows, left:left + cols] = src[..., :rows, :cols]


def embed_channels_last(src: np.ndarray, dst: np.ndarray, top: int, left: int) -> None:
    """dst[n, top + i, left + j, c] = src[n, c, i, j] wherever that lands inside dst (N, rows, cols, C):
    embed, into a channels-last buffer, by layout.to_channels_last from CHANNELS_LAST_COPY_BY_KERNEL_FROM
    channels, else by torch, whose strided copies are parallel too."""
    rows, cols = inside(src.shape[-2], dst.shape[1], top), inside(src.shape[-1], dst.shape[2], left)
    if src.shape[1] >= CHANNELS_LAST_COPY_BY_KERNEL_FROM:
        to_channels_last(src, dst, top, left, rows, cols)
        return
    torch.from_numpy(dst)[:, top:top + rows, left:left + cols, :].copy_(
        torch.from_numpy(src)[:, :, :rows, :cols].permute(0, 2, 3, 1))
