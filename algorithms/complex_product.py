"""Complex products as one real GEMM each, on the GEMMs' engine (blas.product).

oneDNN 2 has no complex matmul, and torch's complex products are MKL's cgemm, which takes its AVX2 path
on AMD. Viewed as floats, a complex row x of C interleaved (re, im) pairs times the real embedding of
W^T, the 2C x 2K matrix whose 2 x 2 blocks are [[re, im], [-im, re]] of W[k, c], is the interleaved
complex row x W^T: the same 4·C·K real multiply-adds per row as cgemm, in one real GEMM that reads the
data and writes the result where they are. Only the filters are rewritten, into twice their floats,
once a call; that pass pays where the data has many rows (tiles) per filter row
(convbench.core.selection.complex_product_embedded; the measurements: results/records/
implementation-choices.json, row tiled-fft-products-on-real-embedding).

A B with a B read in place, where A has few rows, needs no embedding: with A = Ar + i Ai, the real GEMM
[Ar; Ai] (2M x K) times B's interleaved floats (K x 2N) gives Ar B over Ai B, and the product is their
sum with the second times i, one pass over the (M x N) result; conj(A) B splits A into [Ar; -Ai]. The
tiled fft's filter gradient, conj(dY) X (the split is the pass that conjugated dY in place before: the
record's row tiled-fft-filter-gradient-split-planes), and the whole-image fft's contraction, a few
images' X times each frequency's filters (row fft-contract-split-planes), take it. Where B comes as split
planes too (the whole-image fft's filter blocks: row fft-filter-spectrum-as-split-planes), [Ar; Ai] times
each of B's planes is one GEMM with A broadcast, and the product's planes one pass each
(split_planes_product).

conj(A)^T B, where A (L x M) is stored with its M columns interleaved and contiguous, needs no split either:
A's floats read transposed (2M x L) times B's (L x 2N) give Re(A)^T B and Im(A)^T B on alternate rows,
and conj(A)^T B is the first minus i times the second (conjugate_transposed_product: the tiled fft's filter
gradient, whose dY comes out of the input's kernel tile-major, row tiled-fft-dy-by-the-input-kernel).
"""
from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange

from .blas import product


@njit(parallel=True, cache=True)
def _embed_transposed(W, E):
    """E[f] = the real embedding of W[f]^T, transposed: rows 2k and 2k + 1 of E[f] are conj(W[f, k]) and
    i·conj(W[f, k]) as interleaved (re, im) floats, so E[f]^T, read in place, is the (2C, 2K) embedding."""
    F, K, C = W.shape
    for fk in prange(F * K):
        f, k = fk // K, fk % K
        w, conjugate, rotated = W[f, k], E[f, 2 * k], E[f, 2 * k + 1]
        for c in range(C):
            re, im = w[c].real, w[c].imag
            conjugate[2 * c] = re
            conjugate[2 * c + 1] = -im
            rotated[2 * c] = im
            rotated[2 * c + 1] = re


def embedding_shape(frequencies: int, K: int, C: int) -> tuple:
    """The float32 buffer times_transposed writes the filters' embedding into."""
    return (frequencies, 2 * K, 2 * C)


def times_transposed(X: np.ndarray, W: np.ndarray, embedding: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out[f] = X[f] @ W[f]^T for complex64 X (F, M, C) and out (F, M, K), C-contiguous, and W (F, K, C),
    as one real GEMM per f; embedding: a C-contiguous float32 buffer of embedding_shape(F, K, C)."""
    _embed_transposed(W, embedding)
    product(torch.from_numpy(X.view(np.float32)), torch.from_numpy(embedding).transpose(1, 2),
            torch.from_numpy(out.view(np.float32)))
    return out


def split_product(A: np.ndarray, B: np.ndarray, split: np.ndarray, parts: np.ndarray, out: np.ndarray,
                  conjugate: bool = False) -> np.ndarray:
    """out[f] = A[f] @ B[f] (conj(A[f]) @ B[f] with conjugate) for complex64 A (F, M, K) and B (F, K, N),
    C-contiguous, into complex64 out (F, M, N), as one real GEMM per f; split: a float32 (F, 2M, K) buffer,
    parts a complex64 (F, 2M, N) one."""
    split_planes(A, split, conjugate)
    return times_split_planes(split, B, parts, out)


def conjugate_transposed_product(A: np.ndarray, B: np.ndarray, products: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out[f] = conj(A[f])^T @ B[f] for complex64 A (F, L, M) and B (F, L, N), C-contiguous, into complex64 out
    (F, M, N), as one real GEMM per f: A's interleaved floats read transposed in place, (2M x L), times B's,
    (L x 2N), into products, a complex64 (F, 2M, N) buffer whose row (m, re) holds Re(A[:, m])^T B and row
    (m, im) Im(A[:, m])^T B; then conj(A)^T B = the first - i·the second, one pass. Splitting A^T's planes
    first took a transposing pass over A (split_product on A's transposed view: results/records/
    implementation-choices.json, row conjugate-transposed-product)."""
    F, L, M = A.shape
    product(torch.from_numpy(A.view(np.float32)).transpose(1, 2), torch.from_numpy(B.view(np.float32)),
            torch.from_numpy(products.view(np.float32)))
    pairs = torch.from_numpy(products).view(F, M, 2, -1)
    torch.add(pairs[:, :, 0], pairs[:, :, 1], alpha=-1j, out=torch.from_numpy(out))
    return out


def split_planes(A: np.ndarray, split: np.ndarray, conjugate: bool = False) -> np.ndarray:
    """split[..., :M, :] = Re A and split[..., M:, :] = Im A (-Im A with conjugate), for complex64 A
    (..., M, K) into float32 split (..., 2M, K); any strides."""
    M = A.shape[-2]
    a, halves = torch.from_numpy(A), torch.from_numpy(split)
    halves[..., :M, :].copy_(a.real)
    if conjugate:
        torch.neg(a.imag, out=halves[..., M:, :])
    else:
        halves[..., M:, :].copy_(a.imag)
    return split


def times_split_planes(split: np.ndarray, B: np.ndarray, parts: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = A @ B from A's split planes (split_planes) and complex64 B (..., K, N), whose last axis is
    contiguous (its interleaved floats are read in place), into complex64 out (..., M, N), which may be a
    strided view; parts: a complex64 (..., 2M, N) buffer. With float32 out (..., 2, M, N), the product's
    split planes instead: its real (M x N) over its imaginary one."""
    M = split.shape[-2] // 2
    product(torch.from_numpy(split), torch.from_numpy(B.view(np.float32)), torch.from_numpy(parts.view(np.float32)))
    result = torch.from_numpy(parts)
    if out.dtype == np.float32:  # Re A B = Re(Ar B) - Im(Ai B), Im A B = Im(Ar B) + Re(Ai B)
        planes, real, imaginary = torch.from_numpy(out), result[..., :M, :], result[..., M:, :]
        torch.sub(real.real, imaginary.imag, out=planes[..., 0, :, :])
        torch.add(real.imag, imaginary.real, out=planes[..., 1, :, :])
        return out
    torch.add(result[..., :M, :], result[..., M:, :], alpha=1j, out=torch.from_numpy(out))
    return out


def split_planes_product(split: np.ndarray, B: np.ndarray, parts: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = A @ B from A's split planes (split_planes; (..., 2M, K), any strides) and B's, float32 (..., 2, K, N),
    its real (K x N) over its imaginary one, into out's split planes, float32 (..., 2, M, N), which may be a
    strided view, or complex64 out (..., M, N); parts: a float32 (..., 2, 2M, N) buffer. One real GEMM, [Ar; Ai]
    times each of B's planes (A broadcast over them), then Re = Ar Br - Ai Bi and Im = Ar Bi + Ai Br in one
    pass each."""
    M = split.shape[-2] // 2
    product(torch.from_numpy(split).unsqueeze(-3), torch.from_numpy(B), torch.from_numpy(parts))
    by_plane, result = torch.from_numpy(parts), torch.from_numpy(out)
    real, imaginary = ((result.real, result.imag) if result.is_complex() else
                       (result[..., 0, :, :], result[..., 1, :, :]))
    torch.sub(by_plane[..., 0, :M, :], by_plane[..., 1, M:, :], out=real)
    torch.add(by_plane[..., 1, :M, :], by_plane[..., 0, M:, :], out=imaginary)
    return out
