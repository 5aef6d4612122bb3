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
import json, re
from numba import cuda, float32, int32, complex64, boolean
from convbench.algorithms.direct.cuda import direct_kernel, channel_chunk
from convbench.algorithms.cuda_gemm import batched_gemm_kernel
from convbench.algorithms.winograd import cuda as winograd
from convbench.algorithms.fft import cuda as fft

f4, f3 = float32[:, :, :, ::1], float32[:, :, ::1]
c4, c3, rows = complex64[:, :, :, ::1], complex64[:, :, ::1], int32[::1]
chunk = lambda R, S, s: channel_chunk(16, 16, 8, R, S, s, s, 512)
kernels = {
    "direct 3x3": (direct_kernel(16, 16, 8, chunk(3, 3, 1), 3, 3, 1, 1), (f4, f4, f4, int32, int32)),
    "direct 31x31": (direct_kernel(16, 16, 8, chunk(31, 31, 1), 31, 31, 1, 1), (f4, f4, f4, int32, int32)),
    "direct 7x7 stride 2": (direct_kernel(16, 16, 8, chunk(7, 7, 2), 7, 7, 2, 2), (f4, f4, f4, int32, int32)),
    "batched gemm": (batched_gemm_kernel(32, 4), (f3, f3, f3)),
    "winograd filter": (winograd.filter_transform_kernel, (f4, f3)),
    "winograd input": (winograd.input_transform_kernel, (f4, f3, int32, int32, int32, int32)),
    "winograd output": (winograd.output_transform_kernel, (f3, f4, int32, int32)),
    "fft gather": (fft.gather_band_kernel, (c4, rows, int32, c3, boolean, boolean)),
    "fft contract": (fft.contract_kernel(8), (c3, c3, c3)),
    "fft scatter": (fft.scatter_band_kernel, (c3, rows, int32, c4)),
    "fft crop": (fft.crop_kernel, (f4, f4, int32, int32)),
}
report = {}
for name, (kernel, signature) in kernels.items():
    ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(9, 0))
    shared = sum(int(n) for n in re.findall(r"\.shared\s+\.align\s+\d+\s+\.b8\s+\S+\[(\d+)\]", ptx))
    report[name] = {"entry": ".entry" in ptx, "shared_bytes": shared, "f64": ptx.count(".f64")}
print("REPORT" + json.dumps(report))
"""

TILED = ("direct 3x3", "direct 31x31", "direct 7x7 stride 2", "batched gemm")


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
    assert len(report) == 11
    for name, kernel in report.items():
        assert kernel["entry"], f"{name}: no kernel entry in the PTX"
        assert kernel["shared_bytes"] <= 48 * 1024, f"{name}: {kernel['shared_bytes']} bytes of shared memory"
    for name in TILED:
        assert report[name]["shared_bytes"] > 0, f"{name} should stage its tiles in shared memory"
    # the float32 kernels stay in float32 (a stray float64 constant would run at 1/64 rate on most GPUs)
    for name in ("direct 3x3", "batched gemm", "winograd input", "winograd output", "fft contract"):
        assert report[name]["f64"] == 0, f"{name}: {report[name]['f64']} float64 instructions"
