"""Winograd F(3x3, m x m) for the filter gradient on the CPU (Lavin & Gray, section 5): its two transforms.

dw[k, c] = sum over tiles t of A'^T [ (G' dy_t G'^T) . (B^T x_t B) ] A', where dy_t is the m x m block of dy
that tile t's outputs received; G' (n x m) and A'^T (3 x n) are F(3, m)'s matrices from the forward's points.
gradient_transform writes G' dy_t G'^T point-major, (n^2, tiles, K), as the forward's input transform writes
V; the sum over tiles is then one (K x tiles)(tiles x C) GEMM per point, Z; filter_gradient_transform applies
A' to Z straight into dw's (K, C, 3, 3) layout. Both are kernels generated per tile, as the forward's
transforms are (codegen.py writes them into kernels.py): they run over contiguous channels, so they
vectorise, with the matrices' zeros and ones folded in. (One GEMM with kron(A', A') in their place read Z,
(n^2, K, C), through memory and ran narrow: results/records/implementation-choices.json, row
winograd-filter-gradient-kernels.)
"""
from __future__ import annotations

from .kernels import FILTER_GRADIENT_TRANSFORMS, GRADIENT_TRANSFORMS


def gradient_transform(m: int, dy, D, tiles_h: int, tiles_w: int, first: int, last: int) -> None:
    """D[i*n + j, t, k] = (G' d G'^T)[i, j] for the m x m block d at (m*ty, m*tx) of dy (N, K, P, Q), zero
    beyond it, for the rows of tiles first .. last - 1 (a row is (b, ty)); t = (row - first, tx), counted from
    the first row's first tile in the forward's tile order. The tile-m kernel of kernels.py (codegen.py):
    each row of blocks gathered channels-last into a band in cache (no channels-last copy of the whole of dy
    passes through memory: results/records/implementation-choices.json, row
    winograd-transforms-through-row-bands), then G' unrolled from the exact matrix (a loop over G''s
    entries, an accumulator loaded and stored for each term, took 1.3-2.7x as long: row
    winograd-gradient-kernel-unrolled)."""
    GRADIENT_TRANSFORMS[m](dy, D, tiles_h, tiles_w, first, last)


def filter_gradient_transform(m: int, Z, dw, k0: int) -> None:
    """dw[k0 + kk, c] = (A'^T Z_kk,c A') (3 x 3) for the n x n points Z[i*n + j, kk, c] of the block of filters
    k0 .. k0 + Z.shape[1] - 1; dw is (K, C, 9), each filter's taps innermost. The tile-m kernel of kernels.py
    (codegen.py), A' unrolled from the exact matrix (with a loop over its entries, an accumulator loaded and
    stored for each term, the whole pass took 1.03-1.49x as long: row
    winograd-filter-gradient-output-kernel-unrolled)."""
    FILTER_GRADIENT_TRANSFORMS[m](Z, dw, k0)
