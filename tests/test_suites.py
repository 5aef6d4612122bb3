"""The asv suites' shared helpers: n/a only for what cannot run."""
import sys
from pathlib import Path

import pytest

import convbench

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from suites import common  # noqa: E402


def test_an_unsupported_combination_is_not_applicable():
    five = convbench.ConvSpec(1, 2, 8, 8, 2, 5, 5)
    with pytest.raises(NotImplementedError, match="winograd cannot compute"):
        common.make_plan(five, "winograd", "cpu")


def test_a_conv_error_on_a_supported_combination_fails_loudly(monkeypatch):
    """A change that wrongly refuses a valid shape must not turn into a quiet n/a."""
    spec = convbench.ConvSpec(1, 2, 8, 8, 2, 3, 3, padding=1)
    assert common.make_plan(spec, "winograd", "cpu")(*_problem(spec)).shape == spec.output_shape

    def refuses(*args, **kwargs):
        raise convbench.ConvError("a regression refused a valid shape")

    monkeypatch.setattr(convbench, "plan", refuses)
    with pytest.raises(convbench.ConvError, match="regression"):
        common.make_plan(spec, "winograd", "cpu")


def _problem(spec):
    from convbench.workloads.random_inputs import random_problem
    return random_problem(spec)
