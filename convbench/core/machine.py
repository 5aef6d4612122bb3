"""Which machine measured a result (a name for its hardware, and its full identity), and which code.

asv names a machine by its hostname, which put an AMD EPYC's and an Intel Xeon's
results under one name (`vm`). A ratio or a time travels between commits, not
between CPUs, so every store convbench writes (the guard's figures, the corpus
sweep's records, asv's machine name in the main job) is keyed by the hardware:
the CPU's model name, family, model, stepping, vector width and core count, and
the GPU where one is used. Each record also carries the chip's fields, so a run
is refused a folder another chip filled (convbench.report.bench.check_machine_name).
"""
from __future__ import annotations

import functools
import os
import platform
import re
import subprocess
from dataclasses import dataclass


CPUINFO = "/proc/cpuinfo"  # $CONVBENCH_CPUINFO names another file (the tests plant two chips of one model name)
VENDORS = {"AuthenticAMD": "amd", "GenuineIntel": "intel"}


@dataclass(frozen=True)
class Chip:
    """What the CPU is, as the kernel reports it: enough to tell apart chips that share a model name.

    Virtual machines report one model name ('AMD EPYC') for a Zen 3, a Zen 4 and a Zen 5, whose
    sgemm rates differ threefold; the family, model and stepping tell them apart, the vector width
    and the core count say what this share of it can do. A field the kernel does not report is ''."""

    name: str
    vendor: str = ""
    family: str = ""
    model: str = ""
    stepping: str = ""
    isa: str = ""
    cores: int = 0

    def fields(self) -> dict:
        """The fields a stored record keeps (asv's machine.json, the corpus records, the guard's figures)."""
        return {"vendor": self.vendor, "family": self.family, "model": self.model, "stepping": self.stepping,
                "isa": self.isa}

    def _details(self) -> list[str]:
        """['AuthenticAMD family 25 model 1 stepping 1', 'avx2']: the fields the kernel reported."""
        known = " ".join(part for part in [self.vendor, *(f"{key} {value}" for key, value in (
            ("family", self.family), ("model", self.model), ("stepping", self.stepping)) if value)] if part)
        return [part for part in (known, self.isa) if part]

    def cpu_text(self) -> str:
        """asv's `cpu` for this chip, e.g. 'AMD EPYC (AuthenticAMD family 25 model 1 stepping 1, avx2)': the
        identity inside asv's one free-text field, so that the published page gets no new selectors."""
        details = self._details()
        return f"{self.name} ({', '.join(details)})" if details else self.name

    def describe(self) -> str:
        """One line for people: 'AMD EPYC (AuthenticAMD family 25 model 1 stepping 1, avx2, 2 cores)'."""
        return f"{self.name} ({', '.join([*self._details(), f'{self.cores} cores'])})"


def _cpuinfo_fields() -> dict[str, str]:
    """The first processor's 'key : value' lines of cpuinfo ({} where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open(os.environ.get("CONVBENCH_CPUINFO") or CPUINFO) as info:
            for line in info:
                if not line.strip():
                    if fields:
                        break  # the first processor is enough: a VM's cores are one chip
                    continue
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def chip() -> Chip:
    """This machine's CPU, read from cpuinfo (platform's words where there is no cpuinfo)."""
    info = _cpuinfo_fields()
    flags = info.get("flags", "").split()
    isa = "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else ""
    return Chip(name=info.get("model name") or platform.processor() or platform.machine(),
                vendor=info.get("vendor_id", ""), family=info.get("cpu family", ""), model=info.get("model", ""),
                stepping=info.get("stepping", ""), isa=isa, cores=os.cpu_count() or 1)


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (asv's machine.json `cpu` holds the same text)."""
    return chip().name


def machine_id(found: Chip | None = None) -> str:
    """A name for this machine's hardware: model name, family, model, stepping, vector width and cores,
    e.g. 'amd-epyc-f25-m1-s1-avx2-2-cores'. Ratios, corpus records and asv results are filed under it,
    so a Zen 5 never files into a Zen 4's history though both say 'AMD EPYC'."""
    found = found or chip()
    slug = re.sub(r"[^a-z0-9]+", "-", found.name.lower()).strip("-") or "unknown-cpu"
    vendor = VENDORS.get(found.vendor, "")
    if vendor and not slug.startswith(vendor):
        slug = f"{vendor}-{slug}"
    parts = [slug, *(f"{letter}{value}" for letter, value in (("f", found.family), ("m", found.model),
                                                              ("s", found.stepping)) if value)]
    return "-".join([*parts, *([found.isa] if found.isa else []), f"{found.cores}-cores"])


def fields_of_cpu_text(text: str) -> dict:
    """The chip's fields Chip.cpu_text wrote into asv's `cpu` ({"name": text} alone for an older record)."""
    match = re.fullmatch(r"(.*?) \((.*)\)", text.strip())
    if not match:
        return {"name": text.strip()}
    found = {"name": match.group(1)}
    for part in match.group(2).split(", "):
        words = part.split()
        if words and words[0] in ("avx2", "avx512"):
            found["isa"] = words[0]
            continue
        if words and words[0] not in ("family", "model", "stepping"):
            found["vendor"] = words.pop(0)
        found.update(dict(zip(words[::2], words[1::2])))
    return found


def differences(stored: dict, here: dict) -> dict:
    """{field: (stored, here)} for each identity field both records give and they disagree on: a record
    without a field says nothing of it (older results recorded only the model name and the cores)."""
    return {key: (stored[key], value) for key, value in here.items()
            if stored.get(key) not in (None, "") and value not in (None, "") and str(stored[key]) != str(value)}


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
    found = chip()
    return (("id", machine_id(found)), ("cpu", found.name), *found.fields().items(), ("cores", found.cores),
            ("memory_bytes", memory_bytes()),
            *((package, package_version(package)) for package in ("torch", "numba", "pyfftw")))


def identity() -> dict:
    """What each stored record carries: id, cpu, the chip's vendor, family, model, stepping and vector
    width, cores, memory_bytes, gpu, and the torch, numba and pyfftw versions."""
    return {**dict(_static_identity()), "gpu": gpu_name()}


def commit() -> str:
    """The working tree's commit as `git describe --always --dirty` gives it ('unknown' outside a checkout)."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
