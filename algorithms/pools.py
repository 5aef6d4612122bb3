"""One OpenMP pool for every stage of a CPU call: torch's, which FFTW and Numba then share.

A process here can hold three OpenMP runtimes on the same two cores: torch's
(torch/lib/libgomp.so.1), the one pyFFTW's wheel bundles for FFTW's threads
(pyfftw.libs/libgomp-*.so), and the system's, which Numba's `omp` layer links.
libgomp's workers spin about 3 ms after each parallel region, and one runtime
never sees another's threads, so each stage handed the cores to the next one
while the last one's workers were still spinning on them.

The dynamic linker resolves a symbol in the global scope before a library's own
dependencies, and torch loads its libgomp with RTLD_GLOBAL. So once torch is
loaded, every GOMP_* and omp_* call that FFTW or Numba's omp layer makes goes to
torch's runtime, whatever libgomp they also pull in: one team of threads serves
torch's GEMMs, FFTW's transforms and the Numba kernels, and the peer keeps
exactly what torch ships (no setting of its changes). This module does the two
things that takes:

- torch is imported before anything imports pyfftw (convbench.algorithms imports
  this module first): with pyfftw first, FFTW's own team is one more thread in
  the process, and a tiled FFT call took about twice as long;
- Numba's threading layer is `omp` unless NUMBA_THREADING_LAYER says otherwise
  (it was `workqueue`, a pool of its own, slower against torch on every layer
  measured). torch's thread count is left as set.

Their measurements: results/records/implementation-choices.json, rows torch-before-pyfftw and numba-omp-layer.

What it costs: a process that ran a Numba parallel kernel under `omp` may not
fork and run one again (GNU OpenMP is not fork-safe; Numba ends such a child
with SIGTERM). asv's forkserver therefore loads no kernel before it forks
(suites/common.py), and fork-then-exec (subprocess) is unaffected.
"""
from __future__ import annotations

import os
import sys
import warnings

PYFFTW_FIRST = "pyfftw" in sys.modules and "torch" not in sys.modules

import torch  # noqa: E402,F401  (before pyfftw: its libgomp then serves FFTW too)
from numba import config as numba_config  # noqa: E402

if PYFFTW_FIRST:
    warnings.warn("convbench: pyfftw was imported before torch, so FFTW's threads run on an OpenMP "
                  "runtime of their own beside torch's (tiled FFT calls measured up to 2x slower); "
                  "import torch or convbench.algorithms before pyfftw", stacklevel=2)

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba_config.THREADING_LAYER = "omp"


def shared_openmp() -> bool:
    """Whether Numba's kernels run on torch's OpenMP runtime (the omp layer, torch loaded first)."""
    return numba_config.THREADING_LAYER == "omp"
