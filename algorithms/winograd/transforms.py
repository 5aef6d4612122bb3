"""Winograd F(m x m, 3 x 3) on the CPU: the three transforms, for any tile from cook_toom.py.

Y = A^T [ (G g G^T) . (B^T d B) ] A  for a 3x3 filter g and an n x n input
tile d (n = m + 2), tiles overlapping by 2. The filter transform is one GEMM
with kron(G, G); the input and output transforms are Numba kernels unrolled
from the exact matrices, one per tile (kernels.py, written by codegen.py),
on channels-last data (a band of each row of tiles in cache, or a copy of the
whole input or output: codegen.py says which for which tile) so that they
vectorise over the channels: V and M are (n^2, tiles, channels).
"""
from __future__ import annotations

import numpy as np

from ..blas import copy, matmul
from ..layout import to_channels_first
from ..padding import embed_channels_last
from .kernels import FILTER_TRANSFORMS, INPUT_FROM_NCHW, INPUT_TRANSFORMS, OUTPUT_TO_NCHW, OUTPUT_TRANSFORMS


def filter_transform(w: np.ndarray, GG: np.ndarray, out: np.ndarray) -> np.ndarray:
    """U[i*n + j, k, c] = (G w[k, c] G^T)[i, j], laid out as n^2 (K, C) matrices.

    GG = kron(G, G), (n^2, 9). One (n^2, 9) x (9, K·C) GEMM: memory-bound, and
    BLAS streams it faster than a Numba loop or numpy's einsum
    (results/records/implementation-choices.json, row winograd-filter-transform-one-gemm).
    """
    K, C = w.shape[:2]
    matmul(GG, w.reshape(K * C, 9).T, out=out.reshape(GG.shape[0], K * C))
    return out


def filter_transform_channel_major(w: np.ndarray, GG: np.ndarray, out: np.ndarray,
                                   by_channel: np.ndarray) -> np.ndarray:
    """filter_transform's U laid out channel-major: out (n^2, C, K) holds each point's (C, K) matrix, and the
    (n^2, K, C) view returned is U. The contraction's GEMMs read U transposed, so they now read it as it lies
    (row winograd-filters-channel-major of results/records/implementation-choices.json). No groups.
    by_channel: a (C, K, 3, 3) buffer for w's channel-major copy, made on torch's pool (numpy's copy, on one
    thread, took longer than the GEMM on 256 x 256 filters)."""
    K, C = w.shape[:2]
    copy(by_channel, w.transpose(1, 0, 2, 3))
    matmul(GG, by_channel.reshape(C * K, 9).T, out=out.reshape(GG.shape[0], C * K))
    return out.transpose(0, 2, 1)


def flipped_filter_transform(w: np.ndarray, GG_reversed: np.ndarray, out: np.ndarray) -> np.ndarray:
    """filter_transform of gradients.DataGradient.flipped(w) (no groups), w the forward's (K, C, 3, 3): the
    flipped filter's tap t is w's tap 8 - t, so GG_reversed, kron(G, G) with its columns reversed, meets w's
    taps as they lie, and the product comes out (n^2, K, C), each point's matrix the transpose of the (C, K)
    one wanted. out: (n^2, K, C); returns its (n^2, C, K) transposed view, which the contraction reads in place."""
    filter_transform(w, GG_reversed, out)
    return out.transpose(0, 2, 1)


def filter_transform_block(m: int, w, k0: int, out, flipped: bool = False) -> None:
    """out[i*n + j, kk, c] = (G w[k0 + kk, c] G^T)[i, j], for the filters k0 .. k0 + out.shape[1] - 1: one block
    of the transform, written where the next GEMM reads it while it is in cache. The tile-m kernel of
    kernels.py (codegen.py): each filter's nine taps laid out tap-major (9, C), so the sums run over
    contiguous channels; G applied to the columns, then the rows (half the multiplies of kron(G, G): row
    winograd-filter-transform-separable of results/records/implementation-choices.json), unrolled from the
    exact matrix (a loop over G's entries, an accumulator loaded and stored for each term, took 1.35-1.87x
    as long: row winograd-filter-block-kernel-unrolled).
    flipped: w is the forward's (C, K, 3, 3) filter of the convolution whose data gradient this is, and the
    transform's filter k, channel c, is w[c, k] flipped (gradients.DataGradient.flipped, not copied)."""
    FILTER_TRANSFORMS[m](w, k0, out, flipped)


def input_source(m: int, x, xh, pad: tuple[int, int]):
    """What the tile-m input kernel reads: x itself (m in INPUT_FROM_NCHW), or xh, x copied channels-last
    into the padded (N, rows, cols, C) by torch, whose strided copies are parallel (xh's border stays zero;
    None for the tiles that read x)."""
    if m in INPUT_FROM_NCHW:
        return x
    embed_channels_last(x, xh, *pad)
    return xh


def input_transform(m: int, x, xh, V, tiles_h: int, tiles_w: int, pad: tuple[int, int]) -> None:
    """V[i*n + j, t, c] = (B^T d B)[i, j] for tile t = (b, ty, tx), d the n x n tile at (m*ty, m*tx)
    of x (N, C, H, W) zero-padded by pad, tiles_h x tiles_w tiles an image."""
    transform_tile_rows(m, input_source(m, x, xh, pad), V, tiles_h, tiles_w, 0, x.shape[0] * tiles_h, pad)


def transform_tile_rows(m: int, src, V, tiles_h: int, tiles_w: int, first: int, last: int,
                        pad: tuple[int, int]) -> None:
    """V[i*n + j, t, c] as input_transform writes it, for the rows of tiles first .. last - 1 (a row is
    one image's tiles at one height) of src (input_source's), t counted from the first row's first tile."""
    INPUT_TRANSFORMS[m](src, V, tiles_h, tiles_w, first, last, *pad)


def output_sink(m: int, out, yh):
    """What the tile-m output kernel writes: out itself (m in OUTPUT_TO_NCHW), or its channels-last yh
    (N, P, Q, K), which finish_output copies to out."""
    return out if m in OUTPUT_TO_NCHW else yh


def finish_output(m: int, yh, out) -> None:
    """yh copied to out's NCHW where the tile-m output kernel wrote yh (output_sink); nothing otherwise."""
    if m not in OUTPUT_TO_NCHW:
        to_channels_first(yh, out)


def output_transform(m: int, M, yh, out, tiles_h: int, tiles_w: int) -> None:
    """out[b, k, m*ty + i, m*tx + j] = (A^T M[:, t, k] A)[i, j], cropped to out (N, K, P, Q); through the
    channels-last yh where output_sink says so."""
    inverse_tile_rows(m, M, output_sink(m, out, yh), tiles_h, tiles_w, 0, out.shape[0] * tiles_h)
    finish_output(m, yh, out)


def inverse_tile_rows(m: int, M, dst, tiles_h: int, tiles_w: int, first: int, last: int) -> None:
    """The outputs of the rows of tiles first .. last - 1 into dst (output_sink's), from M holding their
    products (t counted from the first row's first tile), as output_transform writes them."""
    OUTPUT_TRANSFORMS[m](M, dst, tiles_h, tiles_w, first, last)
