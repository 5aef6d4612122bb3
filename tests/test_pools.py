"""One OpenMP pool: torch's runtime serves FFTW's threads and Numba's kernels (algorithms/pools.py).

Each case runs in a fresh interpreter, since which runtime a library binds is
decided when it loads. The evidence is the process's thread count after a call
that uses all three (torch's GEMMs, a two-thread FFTW plan, Numba kernels): one
runtime keeps one team of workers, a second runtime starts a team of its own.
"""
import os
import subprocess
import sys

import pytest

CALL = """
import os
import numpy as np
import convbench
spec = convbench.ConvSpec(N=2, C=8, H=20, W=20, K=8, R=5, S=5)
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, spec.input_shape).astype(np.float32)
w = rng.uniform(-1, 1, spec.filter_shape).astype(np.float32)
for name in ("fft tile 64", "fft tile 16", "fft", "direct"):  # 64 x 64 tiles keep FFTW, with two threads
    convbench.plan(spec, name)(x, w)
import numba
from convbench.algorithms import pools
print(len(os.listdir("/proc/self/task")), numba.threading_layer(), pools.shared_openmp())
"""


def run(prefix: str) -> tuple[int, str, str]:
    env = dict(os.environ)
    env.pop("NUMBA_THREADING_LAYER", None)
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", prefix + CALL], capture_output=True, text=True,
                         env=env, timeout=300, check=True).stdout.split()
    return int(out[0]), out[1], out[2]


@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or (os.cpu_count() or 1) < 2,
                    reason="counts the threads of a process on Linux with 2 or more cores")
def test_fftw_and_numba_run_on_torchs_pool():
    threads, layer, shared = run("")
    assert layer == "omp" and shared == "True"
    # pyfftw first binds FFTW to the libgomp its wheel bundles: a second team of workers
    separate, _, _ = run("import pyfftw\n")
    assert threads < separate, (threads, separate)


def test_importing_pyfftw_first_warns():
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-c", "import pyfftw, warnings\nwarnings.simplefilter('always')\n"
                          "import convbench.algorithms"], capture_output=True, text=True, env=env, timeout=300)
    assert "pyfftw was imported before torch" in out.stderr
    clean = subprocess.run([sys.executable, "-c", "import convbench.algorithms, pyfftw"], capture_output=True,
                           text=True, env=env, timeout=300)
    assert "pyfftw was imported before torch" not in clean.stderr
