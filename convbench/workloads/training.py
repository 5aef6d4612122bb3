"""The training passes as callables, timed as DeepBench times them: forward, backward-data
(DeepBench's backward_inputs), backward-filter (backward_params) and the step (all three)."""
from __future__ import annotations

from typing import Callable

PASSES = ("forward", "backward_data", "backward_filter", "step")


class TrainingStep:
    """plan(x, w), then both gradients for a fixed dy: what one training step asks of a layer.
    The backward passes reuse what the forward left in the plan (its transformed input and filter)."""

    def __init__(self, plan, dy):
        self.plan, self.dy = plan, dy

    def __call__(self, x, w):
        y = self.plan(x, w, for_backward=True)
        return (y, self.plan.backward_data(self.dy, w, reuse_forward=True),
                self.plan.backward_filter(x, self.dy, reuse_forward=True))


def pass_call(plan, name: str, x, w, dy) -> Callable[[], object]:
    """A zero-argument callable running one pass of `plan` on (x, w, dy)."""
    if name == "forward":
        return lambda: plan(x, w)
    if name == "backward_data":
        return lambda: plan.backward_data(dy, w)
    if name == "backward_filter":
        return lambda: plan.backward_filter(x, dy)
    if name == "step":
        step = TrainingStep(plan, dy)
        return lambda: step(x, w)
    raise ValueError(f"pass must be one of {PASSES}; got {name!r}")
