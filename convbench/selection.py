"""Every choice convbench makes for you, in one module, each with the measurement that set it.

NNPACK's select_algorithm() is the model: a few readable lines. Part of the
core (it imports nothing else of convbench), so that the implementations
read their thresholds here and the harness's algorithm="auto" reads its rule
here. Measurements: this 2-core machine (AMD EPYC, float32), each the same
process timing both sides alternately, unless said otherwise.
"""
from __future__ import annotations

# -- direct on the CPU --------------------------------------------------------
# At unit stride direct runs as BLAS GEMMs over shifted slices of the padded
# input. With big filters and few of them the stacked block outgrows the
# caches, and the Numba sliding-window loop wins: GEMM/loop measured 1.51x at
# k=7 and 1.46x at k=11 (C=K=64), but 0.68-0.77x at k=15 and 0.41x at k=31 (C=K=32).
LOOP_ABOVE = 150  # R·S·C/K above which the Numba loop is kept at unit stride too


def direct_uses_loop(R: int, S: int, C: int, K: int, unit_stride: bool) -> bool:
    return not unit_stride or R * S * C / K > LOOP_ABOVE


# On small images the padding is a large share of the grid; gathering only the
# valid positions costs more per element than a slice but saves K multiply-adds
# per wasted position. Gather vs slice: ResNet-18 512@7 ((waste-1)·K = 333)
# 1.35x; 256@14 (79) 1.05x; 64 channels at 13² (21) 0.67x; 128@28 (19) 0.82x; 64@56 (4.5) 0.64x.
GATHER_ABOVE = 80  # (waste - 1)·K above which only valid positions are computed


def direct_gathers(waste: float, K: int) -> bool:
    return (waste - 1) * K > GATHER_ABOVE


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


# -- algorithm="auto", when no measured choice is stored ------------------------
# Always exact (compression 0). On the CPU, torch (oneDNN's direct kernels) was
# the fastest exact choice on every 3x3 and 1x1 layer measured (Winograd
# F(2x2,3x3) 0.75-1.03x of it on ResNet-18, direct 0.43-0.68x), and fft won from
# 7x7 up on batched layers (N=8 C=K=64 56²: 7x7 1.1-1.2x, 11x11 2.0x; N=1 C=K=64
# 128², 31x31: 4.5x) but at N=2 C=K=32 only from k=15. On the H100, cuDNN
# was the fastest on every layer measured (ours 0.17-0.73x).
FFT_TAPS_FROM = 49            # R·S: 7x7 and larger ...
FFT_WORK_FROM = 8 * 64 * 64   # ... with N·C·K at least that of the 7x7 layer measured,
FFT_TAPS_ALWAYS_FROM = 225    # or 15x15 and larger whatever the batch


def rule(N: int, C: int, K: int, R: int, S: int, unit_stride: bool, backend: str) -> tuple[str, str]:
    """(algorithm, why) for algorithm="auto" without a stored measurement."""
    if backend != "cpu":
        return "torch", "cuDNN was the fastest exact choice on every GPU layer measured"
    taps = R * S
    if unit_stride and (taps >= FFT_TAPS_ALWAYS_FROM or (taps >= FFT_TAPS_FROM and N * C * K >= FFT_WORK_FROM)):
        return "fft", f"{R}x{S} filters at N·C·K = {N * C * K}: the FFT's cost does not grow with the filter"
    return "torch", "oneDNN's direct kernels were the fastest exact choice for small filters here"
