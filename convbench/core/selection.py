"""Every choice convbench makes for you, in one module, each with the measurement that set it.

NNPACK's select_algorithm() is the model: a few readable lines. Part of the
core (it imports nothing else of convbench), so that the implementations
read their thresholds here and the harness's algorithm="auto" reads its rule
here. Each threshold keeps a one-line why here; the measurement that set it (where, how, the
figures) is its row in the record, results/records/auto-rule-thresholds.json, and
tests/test_selection_record.py fails for a threshold without a row or with another value there.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

# -- the GEMM engine on the CPU ---------------------------------------------------
# Every CPU GEMM (algorithms/blas.py) runs on torch's MKL, or on oneDNN 2's matmul where that was faster on
# every shape measured: on an AMD CPU whose oneDNN kernels are AVX-512, MKL takes its AVX2 path there
# (their measurements: the record)
GEMM_ONEDNN2_VENDOR = "AuthenticAMD"
GEMM_ONEDNN2_ISA_PREFIX = "avx512"
# multiply-adds from which a product goes to oneDNN 2: below it the ctypes call costs more than it saves
GEMM_ONEDNN2_MULTIPLY_ADDS_FROM = 1 << 19


# a GEMM's right-hand matrix (B, read row-major) whose rows are a multiple of this many bytes long gets its rows
# padded by GEMM_ROW_PADDING floats, one cache line: oneDNN 2's matmul read such rows (128, 256, 512 floats)
# slower than the same rows padded; 64-float rows it read faster unpadded; MKL either way alike (the record)
GEMM_PAD_ROWS_OF_BYTES = 512
GEMM_ROW_PADDING = 16


def gemm_row_stride(columns: int) -> int:
    """Floats from one row of a float32 GEMM's right-hand matrix to the next: its columns, padded by
    GEMM_ROW_PADDING where a row is a multiple of GEMM_PAD_ROWS_OF_BYTES."""
    return columns + (GEMM_ROW_PADDING if columns * 4 % GEMM_PAD_ROWS_OF_BYTES == 0 else 0)


def gemm_engine(vendor: str, onednn2_isa: str) -> str:
    """'onednn2' or 'torch': the engine of every CPU GEMM, by the CPU's vendor and the instruction set of
    oneDNN 2's kernels on it."""
    if vendor == GEMM_ONEDNN2_VENDOR and onednn2_isa.startswith(GEMM_ONEDNN2_ISA_PREFIX):
        return "onednn2"
    return "torch"


# rows (tiles) from which a complex product runs as one real GEMM on its filters' embedding where the GEMMs'
# engine is oneDNN 2 (torch's cgemm elsewhere, and with groups): on fewer, writing the embedding costs more
# than the faster GEMM saves (algorithms/complex_product.py; its measurement: the record)
COMPLEX_PRODUCT_EMBEDDED_ROWS_FROM = 48
# bytes of the embedding a block of frequencies takes, written and multiplied while in cache (its measurement:
# the record)
COMPLEX_PRODUCT_EMBEDDING_BLOCK_BYTES = 2 << 20


def complex_product_embedded(engine: str, rows: int, groups: int) -> bool:
    return engine == "onednn2" and groups == 1 and rows >= COMPLEX_PRODUCT_EMBEDDED_ROWS_FROM


def embedding_block_frequencies(K: int, C: int) -> int:
    """Frequencies per block of the embedded complex products: as many as fill COMPLEX_PRODUCT_EMBEDDING_BLOCK_BYTES
    with their (2C x 2K) float32 embeddings, at least one."""
    return max(1, COMPLEX_PRODUCT_EMBEDDING_BLOCK_BYTES // (16 * K * C))


def products_on_split_planes(engine: str, groups: int) -> bool:
    """The tiled fft's filter gradient, conj(dY) X a frequency, and the whole-image fft's contraction (where
    it is BLAS's), as one real GEMM on the left operand's split planes (algorithms/complex_product.
    split_product) where the GEMMs' engine is oneDNN 2; torch's cgemm elsewhere and with groups (the
    record: rows tiled-fft-filter-gradient-split-planes and fft-contract-split-planes)."""
    return engine == "onednn2" and groups == 1


def dft_rows_as_real_gemm(engine: str) -> bool:
    """The pruned DFT's complex second product as one real GEMM (algorithms/fft/dft.py), where the GEMMs'
    engine is oneDNN 2, which has no complex matmul; torch's cgemm elsewhere (the record: row
    dft-rows-as-one-real-gemm)."""
    return engine == "onednn2"


# the pruned DFT's first product reads the planes in place, transposed, from planes this many columns wide
# (narrower, the planes are laid out (h, w, B) first; its measurement: the record)
DFT_PLANES_IN_PLACE_FROM = 13


def dft_reads_planes_in_place(columns: int) -> bool:
    """The pruned DFT's first product reading (B, h, w) planes in place as its transposed (w x B) operand per data
    row, with no (h, w, B) copy first, on planes at least DFT_PLANES_IN_PLACE_FROM columns wide."""
    return columns >= DFT_PLANES_IN_PLACE_FROM


def gemm_writes_strided_output(engine: str) -> bool:
    """A GEMM's output written straight into a strided view (the inverse DFT's planes into the output's
    (B, P, Q), read as (P, B, Q)) where the engine is oneDNN 2, whose matmul takes any strides; torch's
    writes a contiguous result, then the plan's own copy lays it out (the record: row
    inverse-dft-writes-the-output-in-place)."""
    return engine == "onednn2"


# -- layout copies on the CPU -------------------------------------------------
# input channels from which an NCHW input is copied channels-last by the Numba kernel (layout.to_channels_last)
# instead of torch's strided copy, which was as fast or faster below them (its measurement: the record)
CHANNELS_LAST_COPY_BY_KERNEL_FROM = 64


# -- direct on the CPU --------------------------------------------------------
# The Numba loop's innermost loop runs along an output row, so how much work it takes from the GEMMs grows
# with the row's length: each rule below names the rows it holds on (their measurements: the record).
# R·S·C/K above which the Numba loop beats the GEMMs (the stacked block outgrows the caches), on output rows
# of LOOP_ABOVE_ROWS_FROM or more; on shorter rows the GEMMs won
LOOP_ABOVE = 250
LOOP_ABOVE_ROWS_FROM = 56
# C/g from which the per-group GEMMs beat the loop; on output rows of LOOP_GROUP_ROWS_FROM or more, from
# GEMM_GROUP_CHANNELS_FROM_ON_LONG_ROWS
GEMM_GROUP_CHANNELS_FROM = 4
LOOP_GROUP_ROWS_FROM = 28
GEMM_GROUP_CHANNELS_FROM_ON_LONG_ROWS = 5


# channels from which depthwise runs channels-last (vectorised across channels), but at stride 1 on output rows
# of DEPTHWISE_LOOP_ROWS_FROM or more with up to DEPTHWISE_LOOP_TAPS_UP_TO taps, where the loop along the rows
# beat it (their measurements: the record)
DEPTHWISE_CHANNELS_LAST_FROM = 16
DEPTHWISE_LOOP_ROWS_FROM = 56
DEPTHWISE_LOOP_TAPS_UP_TO = 9
# taps (R·S) from which the channels-last depthwise kernel adds three taps a pass, for four outputs in turn, not
# one (its measurement: the record)
DEPTHWISE_TAPS_BY_THREE_FROM = 10
# multiply-adds per output position, R·S·C·K, up to which the Numba loop beats the GEMMs on a plain layer with
# a filter of several taps: with so few channels and filters every GEMM is thin, and the copies around it cost
# more than the sums; on output rows of at least the key, up to its value (its measurement: the record)
LOOP_WORK_UP_TO = 576
LOOP_WORK_ON_ROWS_FROM = {56: 1728, 224: 3456}
# the loop's parallel tasks per thread, at least: an image's output rows are cut into chunks where its images
# and blocks of filters are fewer (its measurement: the record)
LOOP_TASKS_PER_THREAD = 2


def direct_loop_is_cheaper(spec) -> bool:
    """Whether a plain layer's work per output is small enough, for its output rows, that the loop beats every
    GEMM method."""
    work_up_to = max([LOOP_WORK_UP_TO] + [work for rows, work in LOOP_WORK_ON_ROWS_FROM.items() if spec.Q >= rows])
    return spec.groups == 1 and spec.R * spec.S > 1 and spec.R * spec.S * spec.C * spec.K <= work_up_to


def direct_depthwise_channels_last(spec) -> bool:
    """Whether a depthwise layer runs channels-last (depthwise.py), not the loop along its output rows."""
    loop = (spec.stride == (1, 1) and spec.Q >= DEPTHWISE_LOOP_ROWS_FROM
            and spec.R * spec.S <= DEPTHWISE_LOOP_TAPS_UP_TO)
    return spec.C >= DEPTHWISE_CHANNELS_LAST_FROM and not loop


def depthwise_taps_by_three(taps: int) -> bool:
    return taps >= DEPTHWISE_TAPS_BY_THREE_FROM


def direct_uses_loop(spec) -> bool:
    """Whether the loop beats the channel-major GEMMs (groups, or fewer filters than channels-last takes)."""
    C, K = spec.C_per_group, spec.K_per_group
    if spec.groups > 1 and C < (GEMM_GROUP_CHANNELS_FROM_ON_LONG_ROWS if spec.Q >= LOOP_GROUP_ROWS_FROM
                                else GEMM_GROUP_CHANNELS_FROM):
        return True
    return spec.Q >= LOOP_ABOVE_ROWS_FROM and spec.R * spec.S * C / K > LOOP_ABOVE


# (waste - 1)·K above which only the valid positions are gathered and computed (its measurement: the record)
GATHER_ABOVE = 80
# output row length from which the channel-major GEMMs gather by windows of output rows (at unit column stride
# each row is a contiguous run), which copy no more than the slices do: from it they always gather (its
# measurement: the record)
GATHER_WINDOW_ROW_FROM = 12


def direct_gathers_by_windows(spec) -> bool:
    """Whether the channel-major GEMMs (direct/gemm.py) copy their gathered chunks as windows of output rows
    (else element by element, through an index)."""
    return spec.stride_w == 1 and spec.Q >= GATHER_WINDOW_ROW_FROM


def direct_gathers(waste: float, K: int, above: float = GATHER_ABOVE) -> bool:
    """Whether only the valid positions are computed: the wasted positions' work, (waste - 1)·K, is
    above the threshold (GATHER_ABOVE for the channel-major GEMMs, CHANNELS_LAST_GATHER_ABOVE)."""
    return (waste - 1) * K > above


# filters from which direct without groups runs its GEMMs position-major on channels-last rows (K is the
# GEMM's narrow side: below it the channel-major GEMMs or the loop win) (its measurement: the record)
CHANNELS_LAST_FILTERS_FROM = 16
# output positions (N·P·Q) from which channels-last runs: below them its copy of the filters into (K, R·S·C)
# rows costs more than the channel-major GEMMs' thin block, which read the filters in place (its measurement: the record)
CHANNELS_LAST_POSITIONS_FROM = 300
# channels from which channels-last slices beat the gathered block (C is each tap's GEMM's inner side) (its measurement: the record)
CHANNELS_LAST_SLICE_CHANNELS_FROM = 16
# (waste - 1)·K above which channels-last gathers the valid positions instead of slicing (its measurement: the record)
CHANNELS_LAST_GATHER_ABOVE = 20

# output positions per image from which a 1x1 filter (stride 1, no padding or groups) runs one GEMM per
# image in NCHW (below it each product is thin) (its measurement: the record)
PER_IMAGE_POSITIONS_FROM = 100

DIRECT_METHODS = ("depthwise", "loop", "gather", "slice", "channels-last gather", "channels-last slice",
                  "per image")  # how direct computes the sum (algorithms/direct)


def direct_per_image(spec) -> bool:
    """Whether spec is a 1x1 filter's plain product, w times each image (direct/pointwise.py)."""
    return spec.R == spec.S == 1 and spec.stride == (1, 1) and spec.padding == (0, 0) and spec.groups == 1


def direct_channels_last(spec) -> bool:
    """Whether direct runs spec's GEMMs on channels-last rows (direct/channels_last.py): no groups, a filter
    with more than one tap (a 1x1 filter's product needs no stacking either way), enough filters and
    enough output positions to pay for the filters' relayout."""
    return (spec.groups == 1 and spec.R * spec.S > 1 and spec.K >= CHANNELS_LAST_FILTERS_FROM
            and spec.N * spec.P * spec.Q >= CHANNELS_LAST_POSITIONS_FROM)


def direct_method(spec) -> str:
    """The method direct uses for spec (a ConvSpec) when none is forced: the one place it is decided."""
    if spec.C_per_group == spec.K_per_group == 1 and direct_depthwise_channels_last(spec):
        return "depthwise"
    if direct_loop_is_cheaper(spec):
        return "loop"
    rows, cols = spec.span
    waste = rows * cols / (spec.P * spec.Q)
    if direct_channels_last(spec):
        slices = (spec.stride == (1, 1) and spec.C >= CHANNELS_LAST_SLICE_CHANNELS_FROM
                  and not direct_gathers(waste, spec.K, CHANNELS_LAST_GATHER_ABOVE))
        return "channels-last slice" if slices else "channels-last gather"
    if direct_uses_loop(spec):
        return "loop"
    if direct_per_image(spec) and spec.P * spec.Q >= PER_IMAGE_POSITIONS_FROM:
        return "per image"
    if spec.stride != (1, 1) or direct_gathers_by_windows(spec):
        return "gather"  # the GEMMs compute only the strided, or the valid, positions
    return "gather" if direct_gathers(waste, spec.K) else "slice"


# -- Winograd on the CPU ------------------------------------------------------
# bytes of the transformed filters (n²·K·C·4) above which the filter transform and the contraction
# run by blocks of filters, each block's transform still in cache when it is multiplied (its measurement: the record)
WINOGRAD_FILTER_BLOCKS_ABOVE = 4 << 20
# bytes of one block of transformed filters (its measurement: the record)
WINOGRAD_FILTER_BLOCK_BYTES = 4 << 20


def winograd_filter_block(points: int, K: int, C_per_group: int, groups: int = 1) -> int:
    """Filters per block of Winograd's fused filter transform and contraction: K (one block, the
    separate stages) unless the whole transform outgrows WINOGRAD_FILTER_BLOCKS_ABOVE; then as many
    as fill WINOGRAD_FILTER_BLOCK_BYTES, a multiple of 16, at least 16. Grouped layers keep the stages."""
    row = points * C_per_group * 4  # one filter's transform
    if groups > 1 or K * row <= WINOGRAD_FILTER_BLOCKS_ABOVE:
        return K
    return min(K, max(16, WINOGRAD_FILTER_BLOCK_BYTES // row // 16 * 16))


# bytes of the transformed inputs (n²·tiles·C·4) above which a call runs the input transform, the contraction
# and the output transform by blocks of tile rows, each block's transforms still in cache when multiplied
# (its measurement: the record)
WINOGRAD_TILE_BLOCKS_ABOVE = 8 << 20
# ... where the GEMMs run on oneDNN 2, whose kernels lose less on a block's thinner GEMMs (the record)
WINOGRAD_TILE_BLOCKS_ABOVE_ONEDNN2 = 6 << 20
# bytes of one block of transformed inputs (its measurement: the record)
WINOGRAD_TILE_BLOCK_BYTES = 2 << 20


def winograd_tile_rows(points: int, tiles_w: int, rows: int, C: int, filters_blocked: bool, groups: int = 1,
                       engine: str = "torch") -> int:
    """Rows of tiles per block of Winograd's fused input transform, contraction and output transform: rows
    (one block, the separate stages) unless the transformed inputs outgrow WINOGRAD_TILE_BLOCKS_ABOVE (with
    the GEMMs on oneDNN 2: WINOGRAD_TILE_BLOCKS_ABOVE_ONEDNN2); then as many as fill WINOGRAD_TILE_BLOCK_BYTES,
    at least one. Grouped layers, and layers whose filters run by blocks (winograd_filter_block: every block
    of tiles would read them all again), keep the stages."""
    row = points * tiles_w * C * 4  # one row of tiles' transform
    above = WINOGRAD_TILE_BLOCKS_ABOVE_ONEDNN2 if engine == "onednn2" else WINOGRAD_TILE_BLOCKS_ABOVE
    if groups > 1 or filters_blocked or rows * row <= above:
        return rows
    return min(rows, max(1, WINOGRAD_TILE_BLOCK_BYTES // row))


# bytes of each thread's sum of the filter gradient's per-point products (n²·K·C·4) up to which that pass, too,
# runs each thread on its own rows of tiles: a core's L2 (its measurement: the record)
WINOGRAD_THREAD_GRADIENT_SUM_BYTES = 1 << 20
# bytes of one thread's block of transformed inputs and products (n²·tiles·(C + K)·4) where each thread runs
# its own rows of tiles through Winograd's three stages: a core's L2 and a quarter (its measurement: the record)
WINOGRAD_THREAD_BLOCK_BYTES = 5 << 18


def winograd_thread_rows(points: int, tiles_w: int, rows: int, C: int, K: int, filters_blocked: bool,
                         groups: int, engine: str, threads: int) -> int:
    """Rows of tiles per block where each thread runs its own rows through Winograd's input transform, a
    one-thread oneDNN 2 matmul and the output transform (algorithms/winograd/by_threads.py); 0 where a call
    keeps the stages shared by the threads: GEMMs not on oneDNN 2, one thread, groups, or filters that run
    by blocks (each thread would read them all for each of its blocks)."""
    if engine != "onednn2" or threads < 2 or groups > 1 or filters_blocked:
        return 0
    row = points * tiles_w * (C + K) * 4  # one row of tiles' transform and products
    return max(1, min(-(-rows // threads), WINOGRAD_THREAD_BLOCK_BYTES // row))


# bytes of one thread's block of transformed filters (n²·block·C·4) where each thread runs its own share of
# blocked filters through the filter transform, a one-thread oneDNN 2 matmul and the output transform
# (its measurement: the record)
WINOGRAD_THREAD_FILTER_BLOCK_BYTES = 4 << 20
# whether each thread makes its own input transform there, rather than all reading the one made before (the record)
WINOGRAD_THREAD_FILTERS_OWN_INPUT = False


def winograd_thread_filters(points: int, C: int, K: int, filters_blocked: bool, groups: int, engine: str,
                            threads: int) -> int:
    """Filters per block where each thread runs its own share of the filters, block by block, through the
    filter transform, a one-thread oneDNN 2 matmul with every tile and the output transform of its channels
    (algorithms/winograd/by_threads.py); 0 where a call keeps the blocks of filters shared by the threads:
    GEMMs not on oneDNN 2, one thread, groups, or filters small enough to run whole (winograd_thread_rows).
    A thread's share is cut into equal blocks of WINOGRAD_THREAD_FILTER_BLOCK_BYTES or less."""
    if engine != "onednn2" or threads < 2 or groups > 1 or not filters_blocked:
        return 0
    share = -(-K // threads)
    blocks = -(-share * points * C * 4 // WINOGRAD_THREAD_FILTER_BLOCK_BYTES)
    return -(-share // blocks)


def winograd_thread_gradient(points: int, C: int, K: int) -> bool:
    """Whether the filter gradient, where winograd_thread_rows takes threads, takes them too: each thread adds
    its blocks' products into a sum of its own (n² K x C matrices), read and written again for each block."""
    return points * K * C * 4 <= WINOGRAD_THREAD_GRADIENT_SUM_BYTES


# -- fft on the CPU -----------------------------------------------------------
# FFT grid side up to which the pruned matrix DFT beats FFTW for the input and output transforms (its measurement: the record)
DFT_GRID_UP_TO = 128


def fft_transform(grid: tuple[int, int]) -> str:
    """'dft' or 'fft' for the input and output transforms on this FFT grid."""
    return "dft" if max(grid) <= DFT_GRID_UP_TO else "fft"


# the filter transform is the pruned DFT of the R x S support (it beat FFTW-then-gather everywhere) (its measurement: the record)
FILTER_TRANSFORM = "dft"


# tile side from which the tiled FFT's filter spectrum is the pruned DFT of the R x S taps, not FFTW over the
# zero-padded T x T grids, which writes each filter's spectrum frequency-major, a cache line a coefficient ...
TILED_FILTER_DFT_FROM_TILE = 16
# ... while the DFT's flops are at most this many times the FFT's (its measurement: the record)
TILED_FILTER_DFT_FLOPS_UP_TO = 1
# ... where the GEMMs run on oneDNN 2, twice as fast as MKL's on the chips that take it, while FFTW's
# frequency-major writes are as slow (its measurement: the record)
TILED_FILTER_DFT_FLOPS_UP_TO_ONEDNN2 = 8


# the least share of a tile's side that its block of outputs (and so of dy) fills, from which the tiled FFT's
# filter gradient transforms dy's blocks with the input's generated kernel (each block's columns a tile apart,
# zeros between: the kernel reads those zeros too) rather than FFTW on T x T blocks (its measurement: the record)
TILED_DY_KERNEL_FILL_FROM = 0.5


def tiled_dy_by_kernel(tile: int, step: int) -> bool:
    """Whether the tiled FFT's filter gradient transforms dy with the generated input kernel (else FFTW),
    step being the outputs per tile along a row."""
    return step >= TILED_DY_KERNEL_FILL_FROM * tile


def tiled_filter_by_dft(tile: int, dft_flops: float, fft_flops: float, engine: str = "torch") -> bool:
    """Whether the tiled FFT's filter transform is the pruned DFT (else FFTW), from the flops of each and
    the GEMMs' engine (blas.engine())."""
    up_to = TILED_FILTER_DFT_FLOPS_UP_TO_ONEDNN2 if engine == "onednn2" else TILED_FILTER_DFT_FLOPS_UP_TO
    return tile >= TILED_FILTER_DFT_FROM_TILE and dft_flops <= up_to * fft_flops


# images from which the spectral contraction runs as torch's batched cgemm, not the Numba stream (its measurement: the record)
CONTRACT_BLAS_FROM_IMAGES = 4


def contract_with_blas(N: int, groups: int) -> bool:
    return groups == 1 and N >= CONTRACT_BLAS_FROM_IMAGES


# bytes of filter spectrum per block of its rows, each contracted while in cache, in a per-call forward and
# data-gradient pass (its measurement: the record)
FILTER_SPECTRUM_BLOCK_BYTES = 16 << 20


# ... where the DFT's first product, which every block's rows are computed from, is at most these bytes:
# a larger one is read back from memory once a block, which cost more than the blocks saved (the record)
FILTER_SPECTRUM_BLOCKS_FIRST_PRODUCT_UP_TO = 16 << 20


def blocks_filter_spectrum(filter_transform: str, N: int, groups: int, first_product_bytes: int) -> bool:
    """Whether a per-call pass computes the filter spectrum by blocks of rows: with the pruned DFT, where
    the contraction is BLAS's (the Numba stream, called once a block, ran slower), and where the DFT's
    first product is small enough to be read once a block."""
    return (filter_transform == "dft" and contract_with_blas(N, groups)
            and first_product_bytes <= FILTER_SPECTRUM_BLOCKS_FIRST_PRODUCT_UP_TO)


def filter_spectrum_block_rows(row_bytes: int, rows: int) -> int:
    """Rows of the filter spectrum per block: about FILTER_SPECTRUM_BLOCK_BYTES, at least one, at most all."""
    return max(1, min(rows, FILTER_SPECTRUM_BLOCK_BYTES // max(row_bytes, 1)))


# bytes of filter spectrum per block of its columns (every retained row), each contracted while in cache,
# in a per-call forward whose contraction runs on X's split planes (its measurement: the record)
FILTER_SPECTRUM_COLUMN_BLOCK_BYTES = 8 << 20


def filter_spectrum_block_columns(filter_transform: str, split_planes: bool, column_bytes: int, columns: int) -> int:
    """Columns of the filter spectrum per block in a per-call forward, 0 for none: with the pruned DFT where
    the contraction runs on X's split planes (products_on_split_planes), about
    FILTER_SPECTRUM_COLUMN_BLOCK_BYTES, at least one, at most all. Each block's DFT reads only its own columns
    of the first product (the forward's makes its own), so no size of that product rules the blocks out (rows'
    blocks re-read it)."""
    if filter_transform != "dft" or not split_planes:
        return 0
    return max(1, min(columns, FILTER_SPECTRUM_COLUMN_BLOCK_BYTES // max(column_bytes, 1)))


# -- algorithm="auto", when no measured choice is stored ------------------------
# auto: Winograd F(4x4,3x3) needs C and K at least this (its measurement: the record)
WINOGRAD_CHANNELS_FROM = 128
WINOGRAD_TILES_FROM = 48      # ... and at least this many F(4x4) output tiles (N·ceil(P/4)·ceil(Q/4))
FFT_TAPS_FROM = 49            # R·S: 7x7 and larger ...
FFT_WORK_FROM = 8 * 64 * 64   # ... with N·C·K at least that of the 7x7 layer measured,
FFT_TAPS_ALWAYS_FROM = 225    # or 15x15 and larger whatever the batch
FFT_TILES = (8, 16, 32, 64)  # the tile sizes of FFT on T x T tiles: the plan, its variants and this rule read them here
# channels per parallel job of the tiled FFT's generated transforms: the job's band of input rows and
# its scratch spectra hold that many channels (its measurement: the record)
FFT_TILE_CHANNEL_BLOCK = {8: 32, 16: 16, 32: 32}
# auto: step to the next tile size when the smaller needs more than this many times its tiles (its measurement: the record)
FFT_TILE_STEP_UP = {8: 4, 16: 4, 32: 12}


def tile_mostly_padding(tile: int, P: int, Q: int) -> bool:
    """A T x T tile more than twice the output's side computes mostly padding, seconds a call where
    torch takes a millisecond (results/records/implementation-choices.json, row
    sweep-slow-variant-timed-once). The sweeps, the asv suites and the speed tests leave such a tile
    out (registry.why_not_swept); plan() still builds it."""
    return tile > 2 * max(P, Q)
# auto: what one whole-image spectral product costs in tiled ones (its measurement: the record)
WHOLE_IMAGE_WORK_WEIGHT = 3


def spectral_work(N: int, P: int, Q: int, R: int, S: int, tile: int | None, grid: tuple[int, int],
                  whole_image_weight: float = WHOLE_IMAGE_WORK_WEIGHT) -> float:
    """Complex products per (input, output) channel pair, the contraction's and the filter spectrum's
    cost: tiles x T x (T/2 + 1) for T x T tiles, N x Lh x (Lw/2 + 1) for the whole-image grid
    (weighted by what one of its products measured to cost)."""
    if tile is None:
        return whole_image_weight * N * grid[0] * (grid[1] // 2 + 1)
    return fft_tiles(N, P, Q, R, S, tile) * tile * (tile // 2 + 1)


def fft_tiles(N: int, P: int, Q: int, R: int, S: int, tile: int) -> int:
    return N * -(-P // (tile - R + 1)) * -(-Q // (tile - S + 1))


def fft_variant(N: int, P: int, Q: int, R: int, S: int, grid: tuple[int, int],
                thresholds: "Thresholds | None" = None) -> str:
    """The fft variant for this shape. The tile as NNPACK picks it, by counting tiles: the
    smallest tile the filter fits, unless it needs more than FFT_TILE_STEP_UP times the tiles of
    the next size up (one step, as NNPACK's 8x8 -> 16x16) and that size is under twice the output;
    then that tile against the whole image by spectral work."""
    t = thresholds or SHIPPED
    fitting = [tile for tile in FFT_TILES if max(R, S) < tile]
    if not fitting:
        return "fft"
    tile = fitting[0]
    if (len(fitting) > 1 and fitting[1] < 2 * max(P, Q)
            and fft_tiles(N, P, Q, R, S, tile) > t.fft_tile_step_up[tile] * fft_tiles(N, P, Q, R, S, fitting[1])):
        tile = fitting[1]
    weight = t.whole_image_work_weight
    if spectral_work(N, P, Q, R, S, None, grid, weight) < spectral_work(N, P, Q, R, S, tile, grid, weight):
        return "fft"
    return f"fft tile {tile}"


def winograd_tiles(N: int, P: int, Q: int) -> int:
    """F(4x4,3x3)'s output tiles: N·ceil(P/4)·ceil(Q/4)."""
    return N * -(-P // 4) * -(-Q // 4)


@dataclass(frozen=True)
class Choice:
    """What algorithm="auto" runs without a stored measurement, and why."""
    label: str  # an algorithm or variant label
    why: str


def select(spec, backend: str, *, grid: tuple[int, int], thresholds: Thresholds | None = None) -> Choice:
    """algorithm="auto"'s rule for spec (a ConvSpec) on backend, when nothing is stored; grid is the
    whole-image FFT grid the fft plan would use (its class's spectral_grid), needed to weigh its work;
    thresholds: this machine's (`convbench calibrate`), else the shipped ones."""
    t = thresholds or SHIPPED
    if backend != "cpu":
        return Choice("torch", "cuDNN was the fastest exact choice on every GPU layer measured")
    if not spec.plain:  # the rule's measurements were all plain convolutions
        return Choice("torch", "grouped or dilated: the rule's thresholds were measured on plain convolutions; "
                               "`convbench recommend --model` measures these")
    N, C, K, R, S, P, Q = spec.N, spec.C, spec.K, spec.R, spec.S, spec.P, spec.Q
    unit_stride, taps = spec.stride == (1, 1), R * S
    if unit_stride and (R, S) == (3, 3):
        tiles = winograd_tiles(N, P, Q)
        if min(C, K) >= t.winograd_channels_from and tiles >= t.winograd_tiles_from:
            return Choice("winograd F(4x4,3x3)",
                          f"3x3 with C, K >= {t.winograd_channels_from:g} and {tiles} F(4x4) tiles")
    if unit_stride and (taps >= t.fft_taps_always_from or (taps >= t.fft_taps_from and N * C * K >= t.fft_work_from)):
        variant = fft_variant(N, P, Q, R, S, grid, t)
        return Choice(variant, f"{R}x{S} filters at N·C·K = {N * C * K}: the FFT's cost does not grow with the "
                               f"filter; {variant} by tile count and spectral work")
    return Choice("torch", "oneDNN's direct kernels were the fastest exact choice here")


# -- 1-D FFT on the CPU (algorithms/fft/signal.py) ------------------------------------
# 1-D: samples in a batch of rows from which FFTW takes every thread (its measurement: the record)
SIGNAL_FFTW_THREADS_FROM = 1 << 17


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


# 1-D auto: FFT (overlap-save) from this many taps, else conv1d (its measurement: the record)
SIGNAL_FFT_TAPS_FROM = 40
SIGNAL_FFT_TAPS_FROM_ONE_CHANNEL = 8  # one input and one output channel per group
# 1-D auto, one channel: taps from which overlap-save beats the whole-signal FFT (its measurement: the record)
SIGNAL_OVERLAP_SAVE_TAPS_FROM_ONE_CHANNEL = 1


def select_signal(spec, thresholds: Thresholds | None = None) -> Choice:
    """algorithm="auto"'s rule for a SignalSpec on the CPU."""
    t = thresholds or SHIPPED
    one_channel = spec.C_per_group == spec.K_per_group == 1
    taps_from = t.signal_fft_taps_from_one_channel if one_channel else t.signal_fft_taps_from
    if spec.stride == 1 and spec.extent >= taps_from:
        whole = one_channel and spec.extent < t.signal_overlap_save_taps_from_one_channel
        return Choice("fft" if whole else "fft overlap-save",
                      f"a {spec.extent}-tap filter: FFT's cost grows with log(taps), conv1d's with the taps (from "
                      f"{taps_from:g} taps on here)" + ("; one channel, the whole signal's FFT under "
                                                         f"{t.signal_overlap_save_taps_from_one_channel:g} taps"
                                                         if whole else ""))
    return Choice("torch", f"{spec.extent} taps{' at a stride' if spec.stride > 1 else ''}: oneDNN's conv1d")


# -- a machine's own thresholds ------------------------------------------------------
@dataclass(frozen=True)
class Thresholds:
    """The auto rule's thresholds: the shipped defaults above, or a machine's own, measured by
    `convbench calibrate` (convbench.measure.calibrate). math.inf: never (the choice above never won there)."""
    winograd_channels_from: float = WINOGRAD_CHANNELS_FROM
    winograd_tiles_from: float = WINOGRAD_TILES_FROM
    fft_taps_from: float = FFT_TAPS_FROM
    fft_work_from: float = FFT_WORK_FROM
    fft_taps_always_from: float = FFT_TAPS_ALWAYS_FROM
    fft_tile_step_up: dict = field(default_factory=lambda: dict(FFT_TILE_STEP_UP))
    whole_image_work_weight: float = WHOLE_IMAGE_WORK_WEIGHT
    signal_fft_taps_from: float = SIGNAL_FFT_TAPS_FROM
    signal_fft_taps_from_one_channel: float = SIGNAL_FFT_TAPS_FROM_ONE_CHANNEL
    signal_overlap_save_taps_from_one_channel: float = SIGNAL_OVERLAP_SAVE_TAPS_FROM_ONE_CHANNEL

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


SHIPPED = Thresholds()
