"""Every GEMM of the CPU implementations runs on one thread pool in the process: torch's OpenMP pool.

A process here holds two pools on the same cores, numpy's OpenBLAS and
torch's OpenMP (the peer's). Each spins after its work, OpenBLAS for about
2^28 cycles unless OPENBLAS_THREAD_TIMEOUT was set before numpy loaded, so
what was measured depended on import order: with numpy imported before
convbench, torch and Winograd ran slower right after each other's calls
(results/records/implementation-choices.json, row every-gemm-on-torch). With every GEMM on torch's pool no OpenBLAS
worker ever wakes, whatever was imported first. The arrays stay numpy's: torch.from_numpy shares their memory.

The engine on that pool is torch's MKL, or oneDNN 2's matmul (onednn_matmul.py, bound to torch's libgomp)
where convbench.core.selection.gemm_engine says it is faster on this CPU; $CONVBENCH_GEMM ('torch' or
'onednn2') sets it for a comparison. A product oneDNN 2 cannot run goes to torch.
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import torch

from convbench.core import selection
from convbench.core.arrays import aligned_empty
from convbench.core.errors import ConvError
from convbench.core.machine import chip

from . import onednn_matmul

ENGINES = ("torch", "onednn2")


@lru_cache(maxsize=1)
def engine() -> str:
    """The GEMM engine of this process: $CONVBENCH_GEMM, else the rule's choice for this CPU."""
    forced = os.environ.get("CONVBENCH_GEMM", "")
    if forced:
        if forced not in ENGINES:
            raise ConvError(f"CONVBENCH_GEMM={forced!r}: expected one of {', '.join(ENGINES)}")
        if forced == "onednn2" and onednn_matmul.problem():
            raise ConvError(f"CONVBENCH_GEMM=onednn2: {onednn_matmul.problem()}")
        return forced
    if onednn_matmul.problem():
        return "torch"
    return selection.gemm_engine(chip().vendor, onednn_matmul.instruction_set())


def product(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor, accumulate: bool = False) -> torch.Tensor:
    """out = a @ b, or out += a @ b with accumulate (torch.matmul's broadcasting), on this process's engine."""
    if (engine() == "onednn2" and a.dtype == b.dtype == out.dtype == torch.float32
            and out.numel() * a.shape[-1] >= selection.GEMM_ONEDNN2_MULTIPLY_ADDS_FROM  # each output: K of them
            and onednn_matmul.matmul(a, b, out, accumulate)):
        return out
    if accumulate:
        return out.add_(torch.matmul(a, b)) if out.dim() > 2 else out.addmm_(a, b)
    if not out.is_contiguous():  # torch's matmul folds a's batch into rows of a contiguous out only
        return out.copy_(torch.matmul(a, b))
    return torch.matmul(a, b, out=out)


def right_hand_operand(shape) -> np.ndarray:
    """An uninitialised float32 array of shape (..., rows, columns), on a cache line, for GEMMs to read as
    their right-hand matrices: each row selection.gemm_row_stride floats from the next (padded where their
    length made the GEMM slow)."""
    *leading, columns = shape
    return aligned_empty((*leading, selection.gemm_row_stride(columns)))[..., :columns]


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = a @ b (numpy's matmul broadcasting), computed on the GEMMs' pool into out's memory."""
    product(torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out))
    return out


def copy(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """dst[...] = src for strided views (a transpose, a real or imaginary part), on torch's pool:
    a layout change between two GEMMs then runs on the threads that ran them, not on numpy's
    one (results/records/implementation-choices.json, row blas-copy-on-torch-pool)."""
    torch.from_numpy(dst).copy_(torch.from_numpy(src))
    return dst


def interleave(real: np.ndarray, imag: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = real + 1j * imag into complex64 out's memory, one streaming pass on torch's pool; real and
    imag are float32 arrays of out's shape (views of one buffer's halves, say)."""
    torch.stack((torch.from_numpy(real), torch.from_numpy(imag)), dim=-1,
                out=torch.view_as_real(torch.from_numpy(out)))
    return out


def grouped_matmul(a: np.ndarray, b: np.ndarray, groups: int, out: np.ndarray) -> np.ndarray:
    """out = blockdiag(a) @ b, batched: a (B, M, J/g) holds the g stacked (M/g, J/g) blocks,
    b is (B, J, L) and out (B, M, L); block i meets rows i·J/g.. of b, and the zero blocks are
    never formed. Depthwise (M = J = g) is an elementwise product."""
    if groups == 1:
        return matmul(a, b, out=out)
    if a.shape[1] == groups and a.shape[2] == 1:
        return np.multiply(a, b, out=out)
    B = a.shape[0]
    matmul(a.reshape(B, groups, -1, a.shape[2]), b.reshape(B, groups, -1, b.shape[2]),
           out=out.reshape(B, groups, -1, out.shape[2]))
    return out


def grouped_product(V: np.ndarray, U: np.ndarray, groups: int, out: np.ndarray) -> None:
    """out[i, t, k] = sum over c in group(k) of V[i, t, c] U[i, k, c]: per point (frequency) i the
    block-diagonal (tiles x C)(C x K) product, its zero blocks never formed. Depthwise
    (one channel per group) is an elementwise product. (grouped_matmul on the transposed
    views computes the same, but its strided output made this stage slower:
    results/records/implementation-choices.json, row winograd-grouped-product-own-loop.)"""
    points, tiles, C = V.shape
    if groups == 1:  # BLAS reads U transposed in place
        matmul(V, U.transpose(0, 2, 1), out=out)
        return
    if U.shape[1] == groups and U.shape[2] == 1:  # depthwise
        np.multiply(V, U[:, None, :, 0], out=out)
        return
    by_group = torch.from_numpy(V).reshape(points, tiles, groups, -1).permute(0, 2, 1, 3)  # (i, g, t, c)
    filters = torch.from_numpy(U).reshape(points, groups, -1, U.shape[2]).transpose(2, 3)  # (i, g, c, k)
    torch.from_numpy(out).reshape(points, tiles, groups, -1).copy_(torch.matmul(by_group, filters).permute(0, 2, 1, 3))


def diagonal_blocks(a: np.ndarray, b: np.ndarray, groups: int, out: np.ndarray | None = None,
                    conjugate: bool = False) -> np.ndarray:
    """The g diagonal blocks of a @ b, batched: a (B, M, L) and b (B, L, J) to (B, M, J/g), block i =
    a[:, rows i·M/g..] @ b[:, :, columns i·J/g..]; the off-diagonal blocks are never formed
    (a grouped convolution's filter gradient: each group's outputs against its own inputs).
    out: a C-contiguous (B, M, J/g) array to write into. A plan's own buffer spares each call the
    first touch of a fresh allocation's pages, which took longer than the product on the fft's
    (results/records/implementation-choices.json, row gradient-products-into-plan-buffers).
    conjugate: conj(a) @ b, a (any strides, a transpose say) read through torch's conjugate view, no
    conjugated copy of it made first by numpy (row fft-filter-gradient-conjugate-view)."""
    B, M, L = a.shape
    if out is None:
        out = np.empty((B, M, b.shape[2] // groups), dtype=np.result_type(a, b))
    at, bt, result = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
    if conjugate:
        at = at.conj()
    if groups == 1:
        product(at, bt, result)
    else:
        product(at.reshape(B, groups, M // groups, L), bt.reshape(B, L, groups, -1).transpose(1, 2),
                result.view(B, groups, M // groups, -1))
    return out


def times_block_diagonal(a: np.ndarray, b: np.ndarray, groups: int, conjugate: bool = False) -> np.ndarray:
    """a @ blockdiag(b), batched: a (B, N, K) and b (B, K, C/g), the g stacked (K/g, C/g) blocks, to
    (B, N, C); block i meets columns i·K/g.. of a, and the zero blocks are never formed. b may be a
    strided view (a transpose): BLAS reads it in place. conjugate: the result conjugated in place
    (the band-limited fft's data product, conj(conj(G) @ Wt^T), without a copy of the filter spectrum)."""
    at, bt = torch.from_numpy(a), torch.from_numpy(b)
    if groups == 1:
        result = product(at, bt, torch.empty((*a.shape[:-1], b.shape[-1]), dtype=torch.result_type(at, bt)))
    else:
        B, N, K = a.shape
        blocks = torch.matmul(at.reshape(B, N, groups, -1).transpose(1, 2),  # (B, g, N, K/g)
                              bt.reshape(B, groups, K // groups, -1))  # (B, g, K/g, C/g)
        result = blocks.transpose(1, 2).reshape(B, N, -1)  # (B, g, N, C/g) -> (B, N, C)
    if conjugate:
        torch.conj_physical_(result)
    return result.numpy()
