"""Every choice convbench makes for you, in one module, each with the measurement that set it.

NNPACK's select_algorithm() is the model: a few readable lines. Part of the
core (it imports nothing else of convbench), so that the implementations
read their thresholds here and the harness's algorithm="auto" reads its rule
here. Measurements: this 2-core machine (AMD EPYC, float32), each the same
process timing both sides alternately, unless said otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

# -- direct on the CPU --------------------------------------------------------
# Direct runs as BLAS GEMMs over shifted slices of the padded input (gathered
# positions at strides > 1). With big filters and few of them the stacked block
# outgrows the caches, and the Numba sliding-window loop wins: GEMM/loop measured
# 1.51x at k=7 and 1.46x at k=11 (C=K=64), but 0.68-0.77x at k=15 and 0.41x at k=31 (C=K=32).
# With the block stacked by one torch copy (2026-12-02; N=2, C=K=32, 64², 'same'): k=7 (R·S·C/K = 49)
# 1.59x, 11 (121) 1.37x, 15 (225) 1.17x, then 17 (289) 0.41x, 19 (361) 0.44x, 31 (961) 0.38x: from
# 289 the chunk is down to 64 positions (gemm.chunk_positions) and the GEMMs are thin.
# At stride 2 the gathered GEMMs compute only the strided positions: against the loop on
# ResNet-18's stride-2 layers at N=1, 7x7 stem 9.6 vs 43.8 ms, 3x3 64@56 1.2 vs 28.9, 1x1 0.25 vs
# 6.6, 3x3 256@14 1.6 vs 47.7 (so strides no longer take the loop).
LOOP_ABOVE = 250  # R·S·C/K above which the Numba loop is kept
# With groups, the GEMMs are one per group, (K/g x R·S·C/g): tiny when the groups are small.
# Group GEMMs (slices) against the loop, N=1, 3x3 (Intel Xeon, 2 cores, alternately, ms):
# C=K=256 28² g32 (C/g = 8) 1.66 vs 3.41; 128 56² g32 (4) 2.30 vs 2.63; 64 28² g16 (4) 0.29 vs
# 0.32; g32 (2) 0.26 vs 0.22; depthwise 88@28 0.35 vs 0.35, 96@56 N=8 16.8 vs 6.1. (torch's
# oneDNN kernels ran these 2-4x faster than either.)
GEMM_GROUP_CHANNELS_FROM = 4  # C/g at least this for the grouped GEMMs


# Depthwise (groups = C = K): the channels-last kernel vectorises across the channels, the
# loop along one row per channel. Channels-last against the loop, N=1 unless said (ms, alternately;
# torch in brackets): 240@14 5x5 0.36 vs 1.21 (0.13); 576@7 5x5 0.18 vs 0.81 (0.11); 96@56 7x7
# 1.61 vs 3.29 (0.43); 88@28 3x3 0.23 vs 0.30 (0.17); 72@56 3x3 stride 2 0.32 vs 0.54 (0.31);
# 16@112 stride 2 0.39 vs 0.44 (0.15); 8@56 0.21 vs 0.14 (0.14); N=8 96@56 3x3 5.7 vs 5.3 (1.6),
# where the two layout copies cost as much as the sums. oneDNN stays ahead on all of them.
DEPTHWISE_CHANNELS_LAST_FROM = 16  # channels from which depthwise runs channels-last


def direct_depthwise_channels_last(C: int) -> bool:
    return C >= DEPTHWISE_CHANNELS_LAST_FROM


def direct_uses_loop(R: int, S: int, C_per_group: int, K_per_group: int, groups: int = 1) -> bool:
    if groups > 1 and C_per_group < GEMM_GROUP_CHANNELS_FROM:
        return True
    return R * S * C_per_group / K_per_group > LOOP_ABOVE


# On small images the padding is a large share of the grid; gathering only the
# valid positions costs more per element than a slice but saves K multiply-adds
# per wasted position. Gather vs slice: ResNet-18 512@7 ((waste-1)·K = 333)
# 1.35x; 256@14 (79) 1.05x; 64 channels at 13² (21) 0.67x; 128@28 (19) 0.82x; 64@56 (4.5) 0.64x.
GATHER_ABOVE = 80  # (waste - 1)·K above which only valid positions are computed


def direct_gathers(waste: float, K: int) -> bool:
    return (waste - 1) * K > GATHER_ABOVE


DIRECT_METHODS = ("depthwise", "loop", "gather", "slice")  # how direct computes the sum (algorithms/direct)


def direct_method(spec) -> str:
    """The method direct uses for spec (a ConvSpec) when none is forced: the one place it is decided."""
    if spec.C_per_group == spec.K_per_group == 1 and direct_depthwise_channels_last(spec.C):
        return "depthwise"
    if direct_uses_loop(spec.R, spec.S, spec.C_per_group, spec.K_per_group, spec.groups):
        return "loop"
    if spec.stride != (1, 1):
        return "gather"  # the GEMMs compute only the strided positions
    rows, cols = spec.span
    return "gather" if direct_gathers(rows * cols / (spec.P * spec.Q), spec.K) else "slice"


# -- fft on the CPU -----------------------------------------------------------
# Input and output transforms: pruned matrix DFTs (only the retained band, only
# the rows and columns that hold data) against FFTW: 7x7 N=8 C=K=64 56² (grid 63)
# 1.95x faster, 11x11 (grid 66) 1.19x, 31x31 N=1 C=K=64 128² (grid 158) 1.03x;
# the DFT's cost grows with the grid while FFTW's grows as L log L.
DFT_GRID_UP_TO = 128


def fft_transform(grid: tuple[int, int]) -> str:
    """'dft' or 'fft' for the input and output transforms on this FFT grid."""
    return "dft" if max(grid) <= DFT_GRID_UP_TO else "fft"


# The filter transform is always the pruned DFT of the R x S support: it beat
# FFTW-then-gather at every filter size measured (N=2 C=K=32 64², k = 11..31:
# 1.65-2.45x; the 31x31 N=1 C=K=64 128² layer: 1.52x).
FILTER_TRANSFORM = "dft"


# The spectral contraction (F per-frequency (N x C)(C x K) products, no groups): torch's
# batched cgemm, on the pool the call's other GEMMs use, from 4 images; the Numba stream
# below, where each product is nearly a vector times a matrix. Alone, F = 1624, C = K = 64
# (ms, Numba against torch.bmm, alternately): N=1 1.6 vs 5.3, 2 2.5 vs 4.1, 4 4.0 vs 3.8,
# 8 9.1 vs 6.4 (500 frequencies, C=K=256, N=2: 11.7 vs 20.7). In the whole call on the 7x7
# layer (N=8 C=K=64 56², valid) the stream ran right after a torch GEMM, whose OpenMP workers
# were still spinning: 14.1 ms against 7.6 alone, and the call 0.97x torch's against 1.23x
# with torch.bmm (11x11: 1.42x against 1.59x).
CONTRACT_BLAS_FROM_IMAGES = 4


def contract_with_blas(N: int, groups: int) -> bool:
    return groups == 1 and N >= CONTRACT_BLAS_FROM_IMAGES

# -- algorithm="auto", when no measured choice is stored ------------------------
# Always exact (compression 0). NNPACK's select_algorithm() counts tiles; so does
# this. Measured on this machine with every variant (runs.sweep over the
# convnet-benchmarks, ResNet-18 and DeepBench layers, each variant's time over
# torch's in one run; Intel Xeon, 2 cores):
# - 3x3, stride 1: Winograd F(4x4,3x3) beat torch where both channel counts are
#   large and there are enough tiles to amortise its filter transform
#   (K·C·36 numbers per call): 256@14 N=8 (128 tiles) 1.29x, vgg-28 (256->512,
#   49 tiles) 1.21x, 128@28 N=8 (392 tiles) 1.09x; it lost with 64 channels
#   (64@56 N=8: 0.63x) and with few tiles (512@14 N=1, 16 tiles: 0.68x;
#   512@7 N=8, 32 tiles: 0.79x). F(2x2) and F(6x6) won nowhere by more than F(4x4).
# - larger filters: torch everywhere on those sets (N=1), the best fft variant
#   at most 1.15x faster (L2, 9x9: FFT on 16x16 tiles). On batched layers fft
#   won: N=8 C=K=64 56x56, 7x7 1.1-2.4x (16x16 tiles), 11x11 1.4-2.2x (whole
#   image or 32x32 tiles); N=1 C=K=64 128x128, 31x31: whole image 2.6x.
# On the H100, cuDNN was the fastest on every layer measured (ours 0.17-0.73x).
WINOGRAD_CHANNELS_FROM = 128  # C and K at least this ...
WINOGRAD_TILES_FROM = 48      # ... and at least this many F(4x4) output tiles (N·ceil(P/4)·ceil(Q/4))
FFT_TAPS_FROM = 49            # R·S: 7x7 and larger ...
FFT_WORK_FROM = 8 * 64 * 64   # ... with N·C·K at least that of the 7x7 layer measured,
FFT_TAPS_ALWAYS_FROM = 225    # or 15x15 and larger whatever the batch
FFT_TILES = (8, 16, 32, 64)  # the tile sizes of FFT on T x T tiles: the plan, its variants and this rule read them here
# From one tile size to the next when the smaller needs more than this many times the tiles of the
# larger: 4 for 8 -> 16 and 16 -> 32 (NNPACK's 8x8 -> 16x16). For 32 -> 64 it took more: N=2 C=K=32,
# 'same', x torch (tile 32 / tile 64), alternately: tile-count ratio 4 (17x17 on 32², 64²) 4.7 / 1.2,
# 2.5 / 1.3; 7.1 (17x17, 128²) 3.8 / 3.0; 9 (21x21, 64²) 7.4 / 6.1; 13.4 (21x21, 128²) 12.2 / 16.3;
# 16 (25x25, 64², 128²) 5.2 / 8.3, 6.9 / 15.9; 256 (31x31) 0.6 / 10.4. The larger tile is not taken
# when it is at least twice the output (25x25 on 32²: ratio 16, 4.1 / 2.3; its tiles are mostly padding).
FFT_TILE_STEP_UP = {8: 4, 16: 4, 32: 12}


def tile_mostly_padding(tile: int, P: int, Q: int) -> bool:
    """A T x T tile more than twice the output's side computes mostly padding: FFT on 32x32 tiles of
    ResNet-18's 7x7 images (512@7, N=8) took 57 s a call and 16x16 22 s (a test run); a 32x32 tile of a
    1x1 layer on 7x7 images 1.4 s against torch's 0.9 ms (the corpus sweep). The sweeps, the asv suites
    and the speed tests leave such a tile out (registry.why_not_swept); plan() still builds it."""
    return tile > 2 * max(P, Q)
# A whole-image spectral product costs about 3 tiled ones here (its grids are not
# powers of two, its filter spectrum leaves the caches): N=8 C=K=64 56x56, whole
# image over 16x16 tiles, time 1.47x at 7x7 (pad 3) for 0.41x the spectral work,
# 32x32 tiles 1.55x at 11x11 (pad 5) for 0.46x; at 11x11 valid the whole image was
# faster (2.04x torch against 1.65x) for 0.33x the work.
WHOLE_IMAGE_WORK_WEIGHT = 3


def spectral_work(N: int, P: int, Q: int, R: int, S: int, tile: int | None, grid: tuple[int, int]) -> int:
    """Complex products per (input, output) channel pair, the contraction's and the filter spectrum's
    cost: tiles x T x (T/2 + 1) for T x T tiles, N x Lh x (Lw/2 + 1) for the whole-image grid
    (weighted by what one of its products measured to cost)."""
    if tile is None:
        return WHOLE_IMAGE_WORK_WEIGHT * N * grid[0] * (grid[1] // 2 + 1)
    return fft_tiles(N, P, Q, R, S, tile) * tile * (tile // 2 + 1)


def fft_tiles(N: int, P: int, Q: int, R: int, S: int, tile: int) -> int:
    return N * -(-P // (tile - R + 1)) * -(-Q // (tile - S + 1))


def fft_variant(N: int, P: int, Q: int, R: int, S: int, grid: tuple[int, int]) -> str:
    """The fft variant for this shape. The tile as NNPACK picks it, by counting tiles: the
    smallest tile the filter fits, unless it needs more than FFT_TILE_STEP_UP times the tiles of
    the next size up (one step, as NNPACK's 8x8 -> 16x16) and that size is under twice the output;
    then that tile against the whole image by spectral work."""
    fitting = [tile for tile in FFT_TILES if max(R, S) < tile]
    if not fitting:
        return "fft"
    tile = fitting[0]
    if (len(fitting) > 1 and fitting[1] < 2 * max(P, Q)
            and fft_tiles(N, P, Q, R, S, tile) > FFT_TILE_STEP_UP[tile] * fft_tiles(N, P, Q, R, S, fitting[1])):
        tile = fitting[1]
    if spectral_work(N, P, Q, R, S, None, grid) < spectral_work(N, P, Q, R, S, tile, grid):
        return "fft"
    return f"fft tile {tile}"


@dataclass(frozen=True)
class Choice:
    """What algorithm="auto" runs without a stored measurement, and why."""
    label: str  # an algorithm or variant label
    why: str


def select(spec, backend: str, *, grid: tuple[int, int]) -> Choice:
    """algorithm="auto"'s rule for spec (a ConvSpec) on backend, when nothing is stored; grid is the
    whole-image FFT grid the fft plan would use (its class's spectral_grid), needed to weigh its work."""
    if backend != "cpu":
        return Choice("torch", "cuDNN was the fastest exact choice on every GPU layer measured")
    if not spec.plain:  # the rule's measurements were all plain convolutions
        return Choice("torch", "grouped or dilated: the rule's thresholds were measured on plain convolutions; "
                               "`convbench recommend --model` measures these")
    N, C, K, R, S, P, Q = spec.N, spec.C, spec.K, spec.R, spec.S, spec.P, spec.Q
    unit_stride, taps = spec.stride == (1, 1), R * S
    if unit_stride and (R, S) == (3, 3):
        tiles = N * -(-P // 4) * -(-Q // 4)
        if min(C, K) >= WINOGRAD_CHANNELS_FROM and tiles >= WINOGRAD_TILES_FROM:
            return Choice("winograd F(4x4,3x3)", f"3x3 with C, K >= {WINOGRAD_CHANNELS_FROM} and {tiles} F(4x4) tiles")
    if unit_stride and (taps >= FFT_TAPS_ALWAYS_FROM or (taps >= FFT_TAPS_FROM and N * C * K >= FFT_WORK_FROM)):
        variant = fft_variant(N, P, Q, R, S, grid)
        return Choice(variant, f"{R}x{S} filters at N·C·K = {N * C * K}: the FFT's cost does not grow with the "
                               f"filter; {variant} by tile count and spectral work")
    return Choice("torch", "oneDNN's direct kernels were the fastest exact choice here")


# -- 1-D FFT on the CPU (algorithms/fft/signal.py) ------------------------------------
# FFTW's threads on the long 1-D rows: batched rffts, FFTW 1 thread / 2 threads (AMD EPYC, 2 cores,
# median of 7, ms): 32 x 65536 7.7 / 5.7, 64 x 65536 14.6 / 11.1, 32 x 16384 1.02 / 0.65,
# 160 x 16384 7.4 / 5.0, 32 x 4096 0.18 / 0.13. (torch.fft, MKL, on the same rows: 5.7, 10.3, 0.49,
# 5.7, 0.15.) The 2-D plans' small batched transforms ran faster on one (fft/cpu.py).
SIGNAL_FFTW_THREADS_FROM = 1 << 17  # samples in a batch of rows (32 x 4096) from which FFTW takes every thread


def signal_fftw_threads(rows: int, length: int, threads: int) -> int:
    return threads if rows * length >= SIGNAL_FFTW_THREADS_FROM else 1


# The overlap-save block (fft tile='auto'): scipy's oaconvolve rule, the power of two T >= 2E that
# makes the fewest FFT flops, blocks · T·log2(T), over the stride-1 outputs (blocks of T - E + 1).
SIGNAL_TILES = tuple(1 << bits for bits in range(6, 24))


def signal_tile(outputs: int, extent: int) -> int:
    """The FFT block length for overlap-save over `outputs` outputs of a filter `extent` long."""
    def cost(T):
        return -(-outputs // (T - extent + 1)) * T * T.bit_length()
    fitting = [T for T in SIGNAL_TILES if T >= 2 * extent]
    return min(fitting or [SIGNAL_TILES[-1]], key=cost)


# algorithm="auto" for a 1-D convolution (convbench.interface.signal): FFT from this many taps of the
# dilated filter at stride 1, overlap-save (whose rule takes the whole signal when that is cheaper),
# else torch's conv1d. conv1d against fft overlap-save, valid, alternately (ms, AMD EPYC, 2026-12-02):
# N=4 C=K=8: 16,384 samples, 32 taps 4.90 vs 5.94, 48 taps 6.82 vs 6.31, 64 8.83 vs 5.42; 4,096
# samples, 32 taps 1.39 vs 1.32, 48 1.90 vs 1.25. One channel (N=C=K=1), where conv1d runs at about
# 0.5 GFLOP/s: 65,536 samples, 3 taps 0.88 vs 0.68; 262,144 samples, 3 taps 1.84 vs 2.36, 8 taps 2.41
# vs 2.36, 16 taps 2.48 vs 2.02.
SIGNAL_FFT_TAPS_FROM = 40
SIGNAL_FFT_TAPS_FROM_ONE_CHANNEL = 8  # one input and one output channel per group


def select_signal(spec) -> Choice:
    """algorithm="auto"'s rule for a SignalSpec on the CPU."""
    one_channel = spec.C_per_group == spec.K_per_group == 1
    taps_from = SIGNAL_FFT_TAPS_FROM_ONE_CHANNEL if one_channel else SIGNAL_FFT_TAPS_FROM
    if spec.stride == 1 and spec.extent >= taps_from:
        return Choice("fft overlap-save", f"a {spec.extent}-tap filter: FFT's cost grows with log(taps), "
                                          f"conv1d's with the taps (from {taps_from} taps on here)")
    return Choice("torch", f"{spec.extent} taps{' at a stride' if spec.stride > 1 else ''}: oneDNN's conv1d")
