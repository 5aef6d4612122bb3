"""Every CPU algorithm against the float64 oracle, over many random shapes."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import convbench
from convbench.oracle import reference_conv2d, relative_error
from helpers import CPU_ALGORITHMS, random_problem, supports

TOLERANCE = 1e-5  # relative L2 error at compression 0, float32 data
# Bigger Winograd tiles round more (their matrices hold 1/2, 2, 4, 5.25, ...): over 1500 random small
# shapes the worst errors were 2.9e-7 (F(2x2)), 2.4e-6 (F(4x4)), 6.9e-6 (F(6x6)), but a single output
# with one channel has no sum to average the rounding over (hypothesis found 3.0e-5 for F(4x4)).
WINOGRAD_TOLERANCE = {2: TOLERANCE, 4: 1e-4, 6: 5e-4}


@st.composite
def conv_specs(draw, square_filter_3=False, stride_one=False):
    """Random specs: odd and even, non-square H and W; N, C, K down to 1; padding 0..R-1;
    filters from 1x1 up to the whole padded input, square or not; strides 1..3."""
    if square_filter_3:
        R = S = 3
    else:
        R = draw(st.integers(1, 9))
        S = draw(st.integers(1, 9))
    pad_h = draw(st.integers(0, R - 1))
    pad_w = draw(st.integers(0, S - 1))
    # the smallest input leaves a filter as large as the whole padded input
    H = draw(st.integers(max(1, R - 2 * pad_h), 20))
    W = draw(st.integers(max(1, S - 2 * pad_w), 20))
    stride = (1, 1) if stride_one else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return convbench.ConvSpec(N=draw(st.integers(1, 3)), C=draw(st.integers(1, 5)), H=H, W=W,
                              K=draw(st.integers(1, 5)), R=R, S=S, padding=(pad_h, pad_w), stride=stride)


@st.composite
def grouped_dilated_specs(draw, depthwise=False):
    """Random specs with groups (C/groups and K/groups from 1 to 3; depthwise: groups = C = K) and
    dilation 1..3 on each axis, filters 1..5, padding 0..extent-1 (extent = dilation·(R - 1) + 1),
    strides 1..2."""
    groups = draw(st.integers(1, 4))
    C = groups if depthwise else groups * draw(st.integers(1, 3))
    K = groups if depthwise else groups * draw(st.integers(1, 3))
    R, S = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    extent_h, extent_w = dilation[0] * (R - 1) + 1, dilation[1] * (S - 1) + 1
    pad_h, pad_w = draw(st.integers(0, extent_h - 1)), draw(st.integers(0, extent_w - 1))
    H = draw(st.integers(max(1, extent_h - 2 * pad_h), max(1, extent_h - 2 * pad_h) + 14))
    W = draw(st.integers(max(1, extent_w - 2 * pad_w), max(1, extent_w - 2 * pad_w) + 14))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    return convbench.ConvSpec(N=draw(st.integers(1, 2)), C=C, H=H, W=W, K=K, R=R, S=S, padding=(pad_h, pad_w),
                              stride=stride, dilation=dilation, groups=groups)


def tolerance_of(label):
    algorithm, options = convbench.registry.resolve(label)
    return WINOGRAD_TOLERANCE[options.get("tile", 2)] if algorithm == "winograd" else TOLERANCE


def check_against_oracle(algorithm, spec, seed, tolerance=TOLERANCE, **options):
    x, w = random_problem(np.random.default_rng(seed), spec)
    result = convbench.conv2d(x, w, algorithm=algorithm, padding=spec.padding, stride=spec.stride,
                              dilation=spec.dilation, groups=spec.groups, **options)
    reference = reference_conv2d(x, w, spec.padding, spec.stride, spec.dilation, spec.groups)
    assert result.dtype == np.float32
    assert result.shape == spec.output_shape
    error = relative_error(result, reference)
    assert error <= tolerance, f"{algorithm} {options or ''} on {spec}: relative L2 error {error:.2e}"


def test_every_cpu_algorithm_is_available():
    available = {a.name for a in convbench.implementations() if a.backend == "cpu" and a.available}
    assert available == set(convbench.registry.ALGORITHMS)
    assert all(supports(name, convbench.ConvSpec(N=1, C=1, H=8, W=8, K=1, R=3, S=3)) for name in CPU_ALGORITHMS)


@pytest.mark.parametrize("algorithm", ["direct", "fft", "torch"])
@given(spec=conv_specs(), seed=st.integers(0, 2**32 - 1))
def test_general_algorithms_match_oracle(algorithm, spec, seed):
    check_against_oracle(algorithm, spec, seed)


@pytest.mark.parametrize("method", ["loop", "gather", "slice"])
@given(spec=conv_specs(stride_one=True), seed=st.integers(0, 2**32 - 1))
def test_every_direct_method_at_unit_stride_matches_oracle(method, spec, seed):
    # auto picks one per shape; each must be right on every shape
    check_against_oracle("direct", spec, seed, method=method)


@pytest.mark.parametrize("method", ["loop", "gather"])
@given(spec=conv_specs(), seed=st.integers(0, 2**32 - 1))
def test_both_strided_direct_methods_match_oracle(method, spec, seed):
    check_against_oracle("direct", spec, seed, method=method)


@pytest.mark.parametrize("method", ["loop", "gather", "slice"])
@given(spec=grouped_dilated_specs(), seed=st.integers(0, 2**32 - 1))
def test_every_direct_method_with_groups_dilation_and_strides_matches_oracle(method, spec, seed):
    if method == "slice" and spec.stride != (1, 1):
        spec = dataclasses.replace(spec, stride=1)
    check_against_oracle("direct", spec, seed, method=method)


@given(spec=grouped_dilated_specs(depthwise=True), seed=st.integers(0, 2**32 - 1))
def test_direct_channels_last_depthwise_matches_oracle(spec, seed):
    check_against_oracle("direct", spec, seed, method="depthwise")


def test_direct_picks_channels_last_for_depthwise_with_enough_channels():
    many = convbench.ConvSpec(N=1, C=32, H=8, W=8, K=32, R=3, S=3, padding=1, groups=32)
    assert convbench.plan(many, "direct").method == "depthwise"
    assert convbench.plan(dataclasses.replace(many, C=8, K=8, groups=8), "direct").method == "loop"
    with pytest.raises(convbench.ConvError, match="method='depthwise' needs groups = C = K"):
        convbench.plan(dataclasses.replace(many, groups=16), "direct", method="depthwise")


def test_direct_picks_its_method_by_stride_and_waste():
    unit = convbench.ConvSpec(N=1, C=2, H=8, W=8, K=2, R=3, S=3)
    strided = convbench.ConvSpec(N=1, C=2, H=8, W=8, K=2, R=3, S=3, stride=(1, 2))
    small_wide = convbench.ConvSpec(N=1, C=8, H=7, W=7, K=512, R=3, S=3, padding=1)  # (81/49 - 1)·512 > 80
    assert convbench.plan(unit, "direct").method == "slice"
    assert convbench.plan(small_wide, "direct").method == "gather"
    assert convbench.plan(strided, "direct").method == "gather"  # only the strided positions
    big_filters = convbench.ConvSpec(N=1, C=32, H=32, W=32, K=32, R=15, S=15, padding=7)  # R·S·C/K = 225
    assert convbench.plan(big_filters, "direct").method == "loop"
    assert convbench.plan(big_filters, "direct", method="slice").method == "slice"
    assert convbench.plan(unit, "direct", method="loop").method == "loop"
    small_groups = convbench.ConvSpec(N=1, C=4, H=8, W=8, K=4, R=3, S=3, groups=2)  # C/g = 2
    assert convbench.plan(small_groups, "direct").method == "loop"
    assert convbench.plan(dataclasses.replace(small_groups, C=16, K=16), "direct").method == "slice"  # C/g = 8
    with pytest.raises(convbench.ConvError, match="needs stride 1"):
        convbench.plan(strided, "direct", method="slice")


@pytest.mark.parametrize("tile", [2, 4, 6])
@given(spec=conv_specs(square_filter_3=True, stride_one=True), seed=st.integers(0, 2**32 - 1))
def test_winograd_matches_oracle(tile, spec, seed):
    check_against_oracle("winograd", spec, seed, WINOGRAD_TOLERANCE[tile], tile=tile)


@pytest.mark.parametrize("tile", [8, 16, 32])
@given(spec=conv_specs(stride_one=True), seed=st.integers(0, 2**32 - 1))
def test_tiled_fft_matches_oracle(tile, spec, seed):
    if max(spec.R, spec.S) >= tile:
        with pytest.raises(convbench.ConvError, match="smaller than the tile"):
            convbench.plan(spec, "fft", tile=tile)
        return
    check_against_oracle("fft", spec, seed, tile=tile)


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
    check_against_oracle(algorithm, spec, 7, tolerance_of(algorithm))


# What each algorithm cannot take, and the argument its ConvError must name.
REFUSALS = "groups=|dilation=|3x3|stride 1|smaller than the tile"


@pytest.mark.parametrize("depthwise", [False, True], ids=["grouped", "depthwise"])
@pytest.mark.parametrize("algorithm", CPU_ALGORITHMS)
@settings(max_examples=40)
@given(spec=grouped_dilated_specs(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_groups_and_dilation_match_oracle_or_are_refused(algorithm, depthwise, spec, seed, data):
    """Every variant takes groups and dilation or names them in a ConvError (Winograd: dilation)."""
    if depthwise:
        spec = data.draw(grouped_dilated_specs(depthwise=True))
    if not supports(algorithm, spec):
        with pytest.raises(convbench.ConvError, match=REFUSALS):
            convbench.plan(spec, algorithm)
        return
    check_against_oracle(algorithm, spec, seed, tolerance_of(algorithm))


@pytest.mark.parametrize("algorithm", CPU_ALGORITHMS)
def test_groups_and_dilation_are_taken_where_the_issue_says(algorithm):
    """No algorithm gets away with refusing: direct, torch and fft (every tile) take both,
    Winograd takes groups and refuses dilation by name."""
    base, _ = convbench.registry.resolve(algorithm)
    grouped = convbench.ConvSpec(N=1, C=6, H=12, W=12, K=9, R=3, S=3, padding=1, groups=3)
    depthwise = convbench.ConvSpec(N=1, C=4, H=12, W=12, K=4, R=3, S=3, padding=1, groups=4)
    dilated = convbench.ConvSpec(N=1, C=2, H=12, W=12, K=2, R=3, S=3, padding=2, dilation=2)
    assert supports(algorithm, grouped) and supports(algorithm, depthwise)
    if base == "winograd":
        with pytest.raises(convbench.ConvError, match=r"dilation=\(2, 2\).*expected dilation=1"):
            convbench.plan(dilated, algorithm)
    else:
        assert supports(algorithm, dilated)
        check_against_oracle(algorithm, dilated, 5, tolerance_of(algorithm))
    check_against_oracle(algorithm, grouped, 5, tolerance_of(algorithm))
    check_against_oracle(algorithm, depthwise, 5, tolerance_of(algorithm))


@pytest.mark.parametrize("algorithm", CPU_ALGORITHMS)
def test_vgg_like_layer_error_is_small(algorithm):
    """A larger layer than hypothesis draws: channel sums of 64*9 terms in float32."""
    spec = convbench.ConvSpec(N=2, C=64, H=28, W=28, K=32, R=3, S=3, padding=1)
    check_against_oracle(algorithm, spec, 3, tolerance_of(algorithm))
