"""Which machine measured a result (a name for its hardware, and its full identity), and which code.

asv names a machine by its hostname, which put an AMD EPYC's and an Intel Xeon's
results under one name (`vm`). A ratio or a time travels between commits, not
between CPUs, so every store convbench writes (the guard's figures, the corpus
sweep's records, asv's machine name in the main job) is keyed by the hardware:
the CPU model and core count, and the GPU where one is used.
"""
from __future__ import annotations

import functools
import os
import platform
import re
import subprocess


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (asv's machine.json `cpu` holds the same text)."""
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        model = ""
    return model or platform.processor() or platform.machine()


def vector_isa() -> str:
    """The widest x86 vector instructions the CPU has: 'avx512', 'avx2', or '' (neither, or not x86).

    Virtual machines may report one model name for different chips: a Zen 3 (AVX2) and a Zen 4
    (AVX-512) here both say 'AMD EPYC', with sgemm at about 110 against 330 GFLOP/s (2026-12-02).
    The instruction set tells them apart."""
    try:
        with open("/proc/cpuinfo") as info:
            flags = next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), [])
    except OSError:
        flags = []
    return "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else ""


def machine_id() -> str:
    """A name for this machine's hardware: its CPU model, vector instruction set and core count, e.g.
    'amd-epyc-avx2-2-cores'. Ratios, corpus records and asv results are filed under it."""
    slug = re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-") or "unknown-cpu"
    isa = vector_isa()
    return f"{slug}{'-' + isa if isa else ''}-{os.cpu_count()}-cores"


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS says, else the machine's): what a
    peer's own thread pool is given."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def available_memory_bytes() -> int | None:
    """What the kernel says can be allocated without swapping (/proc/meminfo MemAvailable); None elsewhere.
    $CONVBENCH_MEMORY_AVAILABLE overrides it (tests, or a share of a machine kept for other work)."""
    if os.environ.get("CONVBENCH_MEMORY_AVAILABLE"):
        return int(float(os.environ["CONVBENCH_MEMORY_AVAILABLE"]))
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def package_version(package: str) -> str:
    """The installed version of a package ('none' when it is not installed), without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "none"


def gpu_name() -> str:
    """The first CUDA device's name when torch is loaded and sees one, else '' (never imports torch:
    `import convbench` stays light, and a CPU sweep never starts a CUDA context)."""
    import sys

    torch = sys.modules.get("torch")
    try:
        return torch.cuda.get_device_name(0) if torch is not None and torch.cuda.is_available() else ""
    except Exception:  # a broken driver is no GPU for the record
        return ""


@functools.lru_cache(maxsize=None)
def _static_identity() -> tuple:
    return (("id", machine_id()), ("cpu", cpu_model()), ("cores", os.cpu_count()), ("memory_bytes", memory_bytes()),
            *((package, package_version(package)) for package in ("torch", "numba", "pyfftw")))


def identity() -> dict:
    """What each stored record carries: id, cpu, cores, memory_bytes, gpu, and the torch, numba and
    pyfftw versions."""
    return {**dict(_static_identity()), "gpu": gpu_name()}


def commit() -> str:
    """The working tree's commit as `git describe --always --dirty` gives it ('unknown' outside a checkout)."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
