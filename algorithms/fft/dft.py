"""Pruned DFTs as matrix products: from the data's support straight to the retained block.

A 7x7 filter on a 63x63 grid is 49 numbers; an FFT of the whole mostly-zero
plane computes 63*32 coefficients from it, most of which band-limiting then
drops. Here the transform is two matrix products over the support only,

    spectrum[u, v] = sum_r sum_s planes[r, s] * exp(-2 pi i (u (top + r) / Lh + v (left + s) / Lw))

for the retained rows u and columns v alone, so its work and memory shrink with
the compression and with the support, and the padding offset is a phase.
The products run on BLAS, and the result comes out already laid out as one
(B,) vector per retained frequency, as the contraction wants it.

The second product, (retained rows x h) complex times (h x n_cols·B) complex, has a thin inner side
and a wide output. Where the GEMMs run on oneDNN 2 (which has no complex matmul) it is one real GEMM
instead: [Re A | Im A] (rows x 2h) times the h data rows as interleaved (re, im) floats stacked over
the same rows times i, (2h x 2 n_cols·B), whose output is the interleaved complex result. The first
product gives the rows times i from a third block of its matrix (-Im), and a second interleave lays
them out; what it costs is that product's output, half as large again, and twice the scratch for it
(convbench.core.selection.dft_rows_as_real_gemm; results/records/implementation-choices.json, row
dft-rows-as-one-real-gemm). The inverse's first product, (P x n_rows)(n_rows x n_cols·B), is the same
way [Re A; Im A] times the spectrum's floats, then Re(A)Y + i Im(A)Y in one pass.

Where the contraction takes X's split planes (each frequency's real (N x C) over its imaginary one), the
input's DFT writes them itself (split=True) and no pass interleaves: the first product's matrix has a
fourth block, ordered so that its output holds each data row's D as (v, [re, im], B) and i·D as
(v, [-im, re], B), and the second product, the rows' DFT with its columns paired (Re A with D, Im A with
i·D), then writes (u, v, [re, im], B): split planes, frequency by frequency (results/records/
implementation-choices.json, row fft-input-dft-to-split-planes).
"""
from __future__ import annotations

import numpy as np
import torch

from convbench.core.arrays import aligned_empty
from convbench.core.selection import dft_reads_planes_in_place, dft_rows_as_real_gemm, gemm_writes_strided_output

from .. import blas
from ..blas import copy, interleave, matmul
from ..work import COMPLEX, gemm_flops
from ..padding import inside
from ..scratch import Scratch
from .bandlimit import Band, hermitian_weights

HALF, MIXED = 0, 1  # the two scratch slots: a half-transformed block, and its re-laid-out copy


def even_blocks(count: int, most: int):
    """(start, stop) over range(count) in as few blocks of at most `most` as cover it, their sizes within one
    of each other: 45 rows at most 22 a block are 15 + 15 + 15, not 22 + 22 + 1, whose one-row GEMM ran
    at a tenth of the others' rate."""
    blocks = -(-count // max(most, 1))
    edges = [count * i // blocks for i in range(blocks + 1)] if count else [0]
    return list(zip(edges[:-1], edges[1:]))


def dft_matrix(length: int, frequencies, positions, sign: float = -1.0) -> np.ndarray:
    """exp(sign * 2 pi i * frequency * position / length), float64 accuracy, as complex128."""
    phase = np.outer(np.asarray(frequencies, dtype=np.int64), np.asarray(positions, dtype=np.int64)) % length
    return np.exp(sign * 2j * np.pi * phase / length)


def support_dft_flops(batch: int, rows: int, cols: int, n_rows: int, n_cols: int) -> float:
    """SupportDFT's two products on `batch` planes of rows x cols: (B·h x w)(w x 2 n_cols) real, then
    (n_rows x h)(h x n_cols·B) complex."""
    return gemm_flops(batch * rows, 2 * n_cols, cols) + gemm_flops(n_rows, n_cols * batch, rows, complex_=True)


class SupportDFT:
    """Real planes (B, h, w) at (top, left) of the Lh x Lw grid -> (F, B) complex64 on the retained block.

    `conjugate` returns the conjugate spectrum and `scale` multiplies it: both
    are folded into the matrices, so the filter spectrum comes out ready for
    cross-correlation at no extra pass.
    """

    def __init__(self, band: Band, batch: int, plane_shape, offset=(0, 0), conjugate=False, scale=1.0,
                 scratch: Scratch | None = None, step=(1, 1), whole=True, split=False, flat_planes=True):
        """step: the planes' rows and columns sit step apart on the grid (a dilated filter's taps).
        whole=False: no buffer for the whole spectrum (__call__'s), for a caller that takes it by blocks
        (columns() then column_block()) into its own.
        split=True: the spectrum as split planes, float32 (n_rows·n_cols, 2, B), each frequency's real B
        values over its imaginary ones, straight from two real GEMMs with no interleaving pass (below).
        flat_planes: the planes come as one (B, H, W) array, which the first product may read in place
        (columns()); False: on other leading axes (the filter stage's (c, k) view of w), always laid out first."""
        Lh, Lw = band.grid
        top, left = offset
        self.rows_used = inside(plane_shape[0], Lh, top, step[0])
        self.cols_used = inside(plane_shape[1], Lw, left, step[1])
        sign = 1.0 if conjugate else -1.0
        n_cols = band.n_cols
        self.split = split
        self.rows_as_real = split or dft_rows_as_real_gemm(blas.engine())
        columns = dft_matrix(Lw, np.arange(n_cols), left + step[1] * np.arange(self.cols_used), sign)  # (n_cols, w)
        rows = dft_matrix(Lh, band.rows, top + step[0] * np.arange(self.rows_used), sign) * scale  # (n_rows, h)
        if split:
            # the first product's rows ordered (j, v, part): each data row's spectrum D as (v, [re, im]) and
            # i·D as (v, [-im, re]), so its output, read as (2h) rows of (n_cols, 2, B), is the second
            # product's right operand as it stands; the DFT's columns (r, j) pair Re A with D, Im A with i·D
            parts = np.stack([np.stack([columns.real, columns.imag], axis=1),
                              np.stack([-columns.imag, columns.real], axis=1)])  # (2, n_cols, 2, w)
            self._columns = np.ascontiguousarray(parts.reshape(4 * n_cols, -1), dtype=np.float32)
            self._block_columns = {}  # (start, stop): the rows of _columns for those columns (split_column_blocks)
            self._rows = np.ascontiguousarray(np.stack([rows.real, rows.imag], axis=-1).reshape(len(rows), -1),
                                              dtype=np.float32)
        else:
            # real input: one real GEMM against [Re; Im] of the column DFT gives both parts at once (and -Im,
            # the imaginary part's share of the rows times i, where the second product is real)
            parts = [columns.real, columns.imag] + ([-columns.imag] if self.rows_as_real else [])
            self._columns = np.ascontiguousarray(np.vstack(parts), dtype=np.float32)
            self._rows = np.ascontiguousarray(np.hstack([rows.real, rows.imag]) if self.rows_as_real else rows,
                                              dtype=np.float32 if self.rows_as_real else np.complex64)
        self.batch, self.n_cols, self.n_rows = batch, n_cols, band.n_rows
        # temporaries from scratch shared with the plan's other stages
        self._scratch = scratch or Scratch()
        stacked = 2 if self.rows_as_real else 1  # the data rows, and those times i
        self._by_row_shape = (self.rows_used, self.cols_used, batch)
        self._half_shape = (self.rows_used, self._columns.shape[0], batch)
        self._mixed_shape = (stacked * self.rows_used, n_cols, batch)
        self.reads_in_place = flat_planes and dft_reads_planes_in_place(self.cols_used)
        if not self.reads_in_place:  # free again once the first product has read it
            self._scratch.reserve(MIXED, self._by_row_shape, np.float32)
        self._scratch.reserve(HALF, self._half_shape, np.float32)
        if not split:  # split's first product is the second's operand as it stands
            self._scratch.reserve(MIXED, self._mixed_shape, np.complex64)
        self.spectrum = None
        if whole:  # (n_rows, n_cols·B) complex64, or its split planes (n_rows, n_cols·2·B) float32
            self.spectrum = aligned_empty((self.n_rows, n_cols * batch * (2 if split else 1)),
                                     dtype=np.float32 if split else np.complex64)

    @property
    def flops(self) -> float:
        """The two products (support_dft_flops)."""
        return support_dft_flops(self.batch, self.rows_used, self.cols_used, self.n_rows, self.n_cols)

    @property
    def first_product_bytes(self) -> int:
        """columns()' output, (h, n_cols·B) complex64, twice that with rows_as_real or split: what rows()
        reads, whichever block of rows it makes."""
        return int(np.prod(self._mixed_shape)) * COMPLEX

    def __call__(self, planes: np.ndarray) -> np.ndarray:
        """planes: float32 (B, H, W) with H >= rows used, W >= cols used, or a view with the B planes on
        its leading axes (columns()). Returns (n_rows * n_cols, B), or with split (n_rows * n_cols, 2, B)."""
        self.rows(self.columns(planes), 0, self.n_rows, self.spectrum)
        return self.spectrum.reshape(-1, 2, self.batch) if self.split else self.spectrum.reshape(-1, self.batch)

    def columns(self, planes: np.ndarray) -> np.ndarray | None:
        """The first product, each data row's DFT on the retained columns, laid out (h, n_cols·B) for
        rows() (with rows_as_real, (2h, n_cols·B): the same rows times i below them): in the scratch's
        MIXED slot, valid until its next user (with split, float32 (2h, n_cols·2·B): each data row's
        split planes, then those times i, in the HALF slot). None when no data reaches the grid
        (padding so large), whose spectrum is zero.

        planes: (B, H, W), or any array whose last two axes are (H, W) and whose leading axes, in
        order, are the B planes (a transposed view of the filters is read as it is, not copied first).

        The planes are read as (h, w, B) (laid out so first, or in place where they are wide: _by_row), so
        that the product, one (2 n_cols x w)(w x B) GEMM per data row, writes each frequency's B values
        contiguous, and its real and imaginary parts are interleaved by a streaming pass; the planes'
        (B·h x w)(w x 2 n_cols) product took two transposing copies of its output, which is n_cols/w times
        the planes' size and more (results/records/implementation-choices.json, row support-dft-planes-last)."""
        h, w, B, nc = self.rows_used, self.cols_used, self.batch, self.n_cols
        if h == 0 or w == 0:
            return None
        by_row = self._by_row(planes)
        half = self._scratch.view(HALF, self._half_shape, np.float32)
        matmul(self._columns, by_row, out=half)
        if self.split:  # (h, [D; i·D] as (n_cols, 2, B)) is (2h) rows of interleaved-by-part floats
            return half.reshape(2 * h, -1)
        mixed = self._scratch.view(MIXED, self._mixed_shape, np.complex64)
        interleave(half[:, :nc], half[:, nc:2 * nc], out=mixed[:h])
        if self.rows_as_real:  # i·(re + i im) = -im + i re
            interleave(half[:, 2 * nc:], half[:, :nc], out=mixed[h:])
        return mixed.reshape(-1, nc * B)

    def _by_row(self, planes: np.ndarray) -> np.ndarray:
        """The planes as the first product reads them, (h, w, B): (B, H, W) planes at least
        DFT_PLANES_IN_PLACE_FROM columns wide read in place, transposed; else laid out in the scratch's MIXED
        slot (results/records/implementation-choices.json, row dft-planes-read-in-place)."""
        h, w, lead = self.rows_used, self.cols_used, planes.ndim - 2
        if self.reads_in_place:  # a view of the flat planes flat_planes promised (a copy of any others)
            return planes.reshape(-1, *planes.shape[-2:])[:, :h, :w].transpose(1, 2, 0)
        by_row = self._scratch.view(MIXED, self._by_row_shape, np.float32)
        copy(by_row.reshape(h, w, *planes.shape[:lead]), planes[..., :h, :w].transpose(lead, lead + 1, *range(lead)))
        return by_row

    def split_column_blocks(self, planes: np.ndarray, columns: int, memory: np.ndarray):
        """With split: the spectrum's split planes a block of at most `columns` retained columns at a time, every
        retained row: yields (start, stop, block), block float32 (n_rows, stop - start, 2, B), each frequency's
        real B values over its imaginary ones, over the first bytes of memory (a flat float32 buffer). Each
        block's first product is its own, the rows of _columns for its columns alone, so no product of every
        column goes through memory; and no pass interleaves the parts (results/records/
        implementation-choices.json, row fft-filter-spectrum-as-split-planes)."""
        h, w, B, n_rows = self.rows_used, self.cols_used, self.batch, self.n_rows
        blocks = even_blocks(self.n_cols, columns)
        if h == 0 or w == 0:  # no data reaches the grid: a zero spectrum
            for start, stop in blocks:
                block = memory[:n_rows * (stop - start) * 2 * B].reshape(n_rows, stop - start, 2, B)
                block[...] = 0
                yield start, stop, block
            return
        by_row = self._by_row(planes)
        for start, stop in blocks:
            width = stop - start
            if (start, stop) not in self._block_columns:  # rows (j, v, part) of the block's columns v
                parts = self._columns.reshape(2, self.n_cols, 2, w)[:, start:stop]
                self._block_columns[start, stop] = np.ascontiguousarray(parts.reshape(4 * width, w))
            half = self._scratch.view(HALF, (h, 4 * width, B), np.float32)
            matmul(self._block_columns[start, stop], by_row, out=half)
            block = memory[:n_rows * width * 2 * B].reshape(n_rows, width, 2, B)
            matmul(self._rows, half.reshape(2 * h, -1), out=block.reshape(n_rows, -1))
            yield start, stop, block

    def rows(self, mixed: np.ndarray, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """Retained rows start..stop of the spectrum from columns()' product, into out
        (stop - start, n_cols·B): frequencies start·n_cols .. stop·n_cols of __call__'s (F, B). Zeros
        where columns() gave None (no data reaches the grid)."""
        if mixed is None:
            out[...] = 0
            return out
        if self.rows_as_real:
            matmul(self._rows[start:stop], mixed.view(np.float32), out=out.view(np.float32))
            return out
        return matmul(self._rows[start:stop], mixed, out=out)

    def by_column_blocks(self, planes: np.ndarray, columns: int, memory: np.ndarray):
        """The spectrum of planes (as columns() takes them) a block of at most `columns` retained columns at a
        time, every retained row: yields (start, stop, block), block the (n_rows, (stop - start)·B) spectrum
        of columns start..stop, written over the first bytes of memory (a flat complex64 buffer), where the
        last block was. Every block is computed from one first product, reading only its own columns."""
        mixed = self.columns(planes)
        for start, stop in even_blocks(self.n_cols, columns):
            block = memory[:self.n_rows * (stop - start) * self.batch].reshape(self.n_rows, -1)
            yield start, stop, self.column_block(mixed, start, stop, block)

    def column_block(self, mixed: np.ndarray, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """Retained columns start..stop of the spectrum, every retained row, from columns()' product, into
        out (n_rows, (stop - start)·B): the product reads only those columns of mixed. Zeros where
        columns() gave None."""
        if mixed is None:
            out[...] = 0
            return out
        B = self.batch
        if self.rows_as_real:
            matmul(self._rows, mixed.view(np.float32)[:, 2 * start * B:2 * stop * B], out=out.view(np.float32))
            return out
        return matmul(self._rows, mixed[:, start * B:stop * B], out=out)


class InverseSupportDFT:
    """(F, B) spectra on the retained block -> real (B, P, Q) outputs, evaluated only
    at the rows p*stride_h and columns q*stride_w that the convolution keeps.

    Rows first, a complex GEMM: Z[p, (v, b)] = sum_i Y[(i, v), b] exp(+2 pi i u_i p sh / Lh).
    Then columns, where the one-sided spectrum stands for its Hermitian twin:
    out[b, p, q] = sum_v a_v Re(Z[p, v, b] exp(+2 pi i v q sw / Lw)), a_v = 1 for
    DC and Nyquist, 2 otherwise: one real GEMM against [a cos; -a sin].
    Unnormalised, as FFTW's inverse: the filter spectrum carries 1/(Lh*Lw).

    split=True takes the spectrum as split planes, float32 (F, 2, B), each frequency's real B values
    over its imaginary ones (the forward's contraction on split planes writes them): the first product,
    [Re A; Im A] times the planes, gives Z's real and imaginary planes from one pass over its four parts,
    and the second reads them in place, transposed; no pass splits an interleaved Z (results/records/
    implementation-choices.json, row fft-inverse-from-split-planes).
    """

    def __init__(self, band: Band, batch: int, out_rows: int, out_cols: int, stride=(1, 1),
                 scratch: Scratch | None = None, offset=(0, 0), scale=1.0, split=False):
        """offset: the first row and column evaluated (the data-gradient reads the input's
        positions, at the padding); the caller keeps out_rows and out_cols on the grid. scale
        multiplies the outputs, folded into the matrices (no pass over the spectrum)."""
        Lh, Lw = band.grid
        n_cols = band.n_cols
        top, left = offset
        self.batch, self.n_rows, self.n_cols, self.P, self.Q = batch, band.n_rows, n_cols, out_rows, out_cols
        rows = dft_matrix(Lh, top + stride[0] * np.arange(out_rows), band.rows, sign=1.0) * scale  # (P, n_rows)
        # where the first product is real (dft_rows_as_real_gemm): [Re; Im] of the rows' DFT, stacked, times
        # the spectrum's interleaved floats gives Re(A)Y over Im(A)Y, and mixed = Re(A)Y + i Im(A)Y
        self.split = split
        self.rows_as_real = split or dft_rows_as_real_gemm(blas.engine())
        self._rows = np.ascontiguousarray(np.vstack([rows.real, rows.imag]) if self.rows_as_real else rows,
                                          dtype=np.float32 if self.rows_as_real else np.complex64)
        v = np.arange(n_cols)
        weight = hermitian_weights(Lw)[:n_cols, None]
        columns = dft_matrix(Lw, v, left + stride[1] * np.arange(out_cols), sign=1.0) * weight  # (n_cols, Q)
        self._columns = np.ascontiguousarray(np.vstack([columns.real, -columns.imag]), dtype=np.float32)  # (2 n_cols, Q)
        # mixed, then split, then the planes over mixed's memory, which split's copy has freed; or the
        # planes straight into the output, read as (P, B, Q) (selection.gemm_writes_strided_output)
        self.writes_in_place = gemm_writes_strided_output(blas.engine())
        self._scratch = scratch or Scratch()
        self._mixed_shape = (out_rows, n_cols * batch)
        self._split_shape = (out_rows, batch, 2 * n_cols)
        self._planes_shape = (out_rows, batch, out_cols)
        self._parts_shape = (2, out_rows, n_cols * batch)  # Re(A)Y and Im(A)Y, before split is written
        self._scratch.reserve(MIXED, self._mixed_shape, np.complex64)
        if not split:  # the interleaved Z split by two copies (split planes in need none)
            self._scratch.reserve(HALF, self._split_shape, np.float32)
        if not self.writes_in_place:  # the output's planes: over mixed, which split's copies have read; with
            # split=True over the parts, which the pass writing Z's planes has read (MIXED holds those)
            self._scratch.reserve(HALF if split else MIXED, self._planes_shape, np.float32)
        if self.rows_as_real:
            self._scratch.reserve(HALF, self._parts_shape, np.complex64)

    @property
    def flops(self) -> float:
        """(P x n_rows)(n_rows x n_cols·B) complex, then (P·B x 2 n_cols)(2 n_cols x Q) real."""
        B, nc = self.batch, self.n_cols
        return gemm_flops(self.P, nc * B, self.n_rows, complex_=True) + gemm_flops(self.P * B, self.Q, 2 * nc)

    def __call__(self, spectrum: np.ndarray, out: np.ndarray) -> None:
        """spectrum: (F, B) complex64 with F = n_rows * n_cols, or with split float32 (F, 2, B); out: float32
        (B, P, Q), written in place."""
        B, nc = self.batch, self.n_cols
        if self.split:
            return self._from_split_planes(spectrum, out)
        mixed = self._scratch.view(MIXED, self._mixed_shape, np.complex64)
        if self.rows_as_real:
            parts = self._scratch.view(HALF, self._parts_shape, np.complex64)
            matmul(self._rows, spectrum.reshape(self.n_rows, nc * B).view(np.float32),
                   out=parts.view(np.float32).reshape(2 * self.P, -1))
            torch.add(torch.from_numpy(parts[0]), torch.from_numpy(parts[1]), alpha=1j, out=torch.from_numpy(mixed))
        else:
            matmul(self._rows, spectrum.reshape(self.n_rows, nc * B), out=mixed)
        mixed = mixed.reshape(self.P, nc, B)
        split = self._scratch.view(HALF, self._split_shape, np.float32)
        copy(split[:, :, :nc], mixed.real.transpose(0, 2, 1))
        copy(split[:, :, nc:], mixed.imag.transpose(0, 2, 1))
        self._columns_product(split, out, MIXED)

    def _from_split_planes(self, spectrum: np.ndarray, out: np.ndarray) -> None:
        """__call__ on split planes: [Re A; Im A] times the planes (n_rows x n_cols·2·B) gives Re A Yr, Re A Yi
        over Im A Yr, Im A Yi; Z = A Y is Re A Yr - Im A Yi + i (Re A Yi + Im A Yr), written as its planes
        (P, [re, im], n_cols, B), which the second product reads transposed, (P, B, 2 n_cols), in place."""
        B, nc, P = self.batch, self.n_cols, self.P
        parts = self._scratch.view(HALF, self._parts_shape, np.complex64).view(np.float32).reshape(2, P, nc, 2, B)
        matmul(self._rows, spectrum.reshape(self.n_rows, -1), out=parts.reshape(2 * P, -1))
        planes = self._scratch.view(MIXED, self._mixed_shape, np.complex64).view(np.float32).reshape(P, 2, nc, B)
        by_part = torch.from_numpy(parts)
        torch.sub(by_part[0, :, :, 0], by_part[1, :, :, 1], out=torch.from_numpy(planes[:, 0]))
        torch.add(by_part[0, :, :, 1], by_part[1, :, :, 0], out=torch.from_numpy(planes[:, 1]))
        self._columns_product(planes.reshape(P, 2 * nc, B).transpose(0, 2, 1), out, HALF)

    def _columns_product(self, Z: np.ndarray, out: np.ndarray, slot: int) -> None:
        """out (B, P, Q) = Z's rows (P, B, 2 n_cols: real parts, then imaginary) times the columns' DFT:
        straight into out, read as (P, B, Q), where the engine writes strided outputs; else into the
        scratch's `slot`, then copied."""
        if self.writes_in_place:
            matmul(Z, self._columns, out=out.transpose(1, 0, 2))
            return
        planes = self._scratch.view(slot, self._planes_shape, np.float32)
        matmul(Z, self._columns, out=planes)
        copy(out, planes.transpose(1, 0, 2))
