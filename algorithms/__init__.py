"""Convolution implementations: one folder per algorithm, one file per backend.

Every implementation is a Plan subclass (algorithms/base.py): it is built from
a ConvSpec once, which allocates buffers and plans transforms, and then called
many times as plan(x, w).
"""

from . import pools  # noqa: F401,E402  (first: torch's OpenMP runtime becomes every stage's; see pools.py)
