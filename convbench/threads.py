"""Thread pools that wait without spinning, set before numpy or torch start theirs.

This machine has 2 cores and a process here holds two BLAS/OpenMP pools:
numpy's OpenBLAS (our GEMMs) and torch's OpenMP (the peer). Each spins after
its work is done, OpenBLAS for about 2^28 cycles, and steals the cores from
whatever runs next. Measured on ResNet-18's 64@56 layer (direct then torch,
back to back, medians of 9; OPENBLAS_THREAD_TIMEOUT / OMP_WAIT_POLICY):

  defaults:      torch after direct 39.1 ms (alone 9.3), direct alone 32.9 ms
  4 / unset:     torch after direct  9.0 ms, direct after torch 23.3 ms (alone 18.7)
  4 / PASSIVE:   torch after direct  9.0 ms, direct after torch 18.5 ms (alone 18.9)

So without this every alternately-timed ratio measured the neighbour's spin,
and OpenBLAS's spinning even slowed our own direct path (its copies run
between GEMMs). torch alone is within noise under PASSIVE (8.4-8.8 ms against
8.6-8.8 on the ResNet-18 layers). Both are defaults only: set either variable
to choose otherwise. They take effect only if this runs before numpy and
torch are imported, which `import convbench` first guarantees.
"""
import os

QUIET_POOLS = {"OPENBLAS_THREAD_TIMEOUT": "4", "OMP_WAIT_POLICY": "PASSIVE"}


def quiet_thread_pools() -> None:
    for name, value in QUIET_POOLS.items():
        os.environ.setdefault(name, value)
