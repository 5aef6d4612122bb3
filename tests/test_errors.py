"""Every bad input is a ConvError that names the argument and what was expected."""
import numpy as np
import pytest

import convbench
from convbench import ConvError, ConvSpec

rng = np.random.default_rng(11)
X = rng.uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)
W3 = rng.uniform(-1, 1, (4, 3, 3, 3)).astype(np.float32)


def test_conv_error_is_a_value_error():
    assert issubclass(ConvError, ValueError)


BAD_CALLS = [
    # (description, kwargs for conv2d, words the message must hold)
    ("x is a string", dict(x="image"), ["x", "real numeric array"]),
    ("x is None", dict(x=None), ["x", "real numeric array"]),
    ("x is ragged", dict(x=[[1, 2], [3]]), ["x", "real numeric array"]),
    ("x is complex", dict(x=X.astype(np.complex64)), ["x", "complex64"]),
    ("x is bool", dict(x=X > 0), ["x", "bool"]),
    ("x is object", dict(x=X.astype(object)), ["x", "object"]),
    ("x is 3-D", dict(x=X[0]), ["x", "4-D", "(N, C, H, W)"]),
    ("w is 2-D", dict(w=W3[0, 0]), ["w", "4-D", "(K, C, R, S)"]),
    ("channels differ", dict(w=W3[:, :2]), ["w", "2 input channels", "C = 3"]),
    ("x has no batch", dict(x=X[:0]), ["N", ">= 1"]),
    ("filter larger than padded input", dict(w=rng.uniform(size=(4, 3, 11, 3)).astype(np.float32)), ["filter height 11", "padded input"]),
    ("negative padding", dict(padding=-1), ["padding", ">= 0"]),
    ("float padding", dict(padding=1.5), ["padding", "int"]),
    ("padding of three", dict(padding=(1, 1, 1)), ["padding", "(h, w) pair"]),
    ("bool padding", dict(padding=True), ["padding", "int"]),
    ("string padding", dict(padding="same"), ["padding", "int"]),
    ("zero stride", dict(stride=0), ["stride", ">= 1"]),
    ("negative stride", dict(stride=(1, -2)), ["stride", ">= 1"]),
    ("winograd 5x5", dict(algorithm="winograd", w=rng.uniform(size=(4, 3, 5, 5)).astype(np.float32)), ["winograd", "3x3", "5x5"]),
    ("winograd 3x1", dict(algorithm="winograd", w=rng.uniform(size=(4, 3, 3, 1)).astype(np.float32)), ["winograd", "3x3", "3x1"]),
    ("winograd stride 2", dict(algorithm="winograd", stride=2), ["winograd", "stride 1", "(2, 2)"]),
    ("compression 1", dict(algorithm="fft", compression=1.0), ["compression", "[0, 1)"]),
    ("compression negative", dict(algorithm="fft", compression=-0.1), ["compression", "[0, 1)"]),
    ("compression nan", dict(algorithm="fft", compression=float("nan")), ["compression", "[0, 1)"]),
    ("compression percent", dict(algorithm="fft", compression=50), ["compression", "[0, 1)"]),
    ("compression string", dict(algorithm="fft", compression="0.5"), ["compression", "number"]),
    ("compression on direct", dict(algorithm="direct", compression=0.5), ["compression", "only", "fft"]),
    ("unknown algorithm", dict(algorithm="gemm"), ["algorithm", "'direct'", "'gemm'"]),
    ("unknown direct method", dict(method="fast"), ["method", "'gather'", "'fast'"]),
    ("unknown option", dict(threads=2), ["option 'threads'", "algorithm='direct'", "method"]),
    ("unknown backend", dict(backend="tpu"), ["backend", "'cpu'", "'tpu'"]),
]


@pytest.mark.parametrize("description,kwargs,words", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_names_the_argument(description, kwargs, words):
    call = dict(x=X, w=W3, algorithm="direct", padding=1)
    call.update(kwargs)
    with pytest.raises(ConvError) as caught:
        convbench.conv2d(**call)
    for word in words:
        assert word in str(caught.value), f"{description}: {caught.value}"


def test_cudnn_is_refused_without_a_real_gpu():
    # with no GPU every cuda algorithm is refused: tests/test_cuda.py runs that in a process without the simulator
    if convbench.interface.registry.supports("torch", "cuda", ConvSpec(N=1, C=1, H=4, W=4, K=1, R=3, S=3)):
        pytest.skip("cuDNN is available here")
    with pytest.raises(ConvError, match="backend='cuda'.*not available"):
        convbench.conv2d(X, W3, algorithm="torch", backend="cuda")


@pytest.mark.parametrize("field", ["N", "C", "H", "W", "K", "R", "S"])
def test_spec_fields_must_be_positive_ints(field):
    fields = dict(N=1, C=1, H=4, W=4, K=1, R=3, S=3)
    for bad in (0, -1, 2.0, "3"):
        with pytest.raises(ConvError, match=f"{field} must be an int >= 1"):
            ConvSpec(**{**fields, field: bad})


def test_plan_refuses_arrays_of_other_shapes():
    plan = convbench.plan(ConvSpec(N=2, C=3, H=8, W=8, K=4, R=3, S=3, padding=1), "fft")
    with pytest.raises(ConvError, match=r"x must have shape \(2, 3, 8, 8\)"):
        plan(X[:, :, :7], W3)
    with pytest.raises(ConvError, match=r"w must have shape \(4, 3, 3, 3\)"):
        plan(X, W3[:2])


def test_out_must_fit():
    plan = convbench.plan(ConvSpec(N=2, C=3, H=8, W=8, K=4, R=3, S=3, padding=1), "winograd")
    for bad in (np.empty((2, 4, 8, 8)), np.empty((2, 4, 8, 7), np.float32), np.empty((2, 4, 8, 16), np.float32)[..., ::2], [0]):
        with pytest.raises(ConvError, match="out must be"):
            plan(X, W3, out=bad)


def test_plan_wants_a_spec():
    with pytest.raises(ConvError, match="spec must be a convbench.ConvSpec"):
        convbench.plan((2, 3, 8, 8), "direct")


@pytest.mark.parametrize("label", ["fft", "fft tile 32", "winograd F(4x4,3x3)"])
def test_a_plan_bigger_than_the_memory_available_is_refused_before_allocating(label, monkeypatch):
    import tracemalloc

    # C=K=2048 on 64x64: the whole-image fft's filter spectra alone are 75 GiB (numpy's MemoryError, or
    # an OOM kill where the machine grants more than it has, before this check)
    spec = convbench.ConvSpec(N=8, C=2048, H=64, W=64, K=2048, R=3, S=3, padding=1)
    monkeypatch.setenv("CONVBENCH_MEMORY_AVAILABLE", str(2**30))
    with pytest.raises(ConvError):  # once untraced: the first plan of a kind imports its modules
        convbench.plan(spec, label)
    tracemalloc.start()
    try:
        with pytest.raises(ConvError, match=r"on N8 C2048->K2048 64x64 k3x3 pad1 needs at least [\d,]+ bytes for "
                                            r"its buffers \(a bound from the shapes\), more than the 1,073,741,824"):
            convbench.plan(spec, label)
        assert tracemalloc.get_traced_memory()[1] < 2**26  # nothing of the plan's size was allocated
    finally:
        tracemalloc.stop()
    monkeypatch.setenv("CONVBENCH_MEMORY_AVAILABLE", str(2**40))
    small = convbench.ConvSpec(N=1, C=4, H=8, W=8, K=4, R=3, S=3, padding=1)
    assert convbench.plan(small, label).spec == small


SPREADING = ["winograd", "winograd F(4x4,3x3)", "winograd F(6x6,3x3)", "fft", "fft tile 8", "fft tile 16"]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_propagates_as_torchs_or_is_never_silent(bad, rng):
    import warnings

    import torch

    spec = ConvSpec(N=2, C=4, H=13, W=14, K=5, R=3, S=3, padding=1)
    x = rng.uniform(-1, 1, spec.input_shape).astype(np.float32)
    w = rng.uniform(-1, 1, spec.filter_shape).astype(np.float32)
    x[1, 2, 6, 7] = bad
    truth = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    for label in ("direct", "torch"):  # exactly torch's NaN and inf positions
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = convbench.plan(spec, label)(x, w)
        assert np.array_equal(np.isnan(got), np.isnan(truth)) and np.array_equal(np.isinf(got), np.isinf(truth))
    for label in SPREADING:  # spread further than torch: said, every time
        with pytest.warns(RuntimeWarning, match=f"x or w holds NaN or inf, and {label.replace('(', '.').replace(')', '.')} "
                                                "spreads each to .*check_finite=True"):
            got = convbench.plan(spec, label)(x, w)
        assert not np.isfinite(got).all()
        with pytest.raises(ConvError, match=r"x holds 1 non-finite values \(NaN or inf\); check_finite=True"):
            convbench.plan(spec, label, check_finite=True)(x, w)
    w[3, 1, 0, 2] = bad  # a filter's NaN, with a finite x
    x[1, 2, 6, 7] = 0.5
    for label in SPREADING:
        with pytest.warns(RuntimeWarning, match="x or w holds NaN or inf"):
            convbench.plan(spec, label)(x, w)
        with pytest.raises(ConvError, match="w holds 1 non-finite values"):
            convbench.conv2d(x, w, algorithm=label, padding=1, check_finite=True)


def test_check_finite_is_refused_where_it_is_not_checked():
    spec = ConvSpec(N=1, C=2, H=8, W=8, K=2, R=3, S=3)
    with pytest.raises(ConvError, match="check_finite must be True or False; got 'yes'"):
        convbench.plan(spec, "fft", check_finite="yes")
    with pytest.raises(ConvError, match="check_finite=True is checked on the CPU backend only"):
        convbench.plan(spec, "direct", "cuda", check_finite=True)
