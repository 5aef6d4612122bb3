"""Winograd F(m, r) matrices from interpolation points (Toom–Cook, as Lavin & Gray build them).

For the 1-D correlation of an n = m + r - 1 input with an r-tap filter,

    y = A^T [ (G g) . (B^T d) ],    A^T (m x n), G (n x r), B^T (n x n),

with n - 1 finite points a_j and the point at infinity:

    A^T[i][j] = a_j^i                                (last column: [0 ... 0 1])
    G[j][k]   = a_j^k / prod_{l != j} (a_j - a_l)    (last row:    [0 ... 0 1])
    B^T[j]    = coefficients of prod_{l != j} (x - a_l), lowest power first
                (last row: those of prod_l (x - a_l))

All in exact rationals (fractions.Fraction); rounding to float happens once,
when a plan asks for float32 or float64 copies. 2-D F(m x m, r x r) nests
the 1-D algorithm: Y = A^T [ (G g G^T) . (B^T d B) ] A.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

# The points the literature found most accurate (Lavin; Barabasz et al.), by output tile m.
POINTS = {
    2: (0, 1, -1),
    4: (0, -1, 1, Fraction(1, 2), -2),
    6: (0, -1, 1, Fraction(1, 2), Fraction(-1, 2), 2, -2),
}
TILES = tuple(POINTS)  # the output tile sizes offered, m in F(m x m, 3 x 3)


def _poly_times_linear(coefficients: list, root) -> list:
    """(sum_i c_i x^i) * (x - root), lowest power first."""
    shifted = [Fraction(0)] + coefficients
    scaled = [-root * c for c in coefficients] + [Fraction(0)]
    return [a + b for a, b in zip(shifted, scaled)]


def _product_of_roots(roots) -> list:
    poly = [Fraction(1)]
    for root in roots:
        poly = _poly_times_linear(poly, root)
    return poly


@dataclass(frozen=True)
class WinogradMatrices:
    """F(m, r) as exact rational matrices (tuples of tuples of Fraction)."""

    m: int
    r: int
    AT: tuple
    G: tuple
    BT: tuple

    @property
    def n(self) -> int:
        return self.m + self.r - 1

    def as_arrays(self, dtype=np.float64):
        """(AT, G, BT) rounded to dtype."""
        return tuple(np.array([[float(v) for v in row] for row in M], dtype=dtype) for M in (self.AT, self.G, self.BT))


@lru_cache(maxsize=None)
def winograd_matrices(m: int, r: int = 3, points: tuple | None = None) -> WinogradMatrices:
    """F(m, r) from the n - 1 finite points (default: POINTS[m]) and infinity."""
    points = tuple(Fraction(p) for p in (POINTS[m] if points is None else points))
    n = m + r - 1
    if len(points) != n - 1 or len(set(points)) != len(points):
        raise ValueError(f"F({m}, {r}) needs {n - 1} distinct finite points; got {points}")
    AT = [[p ** i for p in points] + [Fraction(int(i == m - 1))] for i in range(m)]
    G, BT = [], []
    for j, a in enumerate(points):
        others = [b for l, b in enumerate(points) if l != j]
        denominator = Fraction(1)
        for b in others:
            denominator *= a - b
        G.append([a ** k / denominator for k in range(r)])
        BT.append(_product_of_roots(others) + [Fraction(0)])
    G.append([Fraction(int(k == r - 1)) for k in range(r)])
    BT.append(_product_of_roots(points))
    return WinogradMatrices(m, r, tuple(map(tuple, AT)), tuple(map(tuple, G)), tuple(map(tuple, BT)))
