"""Hypothesis strategies for convolution specs, and the supported space of each variant.

Each test draws from what its variant supports (specs_for), rather than drawing anything and
returning early: an early return reached an assertion in about 1 draw in 9 for the tiled FFT,
and almost never for grouped Winograd. What a variant refuses is tested on fixed shapes.
"""
import convbench
from hypothesis import strategies as st

from convbench.interface import registry


@st.composite
def conv_specs(draw, square_filter_3=False, stride_one=False, largest_filter=9):
    """Random plain specs: odd and even, non-square H and W; N, C, K down to 1; padding 0..R-1;
    filters from 1x1 up to the whole padded input (at most largest_filter), square or not; strides 1..3."""
    if square_filter_3:
        R = S = 3
    else:
        R = draw(st.integers(1, largest_filter))
        S = draw(st.integers(1, largest_filter))
    pad_h = draw(st.integers(0, R - 1))
    pad_w = draw(st.integers(0, S - 1))
    # the smallest input leaves a filter as large as the whole padded input
    H = draw(st.integers(max(1, R - 2 * pad_h), 20))
    W = draw(st.integers(max(1, S - 2 * pad_w), 20))
    stride = (1, 1) if stride_one else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return convbench.ConvSpec(N=draw(st.integers(1, 3)), C=draw(st.integers(1, 5)), H=H, W=W,
                              K=draw(st.integers(1, 5)), R=R, S=S, padding=(pad_h, pad_w), stride=stride)


@st.composite
def grouped_dilated_specs(draw, depthwise=False, square_filter_3=False, stride_one=False, dilated=True,
                          largest_extent=None):
    """Random specs with groups (C/groups and K/groups from 1 to 3; depthwise: groups = C = K) and
    dilation 1..3 on each axis, filters 1..5, padding 0..extent-1 (extent = dilation·(R - 1) + 1),
    strides 1..2. largest_extent: extents up to it only (the tiled FFT's filters fit its tile)."""
    groups = draw(st.integers(1, 4))
    C = groups if depthwise else groups * draw(st.integers(1, 3))
    K = groups if depthwise else groups * draw(st.integers(1, 3))
    R, S = (3, 3) if square_filter_3 else (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilated else (1, 1)
    if largest_extent is not None:  # the largest dilation that keeps the extent within it, on each axis
        dilation = tuple(min(d, max(1, (largest_extent - 1) // max(1, size - 1))) for d, size in zip(dilation, (R, S)))
        R, S = (min(size, largest_extent) for size in (R, S))
    extent_h, extent_w = dilation[0] * (R - 1) + 1, dilation[1] * (S - 1) + 1
    pad_h, pad_w = draw(st.integers(0, extent_h - 1)), draw(st.integers(0, extent_w - 1))
    H = draw(st.integers(max(1, extent_h - 2 * pad_h), max(1, extent_h - 2 * pad_h) + 14))
    W = draw(st.integers(max(1, extent_w - 2 * pad_w), max(1, extent_w - 2 * pad_w) + 14))
    stride = (1, 1) if stride_one else (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    return convbench.ConvSpec(N=draw(st.integers(1, 2)), C=C, H=H, W=W, K=K, R=R, S=S, padding=(pad_h, pad_w),
                              stride=stride, dilation=dilation, groups=groups)


def limits_of(label: str) -> dict:
    """What a variant's supported space is narrower by: Winograd 3x3 at stride 1, undilated; the tiled
    FFT stride 1 with filters (dilated extent included) smaller than its tile; the others anything."""
    algorithm, options = registry.resolve(label)
    if algorithm == "winograd":
        return dict(square_filter_3=True, stride_one=True, dilated=False)
    if algorithm == "fft" and "tile" in options:
        return dict(stride_one=True, largest_extent=min(9, options["tile"] - 1))
    return {}


def specs_for(label: str, grouped: bool = False, depthwise: bool = False):
    """Specs the variant supports: plain ones (conv_specs), or with groups and dilation where it takes them."""
    limits = limits_of(label)
    if grouped or depthwise:
        return grouped_dilated_specs(depthwise=depthwise, **limits)
    plain = {key: value for key, value in limits.items() if key in ("square_filter_3", "stride_one")}
    if "largest_extent" in limits:
        plain["largest_filter"] = limits["largest_extent"]
    return conv_specs(**plain)
