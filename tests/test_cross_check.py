"""Every CPU algorithm against the float64 oracle, over many random shapes."""
import dataclasses
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import convbench
from convbench.algorithms.direct import channels_last, depthwise_codegen, gemm
from convbench.algorithms.direct.flat_grid import FlatGrid
from convbench.core import selection
from convbench.interface import registry
from convbench.workloads.random_inputs import random_problem
from error_budget import assert_within_budget, forward_references
from helpers import CPU_ALGORITHMS, supports
from specs import conv_specs, grouped_dilated_specs, specs_for

def variant_of(algorithm: str, options: dict) -> str:
    """The variant label whose budget applies: (fft, tile=16) is 'fft tile 16', (direct, method=...) 'direct'."""
    matching = [(len(preset), name) for name, (base, preset) in registry.VARIANTS.items()
                if base == algorithm and all(options.get(k) == v for k, v in preset.items())]
    return max(matching)[1] if matching else algorithm


def check_against_oracle(algorithm, spec, seed, **options):
    """The variant's float32 result against the float64 oracle, within its rounding budget (error_budget.py)."""
    x, w = random_problem(spec, np.random.default_rng(seed))
    result = convbench.conv2d(x, w, algorithm=algorithm, padding=spec.padding, stride=spec.stride,
                              dilation=spec.dilation, groups=spec.groups, **options)
    assert result.dtype == np.float32
    assert result.shape == spec.output_shape
    assert_within_budget(variant_of(algorithm, options), "forward", result, *forward_references(spec, x, w),
                         what=f"{options or ''} on {spec}")


def test_every_cpu_algorithm_is_available():
    available = {a.name for a in convbench.implementations() if a.backend == "cpu" and a.available}
    assert available == set(registry.ALGORITHMS)
    assert all(supports(name, convbench.ConvSpec(N=1, C=1, H=8, W=8, K=1, R=3, S=3)) for name in CPU_ALGORITHMS)


@pytest.mark.parametrize("algorithm", ["direct", "fft", "torch"])
@given(spec=conv_specs(), seed=st.integers(0, 2**32 - 1))
def test_general_algorithms_match_oracle(algorithm, spec, seed):
    check_against_oracle(algorithm, spec, seed)


@pytest.mark.parametrize("method", ["loop", "gather", "slice", "channels-last gather", "channels-last slice"])
@given(spec=conv_specs(stride_one=True), seed=st.integers(0, 2**32 - 1))
def test_every_direct_method_at_unit_stride_matches_oracle(method, spec, seed):
    # auto picks one per shape; each must be right on every shape
    check_against_oracle("direct", spec, seed, method=method)


@pytest.mark.parametrize("method", ["loop", "gather", "channels-last gather"])
@given(spec=conv_specs(), seed=st.integers(0, 2**32 - 1))
def test_every_strided_direct_method_matches_oracle(method, spec, seed):
    check_against_oracle("direct", spec, seed, method=method)


@pytest.mark.parametrize("method", ["loop", "gather", "slice", "channels-last gather", "channels-last slice"])
@given(spec=grouped_dilated_specs(), seed=st.integers(0, 2**32 - 1))
def test_every_direct_method_with_groups_dilation_and_strides_matches_oracle(method, spec, seed):
    if method.endswith("slice") and spec.stride != (1, 1):
        spec = dataclasses.replace(spec, stride=1)
    if method.startswith("channels-last"):  # no groups: the dilations and strides alone
        spec = dataclasses.replace(spec, groups=1)
    check_against_oracle("direct", spec, seed, method=method)


READ_ONLY_FILTERS = """
import warnings
import numpy as np
import convbench
from convbench.workloads.random_inputs import random_problem
spec = convbench.ConvSpec(N=2, C=6, H=7, W=9, K=16, R=3, S=2, padding=1, groups=2)
x, w = random_problem(spec, np.random.default_rng(5))
read_only = w.copy()
read_only.setflags(write=False)
for method in ("gather", "slice"):
    plan = convbench.plan(spec, "direct", method=method)
    expected = plan(x, w)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(plan(x, read_only), expected), method
print("same")
"""


def test_channel_major_direct_copies_only_read_only_filters():
    # the GEMMs read a writeable w in place; torch wraps a read-only array only with a warning (once per
    # process, hence a fresh one), so the plan copies that one, to the same result
    run = subprocess.run([sys.executable, "-c", READ_ONLY_FILTERS], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "same", run.stderr[-2000:]


@given(spec=conv_specs(stride_one=True), seed=st.integers(0, 2**32 - 1))
def test_direct_per_image_matches_oracle_on_1x1_filters(spec, seed):
    spec = dataclasses.replace(spec, R=1, S=1, padding=0)
    check_against_oracle("direct", spec, seed, method="per image")


@given(spec=grouped_dilated_specs(depthwise=True), seed=st.integers(0, 2**32 - 1))
def test_direct_channels_last_depthwise_matches_oracle(spec, seed):
    check_against_oracle("direct", spec, seed, method="depthwise")


@pytest.mark.parametrize("case", depthwise_codegen.CASES, ids=lambda case: "{}x{} stride {}".format(*case))
@pytest.mark.parametrize("W", [1, 2, 9, 10, 11, 12])  # rows shorter than four outputs, and every remainder of four
def test_direct_generated_depthwise_kernels_match_oracle(case, W):
    R, S, stride = case
    W = stride * (W - 1) + 1  # the same output rows at each stride
    spec = convbench.ConvSpec(N=2, C=24, H=7 * stride, W=W, K=24, R=R, S=S, padding=R // 2, groups=24, stride=stride)
    assert convbench.plan(spec, "direct", method="depthwise")._depthwise._generated is not None
    check_against_oracle("direct", spec, seed=W, method="depthwise")


def test_direct_depthwise_kernels_are_generated_from_their_codegen():
    assert depthwise_codegen.KERNELS.read_text() == depthwise_codegen.generate()


@given(N=st.integers(1, 4), P=st.integers(1, 9), Q=st.integers(1, 9), outputs=st.integers(1, 200))
def test_direct_gathered_runs_are_windows_covering_each_output_once(N, P, Q, outputs):
    runs = FlatGrid(convbench.ConvSpec(N=N, C=1, H=P, W=Q, K=1, R=1, S=1)).output_runs(outputs)
    assert [run.start + i for run in runs for i in range(run.outputs)] == list(range(N * P * Q))
    for run in runs:
        assert run.start == (run.image * P + run.row) * Q + run.column and 1 <= run.outputs <= outputs
        assert run.images == 1 or (run.row, run.rows) == (0, P)  # several images: whole ones
        assert run.rows == 1 or (run.column, run.columns) == (0, Q)  # several rows: whole ones


@pytest.mark.parametrize("method", ["channels-last gather", "gather"])
@given(spec=st.one_of(conv_specs(), grouped_dilated_specs()), run=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_direct_gathers_by_windows_of_a_few_output_rows_match_oracle(method, spec, run, seed):
    # runs far shorter than the real ones: pieces of a row, bands of rows, and whole images together
    if method.startswith("channels-last"):
        spec = dataclasses.replace(spec, groups=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(channels_last, "GATHER_RUN", run)
        patch.setattr(channels_last, "GATHER_BLOCK_BYTES", 0)
        patch.setattr(gemm, "MIN_CHUNK", run)
        patch.setattr(gemm, "MAX_CHUNK", run)
        patch.setattr(selection, "GATHER_WINDOW_ROW_FROM", 1)  # windows for every row length at unit column stride
        planned = convbench.plan(spec, "direct", method=method)  # not conv2d's: its plans are kept
    assert method.startswith("channels-last") or planned._gemm.windows == (spec.stride_w == 1)
    x, w = random_problem(spec, np.random.default_rng(seed))
    assert_within_budget("direct", "forward", planned(x, w), *forward_references(spec, x, w),
                         what=f"{method} in runs of {run} outputs on {spec}")


@given(spec=st.one_of(conv_specs(stride_one=True), grouped_dilated_specs()), extra=st.integers(0, 3),
       run=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_direct_slices_on_shared_padding_in_short_runs_match_oracle(spec, extra, run, seed):
    # rows and images that share their padding, paddings past the filter's extent (the gap then grows to
    # keep each output row within its image), and runs that end inside rows and cross images
    spec = dataclasses.replace(spec, groups=1, stride=1, padding=(spec.pad_h + extra, spec.pad_w + extra))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(channels_last, "SLICE_RUN", run)
        planned = convbench.plan(spec, "direct", method="channels-last slice")
    x, w = random_problem(spec, np.random.default_rng(seed))
    assert_within_budget("direct", "forward", planned(x, w), *forward_references(spec, x, w),
                         what=f"channels-last slices in runs of {run} outputs on {spec}")


def test_direct_picks_channels_last_for_depthwise_with_enough_channels_and_short_rows():
    many = convbench.ConvSpec(N=1, C=32, H=8, W=8, K=32, R=3, S=3, padding=1, groups=32)
    assert convbench.plan(many, "direct").method == "depthwise"
    assert convbench.plan(dataclasses.replace(many, C=8, K=8, groups=8), "direct").method == "loop"
    # at stride 1 on output rows of 56 or more the loop along the rows
    assert convbench.plan(dataclasses.replace(many, W=56), "direct").method == "loop"
    assert convbench.plan(dataclasses.replace(many, W=55), "direct").method == "depthwise"
    assert convbench.plan(dataclasses.replace(many, W=112, stride=2), "direct").method == "depthwise"
    assert convbench.plan(dataclasses.replace(many, W=56, R=5, S=5, padding=2), "direct").method == "depthwise"
    with pytest.raises(convbench.ConvError, match="method='depthwise' needs groups = C = K"):
        convbench.plan(dataclasses.replace(many, groups=16), "direct", method="depthwise")


def test_direct_picks_its_method_by_stride_and_waste():
    unit = convbench.ConvSpec(N=1, C=8, H=8, W=8, K=8, R=3, S=3)  # R·S·C·K = 576: the loop's work
    assert convbench.plan(unit, "direct").method == "loop"
    assert convbench.plan(dataclasses.replace(unit, K=9), "direct").method == "slice"  # 648: the GEMMs'
    assert convbench.plan(dataclasses.replace(unit, K=9, R=1, S=1), "direct").method != "loop"  # no taps to loop over
    # more work per output on longer output rows: R·S·C·K = 1728 from rows of 56, 3456 from rows of 224
    first_layer = convbench.ConvSpec(N=1, C=3, H=8, W=56, K=64, R=3, S=3, padding=1)
    assert convbench.plan(first_layer, "direct").method == "loop"
    assert convbench.plan(dataclasses.replace(first_layer, W=55), "direct").method == "channels-last gather"
    assert convbench.plan(dataclasses.replace(first_layer, C=6), "direct").method != "loop"
    assert convbench.plan(dataclasses.replace(first_layer, C=6, W=224), "direct").method == "loop"
    assert convbench.plan(dataclasses.replace(first_layer, C=6, W=223), "direct").method != "loop"
    unit = dataclasses.replace(unit, K=16)
    strided = dataclasses.replace(unit, stride=(1, 2))
    small_wide = convbench.ConvSpec(N=1, C=8, H=7, W=7, K=8, R=3, S=3, padding=1, groups=2)  # (81/49 - 1)·8 < 80
    assert convbench.plan(unit, "direct").method == "slice"
    assert convbench.plan(small_wide, "direct").method == "slice"
    assert convbench.plan(dataclasses.replace(small_wide, C=256, K=256), "direct").method == "gather"  # 166 > 80
    assert convbench.plan(strided, "direct").method == "gather"  # only the strided positions
    few_big_filters = convbench.ConvSpec(N=1, C=32, H=32, W=32, K=4, R=7, S=7, padding=3)  # R·S·C/K = 392
    assert convbench.plan(dataclasses.replace(few_big_filters, H=56, W=56), "direct").method == "loop"
    assert convbench.plan(few_big_filters, "direct").method == "gather"  # rows of 32 outputs: the GEMMs
    # R·S·C/K = 200: the GEMMs; rows of 32 outputs are windows, copied no slower than slices: gathered
    assert convbench.plan(dataclasses.replace(few_big_filters, R=5, S=5, padding=2), "direct").method == "gather"
    assert convbench.plan(dataclasses.replace(few_big_filters, R=5, S=5, padding=2, W=11), "direct").method == "slice"
    assert convbench.plan(few_big_filters, "direct", method="slice").method == "slice"
    assert convbench.plan(unit, "direct", method="loop").method == "loop"
    small_groups = convbench.ConvSpec(N=1, C=4, H=8, W=8, K=4, R=3, S=3, groups=2)  # C/g = 2
    assert convbench.plan(small_groups, "direct").method == "loop"
    assert convbench.plan(dataclasses.replace(small_groups, C=16, K=16), "direct").method == "slice"  # C/g = 8
    groups_of_four = dataclasses.replace(small_groups, C=32, K=32, groups=8, padding=1)  # C/g = 4
    assert convbench.plan(groups_of_four, "direct").method == "slice"  # rows of 8 outputs
    assert convbench.plan(dataclasses.replace(groups_of_four, W=28), "direct").method == "loop"  # rows of 28
    with pytest.raises(convbench.ConvError, match="needs stride 1"):
        convbench.plan(strided, "direct", method="slice")


def test_direct_without_groups_runs_channels_last_or_per_image():
    resnet = convbench.ConvSpec(N=1, C=64, H=56, W=56, K=64, R=3, S=3, padding=1)  # (58²/56² - 1)·64 = 4.7
    assert convbench.plan(resnet, "direct").method == "channels-last slice"
    # the padding is a large share of a small image: (9²/7² - 1)·512 = 334 > 20
    assert convbench.plan(dataclasses.replace(resnet, N=8, C=512, K=512, H=7, W=7), "direct").method == "channels-last gather"
    # one image of 49 positions: the filters' relayout would cost more than the channel-major GEMMs gain
    assert convbench.plan(dataclasses.replace(resnet, C=512, K=512, H=7, W=7), "direct").method == "gather"
    # nor at 169 (convnet's L5), below CHANNELS_LAST_POSITIONS_FROM; 2 images of 196 are past it
    assert convbench.plan(dataclasses.replace(resnet, C=384, K=384, H=13, W=13), "direct").method == "gather"
    assert convbench.plan(dataclasses.replace(resnet, N=2, C=256, K=256, H=14, W=14),
                          "direct").method == "channels-last gather"
    stem = convbench.ConvSpec(N=1, C=3, H=224, W=224, K=64, R=7, S=7, padding=3, stride=2)
    assert convbench.plan(stem, "direct").method == "channels-last gather"  # strided
    assert convbench.plan(dataclasses.replace(stem, stride=1), "direct").method == "channels-last gather"  # C = 3
    # with big filters the GEMMs now beat the loop: R·S·C/K = 289 with 32 filters
    big = convbench.ConvSpec(N=1, C=32, H=32, W=32, K=32, R=17, S=17, padding=8)
    assert convbench.plan(big, "direct").method.startswith("channels-last")
    assert convbench.plan(dataclasses.replace(resnet, K=8), "direct").method == "gather"  # few filters: channel-major
    pointwise = dataclasses.replace(resnet, R=1, S=1, padding=0)
    assert convbench.plan(pointwise, "direct").method == "per image"  # 1x1: w times each image
    assert convbench.plan(dataclasses.replace(pointwise, H=7, W=7), "direct").method == "slice"  # 49 positions
    assert convbench.plan(dataclasses.replace(pointwise, padding=1), "direct").method == "gather"  # windows
    with pytest.raises(convbench.ConvError, match="method='per image' needs a 1x1 filter"):
        convbench.plan(resnet, "direct", method="per image")
    assert convbench.plan(dataclasses.replace(resnet, groups=2), "direct").method == "gather"  # per group
    with pytest.raises(convbench.ConvError, match="method='channels-last slice'.*needs stride 1"):
        convbench.plan(stem, "direct", method="channels-last slice")
    with pytest.raises(convbench.ConvError, match="needs groups = 1; got groups=2"):
        convbench.plan(dataclasses.replace(resnet, groups=2), "direct", method="channels-last gather")


@pytest.mark.parametrize("label", ["winograd", "winograd F(4x4,3x3)", "winograd F(6x6,3x3)"])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_winograd_matches_oracle(label, data, seed):
    check_against_oracle(label, data.draw(specs_for(label)), seed)


@pytest.mark.parametrize("label", [f"fft tile {tile}" for tile in (8, 16, 32)])
@settings(max_examples=60)  # every draw now reaches the assertion: 3x the ~17 of 150 that did before
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_tiled_fft_matches_oracle(label, data, seed):
    check_against_oracle(label, data.draw(specs_for(label)), seed)


@pytest.mark.parametrize("tile", [8, 16, 32])
def test_tiled_fft_refuses_a_filter_as_large_as_its_tile(tile):
    for R, S, dilation in ((tile, 3, 1), (3, tile + 2, 1), ((tile + 1) // 2 + 1, 1, 2)):
        spec = convbench.ConvSpec(N=1, C=1, H=2 * tile, W=2 * tile, K=1, R=R, S=S, dilation=dilation)
        with pytest.raises(convbench.ConvError, match="smaller than the tile"):
            convbench.plan(spec, "fft", tile=tile)


def test_tiled_fft_is_exact_so_compression_is_a_conv_error():
    spec = convbench.ConvSpec(N=1, C=2, H=12, W=12, K=2, R=5, S=5)
    with pytest.raises(convbench.ConvError, match="band-limiting applies to the whole-image FFT"):
        convbench.plan(spec, "fft", compression=0.5, tile=16)
    with pytest.raises(convbench.ConvError, match="tile must be one of 8, 16, 32"):
        convbench.plan(spec, "fft", tile=12)


EDGE_SPECS = [
    convbench.ConvSpec(N=1, C=1, H=1, W=1, K=1, R=1, S=1),                       # the smallest problem
    convbench.ConvSpec(N=1, C=1, H=5, W=3, K=1, R=3, S=3, padding=(0, 1)),        # odd, one output row
    convbench.ConvSpec(N=2, C=3, H=7, W=10, K=4, R=7, S=10),                     # filter = whole input
    convbench.ConvSpec(N=2, C=3, H=6, W=5, K=2, R=8, S=9, padding=(1, 2)),        # filter = whole padded input
    convbench.ConvSpec(N=2, C=2, H=12, W=9, K=3, R=1, S=7, padding=(0, 3)),       # 1xS, non-square
    convbench.ConvSpec(N=1, C=4, H=15, W=15, K=3, R=3, S=3, padding=2),           # padding R-1
    convbench.ConvSpec(N=2, C=3, H=11, W=13, K=2, R=4, S=2, padding=1, stride=3), # stride not dividing
    convbench.ConvSpec(N=4, C=16, H=14, W=14, K=8, R=3, S=3, padding=1),          # a real-ish layer
    convbench.ConvSpec(N=1, C=2, H=2, W=3, K=2, R=3, S=2, padding=(10, 4), stride=(20, 3)),  # padding > R: no data reaches output
    convbench.ConvSpec(N=1, C=2, H=5, W=6, K=2, R=3, S=3, padding=4),             # padding > R - 1
]


@pytest.mark.parametrize("algorithm", CPU_ALGORITHMS)
@pytest.mark.parametrize("spec", EDGE_SPECS, ids=str)
def test_edge_shapes_match_oracle(algorithm, spec):
    if not supports(algorithm, spec):
        with pytest.raises(convbench.ConvError, match="3x3|smaller than the tile|stride 1"):
            convbench.plan(spec, algorithm)
        return
    check_against_oracle(algorithm, spec, 7)


# What each algorithm cannot take, and the argument its ConvError must name.
REFUSALS = "groups=|dilation=|3x3|stride 1|smaller than the tile"


@pytest.mark.parametrize("depthwise", [False, True], ids=["grouped", "depthwise"])
@pytest.mark.parametrize("algorithm", CPU_ALGORITHMS)
@settings(max_examples=30)  # all supported now (Winograd and the tiles returned early on most draws before)
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_groups_and_dilation_match_oracle(algorithm, depthwise, seed, data):
    """Every variant on groups and dilation, drawn from what it supports (Winograd: groups, undilated)."""
    check_against_oracle(algorithm, data.draw(specs_for(algorithm, grouped=True, depthwise=depthwise)), seed)


@pytest.mark.parametrize("algorithm", CPU_ALGORITHMS)
@settings(max_examples=20)
@given(spec=grouped_dilated_specs())
def test_what_a_variant_does_not_support_is_a_conv_error_naming_it(algorithm, spec):
    if not supports(algorithm, spec):
        with pytest.raises(convbench.ConvError, match=REFUSALS):
            convbench.plan(spec, algorithm)


@pytest.mark.parametrize("algorithm", CPU_ALGORITHMS)
def test_groups_and_dilation_are_taken_by_every_algorithm_but_winograds_dilation(algorithm):
    """No algorithm gets away with refusing: direct, torch and fft (every tile) take both,
    Winograd takes groups and refuses dilation by name."""
    base, _ = registry.resolve(algorithm)
    grouped = convbench.ConvSpec(N=1, C=6, H=12, W=12, K=9, R=3, S=3, padding=1, groups=3)
    depthwise = convbench.ConvSpec(N=1, C=4, H=12, W=12, K=4, R=3, S=3, padding=1, groups=4)
    dilated = convbench.ConvSpec(N=1, C=2, H=12, W=12, K=2, R=3, S=3, padding=2, dilation=2)
    assert supports(algorithm, grouped) and supports(algorithm, depthwise)
    if base == "winograd":
        with pytest.raises(convbench.ConvError, match=r"dilation=\(2, 2\).*expected dilation=1"):
            convbench.plan(dilated, algorithm)
    else:
        assert supports(algorithm, dilated)
        check_against_oracle(algorithm, dilated, 5)
    check_against_oracle(algorithm, grouped, 5)
    check_against_oracle(algorithm, depthwise, 5)


@pytest.mark.parametrize("algorithm", CPU_ALGORITHMS)
def test_vgg_like_layer_error_is_small(algorithm):
    """A larger layer than hypothesis draws: channel sums of 64*9 terms in float32."""
    spec = convbench.ConvSpec(N=2, C=64, H=28, W=28, K=32, R=3, S=3, padding=1)
    check_against_oracle(algorithm, spec, 3)


def test_the_rounding_budget_catches_an_error_below_the_old_tolerance():
    """On a small layer a relative error of 5e-6, half the old tolerance of 1e-5, is several budgets off
    for direct, while the oracle's own float32 rounding is within it."""
    spec = convbench.ConvSpec(N=1, C=2, H=8, W=8, K=2, R=3, S=3, padding=1)
    x, w = random_problem(spec, np.random.default_rng(2))
    reference, scale = forward_references(spec, x, w)
    assert_within_budget("direct", "forward", reference.astype(np.float32), reference, scale)
    with pytest.raises(AssertionError, match="rounding units"):
        assert_within_budget("direct", "forward", (reference * (1 + 5e-6)).astype(np.float32), reference, scale)
