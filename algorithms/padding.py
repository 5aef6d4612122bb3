"""Zero padding into a buffer that a plan allocates once and reuses."""
from __future__ import annotations

import numpy as np
import torch


def padded_buffer(leading: tuple[int, ...], rows: int, cols: int) -> np.ndarray:
    """A zeroed float32 buffer (*leading, rows, cols) to embed padded inputs into."""
    return np.zeros((*leading, rows, cols), dtype=np.float32)


def embed(src: np.ndarray, dst: np.ndarray, top: int, left: int) -> None:
    """dst[..., top + i, left + j] = src[..., i, j] wherever that lands inside dst.

    The rest of dst is left as it is: the plan zeroed it once, and every call
    writes the same region, so the zero border survives between calls.
    """
    rows = max(0, min(src.shape[-2], dst.shape[-2] - top))
    cols = max(0, min(src.shape[-1], dst.shape[-1] - left))
    dst[..., top:top + rows, left:left + cols] = src[..., :rows, :cols]


def embed_channels_last(src: np.ndarray, dst: np.ndarray, top: int, left: int) -> None:
    """dst[n, top + i, left + j, c] = src[n, c, i, j] wherever that lands inside dst (N, rows, cols, C):
    embed, into a channels-last buffer, by torch, whose strided copies are parallel."""
    rows = max(0, min(src.shape[-2], dst.shape[1] - top))
    cols = max(0, min(src.shape[-1], dst.shape[2] - left))
    torch.from_numpy(dst)[:, top:top + rows, left:left + cols, :].copy_(
        torch.from_numpy(src)[:, :, :rows, :cols].permute(0, 2, 3, 1))
