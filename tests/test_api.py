"""The public API: names, the registry, plans that are reused, dtype handling."""
import numpy as np
import pytest

import convbench
from convbench.interface import registry
from convbench.workloads.random_inputs import random_problem
from helpers import CPU_ALGORITHMS
from error_budget import assert_matches_oracle


def test_public_names(tmp_path):
    """The front door's names, in a fresh interpreter (another test's imports cannot lend it any)."""
    import subprocess
    import sys

    code = ("import convbench, sys; print(sorted(convbench.__all__)); "
            "print(all(callable(getattr(convbench, name)) for name in convbench.__all__))")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    names, callable_ = run.stdout.split("\n")[:2]
    assert names == str(sorted(["ConvError", "ConvSpec", "SignalSpec", "conv1d", "conv2d", "implementations", "plan",
                                "retained_energy"]))
    assert callable_ == "True"
    with pytest.raises(AttributeError, match="no attribute 'algorithm'"):
        convbench.algorithm  # noqa: B018 (the old function's name)


def test_registry_lists_every_algorithm_and_backend():
    listed = {(a.name, a.backend): a for a in convbench.implementations()}
    assert set(listed) == {(n, b) for n in registry.ALGORITHMS for b in registry.BACKENDS} and len(listed) == 8
    for a in listed.values():
        assert a.available == (a.reason == "")
    for name in registry.ALGORITHMS:
        assert listed[name, "cpu"].available
        reason = listed[name, "cuda"].reason  # (tests/test_cuda.py checks the no-GPU wording)
        assert listed[name, "cuda"].available or "GPU" in reason or "CUDA" in reason


def test_spec_derives_output_and_flops():
    spec = convbench.ConvSpec(N=8, C=64, H=56, W=56, K=64, R=3, S=3, padding=1, stride=1)
    assert (spec.P, spec.Q) == (56, 56)
    assert spec.flops == 2 * 8 * 64 * 64 * 9 * 56 * 56
    odd = convbench.ConvSpec(N=1, C=1, H=11, W=20, K=1, R=4, S=3, padding=(1, 0), stride=(3, 2))
    assert (odd.P, odd.Q) == ((11 + 2 - 4) // 3 + 1, (20 - 3) // 2 + 1)
    assert odd.padding == (1, 0) and odd.stride == (3, 2)


@pytest.mark.parametrize("algorithm", CPU_ALGORITHMS)
def test_a_plan_is_reused_across_calls(rng, algorithm):
    spec = convbench.ConvSpec(N=2, C=3, H=10, W=9, K=4, R=3, S=3, padding=1)
    plan = convbench.plan(spec, algorithm)
    first = [random_problem(spec, rng) for _ in range(3)]
    results = [plan(x, w) for x, w in first]
    for (x, w), y in zip(first, results):  # earlier results are not overwritten by later calls
        assert_matches_oracle(algorithm, spec, x, w, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32])
def test_other_real_dtypes_become_float32(rng, dtype):
    x = rng.integers(-3, 4, (1, 2, 6, 6)).astype(dtype)
    w = rng.integers(-3, 4, (2, 2, 3, 3)).astype(dtype)
    y = convbench.conv2d(x, w, "fft")
    assert y.dtype == np.float32
    spec = convbench.ConvSpec.from_shapes(x.shape, w.shape)
    assert_matches_oracle("fft", spec, x.astype(np.float32), w.astype(np.float32), y)


def test_non_contiguous_input_is_accepted(rng):
    x = rng.uniform(-1, 1, (2, 3, 9, 20)).astype(np.float32)[..., ::2]
    w = rng.uniform(-1, 1, (2, 3, 3, 3)).astype(np.float32)
    assert_matches_oracle("direct", convbench.ConvSpec.from_shapes(x.shape, w.shape), x, w, convbench.conv2d(x, w, "direct"))


def test_out_is_written_in_place(rng):
    spec = convbench.ConvSpec(N=1, C=2, H=7, W=7, K=3, R=3, S=3)
    x, w = random_problem(spec, rng)
    out = np.full(spec.output_shape, np.nan, dtype=np.float32)
    assert convbench.plan(spec, "torch")(x, w, out=out) is out
    assert_matches_oracle("torch", spec, x, w, out)


@pytest.mark.parametrize("algorithm", CPU_ALGORITHMS)
def test_set_weights_fixes_the_filters_for_inference(rng, algorithm):
    spec = convbench.ConvSpec(N=2, C=3, H=10, W=9, K=4, R=3, S=3, padding=1)
    x, w = random_problem(spec, rng)
    other_x, other_w = random_problem(spec, rng)
    fixed = w.copy()
    plan = convbench.plan(spec, algorithm).set_weights(w)
    plan(other_x, other_w)  # a per-call use in between must not disturb the fixed filters
    w[...] = 0  # nor may the caller's array, once handed over
    assert_matches_oracle(algorithm, spec, x, fixed, plan(x))


def test_leaving_out_w_without_set_weights_is_a_conv_error(rng):
    spec = convbench.ConvSpec(N=1, C=1, H=5, W=5, K=1, R=3, S=3)
    for algorithm in CPU_ALGORITHMS:
        with pytest.raises(convbench.ConvError, match="set_weights"):
            convbench.plan(spec, algorithm)(np.ones(spec.input_shape))


AUTO_SPECS = [convbench.ConvSpec(N=1, C=3, H=12, W=11, K=4, R=3, S=3, padding=1),         # small filter
              convbench.ConvSpec(N=1, C=2, H=24, W=24, K=3, R=15, S=15, padding=7),       # big filter
              convbench.ConvSpec(N=2, C=3, H=13, W=9, K=2, R=3, S=5, padding=1, stride=2)]


@pytest.mark.parametrize("spec", AUTO_SPECS, ids=str)
def test_auto_plan_is_exact_and_says_what_it_chose(spec, tmp_path, monkeypatch):
    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))  # no stored measurements: the rule decides
    x, w = random_problem(spec, np.random.default_rng(11))
    plan = convbench.plan(spec, "auto")
    assert plan.label in registry.LABELS and plan.compression == 0.0
    assert registry.VARIANTS[plan.label] == (plan.algorithm, plan.options) and plan.choice.startswith("rule")
    assert_matches_oracle(plan.label, spec, x, w, plan(x, w))


def test_auto_follows_the_rule_without_measurements(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    assert convbench.plan(AUTO_SPECS[0], "auto").algorithm == "torch"
    assert convbench.plan(AUTO_SPECS[1], "auto").algorithm == "fft"  # 15x15: the FFT's cost does not grow with k


def test_auto_uses_the_stored_measurement(tmp_path, monkeypatch):
    from convbench.measure import recommend

    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    spec = AUTO_SPECS[0]
    monkeypatch.setattr(recommend, "measure_all",
                        lambda *a, **k: {"direct": 3e-3, "winograd": 1e-4, "fft": 2e-3, "torch": 1e-3})
    recommend.recommend(spec)
    plan = convbench.plan(spec, "auto")
    assert plan.algorithm == "winograd" and plan.choice.startswith("fastest exact algorithm measured here")
    x, w = random_problem(spec, np.random.default_rng(12))
    assert_matches_oracle(plan.label, spec, x, w, plan(x, w))


def test_auto_is_exact_and_chooses_its_own_options():
    spec = AUTO_SPECS[0]
    with pytest.raises(convbench.ConvError, match="compression must be 0"):
        convbench.plan(spec, "auto", compression=0.5)
    with pytest.raises(convbench.ConvError, match="takes no options"):
        convbench.plan(spec, "auto", method="loop")


def test_a_variant_label_is_its_algorithm_with_options(rng):
    spec = convbench.ConvSpec(N=1, C=3, H=14, W=13, K=2, R=5, S=5, padding=2)
    x, w = random_problem(spec, rng)
    by_label = convbench.plan(spec, "fft tile 16")
    by_option = convbench.plan(spec, "fft", tile=16)
    assert type(by_label) is type(by_option) and type(by_label) is not type(convbench.plan(spec, "fft"))
    assert by_label.label == by_option.label == "fft tile 16" and by_label.options == {"tile": 16}
    np.testing.assert_array_equal(by_label(x, w), by_option(x, w))
    assert convbench.plan(spec.__class__(N=1, C=1, H=6, W=6, K=1, R=3, S=3), "winograd", tile=6).label == "winograd F(6x6,3x3)"
    assert convbench.plan(spec, "fft").label == "fft"
    for name in registry.LABELS:
        algorithm, options = registry.resolve(name)
        assert algorithm in registry.ALGORITHMS and registry.label(algorithm, options) == name


def test_a_variant_label_with_a_clashing_option_is_a_conv_error():
    spec = convbench.ConvSpec(N=1, C=1, H=12, W=12, K=1, R=3, S=3)
    with pytest.raises(convbench.ConvError, match="sets tile=16; got tile=8"):
        convbench.plan(spec, "fft tile 16", tile=8)
    with pytest.raises(convbench.ConvError, match="variant label"):
        convbench.plan(spec, "fft tile 12")


def test_the_families_are_offered_on_cuda_without_groups_or_dilation_yet():
    """Winograd's bigger tiles and the tiled FFT run on the GPU (tests/test_cuda.py checks them); what
    only the CPU's take (groups, dilation) is refused by name there."""
    if not registry.supports("direct", "cuda", convbench.ConvSpec(N=1, C=1, H=4, W=4, K=1, R=3, S=3)):
        pytest.skip("cuda is not available here")
    spec = convbench.ConvSpec(N=1, C=2, H=12, W=12, K=2, R=3, S=3)
    grouped = convbench.ConvSpec(N=1, C=4, H=12, W=12, K=4, R=3, S=3, groups=2)
    for name in ("winograd F(4x4,3x3)", "winograd F(6x6,3x3)", "fft tile 16"):
        assert registry.why_not(name, "cuda", spec) == ""
        assert "groups=2" in registry.why_not(name, "cuda", grouped)
        assert registry.why_not(name, "cpu", grouped) == ""


def test_sweeps_leave_out_a_tile_of_mostly_padding_that_plan_still_builds():
    import dataclasses

    spec = convbench.ConvSpec(N=1, C=2, H=11, W=11, K=2, R=3, S=3)  # a 9x9 output
    assert registry.why_not_swept("fft tile 16", "cpu", spec) == ""  # 16 <= 2 x 9
    for label in ("fft tile 32", "fft tile 64"):
        assert registry.why_not_swept(label, "cpu", spec).startswith("skipped: a ")
        assert convbench.plan(spec, label).label == label
    five = dataclasses.replace(spec, R=5, S=5)
    assert registry.why_not_swept("winograd", "cpu", five) == registry.why_not("winograd", "cpu", five) != ""
