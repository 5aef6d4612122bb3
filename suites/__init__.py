"""asv benchmark suites: one file per question (see the docs: guide/suites.md)."""
# before any suite imports numpy or torch: their thread pools must not spin (convbench/core/threads.py)
from convbench.core.threads import quiet_thread_pools

quiet_thread_pools()
