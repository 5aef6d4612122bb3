"""Plans kept for the calls that hold none: convbench.conv2d / conv1d and convbench.nn.

A plan owns buffers that each call overwrites, so one plan must never run two
calls at once. The cache lends each call a plan of its key that no other call
holds, builds one only when every plan of that key is out (two threads on one
layer get two plans; one thread gets one, planned once), and takes it back
when the call ends. The lock guards only the lending, never a convolution.

Bounded like torch's cuFFT plan cache: at most `max_keys` keys, the least
recently used dropped first, and at most `max_idle` idle plans a key.
"""
from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict

MAX_KEYS = 64
MAX_IDLE = 4  # idle plans kept a key: as many threads as would call one layer at once


class PlanCache:
    def __init__(self, max_keys: int = MAX_KEYS, max_idle: int = MAX_IDLE):
        self.max_keys, self.max_idle = max_keys, max_idle
        self._lock = threading.Lock()
        self._idle: OrderedDict = OrderedDict()  # key -> [idle plans]
        self.built = 0  # plans made so far (what a test counts)

    @contextlib.contextmanager
    def lend(self, key, build):
        """A plan for key that no other call holds (made by build() when none is idle), for one call."""
        try:
            hash(key)
        except TypeError:  # an option that is not hashable (a list): plan afresh, keep nothing
            yield build()
            return
        with self._lock:
            idle = self._idle.get(key)
            plan = idle.pop() if idle else None
        if plan is None:
            plan = build()
            with self._lock:
                self.built += 1
        try:
            yield plan
        finally:
            with self._lock:
                idle = self._idle.setdefault(key, [])
                self._idle.move_to_end(key)
                if len(idle) < self.max_idle:
                    idle.append(plan)
                while len(self._idle) > self.max_keys:
                    self._idle.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._idle.clear()


PLANS = PlanCache()  # the one cache of the one-shot functions and convbench.nn
