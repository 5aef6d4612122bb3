"""Winograd's forward with each thread running its own rows of tiles through the three stages.

The stages of a call (winograd/cpu.py) each split their work over the pool's threads their own way: the
input transform by rows of tiles, oneDNN's matmul by its blocks of points and tiles, the output transform by
rows again. So most of what a thread wrote for the next stage is read by another thread. Where the host
puts the two threads in different core complexes (convbench.measure.placement's "split"), each such read
crosses between their L3s, and the staged calls ran up to 1.6x as long as in one L3, where oneDNN 2.6's
Winograd, whose threads each keep their own tiles, did not move.

Here one Numba parallel region gives each thread a share of the rows of tiles, which it runs a block at a
time through the input transform, a matmul primitive made for one thread (onednn_matmul.OneThreadMatmul,
called from inside the region) and the output transform, in buffers of its own: nothing a thread writes is
read by another. The products are those of the staged call, bit for bit (the same kernels, the same
primitive's sums). Its measurement: results/records/implementation-choices.json, row winograd-by-threads.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from numba import njit, prange

from convbench.core.arrays import aligned_empty

from .. import onednn_matmul
from .kernels import INPUT_TRANSFORMS, OUTPUT_TRANSFORMS
from .transforms import finish_output, input_source, output_sink

PRIMITIVE, STREAM, MEMORY_A, MEMORY_B, MEMORY_OUT, ARGUMENTS = range(6)


@lru_cache(maxsize=None)
def _region(m: int):
    """The parallel region for tile m (compiled on first use: it calls libdnnl through addresses that are
    this process's only, which Numba does not cache)."""
    transform_input, transform_output = INPUT_TRANSFORMS[m], OUTPUT_TRANSFORMS[m]
    set_data_handle, execute, wait = onednn_matmul.numba_calls()

    @njit(parallel=True)
    def rows_by_thread(src, dst, V, M, filters, tiles_h, tiles_w, rows, block, pad_h, pad_w, handles):
        """Thread share th of the rows of tiles, block by block: V[th] (points, tiles, C) and M[th] (points,
        tiles, K) its buffers, handles[th, 0] its primitive for a whole block, handles[th, 1] for its last."""
        threads, points, C, K = V.shape[0], V.shape[1], V.shape[3], M.shape[3]
        share = -(-rows // threads)
        for th in prange(threads):
            last_row = min(rows, (th + 1) * share)
            for first in range(th * share, last_row, block):
                last = min(last_row, first + block)
                tiles = (last - first) * tiles_w
                Vb = V[th].reshape(-1)[:points * tiles * C].reshape(points, tiles, C)
                Mb = M[th].reshape(-1)[:points * tiles * K].reshape(points, tiles, K)
                transform_input(src, Vb, tiles_h, tiles_w, first, last, pad_h, pad_w)  # one thread: nested
                h = handles[th, 0 if last - first == block else 1]
                set_data_handle(h[MEMORY_A], Vb.ctypes.data)
                set_data_handle(h[MEMORY_B], filters)
                set_data_handle(h[MEMORY_OUT], Mb.ctypes.data)
                execute(h[PRIMITIVE], h[STREAM], 3, h[ARGUMENTS])
                wait(h[STREAM])
                transform_output(Mb, dst, tiles_h, tiles_w, first, last)

    return rows_by_thread


class RowsByThread:
    """One plan's buffers and primitives for rows_by_thread, made for the pool's thread count and the
    filters' strides of the first call that meets them."""

    def __init__(self, tile: int, points: int, C: int, K: int, tiles_h: int, tiles_w: int, rows: int, block: int):
        self.tile, self.points, self.C, self.K = tile, points, C, K
        self.tiles_h, self.tiles_w, self.rows, self.block = tiles_h, tiles_w, rows, block
        self._made = {}  # (threads, filter strides) -> (V, M, handles, matmuls)

    def _for(self, threads: int, filters: np.ndarray):
        key = (threads, filters.strides)
        if key not in self._made:
            points, tiles = self.points, self.block * self.tiles_w
            V, M = aligned_empty((threads, points, tiles, self.C)), aligned_empty((threads, points, tiles, self.K))
            handles = np.zeros((threads, 2, 6), dtype=np.int64)
            matmuls = []
            share = -(-self.rows // threads)
            for th in range(threads):
                own = max(0, min(self.rows, (th + 1) * share) - th * share)
                for which, block_rows in enumerate((self.block, own % self.block or self.block)):
                    t = block_rows * self.tiles_w
                    a = torch.from_numpy(V[th].reshape(-1)[:points * t * self.C].reshape(points, t, self.C))
                    out = torch.from_numpy(M[th].reshape(-1)[:points * t * self.K].reshape(points, t, self.K))
                    matmuls.append(onednn_matmul.OneThreadMatmul(a, torch.from_numpy(filters), out))
                    handles[th, which] = matmuls[-1].handles
            self._made[key] = (V, M, handles, matmuls)
        return self._made[key][:3]

    def __call__(self, x, xh, yh, filters: np.ndarray, out, pad: tuple[int, int]) -> None:
        """out = the forward of x with the transformed filters (points, C, K) (any strides), as the staged
        call computes it; xh and yh are the plan's channels-last copies (transforms.input_source, output_sink)."""
        V, M, handles = self._for(torch.get_num_threads(), filters)
        m = self.tile
        _region(m)(input_source(m, x, xh, pad), output_sink(m, out, yh), V, M, filters.ctypes.data,
                   self.tiles_h, self.tiles_w, self.rows, self.block, *pad, handles)
        finish_output(m, yh, out)
