"""The training passes every cuda plan shares, as the CPU's gradients.py writes them, on the device.

backward-data: this plan's own forward kernel on the data-gradient problem
(gradients.DataGradient: dy dilated by the stride, the filters flipped and
channel-swapped within each group), both operands re-laid out by the two
kernels below.

backward-filter: dw[k, c, r, s] = sum over (n, p, q) of dy[n, k, p, q] times
the input tap (r, s) read for output (p, q): one block per filter tap, its
threads striding over the N·P·Q products (dy read coalesced along q), then a
shared-memory tree sum. No transform: it is the plain reduction, the same for
direct and Winograd (the fft has its exact band-limited adjoint instead).
"""
from __future__ import annotations

from functools import lru_cache

from numba import cuda, float32

from .memory import empty, launch_flat, zeros

REDUCTION_THREADS = 128  # threads per filter tap (the plans' reduction_threads option; tests use 4)


@cuda.jit
def place_kernel(source, target, step_h, step_w, crop_h, crop_w):
    """target[n, c, i·step_h - crop_h, j·step_w - crop_w] = source[n, c, i, j] where that lies in
    target, which holds zeros elsewhere (dy dilated by the stride, or put on the FFT grid)."""
    N, C, H, W = source.shape
    rows, cols = target.shape[2], target.shape[3]
    index = cuda.grid(1)
    if index >= N * C * H * W:
        return
    j = index % W
    i = (index // W) % H
    nc = index // (H * W)
    row = i * step_h - crop_h
    col = j * step_w - crop_w
    if 0 <= row < rows and 0 <= col < cols:
        target[nc // C, nc % C, row, col] = source[nc // C, nc % C, i, j]


@cuda.jit
def flip_kernel(w, flipped, groups):
    """flipped[g·C/g + c, kk, r, s] = w[g·K/g + kk, c, R-1-r, S-1-s]: the filters of the data
    gradient, turned by 180 degrees with each group's (K/g, C/g) block transposed."""
    K, Cg, R, S = w.shape
    Kg = K // groups
    index = cuda.grid(1)
    if index >= K * Cg * R * S:
        return
    s = index % S
    r = (index // S) % R
    c = (index // (R * S)) % Cg
    k = index // (Cg * R * S)
    g = k // Kg
    flipped[g * Cg + c, k % Kg, r, s] = w[k, c, R - 1 - r, S - 1 - s]


@lru_cache(maxsize=None)
def filter_gradient_kernel(threads: int):
    """dw[k, c, r, s] = sum_{n, p, q} dy[n, k, p, q] x[n, g·C/g + c, p·sh + r·dh - pad_h, q·sw + s·dw - pad_w];
    block (r·S + s, c, k) of `threads` threads (a power of two: the tree sum halves it)."""
    if threads & (threads - 1):
        raise ValueError(f"reduction_threads must be a power of two; got {threads}")

    @cuda.jit
    def kernel(x, dy, dw, pad_h, pad_w, stride_h, stride_w, dil_h, dil_w, groups):
        N, H, W = x.shape[0], x.shape[2], x.shape[3]
        K, P, Q = dy.shape[1], dy.shape[2], dy.shape[3]
        Cg, S = dw.shape[1], dw.shape[3]
        tap = cuda.blockIdx.x
        c = cuda.blockIdx.y
        k = cuda.blockIdx.z
        r = tap // S
        s = tap % S
        channel = (k // (K // groups)) * Cg + c
        tid = cuda.threadIdx.x
        acc = float32(0.0)
        for index in range(tid, N * P * Q, threads):
            q = index % Q
            p = (index // Q) % P
            n = index // (P * Q)
            row = p * stride_h + r * dil_h - pad_h
            col = q * stride_w + s * dil_w - pad_w
            if 0 <= row < H and 0 <= col < W:
                acc += dy[n, k, p, q] * x[n, channel, row, col]
        partial = cuda.shared.array(threads, float32)
        partial[tid] = acc
        cuda.syncthreads()
        half = threads // 2
        while half > 0:
            if tid < half:
                partial[tid] += partial[tid + half]
            cuda.syncthreads()
            half //= 2
        if tid == 0:
            dw[k, c, r, s] = partial[0]

    return kernel


def place(source, shape, step=(1, 1), crop=(0, 0)):
    """A new zero device array of `shape` with `source` placed every `step` from -crop (place_kernel)."""
    target = zeros(shape)
    launch_flat(place_kernel, source.size, source, target, *step, *crop)
    return target


def data_gradient_operands(problem, dy, w):
    """(input, filters) of the data-gradient problem (gradients.DataGradient) on the device."""
    source = problem.source
    if problem.needs_placing:
        dy = place(dy, problem.spec.input_shape, source.stride, problem.crop)
    flipped = empty(problem.spec.filter_shape)
    launch_flat(flip_kernel, w.size, w, flipped, source.groups)
    return dy, flipped


def filter_gradient(x, dy, spec, threads: int = REDUCTION_THREADS):
    """dw (K, C/groups, R, S) on the device by filter_gradient_kernel, `threads` a block."""
    dw = empty(spec.filter_shape)
    grid = (spec.R * spec.S, spec.C_per_group, spec.K)
    filter_gradient_kernel(threads)[grid, threads](x, dy, dw, spec.pad_h, spec.pad_w, spec.stride_h,
                                                   spec.stride_w, spec.dil_h, spec.dil_w, spec.groups)
    return dw
