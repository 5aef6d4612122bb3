"""Shared test helpers: the CPU algorithms and what each supports (random problems: convbench.workloads.signals)."""
import convbench
from convbench.interface import registry

CPU_ALGORITHMS = list(registry.LABELS)  # the registry is the one list: every variant ('fft tile 16', ...)


def supports(algorithm: str, spec: convbench.ConvSpec) -> bool:
    """Whether `algorithm` accepts this spec on the CPU (Winograd F(2x2,3x3): 3x3, stride 1)."""
    return registry.supports(algorithm, "cpu", spec)
