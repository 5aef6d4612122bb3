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

Layers whose filters run by blocks (selection.winograd_filter_block) split the filters instead: each thread
takes its share of them, block by block through the filter transform, a one-thread matmul with every tile's
transform (made before the region, read by both) and the output transform of its own channels (row
winograd-filters-by-threads).

The filter gradient goes the same way: each thread transforms its own blocks of x and dy and sums their
products into a Z of its own (an accumulating primitive); the threads' Z are added after the region.
"""
from __future__ import annotations

from functools import lru_cache

import llvmlite.binding as llvm
import numpy as np
import torch
from numba import njit, prange, types

from convbench.core.arrays import aligned_empty
from convbench.core.errors import ConvError

from .. import onednn_matmul
from ..peers import dnnl_library as library
from .filter_gradient import filter_gradient_transform
from .kernels import (OUTPUT_TO_NCHW, filter_transform_2, filter_transform_4, filter_transform_6,
                      gradient_transform_2, gradient_transform_4, gradient_transform_6, input_transform_2,
                      input_transform_4, input_transform_6, output_transform_2, output_transform_4,
                      output_transform_6)
from .transforms import finish_output, input_source, output_sink

PRIMITIVE, STREAM, MEMORY_A, MEMORY_B, MEMORY_OUT, ARGUMENTS = range(6)

# libdnnl's calls, by symbol: LLVM resolves them when it loads a region (linked() loads the library for it),
# so the regions carry no address of this process and Numba caches them
_set_data_handle = types.ExternalFunction("dnnl_memory_set_data_handle", types.int32(types.int64, types.int64))
_execute = types.ExternalFunction("dnnl_primitive_execute",
                                  types.int32(types.int64, types.int64, types.int32, types.int64))
_wait = types.ExternalFunction("dnnl_stream_wait", types.int32(types.int64))


@lru_cache(maxsize=1)
def linked() -> None:
    """libdnnl's symbols made visible to the code Numba loads (ctypes loaded it for this module's callers only):
    the library ctypes loaded, by the same name (a search for "dnnl" could find oneDNN 3 beside it)."""
    llvm.load_library_permanently(library.SONAME)


def leading(buffer: np.ndarray, points: int, tiles: int, columns: int) -> np.ndarray:
    """The first points·tiles·columns floats of a thread's buffer, as (points, tiles, columns): a block's
    transform, whatever the block's length."""
    return buffer.reshape(-1)[:points * tiles * columns].reshape(points, tiles, columns)


_leading = njit(cache=True)(leading)


@njit(cache=True)
def own_rows(rows: int, threads: int, th: int) -> tuple[int, int]:
    """(first, last + 1) of thread th's rows of tiles: a share each, the last ones shorter or empty. The regions
    split by it, and the primitives for each thread's short last block are made by it."""
    share = -(-rows // threads)
    return min(rows, th * share), min(rows, (th + 1) * share)


@njit(cache=True)
def _multiply(h, a, b, out) -> int:
    """out = a @ b (or += with an accumulating primitive) by the primitive h names, on this thread; the last
    nonzero status of libdnnl's calls, else 0."""
    status = 0
    for code in (_set_data_handle(h[MEMORY_A], a), _set_data_handle(h[MEMORY_B], b),
                 _set_data_handle(h[MEMORY_OUT], out), _execute(h[PRIMITIVE], h[STREAM], 3, h[ARGUMENTS]),
                 _wait(h[STREAM])):
        if code:
            status = code
    return status


@njit(cache=True)
def _input(m, src, V, tiles_h, tiles_w, first, last, pad_h, pad_w):
    if m == 2:
        input_transform_2(src, V, tiles_h, tiles_w, first, last, pad_h, pad_w)
    elif m == 4:
        input_transform_4(src, V, tiles_h, tiles_w, first, last, pad_h, pad_w)
    else:
        input_transform_6(src, V, tiles_h, tiles_w, first, last, pad_h, pad_w)


@njit(cache=True)
def _output(m, M, dst, tiles_h, tiles_w, first, last):
    if m == 2:
        output_transform_2(M, dst, tiles_h, tiles_w, first, last)
    elif m == 4:
        output_transform_4(M, dst, tiles_h, tiles_w, first, last)
    else:
        output_transform_6(M, dst, tiles_h, tiles_w, first, last)


@njit(cache=True)
def _dy(m, dy, D, tiles_h, tiles_w, first, last):
    if m == 2:
        gradient_transform_2(dy, D, tiles_h, tiles_w, first, last)
    elif m == 4:
        gradient_transform_4(dy, D, tiles_h, tiles_w, first, last)
    else:
        gradient_transform_6(dy, D, tiles_h, tiles_w, first, last)


@njit(cache=True)
def _filters(m, w, k0, U, flipped):
    if m == 2:
        filter_transform_2(w, k0, U, flipped)
    elif m == 4:
        filter_transform_4(w, k0, U, flipped)
    else:
        filter_transform_6(w, k0, U, flipped)


@njit(parallel=True, cache=True)
def rows_by_thread(m, src, dst, V, M, filters, tiles_h, tiles_w, rows, block, pad_h, pad_w, handles, status):
    """Thread share th of the rows of tiles, block by block, tile m: V[th] (points, tiles, C) and M[th] (points,
    tiles, K) its buffers, handles[th, 0] its primitive for a whole block, handles[th, 1] for its last;
    status[th] the last nonzero status libdnnl gave it (0: none). The transforms' kernels, called in the
    region, run on the calling thread alone (nested)."""
    threads, points, C, K = V.shape[0], V.shape[1], V.shape[3], M.shape[3]
    for th in prange(threads):
        own_first, last_row = own_rows(rows, threads, th)
        for first in range(own_first, last_row, block):
            last = min(last_row, first + block)
            tiles = (last - first) * tiles_w
            Vb, Mb = _leading(V[th], points, tiles, C), _leading(M[th], points, tiles, K)
            _input(m, src, Vb, tiles_h, tiles_w, first, last, pad_h, pad_w)
            code = _multiply(handles[th, 0 if last - first == block else 1], Vb.ctypes.data, filters,
                             Mb.ctypes.data)
            if code:
                status[th] = code
            _output(m, Mb, dst, tiles_h, tiles_w, first, last)


@njit(parallel=True, cache=True)
def gradient_rows_by_thread(m, src, dy, V, D, Z, tiles_h, tiles_w, rows, block, pad_h, pad_w, handles, status):
    """Z[th] (points, K, C) = the sum over thread th's share of the tiles of D_t^T V_t, block by block: V[th]
    and D[th] its buffers, handles[th, 2 * short + added] its primitives (short: for its last block, shorter
    than a whole one; added: adding to what Z[th] holds, after its first block); status as rows_by_thread's."""
    threads, points, C, K = V.shape[0], V.shape[1], V.shape[3], D.shape[3]
    for th in prange(threads):
        own_first, last_row = own_rows(rows, threads, th)
        if own_first == last_row:
            Z[th].reshape(-1)[:] = 0  # no rows: nothing to add
        for first in range(own_first, last_row, block):
            last = min(last_row, first + block)
            tiles = (last - first) * tiles_w
            Vb, Db = _leading(V[th], points, tiles, C), _leading(D[th], points, tiles, K)
            _input(m, src, Vb, tiles_h, tiles_w, first, last, pad_h, pad_w)
            _dy(m, dy, Db, tiles_h, tiles_w, first, last)
            code = _multiply(handles[th, 2 * (last - first != block) + (first > own_first)], Db.ctypes.data,
                             Vb.ctypes.data, Z[th].ctypes.data)
            if code:
                status[th] = code


@njit(parallel=True, cache=True)
def filters_by_thread(m, w, flipped, src, V, U, M, dst, channels_last, tiles_h, tiles_w, rows, block, pad_h, pad_w,
                      handles, status):
    """Thread share th of the filters (output channels), block by block: each block's filter transform into U[th]
    (points, block, C), its products with every tile's transform into M[th] (points, tiles, block) and their
    output transform into the block's channels of dst (NCHW, or channels-last where channels_last).
    V (1, ...): the input transform, made before the region and read by every thread; V (threads, ...): each
    thread makes its own copy of it first. handles and status as rows_by_thread's, over blocks of filters."""
    threads, points, C = U.shape[0], U.shape[1], U.shape[3]
    K = w.shape[1] if flipped else w.shape[0]
    own_input = V.shape[0] > 1
    for th in prange(threads):
        own_first, last_k = own_rows(K, threads, th)
        which = th * own_input  # its own transform, or the one all share
        Vt = V[which]
        if own_input and own_first < last_k:
            _input(m, src, Vt, tiles_h, tiles_w, 0, rows, pad_h, pad_w)
        for k0 in range(own_first, last_k, block):
            k1 = min(last_k, k0 + block)
            Ub, Mb = _leading(U[th], points, k1 - k0, C), _leading(M[th], points, Vt.shape[1], k1 - k0)
            _filters(m, w, k0, Ub, flipped)
            code = _multiply(handles[th, 0 if k1 - k0 == block else 1], Vt.ctypes.data, Ub.ctypes.data,
                             Mb.ctypes.data)
            if code:
                status[th] = code
            if channels_last:
                _output(m, Mb, dst[:, :, :, k0:k1], tiles_h, tiles_w, 0, rows)
            else:
                _output(m, Mb, dst[:, k0:k1], tiles_h, tiles_w, 0, rows)


def check(status: np.ndarray) -> None:
    """A ConvError where a thread's libdnnl call in a region failed: what it computed is not to be used."""
    if status.any():
        raise ConvError(f"oneDNN 2's matmul failed inside a Winograd call (dnnl_status_t by thread: "
                        f"{status.tolist()}; expected 0, dnnl_success, from every call)")


class RowsByThread:
    """One plan's buffers and primitives for the two regions, made for the pool's thread count (and the
    forward's for the filters' strides) on the first call that meets them."""

    def __init__(self, tile: int, points: int, C: int, K: int, tiles_h: int, tiles_w: int, rows: int, block: int):
        self.tile, self.points, self.C, self.K = tile, points, C, K
        self.tiles_h, self.tiles_w, self.rows, self.block = tiles_h, tiles_w, rows, block
        self._buffers = {}  # threads -> (V, M): each thread's transforms, and its products (or dy's transforms)
        self._primitives = {}  # (threads, filter strides or "gradient") -> (handles, the primitives they name)
        self._sums = {}  # threads -> (each thread's Z, their sum)

    def _for(self, threads: int):
        if threads not in self._buffers:
            tiles = self.block * self.tiles_w
            self._buffers[threads] = (aligned_empty((threads, self.points, tiles, self.C)),
                                      aligned_empty((threads, self.points, tiles, self.K)))
        return self._buffers[threads]

    def _handles(self, threads: int, kind, operands) -> np.ndarray:
        """handles[th, i] for the primitives operands(th, block rows, i) gives, i over each thread's variants:
        its whole blocks' and its short last block's, each as many as `kind` asks."""
        if (threads, kind) not in self._primitives:
            made = []
            variants = 2 if kind == "gradient" else 1
            handles = np.zeros((threads, 2 * variants, 6), dtype=np.int64)
            for th in range(threads):
                first, last = own_rows(self.rows, threads, th)
                for short, block_rows in enumerate((self.block, (last - first) % self.block or self.block)):
                    for i in range(variants):
                        made.append(onednn_matmul.OneThreadMatmul(*operands(th, block_rows * self.tiles_w, i)))
                        handles[th, short * variants + i] = made[-1].handles
            self._primitives[threads, kind] = (handles, made)
        return self._primitives[threads, kind][0]

    def forward(self, x, xh, yh, filters: np.ndarray, out, pad: tuple[int, int]) -> None:
        """out = the forward of x with the transformed filters (points, C, K) (any strides), as the staged
        call computes it; xh and yh are the plan's channels-last copies (transforms.input_source, output_sink)."""
        threads, m, (points, C, K) = torch.get_num_threads(), self.tile, (self.points, self.C, self.K)
        V, M = self._for(threads)
        handles = self._handles(threads, filters.strides, lambda th, tiles, _: (
            torch.from_numpy(leading(V[th], points, tiles, C)), torch.from_numpy(filters),
            torch.from_numpy(leading(M[th], points, tiles, K))))
        status = np.zeros(threads, dtype=np.int64)
        linked()
        rows_by_thread(m, input_source(m, x, xh, pad), output_sink(m, out, yh), V, M, filters.ctypes.data,
                       self.tiles_h, self.tiles_w, self.rows, self.block, *pad, handles, status)
        check(status)
        finish_output(m, yh, out)

    def filter_gradient(self, x, xh, dy, taps, pad: tuple[int, int]) -> None:
        """taps (K, C, 9) = the filter gradient of x and dy, as the staged pass computes it."""
        threads, m, (points, C, K) = torch.get_num_threads(), self.tile, (self.points, self.C, self.K)
        V, D = self._for(threads)
        if threads not in self._sums:
            self._sums[threads] = (aligned_empty((threads, points, K, C)), aligned_empty((points, K, C)))
        Z, total = self._sums[threads]
        handles = self._handles(threads, "gradient", lambda th, tiles, added: (
            torch.from_numpy(leading(D[th], points, tiles, K)).transpose(1, 2),
            torch.from_numpy(leading(V[th], points, tiles, C)), torch.from_numpy(Z[th]), bool(added)))
        status = np.zeros(threads, dtype=np.int64)
        linked()
        gradient_rows_by_thread(m, input_source(m, x, xh, pad), dy, V, D, Z, self.tiles_h, self.tiles_w, self.rows,
                                self.block, *pad, handles, status)
        check(status)
        torch.sum(torch.from_numpy(Z), 0, out=torch.from_numpy(total))
        filter_gradient_transform(m, total, taps, 0)


class FiltersByThread:
    """One plan's buffers and primitives for filters_by_thread, made for the pool's thread count on the first
    call that meets it. own_input: each thread makes its own input transform (else the plan's, made before)."""

    def __init__(self, tile: int, points: int, C: int, K: int, tiles_h: int, tiles_w: int, rows: int, block: int,
                 own_input: bool):
        self.tile, self.points, self.C, self.K = tile, points, C, K
        self.tiles_h, self.tiles_w, self.rows, self.block, self.own_input = tiles_h, tiles_w, rows, block, own_input
        self._made = {}  # threads -> (V or None, U, M, handles, the primitives they name)

    def _for(self, threads: int, V_shared: np.ndarray):
        if threads not in self._made:
            points, C, K, tiles = self.points, self.C, self.K, self.rows * self.tiles_w
            V = aligned_empty((threads, points, tiles, C)) if self.own_input else None
            U, M = aligned_empty((threads, points, self.block, C)), aligned_empty((threads, points, tiles, self.block))
            made, handles = [], np.zeros((threads, 2, 6), dtype=np.int64)
            for th in range(threads):
                first, last = own_rows(K, threads, th)
                a = torch.from_numpy(V[th] if self.own_input else V_shared)
                for short, block in enumerate((self.block, (last - first) % self.block or self.block)):
                    made.append(onednn_matmul.OneThreadMatmul(
                        a, torch.from_numpy(leading(U[th], points, block, C)).transpose(1, 2),
                        torch.from_numpy(leading(M[th], points, tiles, block))))
                    handles[th, short] = made[-1].handles
            self._made[threads] = (V, U, M, handles, made)
        return self._made[threads][:4]

    def forward(self, x, xh, yh, V_shared: np.ndarray, w: np.ndarray, flipped: bool, out, pad: tuple[int, int]):
        """out = the forward of x with the filters w (flipped: the data gradient's, as filter_transform_block
        reads them), as the plan's call by blocks of filters computes it; V_shared: the plan's input transform,
        made (unless own_input) before this call."""
        threads, m = torch.get_num_threads(), self.tile
        V, U, M, handles = self._for(threads, V_shared)
        src = input_source(m, x, xh, pad) if self.own_input else x
        status = np.zeros(threads, dtype=np.int64)
        linked()
        filters_by_thread(m, w, flipped, src, V_shared[None] if V is None else V, U, M, output_sink(m, out, yh),
                          m not in OUTPUT_TO_NCHW, self.tiles_h, self.tiles_w, self.rows, self.block, *pad, handles,
                          status)
        check(status)
        finish_output(m, yh, out)
