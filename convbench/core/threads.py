"""numpy's OpenBLAS threads: wait without spinning, when convbench is imported before numpy.

No convbench measurement depends on this any more: every GEMM of the CPU
implementations runs on torch's BLAS (convbench.algorithms.blas), so numpy's
OpenBLAS pool never wakes in a timed call, and the two import orders give the
same times (`python -m convbench.measure.import_order`; its last run is
results/records/import-order.json). What is left is a courtesy to numpy BLAS work around the
measurements (the float64 oracle, a user's own code): OpenBLAS's workers spin
for about 2^28 cycles after each GEMM, which on a 2-core machine steals the
cores of whatever runs next, unless OPENBLAS_THREAD_TIMEOUT is set before
numpy loads. It is a default only: set the variable to choose otherwise.

torch's OpenMP pool is left at its defaults on purpose: the earlier
OMP_WAIT_POLICY=PASSIVE made torch itself slower, handicapping the peer, and it
took effect only in one import order (results/records/implementation-choices.json,
row threads-torch-pool-at-defaults).
"""
import os

QUIET_POOLS = {"OPENBLAS_THREAD_TIMEOUT": "4"}


def quiet_thread_pools() -> None:
    for name, value in QUIET_POOLS.items():
        os.environ.setdefault(name, value)
