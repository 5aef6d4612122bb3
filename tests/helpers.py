"""Shared test helpers: the CPU algorithms and what each supports (random problems: convbench.workloads.random_inputs),
and torch's float64 truth with the size of its sums."""
import os

import pytest
import torch

import convbench
from convbench.interface import registry

CPU_ALGORITHMS = list(registry.LABELS)  # the registry is the one list: every variant ('fft tile 16', ...)


def supports(algorithm: str, spec: convbench.ConvSpec) -> bool:
    """Whether `algorithm` accepts this spec on the CPU (Winograd F(2x2,3x3): 3x3, stride 1)."""
    return registry.supports(algorithm, "cpu", spec)


from convbench.core.error_budget import EPS32  # noqa: E402  (float32's eps: one definition, beside the budgets)


def truth_and_sizes(convolve, x, w, b, dy, **arguments):
    """torch's float64 y and gradients (of x, w and b when given) from convolve (torch's conv1d or
    conv2d), and the norms of the same sums over magnitudes (|x| (*) |w|, ...): the size an error is
    judged against in float32 rounding units, as a filter's gradient can cancel to far below its terms."""
    found = []
    for magnitude in (False, True):
        leaves = [(t.abs() if magnitude else t).clone().requires_grad_() for t in (x, w, *([b] if b is not None else []))]
        y = convolve(leaves[0], leaves[1], leaves[2] if b is not None else None, **arguments)
        y.backward(dy.abs() if magnitude else dy)
        found.append([y.detach(), *(leaf.grad for leaf in leaves)])
    return found[0], [t.norm() for t in found[1]]


# Two chips that both say 'AMD EPYC' (a Zen 4 and a Zen 5), as /proc/cpuinfo lists them
ZEN4 = "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\nstepping\t: 1\n"
ZEN5 = "vendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\nstepping\t: 0\n"


def need_library(what: str, missing: str) -> None:
    """Skip with the reason when a peer's library is missing ('' when it loads), unless CONVBENCH_REQUIRE_PEERS=1
    (.ci/run, where .ci/setup installed every one): there a missing library fails."""
    if missing:
        if os.environ.get("CONVBENCH_REQUIRE_PEERS") == "1":
            pytest.fail(f"{what} is required (CONVBENCH_REQUIRE_PEERS=1) but missing: {missing}")
        pytest.skip(f"{what}: {missing}")


def plant_cpuinfo(monkeypatch, tmp_path, text: str, flags: str = "fpu sse2 avx avx2 avx512f"):
    """This process reads `text` as its /proc/cpuinfo (two processors, as the kernel lists them)."""
    path = tmp_path / f"cpuinfo-{abs(hash((text, flags)))}"
    block = f"processor\t: 0\n{text}flags\t\t: {flags}\n"
    path.write_text(block + "\n" + block.replace("processor\t: 0", "processor\t: 1") + "\n")
    monkeypatch.setenv("CONVBENCH_CPUINFO", str(path))
