"""The cuda backend against the float64 oracle.

In CI these run on Numba's CUDA simulator (tests/conftest.py turns it on
unless NUMBA_ENABLE_CUDASIM is set): tiny shapes and tiny blocks, because the
simulator runs each thread in Python. On a machine with a GPU,
`NUMBA_ENABLE_CUDASIM=0 pytest tests/test_cuda.py` runs the same checks on the
device and adds real layer sizes with the default block sizes, and cuDNN.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import convbench
from convbench.algorithms import gpu
from convbench.algorithms.cuda_gemm import batched_gemm
from convbench.core import error_budget
from convbench.workloads.layers import layer
from convbench.core.oracle import reference_conv2d, relative_error
from convbench.workloads.random_inputs import random_problem

# What each cuda variant may lose, and its measurement: convbench.core.error_budget.
TOLERANCE, REAL_SIZE_TOLERANCE = error_budget.GPU_TINY_TOLERANCE, error_budget.GPU_TOLERANCE
SIMULATED = gpu.simulated()
available = {(a.name, a.backend): a for a in convbench.implementations()}
needs_cuda = pytest.mark.skipif(not available["direct", "cuda"].available,
                                reason=available["direct", "cuda"].reason or "cuda available")

# block and tile sizes small enough that the simulator finishes, and that
# leave partial blocks at every edge of these shapes. Winograd's GEMM takes 16 x 16 tiles, a thread per
# column (one block covers these shapes' 9-18 tiles, half the simulator's time of 8 x 8 tiles with 4 rows
# a thread: 1.3 s against 2.6 a call, 2026-12-02); test_batched_gemm_with_partial_tiles walks the inner
# dimension in several tiles.
TINY = {
    "direct": dict(tile=(4, 4), k_per_thread=2, reduction_threads=4),
    "winograd": dict(block=8, transform_block=(4, 2), gemm_tile=16, gemm_rows_per_thread=16, reduction_threads=4),
    "fft": dict(block=16, n_per_thread=2),
}

TINY_SPECS = [
    # (algorithm, spec)
    ("direct", convbench.ConvSpec(N=2, C=3, H=7, W=6, K=3, R=3, S=3, padding=1)),
    ("direct", convbench.ConvSpec(N=1, C=2, H=9, W=7, K=5, R=2, S=4, padding=(1, 2), stride=(2, 3))),
    ("direct", convbench.ConvSpec(N=1, C=1, H=5, W=5, K=1, R=5, S=5)),                 # filter = input
    ("direct", convbench.ConvSpec(N=1, C=4, H=7, W=6, K=6, R=3, S=2, padding=1, dilation=(2, 1), groups=2)),
    ("direct", convbench.ConvSpec(N=2, C=3, H=8, W=7, K=3, R=3, S=3, padding=2, stride=2, dilation=2, groups=3)),  # depthwise
    ("winograd", convbench.ConvSpec(N=2, C=3, H=5, W=6, K=3, R=3, S=3, padding=1)),      # odd P
    ("winograd", convbench.ConvSpec(N=1, C=5, H=7, W=7, K=2, R=3, S=3)),                 # odd P and Q, no padding
    ("fft", convbench.ConvSpec(N=2, C=3, H=7, W=6, K=2, R=3, S=4, padding=1)),
    ("fft", convbench.ConvSpec(N=1, C=2, H=9, W=8, K=3, R=3, S=3, padding=2, stride=2)),
    ("fft", convbench.ConvSpec(N=1, C=1, H=6, W=6, K=1, R=6, S=6)),                     # filter = input
    ("fft", convbench.ConvSpec(N=3, C=2, H=5, W=7, K=3, R=2, S=3, padding=1)),          # a partial chunk of images
]

REAL_SPECS = [  # on a GPU only: ResNet-18's 64@56 and 512@7, a 7x7 and an 11x11 layer, odd sizes and strides
    layer("resnet18-conv2").spec,
    layer("resnet18-conv5").spec,
    convbench.ConvSpec(N=8, C=64, H=56, W=56, K=64, R=7, S=7, padding=3),
    convbench.ConvSpec(N=8, C=64, H=56, W=56, K=64, R=11, S=11, padding=5),
    convbench.ConvSpec(N=4, C=32, H=33, W=31, K=48, R=5, S=3, padding=(2, 1), stride=2),
    convbench.ConvSpec(N=3, C=24, H=29, W=27, K=40, R=3, S=3, padding=1),                 # odd P and Q, N
    convbench.ConvSpec(N=2, C=3, H=61, W=59, K=16, R=7, S=7, padding=3, stride=2),        # a stem: C=3, stride 2
    convbench.ConvSpec(N=8, C=96, H=56, W=56, K=96, R=3, S=3, padding=1, groups=96),      # MobileNet's depthwise
    convbench.ConvSpec(N=2, C=64, H=33, W=33, K=64, R=3, S=3, padding=2, dilation=2),     # DeepLab's dilated 3x3
    convbench.ConvSpec(N=4, C=128, H=28, W=28, K=128, R=3, S=3, padding=1, groups=32),    # ResNeXt's grouped 3x3
]


_ORACLE = {}


def problem_and_oracle(spec, seed=0):
    """(x, w, float64 reference), computed once per spec: every algorithm is checked against it."""
    if (spec, seed) not in _ORACLE:
        x, w = random_problem(spec, np.random.default_rng(seed))
        _ORACLE[spec, seed] = x, w, reference_conv2d(x, w, spec.padding, spec.stride, spec.dilation, spec.groups)
    return _ORACLE[spec, seed]


def check(algorithm, spec, seed=0, tolerance=TOLERANCE, **options):
    x, w, reference = problem_and_oracle(spec, seed)
    result = convbench.conv2d(x, w, algorithm=algorithm, backend="cuda", padding=spec.padding, stride=spec.stride,
                              dilation=spec.dilation, groups=spec.groups, **options)
    assert isinstance(result, np.ndarray) and result.dtype == np.float32 and result.shape == spec.output_shape
    error = relative_error(result, reference)
    assert error <= tolerance, f"{algorithm}/cuda on {spec}: relative L2 error {error:.2e}"


@needs_cuda
@pytest.mark.parametrize("algorithm,spec", TINY_SPECS, ids=[f"{a}-{i}" for i, (a, _) in enumerate(TINY_SPECS)])
def test_kernels_match_the_oracle_with_tiny_blocks(algorithm, spec):
    check(algorithm, spec, **TINY[algorithm])


@needs_cuda
@pytest.mark.skipif(SIMULATED, reason="real sizes need a real GPU")
@pytest.mark.parametrize("algorithm", convbench.interface.registry.LABELS)
@pytest.mark.parametrize("spec", REAL_SPECS, ids=str)
def test_real_sizes_match_the_oracle(algorithm, spec):
    why_not = convbench.interface.registry.why_not(algorithm, "cuda", spec)
    if why_not:  # Winograd: 3x3, stride 1; tiles: filters smaller than T; on cuda: groups and dilation direct's only
        with pytest.raises(convbench.ConvError, match="3x3|groups=|dilation=|tile="):
            convbench.plan(spec, algorithm, "cuda")
        return
    tolerance = max(REAL_SIZE_TOLERANCE, error_budget.TOLERANCE.get(algorithm, 0.0))
    check(algorithm, spec, tolerance=tolerance)


GRADIENT_REAL_SIZE_TOLERANCE = error_budget.GPU_GRADIENT_TOLERANCE
_GRADIENT_ORACLE = {}


def gradient_oracle(spec):
    """(x, w, dy, float64 dx, float64 dw) for spec, computed once: every variant is checked against it."""
    if spec not in _GRADIENT_ORACLE:
        x, w, _ = problem_and_oracle(spec)
        dy = np.random.default_rng(15).standard_normal(spec.output_shape).astype(np.float32)
        exact = convbench.plan(spec, "direct", "cpu").float64()
        _GRADIENT_ORACLE[spec] = (x, w, dy, exact.backward_data(dy.astype(np.float64), w.astype(np.float64)),
                                  exact.backward_filter(x.astype(np.float64), dy.astype(np.float64)))
    return _GRADIENT_ORACLE[spec]


@needs_cuda
@pytest.mark.skipif(SIMULATED, reason="real sizes need a real GPU")
@pytest.mark.parametrize("algorithm", convbench.interface.registry.LABELS)
@pytest.mark.parametrize("spec", REAL_SPECS, ids=str)
def test_real_sizes_both_passes_match_the_oracle(algorithm, spec):
    if convbench.interface.registry.why_not(algorithm, "cuda", spec):
        pytest.skip("refused by name: test_real_sizes_match_the_oracle checks the refusal")
    x, w, dy, dx, dw = gradient_oracle(spec)
    plan = convbench.plan(spec, algorithm, "cuda")
    for name, ours, exact in [("dx", plan.backward_data(dy, w), dx), ("dw", plan.backward_filter(x, dy), dw)]:
        error = relative_error(ours, exact)
        assert error <= GRADIENT_REAL_SIZE_TOLERANCE, f"{name} of {algorithm}/cuda on {spec}: {error:.2e}"


@needs_cuda
@pytest.mark.parametrize("algorithm", ["winograd", "fft"])
def test_stages_run_in_order_give_the_call(algorithm):
    spec = convbench.ConvSpec(N=2, C=3, H=6, W=5, K=2, R=3, S=3, padding=1)
    x, w = random_problem(spec, np.random.default_rng(9))
    plan = convbench.plan(spec, algorithm, "cuda", **TINY[algorithm])
    expected = plan(x, w)
    out = gpu.empty(spec.output_shape)
    stages = plan.stages(x, w, out=out)
    assert list(stages) == ["filter transform", "input transform", "contraction", "output transform"]
    gpu.fill(out, np.nan)
    plan(*random_problem(spec, np.random.default_rng(10)))  # the plan's buffers now hold another problem
    for run in stages.values():
        run()
    gpu.synchronize()
    np.testing.assert_allclose(gpu.to_host(out), expected, rtol=1e-6, atol=1e-6)


@needs_cuda
def test_batched_gemm_with_partial_tiles(rng):
    A = rng.uniform(-1, 1, (3, 5, 7)).astype(np.float32)
    B = rng.uniform(-1, 1, (3, 7, 6)).astype(np.float32)
    C = gpu.empty((3, 5, 6))
    batched_gemm(gpu.from_host(A), gpu.from_host(B), C, tile=4, rows_per_thread=2)
    np.testing.assert_allclose(gpu.to_host(C), A @ B, rtol=1e-5, atol=1e-5)


BAND_LIMITED_CASES = [  # (spec, cuda options): tiny blocks on the simulator, then real sizes (GPU only)
    (convbench.ConvSpec(N=1, C=3, H=10, W=9, K=2, R=3, S=3, padding=1), TINY["fft"]),
    *((spec, {}) for spec in REAL_SPECS[2:4]),
]


@needs_cuda
@pytest.mark.parametrize("spec,options", BAND_LIMITED_CASES, ids=[str(spec) for spec, _ in BAND_LIMITED_CASES])
def test_band_limited_gpu_output_equals_the_cpu_one(spec, options):
    """The same mask M_c on both backends: at c = 0.5 the two agree to float32 rounding,
    while both differ from the exact convolution."""
    if SIMULATED and not options:
        pytest.skip("real sizes need a real GPU")
    x, w, reference = problem_and_oracle(spec, seed=3)
    gpu_plan = convbench.plan(spec, "fft", "cuda", compression=0.5, **options)
    cpu_plan = convbench.plan(spec, "fft", "cpu", compression=0.5)
    assert gpu_plan.compression == cpu_plan.compression > 0.4
    np.testing.assert_array_equal(gpu_plan.spectral_mask, cpu_plan.spectral_mask)
    on_gpu, on_cpu = gpu_plan(x, w), cpu_plan(x, w)
    assert relative_error(on_gpu, on_cpu.astype(np.float64)) < 1e-5
    assert relative_error(on_gpu, reference) > 1e-2


@needs_cuda
@pytest.mark.parametrize("algorithm", ["winograd", "fft"])
def test_device_arrays_in_give_a_device_array_out_and_set_weights_matches(algorithm):
    spec = convbench.ConvSpec(N=1, C=2, H=6, W=5, K=2, R=3, S=3, padding=1)
    x, w = random_problem(spec, np.random.default_rng(5))
    plan = convbench.plan(spec, algorithm, "cuda", **TINY[algorithm])
    on_device = plan(gpu.from_host(x), gpu.from_host(w))
    assert gpu.is_device_array(on_device)
    per_call = gpu.to_host(on_device)
    assert relative_error(per_call, reference_conv2d(x, w, spec.padding, spec.stride)) <= TOLERANCE
    plan.set_weights(w)
    other_x = random_problem(spec, np.random.default_rng(6))[0]
    np.testing.assert_allclose(plan(other_x), plan(other_x, w), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(plan(x), per_call, rtol=1e-6, atol=1e-6)  # the per-call use did not disturb it


@needs_cuda
def test_host_out_is_filled_in_place():
    spec = convbench.ConvSpec(N=1, C=1, H=4, W=4, K=1, R=3, S=3, padding=1)
    x, w = random_problem(spec, np.random.default_rng(7))
    out = np.full(spec.output_shape, np.nan, dtype=np.float32)
    assert convbench.plan(spec, "direct", "cuda", **TINY["direct"])(x, w, out=out) is out
    assert relative_error(out, reference_conv2d(x, w, 1, 1)) <= TOLERANCE


@needs_cuda
def test_bad_device_input_is_a_conv_error():
    spec = convbench.ConvSpec(N=1, C=2, H=4, W=4, K=1, R=3, S=3)
    plan = convbench.plan(spec, "direct", "cuda", **TINY["direct"])
    x, w = random_problem(spec, np.random.default_rng(8))
    with pytest.raises(convbench.ConvError, match=r"x on the device must be .* shape \(1, 2, 4, 4\)"):
        plan(gpu.from_host(x[:, :1]), w)
    with pytest.raises(convbench.ConvError, match=r"w must have shape \(1, 2, 3, 3\)"):
        plan(x, w[:, :1])
    with pytest.raises(convbench.ConvError, match="winograd.*3x3"):
        convbench.plan(convbench.ConvSpec(N=1, C=1, H=8, W=8, K=1, R=5, S=5), "winograd", "cuda")


def test_simulator_has_no_cudnn_peer():
    if not SIMULATED:
        pytest.skip("the simulator is off")
    assert not available["torch", "cuda"].available
    assert "cuDNN" in available["torch", "cuda"].reason


NO_GPU_SCRIPT = """
import convbench
from convbench import cli
from numba import cuda
if cuda.is_available():
    print("HAS-GPU")
    raise SystemExit(0)
cli.main(["list"])
for algorithm in convbench.interface.registry.ALGORITHMS:
    try:
        convbench.conv2d([[[[1.0] * 4] * 4]], [[[[1.0] * 3] * 3]], algorithm=algorithm, backend="cuda")
    except convbench.ConvError as err:
        print("ConvError:", err)
"""


def test_without_a_gpu_cuda_is_refused_with_a_reason():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0", "COLUMNS": "200"}
    run = subprocess.run([sys.executable, "-c", NO_GPU_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    if "HAS-GPU" in run.stdout:
        pytest.skip("this machine has a GPU")
    assert run.stdout.count("no CUDA GPU found") >= 8  # four rows of `convbench list`, four errors
    errors = [line for line in run.stdout.splitlines() if line.startswith("ConvError")]
    assert len(errors) == 4
    assert all("backend='cuda'" in line and "not available" in line for line in errors)


# The training passes on tiny shapes: strides, padding past the filter's reach (the data gradient
# crops dy), groups and dilation (direct), odd sizes (Winograd's half tiles), and the fft's exact
# band-limited adjoints at c = 0.5, each against the float64 definition of what the plan computes.
GRADIENT_SPECS = [
    ("direct", convbench.ConvSpec(N=2, C=3, H=7, W=6, K=2, R=3, S=2, padding=(1, 2), stride=(2, 1))),
    ("direct", convbench.ConvSpec(N=1, C=4, H=7, W=6, K=6, R=3, S=3, padding=3, dilation=(2, 1), groups=2)),
    ("winograd", convbench.ConvSpec(N=2, C=3, H=5, W=6, K=2, R=3, S=3, padding=1)),
    ("winograd", convbench.ConvSpec(N=1, C=2, H=6, W=7, K=3, R=3, S=3)),
    ("fft", convbench.ConvSpec(N=2, C=3, H=7, W=6, K=2, R=3, S=4, padding=1)),
    ("fft", convbench.ConvSpec(N=1, C=2, H=9, W=8, K=3, R=3, S=3, padding=2, stride=2)),
]


@needs_cuda
@pytest.mark.parametrize("compression", [0.0, 0.5])
@pytest.mark.parametrize("algorithm,spec", GRADIENT_SPECS, ids=[f"{a}-{i}" for i, (a, _) in enumerate(GRADIENT_SPECS)])
def test_training_passes_match_the_float64_definition(algorithm, spec, compression):
    if compression and algorithm != "fft":
        pytest.skip("only the fft band-limits")
    rng = np.random.default_rng(11)
    x, w = random_problem(spec, rng)
    dy = rng.standard_normal(spec.output_shape).astype(np.float32)
    plan = convbench.plan(spec, algorithm, "cuda", compression=compression, **TINY[algorithm])
    truth = plan.float64()
    x64, w64, dy64 = (a.astype(np.float64) for a in (x, w, dy))
    for name, ours, expected in [("dx", plan.backward_data(dy, w), truth.backward_data(dy64, w64)),
                                 ("dw", plan.backward_filter(x, dy), truth.backward_filter(x64, dy64))]:
        assert isinstance(ours, np.ndarray) and ours.dtype == np.float32 and ours.shape == expected.shape
        error = relative_error(ours, expected)
        assert error <= TOLERANCE, f"{name} of {algorithm}/cuda at c={compression} on {spec}: {error:.2e}"
    if compression:  # the band-limited gradients are not the exact convolution's
        assert relative_error(plan.backward_data(dy, w), reference_backward_data(dy64, w64, spec)) > 1e-2


def reference_backward_data(dy, w, spec):
    return convbench.plan(spec, "direct", "cpu").float64().backward_data(dy, w)


@needs_cuda
def test_training_passes_on_device_arrays_stay_on_the_device():
    spec = GRADIENT_SPECS[2][1]  # Winograd's: its data gradient is its own forward on a derived problem
    rng = np.random.default_rng(12)
    x, w = random_problem(spec, rng)
    dy = rng.standard_normal(spec.output_shape).astype(np.float32)
    plan = convbench.plan(spec, "winograd", "cuda", **TINY["winograd"])
    dx = plan.backward_data(gpu.from_host(dy), gpu.from_host(w))
    assert gpu.is_device_array(dx)
    np.testing.assert_allclose(gpu.to_host(dx), plan.backward_data(dy, w), rtol=1e-6, atol=1e-6)
    with pytest.raises(convbench.ConvError, match="reuse_forward=True.*expected reuse_forward=False"):
        plan.backward_filter(x, dy, reuse_forward=True)
    with pytest.raises(convbench.ConvError, match=r"dy must have shape \(2, 2, 5, 6\)"):
        plan.backward_data(dy[:, :, :-1], w)


# The families on cuda: Winograd F(4x4) and F(6x6) (cuda_matrices.py's kernels) and the FFT on T x T
# tiles (cuda_tiled.py), with partial tiles at the edges; each held to its variant's tolerance of the
# registry (5x the worst measured on the CPU's corpus check: the same algebra in float32).
FAMILY_SPECS = [
    ("winograd F(4x4,3x3)", convbench.ConvSpec(N=1, C=3, H=9, W=7, K=2, R=3, S=3, padding=1)),
    ("winograd F(6x6,3x3)", convbench.ConvSpec(N=1, C=2, H=8, W=9, K=3, R=3, S=3, padding=1)),
    ("fft tile 8", convbench.ConvSpec(N=2, C=3, H=11, W=9, K=2, R=3, S=2, padding=1)),
    ("fft tile 16", convbench.ConvSpec(N=1, C=1, H=13, W=10, K=2, R=5, S=5, padding=2)),
]


def tiny(label):
    """TINY's options for a variant; the tiled FFT also takes the filter gradient's block (the whole-image one does not)."""
    algorithm, preset = convbench.interface.registry.resolve(label)
    return dict(TINY[algorithm], **({"reduction_threads": 4} if algorithm == "fft" and "tile" in preset else {}))


@needs_cuda
@pytest.mark.parametrize("label,spec", FAMILY_SPECS, ids=[label for label, _ in FAMILY_SPECS])
def test_the_families_match_the_oracle_forward_and_in_both_passes(label, spec):
    tolerance = error_budget.TOLERANCE[label]
    x, w, reference = problem_and_oracle(spec)
    dy = np.random.default_rng(13).standard_normal(spec.output_shape).astype(np.float32)
    plan = convbench.plan(spec, label, "cuda", **tiny(label))  # one plan: each call costs seconds in the simulator
    assert plan.options["tile"] == convbench.interface.registry.VARIANTS[label][1]["tile"]
    truth = plan.float64()
    for name, ours, expected in [("y", plan(x, w), reference),
                                 ("dx", plan.backward_data(dy, w), truth.backward_data(*map(np.float64, (dy, w)))),
                                 ("dw", plan.backward_filter(x, dy), truth.backward_filter(*map(np.float64, (x, dy))))]:
        assert relative_error(ours, expected) <= tolerance, f"{name} of {label}/cuda on {spec}"


@needs_cuda
def test_cuda_families_refuse_what_they_cannot_compute():
    with pytest.raises(convbench.ConvError, match="tile must be one of 2, 4, 6"):
        convbench.plan(convbench.ConvSpec(N=1, C=1, H=8, W=8, K=1, R=3, S=3), "winograd", "cuda", tile=3)
    with pytest.raises(convbench.ConvError, match="with tile=8 needs stride 1 and a filter .* smaller than the tile"):
        convbench.plan(convbench.ConvSpec(N=1, C=1, H=12, W=12, K=1, R=9, S=9), "fft tile 8", "cuda")
    with pytest.raises(convbench.ConvError, match="compression must be 0 with tile=16"):
        convbench.plan(convbench.ConvSpec(N=1, C=1, H=12, W=12, K=1, R=3, S=3), "fft tile 16", "cuda",
                       compression=0.5)


NN_ON_CUDA = ["direct", "winograd", "winograd F(4x4,3x3)", "fft", "fft tile 16", "torch"]


@needs_cuda
@pytest.mark.skipif(SIMULATED, reason="convbench.nn on a CUDA tensor needs torch's CUDA (a real GPU)")
@pytest.mark.parametrize("label", NN_ON_CUDA)
def test_nn_conv2d_takes_a_training_step_on_cuda_tensors(label):
    """convbench.nn.Conv2d moved to the GPU: the output and the gradients of x, w and bias are CUDA
    tensors, against torch's layer in float64 on the CPU."""
    import torch

    rng = np.random.default_rng(14)
    layer = convbench.nn.Conv2d(16, 24, 3, padding=1, algorithm=label).cuda()
    truth = torch.nn.Conv2d(16, 24, 3, padding=1).double()
    with torch.no_grad():
        truth.weight.copy_(layer.weight.detach().cpu().double())
        truth.bias.copy_(layer.bias.detach().cpu().double())
    x = rng.standard_normal((4, 16, 20, 20)).astype(np.float32)
    dy = torch.from_numpy(rng.standard_normal((4, 24, 20, 20)).astype(np.float32))
    x_gpu = torch.from_numpy(x).cuda().requires_grad_()
    x_cpu = torch.from_numpy(x).double().requires_grad_()
    y = layer(x_gpu)
    assert y.is_cuda and y.dtype == torch.float32
    (y * dy.cuda()).sum().backward()
    expected = truth(x_cpu)
    (expected * dy.double()).sum().backward()
    tolerance = 10 * error_budget.TOLERANCE[label]
    for name, ours, exact in [("y", y, expected), ("dx", x_gpu.grad, x_cpu.grad),
                              ("dw", layer.weight.grad, truth.weight.grad), ("db", layer.bias.grad, truth.bias.grad)]:
        assert ours.is_cuda, name
        assert relative_error(ours.detach().cpu().numpy(), exact.detach().numpy()) <= tolerance, f"{name} of {label}"
