"""FFTW wisdom kept between runs, so FFTW_MEASURE planning is paid once per shape and machine.

FFTW_ESTIMATE guesses badly on some sizes: on this 2-core machine a batched
rfft of length 63 ran 57x slower with ESTIMATE and 2 threads than with MEASURE.
So plans default to FFTW_MEASURE, and the wisdom it gathers is stored in
$CONVBENCH_CACHE (default ~/.cache/convbench) and loaded on first use.
"""
from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import pyfftw

EFFORTS = ("FFTW_ESTIMATE", "FFTW_MEASURE", "FFTW_PATIENT", "FFTW_EXHAUSTIVE")
_loaded = False


def wisdom_path() -> Path:
    root = os.environ.get("CONVBENCH_CACHE") or Path.home() / ".cache" / "convbench"
    return Path(root) / "fftw_wisdom.pickle"


def default_effort() -> str:
    """FFTW_MEASURE unless PYFFTW_PLANNER_EFFORT says otherwise (pyFFTW's own variable)."""
    return os.environ.get("PYFFTW_PLANNER_EFFORT", "FFTW_MEASURE")


def load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    try:
        with open(wisdom_path(), "rb") as stored:
            pyfftw.import_wisdom(pickle.load(stored))
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError):
        pass  # no wisdom yet, or from another pyFFTW: plan afresh


def save() -> None:
    """Write the current wisdom atomically; a read-only home just means no caching."""
    path = wisdom_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False) as tmp:
            pickle.dump(pyfftw.export_wisdom(), tmp)
        os.replace(tmp.name, path)
    except OSError:
        pass
