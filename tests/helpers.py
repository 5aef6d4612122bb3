"""Shared test helpers: the CPU algorithms, what each supports, random problems."""
import convbench
from convbench import registry, signals

CPU_ALGORITHMS = list(registry.LABELS)  # the registry is the one list: every variant ('fft tile 16', ...)


def supports(algorithm: str, spec: convbench.ConvSpec) -> bool:
    """Whether `algorithm` accepts this spec on the CPU (Winograd F(2x2,3x3): 3x3, stride 1)."""
    return registry.supports(algorithm, "cpu", spec)


def random_problem(rng, spec: convbench.ConvSpec):
    """Float32 input and filters from uniform[-1, 1], as Lavin & Gray's error tables use."""
    return signals.uniform(rng, spec.input_shape), signals.uniform(rng, spec.filter_shape)
