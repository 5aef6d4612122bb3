"""The field's implementations on the CPU (oneDNN 2.6, NNPACK, scipy.signal, fft-conv-pytorch): each
against the float64 oracle, forward and (where the peer has them) both training passes; what ran
recorded; each refusal by name.

A peer whose library is missing is skipped with the reason, unless CONVBENCH_REQUIRE_PEERS=1 (.ci/run,
after .ci/setup installed them all): then it fails."""
import time

import numpy as np
import pytest

import convbench
from convbench.core import error_budget
from convbench.core.errors import ConvError
from convbench.core.oracle import Float64Oracle, relative_error
from convbench.interface import registry
from convbench.measure import runs
from helpers import need_library

CPU_PEERS = tuple(registry.CPU_PEER_VARIANTS)
CASES = (
    # channels a multiple of 16: what oneDNN 2.6's AVX-512 Winograd kernels take
    convbench.ConvSpec(N=2, C=32, H=14, W=14, K=32, R=3, S=3, padding=1),
    convbench.ConvSpec(N=2, C=16, H=20, W=20, K=24, R=3, S=3, padding=1),
    convbench.ConvSpec(N=2, C=8, H=21, W=17, K=4, R=5, S=5, padding=2),
    convbench.ConvSpec(N=1, C=8, H=21, W=17, K=4, R=3, S=3, padding=1, stride=2),
    convbench.ConvSpec(N=1, C=8, H=21, W=17, K=4, R=3, S=3, padding=2, dilation=2, groups=2),
    convbench.ConvSpec(N=3, C=32, H=7, W=7, K=16, R=1, S=1),
)


def _library_missing(label) -> str:
    """Why the peer's library is missing here ('' when it loads); an instruction set is not a library."""
    algorithm = registry.PEER_VARIANTS[label][0]
    cls, reason = registry._import(algorithm, "cpu")
    return reason if cls is None else ""


def needs(label):
    need_library(label, _library_missing(label))


def _problem(spec, rng):
    return (rng.uniform(-1, 1, spec.input_shape).astype(np.float32),
            rng.uniform(-1, 1, spec.filter_shape).astype(np.float32),
            rng.uniform(-1, 1, spec.output_shape).astype(np.float32))


@pytest.mark.parametrize("label", CPU_PEERS)
def test_each_peer_matches_the_oracle_or_says_why_not(label, rng):
    needs(label)
    computed = 0
    for spec in CASES:
        why = registry.why_not(label, "cpu", spec)
        if why:
            assert len(why) > 20 and "\n" not in why, why
            with pytest.raises(ConvError):
                convbench.plan(spec, label)
            continue
        x, w, dy = _problem(spec, rng)
        oracle = Float64Oracle(spec)
        p = convbench.plan(spec, label)
        budget = error_budget.TOLERANCE[label]
        assert relative_error(p(x, w), oracle(x, w)) <= budget
        assert p.ran["forward"] and p.threads >= 1  # what ran, and on how many threads
        if p.training_passes:
            assert relative_error(p.backward_data(dy, w), oracle.backward_data(dy, w)) <= budget
            assert relative_error(p.backward_filter(x, dy), oracle.backward_filter(x, dy)) <= budget
            assert set(p.ran) == {"forward", "backward_data", "backward_filter"}
        else:
            with pytest.raises(ConvError, match="forward pass only|no training passes"):
                p.backward_data(dy, w)
        computed += 1
    if label != "onednn2 winograd" or convbench.algorithms.peers.dnnl_library.instruction_set().startswith("avx512"):
        assert computed, f"{label} computed none of the cases"


def test_a_planted_wrong_peer_fails_the_check(monkeypatch):
    """scipy without the filter flip computes a convolution, not the layer's cross-correlation."""
    needs("scipy fftconvolve")
    from convbench.algorithms.peers import scipy_signal

    def unflipped(self, x, w, out):
        signal, _ = scipy_signal._module()
        spec = self.spec
        padded = np.pad(x, ((0, 0), (0, 0), (spec.pad_h, spec.pad_h), (spec.pad_w, spec.pad_w)))[:, None]
        np.sum(signal.fftconvolve(padded, w[None], mode="valid", axes=(-2, -1)), axis=2, out=out)

    monkeypatch.setattr(scipy_signal.ScipySignalCPU, "run", unflipped)
    rows, _ = runs.check(specs=CASES[:1])
    scipy_rows = [row for row in rows if row.algorithm == "scipy fftconvolve"]
    assert scipy_rows and all(row.ok is False for row in scipy_rows)


def test_check_covers_every_available_peer_and_their_passes():
    for label in ("nnpack wt8x8", "scipy oaconvolve", "fft-conv-pytorch", "onednn2 direct"):
        needs(label)
    rows, _ = runs.check(specs=CASES[:1])
    checked = {(row.algorithm, row.direction) for row in rows if row.ok}
    for label in ("nnpack wt8x8", "nnpack ft8x8", "nnpack ft16x16", "nnpack implicit-gemm", "scipy fftconvolve",
                  "scipy oaconvolve", "fft-conv-pytorch", "onednn2 direct"):
        assert (label, "forward") in checked
    for label in ("fft-conv-pytorch", "onednn2 direct"):
        assert {(label, "backward_data"), (label, "backward_filter")} <= checked


@pytest.mark.parametrize("label, spec, words", [
    ("nnpack wt8x8", convbench.ConvSpec(N=1, C=4, H=12, W=12, K=4, R=5, S=5, padding=2), "3x3 filters only"),
    ("nnpack ft8x8", convbench.ConvSpec(N=1, C=4, H=24, W=24, K=4, R=9, S=9, padding=4), "up to 8x8"),
    ("nnpack ft16x16", convbench.ConvSpec(N=1, C=4, H=12, W=12, K=4, R=3, S=3, padding=1, stride=2), "stride 1 only"),
    ("nnpack implicit-gemm", convbench.ConvSpec(N=1, C=4, H=12, W=12, K=4, R=3, S=3, padding=3), "padding smaller"),
    ("nnpack wt8x8", convbench.ConvSpec(N=1, C=4, H=12, W=12, K=4, R=3, S=3, padding=1, groups=2), "groups=2"),
    ("nnpack ft8x8", convbench.ConvSpec(N=1, C=4, H=12, W=12, K=4, R=3, S=3, padding=2, dilation=2), "dilation"),
    ("scipy fftconvolve", convbench.ConvSpec(N=1, C=4, H=12, W=12, K=4, R=3, S=3, stride=2), "stride 1 only"),
    ("scipy oaconvolve", convbench.ConvSpec(N=1, C=4, H=12, W=12, K=4, R=3, S=3, dilation=2), "dilated taps"),
    ("scipy oaconvolve", convbench.ConvSpec(N=1, C=4, H=12, W=12, K=4, R=3, S=3, groups=4), "ungrouped"),
])
def test_refusals_name_what_the_peer_cannot_do(label, spec, words):
    needs(label)
    assert words in registry.why_not(label, "cpu", spec)
    with pytest.raises(ConvError, match=words):
        convbench.plan(spec, label)


def test_bad_peer_options_are_refused_by_name():
    needs("nnpack wt8x8")
    spec = CASES[0]
    with pytest.raises(ConvError, match="method must be one of 'ft8x8'"):
        convbench.plan(spec, "nnpack", method="wt6x6")
    with pytest.raises(ConvError, match="threads must be an int >= 1"):
        convbench.plan(spec, "nnpack wt8x8", threads=0)
    with pytest.raises(ConvError, match="method must be one of 'fftconvolve'"):
        convbench.plan(spec, "scipy", method="convolve2d")
    needs("onednn2 direct")
    with pytest.raises(ConvError, match="kind must be one of 'direct', 'winograd'"):
        convbench.plan(spec, "onednn2", kind="fft")


def test_onednn_refuses_a_layer_it_runs_only_on_its_reference_kernel():
    """Padding past the filter's width: oneDNN 2.6 has no JIT or GEMM kernel for it on the CPU, only ref:any."""
    needs("onednn2 direct")
    spec = convbench.ConvSpec(N=1, C=2, H=15, W=11, K=1, R=7, S=3, padding=4)
    why = registry.why_not("onednn2 direct", "cpu", spec)
    assert "reference kernel 'ref:any'" in why and "not measured as direct" in why
    with pytest.raises(ConvError, match="reference kernel"):
        convbench.plan(spec, "onednn2 direct")


def test_onednn_winograd_is_winograd_or_refused_by_instruction_set(rng):
    needs("onednn2 winograd")
    from convbench.algorithms.peers import dnnl_library

    spec = CASES[0]
    if not dnnl_library.instruction_set().startswith("avx512"):
        why = registry.why_not("onednn2 winograd", "cpu", spec)
        assert "need AVX-512" in why and dnnl_library.instruction_set() in why
        listed = {a.name: a for a in registry.implementations(peers=True)}
        assert not listed["onednn2 winograd"].available and "AVX-512" in listed["onednn2 winograd"].reason
        return
    p = convbench.plan(spec, "onednn2 winograd")
    x, w, dy = _problem(spec, rng)
    p(x, w), p.backward_data(dy, w), p.backward_filter(x, dy)
    assert all("wino" in name for name in p.ran.values()), p.ran


def test_reference_kernels_are_recognised_by_name():
    from convbench.algorithms.peers.dnnl_library import is_reference

    assert is_reference("ref:any") and is_reference("gemm:ref") and is_reference("ref_fused:any")
    assert not is_reference("jit:avx2") and not is_reference("x64:gemm:jit") and not is_reference("jit_wino_4x3:avx512_core")


def test_a_missing_library_is_a_reason_not_an_import_error(monkeypatch):
    from convbench.algorithms.peers import dnnl_library

    monkeypatch.setattr(dnnl_library, "SONAME", "libdnnl-absent.so.2")
    dnnl_library._loaded.cache_clear()
    try:
        assert "apt-get install libdnnl2" in dnnl_library.library_problem()
    finally:
        monkeypatch.undo()
        dnnl_library._loaded.cache_clear()


def test_nnpack_reports_its_phases(rng):
    needs("nnpack ft16x16")
    spec = CASES[0]
    x, w, _ = _problem(spec, rng)
    p = convbench.plan(spec, "nnpack ft16x16")
    phases = p.profile(x, w)
    assert set(phases) == {"input_transform", "kernel_transform", "block_multiplication", "output_transform"}
    assert all(seconds > 0 for seconds in phases.values())
    assert "ft16x16" in p.ran["forward"] and "algorithm 2" in p.ran["forward"]


def test_nnpack_implicit_gemm_profile_sums_its_calls_image_by_image(rng):
    """Implicit GEMM runs one NNPACK call an image: its phases are summed over them, so that they sit beside
    a whole batch's stages (the last image's alone were a quarter of the call here)."""
    needs("nnpack implicit-gemm")
    spec = convbench.ConvSpec(N=4, C=32, H=28, W=28, K=32, R=3, S=3, padding=1)
    x, w, _ = _problem(spec, rng)
    p = convbench.plan(spec, "nnpack implicit-gemm")
    p(x, w)
    start = time.perf_counter()
    p(x, w)
    call = time.perf_counter() - start
    assert 0.6 * call < p.last_profile.total <= call


def test_nnpack_profile_reads_the_fields_in_the_headers_order():
    """ctypes reads nnp_profile by position: a field out of the header's order mislabels a phase
    (the output transform's time was once reported as the block multiplication's)."""
    import re
    from pathlib import Path

    import torch

    from convbench.algorithms.peers import nnpack

    header = Path(torch.__file__).parent / "include" / "nnpack.h"
    if not header.exists():
        pytest.skip(f"torch's wheel ships no {header.name} here")
    body = re.search(r"struct nnp_profile \{(.*?)\};", header.read_text(), re.S).group(1)
    assert [name for name, _ in nnpack.Profile._fields_] == re.findall(r"double (\w+);", body)


def test_every_peer_has_a_family_and_a_measured_budget():
    for label in registry.SWEPT_LABELS:
        assert label in registry.FAMILY and label in error_budget.TOLERANCE
    families = {registry.FAMILY[label] for label in registry.CPU_PEER_VARIANTS}
    assert families <= {registry.FAMILY[label] for label in registry.LABELS} | {"fft overlap-add"}


def test_the_answers_name_the_winning_algorithm_and_the_winning_implementation():
    from convbench.corpus import answers

    record = {"layer": "a", "variants": {"torch": {"seconds": 3.0}, "winograd F(4x4,3x3)": {"seconds": 2.5},
                                         "onednn2 winograd": {"seconds": 1.0}, "direct": {"seconds": 2.0},
                                         "nnpack wt8x8": {"why_not": "no"}}}
    assert answers.winner(record) == "onednn2 winograd"          # the implementation
    assert answers.winning_family(record) == "winograd F(4x4)"   # the algorithm, by its best implementation
    assert answers.family_times(record) == {"direct": 2.0, "winograd F(4x4)": 1.0}


def test_the_corpus_store_keeps_what_ran_beside_each_peer_time(monkeypatch):
    needs("nnpack ft8x8")
    from convbench.corpus import sweep

    row = {"layer": "t", "kind": "dense", "N": 1, "C": 8, "H": 12, "W": 12, "K": 8, "R": 3, "S": 3, "pad_h": 1,
           "pad_w": 1, "stride_h": 1, "stride_w": 1, "dil_h": 1, "dil_w": 1, "groups": 1, "why_not": ""}
    monkeypatch.setattr(sweep.table, "expressible", lambda row: True)
    monkeypatch.setattr(sweep, "conv_spec", lambda row: convbench.ConvSpec(N=1, C=8, H=12, W=12, K=8, R=3, S=3, padding=1))
    record = sweep.measure_layer(row, ["torch", "nnpack ft8x8", "direct"], repeats=1)
    peer = record["variants"]["nnpack ft8x8"]
    assert peer["seconds"] > 0 and "ft8x8" in peer["ran"]["forward"] and peer["threads"] >= 1
    assert "ran" not in record["variants"]["direct"]


def test_a_peer_target_measures_the_registry_peer_not_the_1d_one_of_the_same_name():
    """'scipy fftconvolve' names a 1-D DSP peer too (workloads.signal_peers): a 2-D target takes the registry's."""
    needs("scipy fftconvolve")
    from convbench.measure.targets import Target, measured_speedup

    spec = convbench.ConvSpec(N=1, C=4, H=16, W=16, K=4, R=5, S=5, padding=2)
    assert measured_speedup(Target(spec, "fft", "scipy fftconvolve", 1.0), repeats=1) > 0
