"""Straight-line FFTs of one size as statements: the algebra tile_codegen.py unrolls into the tiles' kernels.

A value is a real expression: None (zero), or (name, sign) for +name or -name; a complex value is a
pair of them. Each operation that is not a sign change or a zero emits one statement `t = a op b` into
the Codelet's lines, so the statements are the algorithm, with zeros, +-1 and the signs folded in.

Radix-2, decimation in time for real input (the forward r2c) and in frequency for Hermitian input (the
inverse c2r), each computing only the half of every sub-transform that the symmetry does not give for
free: a 16-point r2c is 110 statements and c2r 94, against 188 for the complex 16-point transform.
"""
from __future__ import annotations

import math

_EXACT = 1e-12  # a twiddle component this close to 0 or +-1 is that


class Codelet:
    """Collects the statements of a straight-line transform; names are prefix + a counter, and the
    float32 constants it multiplies by are named in `constants` (value -> name), shared between codelets."""

    def __init__(self, prefix: str, constants: dict):
        self.lines: list[str] = []
        self.prefix, self.constants, self._count = prefix, constants, 0

    def _emit(self, text: str):
        name = f"{self.prefix}{self._count}"
        self._count += 1
        self.lines.append(f"{name} = {text}")
        return (name, 1)

    def live_lines(self, outputs) -> list[str]:
        """The statements the values in outputs need, in order (the others, such as the imaginary parts of
        a Hermitian inverse's real outputs, are dropped)."""
        needed = {value[0] for value in outputs if value is not None}
        kept = []
        for line in reversed(self.lines):
            name, expression = line.split(" = ")
            if name in needed:
                kept.append(line)
                needed.update(word for word in expression.split() if word.startswith(self.prefix))
        return kept[::-1]

    def add(self, a, b, subtract: bool = False):
        if b is not None and subtract:
            b = (b[0], -b[1])
        if a is None or b is None:
            return a if b is None else b
        (A, sa), (B, sb) = a, b
        if sa == sb:
            name, _ = self._emit(f"{A} + {B}")
            return (name, sa)
        return self._emit(f"{A} - {B}") if sa > 0 else self._emit(f"{B} - {A}")

    def scale(self, a, k: float):
        if a is None or abs(k) < _EXACT:
            return None
        if abs(abs(k) - 1) < _EXACT:
            return a if k > 0 else (a[0], -a[1])
        constant = self.constants.setdefault(round(abs(k), 15), f"_{len(self.constants)}")
        name, _ = self._emit(f"{a[0]} * {constant}")
        return (name, a[1] if k > 0 else -a[1])

    def complex_add(self, x, y, subtract: bool = False):
        return (self.add(x[0], y[0], subtract), self.add(x[1], y[1], subtract))

    def twiddle(self, x, k: int, n: int, sign: int):
        """x * exp(sign * 2 pi i k / n)."""
        angle = sign * 2 * math.pi * k / n
        wr, wi = math.cos(angle), math.sin(angle)
        return (self.add(self.scale(x[0], wr), self.scale(x[1], wi), subtract=True),
                self.add(self.scale(x[0], wi), self.scale(x[1], wr)))


def conjugate(z):
    return (z[0], None if z[1] is None else (z[1][0], -z[1][1]))


def real_forward(code: Codelet, xs: list, sign: int = -1) -> list:
    """The DFT of the real values xs (all len(xs) coefficients; out[n - k] = conj(out[k]) costs nothing)."""
    n = len(xs)
    if n == 1:
        return [(xs[0], None)]
    even, odd = real_forward(code, xs[0::2], sign), real_forward(code, xs[1::2], sign)
    out = [None] * n
    out[0] = (code.add(even[0][0], odd[0][0]), None)
    out[n // 2] = (code.add(even[0][0], odd[0][0], subtract=True), None)
    for k in range(1, n // 2):
        out[k] = code.complex_add(even[k], code.twiddle(odd[k], k, n, sign))
    for k in range(n // 2 + 1, n):
        out[k] = conjugate(out[n - k])
    return out


def hermitian_inverse(code: Codelet, X: list, sign: int = +1) -> list:
    """The real values sum_k X[k] exp(sign 2 pi i j k / n), j < n, of a Hermitian X (X[n - k] = conj X[k];
    the imaginary parts of X[0] and X[n/2] are not read)."""
    n = len(X)
    if n == 1:
        return [X[0][0]]
    half = n // 2
    A, B = [None] * half, [None] * half  # the even and odd outputs' half-size spectra, Hermitian too
    for k in range(half // 2 + 1 if half > 1 else 1):
        A[k] = code.complex_add(X[k], X[k + half])
        difference = code.complex_add(X[k], X[k + half], subtract=True)
        B[k] = code.twiddle(difference, k, n, sign) if k else difference
        if k == 0 or 2 * k == half:  # self-conjugate: real
            A[k], B[k] = (A[k][0], None), (B[k][0], None)
    for k in range(half // 2 + 1, half):
        A[k], B[k] = conjugate(A[half - k]), conjugate(B[half - k])
    out = [None] * n
    out[0::2], out[1::2] = hermitian_inverse(code, A, sign), hermitian_inverse(code, B, sign)
    return out


def complex_transform(code: Codelet, xs: list, sign: int) -> list:
    """The DFT (sign -1) or unnormalised inverse (sign +1) of the complex values xs."""
    n = len(xs)
    if n == 1:
        return list(xs)
    even, odd = complex_transform(code, xs[0::2], sign), complex_transform(code, xs[1::2], sign)
    out = [None] * n
    for k in range(n // 2):
        t = code.twiddle(odd[k], k, n, sign) if k else odd[0]
        out[k] = code.complex_add(even[k], t)
        out[k + n // 2] = code.complex_add(even[k], t, subtract=True)
    return out


def text(value) -> str:
    """A value as an expression (`zero` for None: the kernel defines it)."""
    if value is None:
        return "zero"
    return value[0] if value[1] > 0 else f"-{value[0]}"
