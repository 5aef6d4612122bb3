"""Every CPU algorithm against the float64 oracle, over many random shapes."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import convbench
from convbench.oracle import reference_conv2d, relative_error
from helpers import CPU_ALGORITHMS, random_problem, supports

TOLERANCE = 1e-5  # relative L2 error at compression 0, float32 data


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


def check_against_oracle(algorithm, spec, seed, **options):
    x, w = random_problem(np.random.default_rng(seed), spec)
    result = convbench.conv2d(x, w, algorithm=algorithm, padding=spec.padding, stride=spec.stride, **options)
    reference = reference_conv2d(x, w, spec.padding, spec.stride)
    assert result.dtype == np.float32
    assert result.shape == spec.output_shape
    error = relative_error(result, reference)
    assert error <= TOLERANCE, f"{algorithm} on {spec}: relative L2 error {error:.2e}"


def test_every_cpu_algorithm_is_available():
    available = {a.name for a in convbench.implementations() if a.backend == "cpu" and a.available}
    assert available == set(CPU_ALGORITHMS)


@pytest.mark.parametrize("algorithm", ["direct", "fft", "torch"])
@given(spec=conv_specs(), seed=st.integers(0, 2**32 - 1))
def test_general_algorithms_match_oracle(algorithm, spec, seed):
    check_against_oracle(algorithm, spec, seed)


@pytest.mark.parametrize("method", ["loop", "gather", "slice"])
@given(spec=conv_specs(stride_one=True), seed=st.integers(0, 2**32 - 1))
def test_every_direct_method_at_unit_stride_matches_oracle(method, spec, seed):
    # auto picks one per shape; each must be right on every shape
    check_against_oracle("direct", spec, seed, method=method)


def test_direct_picks_its_method_by_stride_and_waste():
    unit = convbench.ConvSpec(N=1, C=2, H=8, W=8, K=2, R=3, S=3)
    strided = convbench.ConvSpec(N=1, C=2, H=8, W=8, K=2, R=3, S=3, stride=(1, 2))
    small_wide = convbench.ConvSpec(N=1, C=8, H=7, W=7, K=512, R=3, S=3, padding=1)  # (81/49 - 1)·512 > 80
    assert convbench.plan(unit, "direct").method == "slice"
    assert convbench.plan(small_wide, "direct").method == "gather"
    assert convbench.plan(strided, "direct").method == "loop"
    big_filters = convbench.ConvSpec(N=1, C=32, H=32, W=32, K=32, R=15, S=15, padding=7)  # R·S·C/K = 225
    assert convbench.plan(big_filters, "direct").method == "loop"
    assert convbench.plan(big_filters, "direct", method="slice").method == "slice"
    assert convbench.plan(unit, "direct", method="loop").method == "loop"
    with pytest.raises(convbench.ConvError, match="needs stride 1"):
        convbench.plan(strided, "direct", method="gather")


@given(spec=conv_specs(square_filter_3=True, stride_one=True), seed=st.integers(0, 2**32 - 1))
def test_winograd_matches_oracle(spec, seed):
    check_against_oracle("winograd", spec, seed)


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
        with pytest.raises(convbench.ConvError, match="3x3"):
            convbench.plan(spec, algorithm)
        return
    check_against_oracle(algorithm, spec, seed=7)


@pytest.mark.parametrize("algorithm", CPU_ALGORITHMS)
def test_vgg_like_layer_error_is_small(algorithm):
    """A larger layer than hypothesis draws: channel sums of 64*9 terms in float32."""
    spec = convbench.ConvSpec(N=2, C=64, H=28, W=28, K=32, R=3, S=3, padding=1)
    check_against_oracle(algorithm, spec, seed=3)
