"""Every Numba CUDA kernel compiles for a real GPU (sm_90), with no GPU present.

The simulator runs kernels as Python and types nothing: a kernel that mixes
float64 into float32 or indexes with the wrong type passes there and fails
on the device. numba-cuda's compile_ptx types and lowers each kernel exactly
as on the device. It runs in a child process because the tests' own process
has the simulator on, and it checks that each tiled kernel's static shared
memory fits the 48 KiB every CUDA GPU gives a block.
"""
import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import importlib, json, pkgutil, re
from numba import cuda, float32, int32, complex64, boolean
import convbench.algorithms as package
from convbench.algorithms.direct.cuda import tiling

f4, f3, f2 = float32[:, :, :, ::1], float32[:, :, ::1], float32[:, ::1]
c4, c3, rows = complex64[:, :, :, ::1], complex64[:, :, ::1], int32[::1]
direct_args = (f4, f4, f4, int32, int32, int32)
# how to compile each kernel: (factory arguments or None for a plain kernel, argument types)
HOW = {
    # the tilings DirectCUDA's defaults (tile 16x16, 16 filters a thread) give
    "direct.cuda.direct_kernel": [(tiling((16, 16), 16, 3, 3, 1, 1, 512), direct_args),
                                  (tiling((16, 16), 16, 31, 31, 1, 1, 512), direct_args),
                                  (tiling((16, 16), 16, 7, 7, 2, 2, 512), direct_args),
                                  (tiling((16, 16), 1, 3, 3, 1, 1, 1, 2, 2), direct_args)],  # depthwise, dilated
    "cuda_gemm.batched_gemm_kernel": [((32, 8), (f3, f3, f3))],
    "winograd.cuda.filter_transform_kernel": [(None, (f4, f3))],
    "winograd.cuda.input_transform_kernel": [(None, (f4, f3, int32, int32, int32, int32))],
    "winograd.cuda.output_transform_kernel": [(None, (f3, f4, int32, int32))],
    "fft.cuda.gather_band_kernel": [(None, (c4, rows, int32, c3, boolean, boolean))],
    "fft.cuda.contract_kernel": [((4,), (c3, c3, c3))],
    "fft.cuda.scatter_band_kernel": [(None, (c3, rows, int32, c4))],
    "fft.cuda.crop_kernel": [(None, (f4, f4, int32, int32, int32, int32))],
    "fft.cuda.band_product_kernel": [(None, (c3, c3, c3, boolean, boolean, boolean, boolean))],
    "winograd.cuda_matrices.filter_transform_kernel": [((m,), (f4, f2, f3)) for m in (4, 6)],
    "winograd.cuda_matrices.input_transform_kernel": [((m,), (f4, f2, f3, int32, int32, int32, int32)) for m in (4, 6)],
    "winograd.cuda_matrices.output_transform_kernel": [((m,), (f3, f2, f4, int32, int32)) for m in (4, 6)],
    "fft.cuda_tiled.gather_tiles_kernel": [(None, (f4, f4, *(int32,) * 6))],
    "fft.cuda_tiled.scatter_tiles_kernel": [(None, (f4, f4, *(int32,) * 4))],
    "gpu.gradients.place_kernel": [(None, (f4, f4, int32, int32, int32, int32))],
    "gpu.gradients.flip_kernel": [(None, (f4, f4, int32))],
    "gpu.gradients.filter_gradient_kernel": [((threads,), (f4, f4, f4, *(int32,) * 7)) for threads in (128, 4)],
}

# discover every kernel and kernel factory the package defines (not device functions, not imports)
found = {}
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    module = importlib.import_module(info.name)
    for name, obj in vars(module).items():
        func = getattr(obj, "py_func", None) or getattr(obj, "__wrapped__", None)
        if getattr(func, "__module__", None) != module.__name__:
            continue
        is_kernel = type(obj).__name__ == "CUDADispatcher" and not obj.targetoptions.get("device")
        is_factory = hasattr(obj, "cache_info") and "cuda.jit" in open(module.__file__).read()
        if is_kernel or (is_factory and name.endswith("_kernel")):
            found[module.__name__[len(package.__name__) + 1:] + "." + name] = obj

report = {"unlisted": sorted(set(found) - set(HOW)), "kernels": {}}
for name, obj in found.items():
    for i, (factory_args, signature) in enumerate(HOW.get(name, [])):
        kernel = obj(*factory_args) if factory_args is not None else obj
        ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(9, 0))
        shared = sum(int(n) for n in re.findall(r"\.shared\s+\.align\s+\d+\s+\.b8\s+\S+\[(\d+)\]", ptx))
        report["kernels"][f"{name}#{i}"] = {"entry": ".entry" in ptx, "shared_bytes": shared, "f64": ptx.count(".f64")}
print("REPORT" + json.dumps(report))
"""

TILED = ("direct.cuda.direct_kernel#0", "direct.cuda.direct_kernel#1", "direct.cuda.direct_kernel#2",
         "cuda_gemm.batched_gemm_kernel#0", "gpu.gradients.filter_gradient_kernel#0")


def compile_report():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    line = next((line for line in run.stdout.splitlines() if line.startswith("REPORT")), None)
    if line is None:
        missing_toolchain = "NVVM" in run.stderr or "nvrtc" in run.stderr.lower() or "bindings not found" in run.stderr
        if missing_toolchain and not os.environ.get("CI"):
            pytest.skip("no CUDA compiler toolchain here (pip install 'numba-cuda[cu12]'): " + run.stderr[-300:])
        pytest.fail(run.stderr[-3000:])
    return json.loads(line[len("REPORT"):])


def test_every_kernel_compiles_to_ptx_within_shared_memory():
    report = compile_report()
    # every kernel the package defines is found here; one without a compile recipe fails
    assert not report["unlisted"], f"kernels with no entry in HOW (add their argument types): {report['unlisted']}"
    kernels = report["kernels"]
    assert {name.split("#")[0] for name in kernels} >= {"fft.cuda.contract_kernel", "winograd.cuda.input_transform_kernel"}
    for name, kernel in kernels.items():
        assert kernel["entry"], f"{name}: no kernel entry in the PTX"
        assert kernel["shared_bytes"] <= 48 * 1024, f"{name}: {kernel['shared_bytes']} bytes of shared memory"
    for name in TILED:
        assert kernels[name]["shared_bytes"] > 0, f"{name} should stage its tiles in shared memory"
    # the float32 kernels stay in float32 (a stray float64 constant would run at 1/64 rate on most GPUs)
    for name in ("direct.cuda.direct_kernel#0", "cuda_gemm.batched_gemm_kernel#0", "winograd.cuda.input_transform_kernel#0",
                 "winograd.cuda.output_transform_kernel#0", "fft.cuda.contract_kernel#0",
                 "winograd.cuda_matrices.input_transform_kernel#0", "winograd.cuda_matrices.output_transform_kernel#1",
                 "gpu.gradients.filter_gradient_kernel#0", "fft.cuda.band_product_kernel#0",
                 "fft.cuda_tiled.gather_tiles_kernel#0"):
        assert kernels[name]["f64"] == 0, f"{name}: {kernels[name]['f64']} float64 instructions"
