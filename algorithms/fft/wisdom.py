"""FFTW wisdom kept between runs, so FFTW_MEASURE planning is paid once per shape and machine.

FFTW_ESTIMATE guesses badly on some sizes: on this 2-core machine a batched
rfft of length 63 ran 57x slower with ESTIMATE and 2 threads than with MEASURE.
So plans default to FFTW_MEASURE, and the wisdom it gathers is stored in
$CONVBENCH_CACHE (default ~/.cache/convbench) and loaded on first use.
"""
from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import pyfftw

from convbench.core.cache import cache_root, write_atomically
from convbench.core.errors import ConvError

EFFORTS = ("FFTW_ESTIMATE", "FFTW_MEASURE", "FFTW_PATIENT", "FFTW_EXHAUSTIVE")
_loaded = False


def wisdom_path() -> Path:
    return cache_root() / "fftw_wisdom.pickle"


def default_effort() -> str:
    """FFTW_MEASURE unless PYFFTW_PLANNER_EFFORT says otherwise (pyFFTW's own variable)."""
    return os.environ.get("PYFFTW_PLANNER_EFFORT", "FFTW_MEASURE")


def check_effort(effort) -> str:
    """The planner effort to use: `effort`, or the default when None; ConvError naming it if unknown."""
    effort = effort or default_effort()
    if effort not in EFFORTS:
        raise ConvError(f"planner_effort must be one of {', '.join(EFFORTS)}; got {effort!r}")
    return effort


def load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    path = wisdom_path()
    try:
        with open(path, "rb") as stored:
            wisdom = pickle.load(stored)
    except FileNotFoundError:
        return  # no wisdom yet: plan afresh
    except Exception as err:  # unpickling runs whatever the file names: a missing module, a bad opcode, ...
        warnings.warn(f"convbench: ignoring the unreadable FFTW wisdom {path} ({type(err).__name__}: {err}); "
                      f"it will be rebuilt", stacklevel=2)
        return
    # what pyfftw.export_wisdom gives: one bytes string per precision (double, single, long double)
    if not (isinstance(wisdom, tuple) and len(wisdom) == 3 and all(isinstance(part, bytes) for part in wisdom)):
        warnings.warn(f"convbench: ignoring the FFTW wisdom {path} (a {type(wisdom).__name__}, not FFTW's three "
                      f"byte strings); it will be rebuilt", stacklevel=2)
        return
    pyfftw.import_wisdom(wisdom)  # wisdom FFTW cannot parse is refused by FFTW itself (False), harmlessly


def save() -> None:
    """Write the current wisdom atomically; a read-only home just means no caching."""
    try:
        write_atomically(wisdom_path(), pickle.dumps(pyfftw.export_wisdom()))
    except OSError:
        pass
