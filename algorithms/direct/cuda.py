"""Direct convolution on the GPU: a tiled Numba CUDA kernel.

A block computes a tile_p x tile_q patch of outputs for k_per_thread filters
of one image: each thread owns one output position and k_per_thread
accumulators. Channels go through in chunks: the block first copies the input
patch the tile reads (zero where it falls in the padding, so no padded copy
of the input is made) and the chunk's filter taps into shared memory, then
every thread reads only shared memory.

Dilation widens the patch to the filter's extent and spaces the taps read
from it; with groups a block's filters all come from one group, so the
patch it loads is that group's channels.
"""
from __future__ import annotations

from functools import lru_cache

from numba import cuda, float32

from convbench.core.errors import ConvError

from ..gpu import CudaPlan, blocks
from ..gpu.gradients import REDUCTION_THREADS

SHARED_BYTES = 40 * 1024  # below the 48 KiB of static shared memory every CUDA GPU has


def _bytes_per_channel(tile_p, tile_q, k_per_thread, R, S, stride_h, stride_w, dil_h=1, dil_w=1) -> int:
    patch = ((tile_p - 1) * stride_h + dil_h * (R - 1) + 1) * ((tile_q - 1) * stride_w + dil_w * (S - 1) + 1)
    return 4 * (patch + k_per_thread * R * S)


def channel_chunk(tile_p, tile_q, k_per_thread, R, S, stride_h, stride_w, channels, dil_h=1, dil_w=1) -> int:
    """Channels per shared-memory load: as many as fit SHARED_BYTES, at most 8 and at most C."""
    per_channel = _bytes_per_channel(tile_p, tile_q, k_per_thread, R, S, stride_h, stride_w, dil_h, dil_w)
    return max(1, min(8, channels, SHARED_BYTES // per_channel))


def tiling(tile, k_per_thread, R, S, stride_h, stride_w, channels, dil_h=1, dil_w=1) -> tuple:
    """direct_kernel's arguments for these options: k_per_thread is lowered until one channel's
    input patch and filter taps fit SHARED_BYTES (31x31 filters take 8 at a 16x16 tile, not 16).
    `channels` is the channels per group, and the filters per group bound k_per_thread by the caller."""
    tile_p, tile_q = tile
    k = k_per_thread
    dilation = (dil_h, dil_w)
    while k > 1 and _bytes_per_channel(tile_p, tile_q, k, R, S, stride_h, stride_w, *dilation) > SHARED_BYTES:
        k //= 2
    if _bytes_per_channel(tile_p, tile_q, k, R, S, stride_h, stride_w, *dilation) > SHARED_BYTES:
        raise ConvError(f"tile={tuple(tile)} with a {R}x{S} filter (dilation {dilation}) needs more than "
                        f"{SHARED_BYTES} bytes of shared memory per channel; expected a smaller tile")
    chunk = channel_chunk(tile_p, tile_q, k, R, S, stride_h, stride_w, channels, *dilation)
    return tile_p, tile_q, k, chunk, R, S, stride_h, stride_w, dil_h, dil_w


@lru_cache(maxsize=None)
def direct_kernel(tile_p, tile_q, k_per_thread, c_chunk, R, S, stride_h, stride_w, dil_h=1, dil_w=1):
    """The kernel for one tiling: shared-array shapes must be compile-time constants."""
    patch_h = (tile_p - 1) * stride_h + dil_h * (R - 1) + 1
    patch_w = (tile_q - 1) * stride_w + dil_w * (S - 1) + 1
    patch_size = c_chunk * patch_h * patch_w
    taps_size = k_per_thread * c_chunk * R * S
    threads = tile_p * tile_q

    @cuda.jit
    def kernel(x, w, out, pad_h, pad_w, groups):
        N, H, W = x.shape[0], x.shape[2], x.shape[3]
        C = w.shape[1]  # channels per group
        K, P, Q = out.shape[1], out.shape[2], out.shape[3]
        Kg = K // groups
        k_blocks = (Kg + k_per_thread - 1) // k_per_thread  # per group: a block's filters share one group
        n = cuda.blockIdx.z // (groups * k_blocks)
        g = (cuda.blockIdx.z // k_blocks) % groups
        k0 = g * Kg + (cuda.blockIdx.z % k_blocks) * k_per_thread
        k_end = (g + 1) * Kg
        c_first = g * C
        tq = cuda.threadIdx.x
        tp = cuda.threadIdx.y
        p0 = cuda.blockIdx.y * tile_p
        q0 = cuda.blockIdx.x * tile_q
        p = p0 + tp
        q = q0 + tq
        tid = tp * tile_q + tq
        top = p0 * stride_h - pad_h
        left = q0 * stride_w - pad_w
        patch = cuda.shared.array((c_chunk, patch_h, patch_w), float32)
        taps = cuda.shared.array((k_per_thread, c_chunk, R, S), float32)
        acc = cuda.local.array(k_per_thread, float32)
        for kk in range(k_per_thread):
            acc[kk] = 0.0
        for c0 in range(0, C, c_chunk):
            for i in range(tid, patch_size, threads):
                cc = i // (patch_h * patch_w)
                r = (i // patch_w) % patch_h
                s = i % patch_w
                row = top + r
                col = left + s
                value = float32(0.0)
                if c0 + cc < C and row >= 0 and row < H and col >= 0 and col < W:
                    value = x[n, c_first + c0 + cc, row, col]
                patch[cc, r, s] = value
            for i in range(tid, taps_size, threads):
                kk = i // (c_chunk * R * S)
                cc = (i // (R * S)) % c_chunk
                r = (i // S) % R
                s = i % S
                value = float32(0.0)
                if k0 + kk < k_end and c0 + cc < C:
                    value = w[k0 + kk, c0 + cc, r, s]
                taps[kk, cc, r, s] = value
            cuda.syncthreads()
            if p < P and q < Q:
                for cc in range(c_chunk):
                    for r in range(R):
                        for s in range(S):
                            value = patch[cc, tp * stride_h + r * dil_h, tq * stride_w + s * dil_w]
                            for kk in range(k_per_thread):
                                acc[kk] += value * taps[kk, cc, r, s]
            cuda.syncthreads()  # before the next chunk overwrites what others may still read
        if p < P and q < Q:
            for kk in range(k_per_thread):
                if k0 + kk < k_end:
                    out[n, k0 + kk, p, q] = acc[kk]

    return kernel


class DirectCUDA(CudaPlan):
    algorithm = "direct"
    takes_groups = takes_dilation = True

    def __init__(self, spec, tile=(16, 16), k_per_thread: int = 16, reduction_threads: int = REDUCTION_THREADS):
        super().__init__(spec)
        self.reduction_threads = reduction_threads
        self.tile = tuple(tile)
        # no more accumulators than a group has filters (depthwise: one)
        arguments = tiling(self.tile, min(k_per_thread, spec.K_per_group), spec.R, spec.S, spec.stride_h,
                           spec.stride_w, spec.C_per_group, spec.dil_h, spec.dil_w)
        self.k_per_thread = arguments[2]
        self._kernel = direct_kernel(*arguments)
        tile_p, tile_q = self.tile
        self._grid = (blocks(spec.Q, tile_q), blocks(spec.P, tile_p),
                      spec.N * spec.groups * blocks(spec.K_per_group, self.k_per_thread))
        self._block = (tile_q, tile_p)

    def run_device(self, x, w, out):
        self._kernel[self._grid, self._block](x, w, out, self.spec.pad_h, self.spec.pad_w, self.spec.groups)
