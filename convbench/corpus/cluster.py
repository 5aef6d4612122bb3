"""`convbench sweep --corpus TIER --ray [ADDRESS]`: the corpus sweep's layers as Ray tasks, one
measurement per node at a time, the records written by the driver.

What the field does, and what is taken from it: TVM's RPC tracker lets a device serve one measurement
session at a time; MITuna runs one timing worker per GPU. Here each node offers one `convbench` slot
(a custom Ray resource: `ray start ... --resources='{"convbench": 1}'`), and every task asks for one
and no CPU, so Ray's scheduler never runs two measurements on a node at once and never counts the
slot's CPUs as busy; it balances the layers over the nodes and retries a task whose node died on
another node. The head node measures only if it offers a slot too.

Each task sets its thread counts itself, to the node's cores (or --threads). Ray sets
OMP_NUM_THREADS in a task to its num_cpus, and to 1 when that is 0 or 1 or unset; torch takes its
thread count from it when the worker first imports torch and keeps it for the tasks after (measured,
Ray 2.60, a 2-core node: num_cpus 0, 1 or unset -> OMP_NUM_THREADS=1 and torch.get_num_threads() 1;
num_cpus=2 in the same worker afterwards -> OMP_NUM_THREADS=2, torch still 1). The task
returns its layer's record (convbench.corpus.sweep.measure_layer) stamped with its node, its start
and end, and the threads it ran; the driver writes it to the store of the record's machine, so no
shared filesystem is needed, a killed driver loses at most the layers in flight, and a rerun (with
or without Ray) resumes by the store's own rules. A node whose imports fail returns a record that
says so, n/a for each variant, and the sweep goes on.
"""
from __future__ import annotations

import os
import socket
import time

from convbench.core.errors import ConvError

SLOT = "convbench"  # the custom resource each measuring node offers once
EXTRA = "convbench[cluster]"


def import_ray():
    try:
        import ray
    except ImportError as err:
        raise ConvError(f"--ray needs Ray, the optional extra {EXTRA!r}: pip install '{EXTRA}' "
                        f"(pip install -e '.[cluster]' in a checkout); import failed: {err}") from None
    return ray


def set_threads(threads: int | None) -> int:
    """torch's, Numba's and (for subprocesses) OpenMP's thread counts, set in this process: the node's
    cores unless threads says otherwise. Returns the count set."""
    count = threads or os.cpu_count() or 1
    os.environ["OMP_NUM_THREADS"] = str(count)
    import numba
    import torch

    torch.set_num_threads(count)
    numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
    return count


def measure_on_node(row: dict, labels, batch: int, check: bool, repeats: int, threads: int | None,
                    driver_commit: str) -> dict:
    """One layer's record, measured in a Ray worker on the node that holds the slot."""
    from convbench.core.machine import identity

    started = time.time()
    node = {"host": socket.gethostname(), "id": _node_id()}
    try:
        count = set_threads(threads)
        from convbench.corpus.sweep import measure_layer

        record = measure_layer(row, labels, batch, check, repeats)
    except (ImportError, OSError) as err:  # the node cannot load what measures: say so, and the sweep goes on
        # (spec None: a rerun measures an expressible layer again; any other failure is the driver's to report)
        count = None
        why = f"node {node['host']} could not measure: {type(err).__name__}: {str(err)[:300]}"
        record = dict(layer=row["layer"], kind=row.get("kind"), batch=batch, machine=identity(), check=check,
                      when=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(started)), spec=None,
                      variants={label: {"why_not": why} for label in ["torch", *labels] if label})
    if record.get("commit", "unknown") == "unknown":  # a worker's directory may hold no checkout
        record["commit"] = driver_commit
    record.update(node=node, started=started, ended=time.time(), threads=count)
    return record


def _node_id() -> str | None:
    """The Ray node this runs on (None outside a Ray worker)."""
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # no Ray, or not connected: the record still names its host
        return None


def answers(address: str, seconds: float = 3.0) -> bool:
    """Whether anything listens at HOST:PORT (ray.init retries a silent address for minutes); an address
    in another form (ray://...) is left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "/" in host:
        return True
    try:
        with socket.create_connection((host, int(port)), timeout=seconds):
            return True
    except OSError:
        return False


class RayRunner:
    """Measures a sweep's layers on a Ray cluster; sweep_corpus(runner=...) calls it."""

    def __init__(self, address: str | None = "auto", threads: int | None = None, retries: int = 3):
        self.ray = import_ray()
        self.threads, self.retries = threads, retries
        if not self.ray.is_initialized():
            if address not in (None, "auto", "local") and not answers(address):
                raise ConvError(f"no Ray cluster at {address!r} (nothing answers there): start one with `ray start "
                                f"--head --resources='{{\"{SLOT}\": 1}}'` (see the docs: guide/corpus.md, the Ray section)")
            try:
                self.ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            except ConnectionError as err:
                raise ConvError(f"no Ray cluster at {address!r} ({err}): start one with `ray start --head "
                                f"--resources='{{\"{SLOT}\": 1}}'` (see the docs: guide/corpus.md, the Ray section)") from None
        slots = self.ray.cluster_resources().get(SLOT, 0)
        if not slots:
            raise ConvError(f"the Ray cluster at {address!r} has no node offering a {SLOT!r} slot: start each "
                            f"measuring node with --resources='{{\"{SLOT}\": 1}}'")
        self.slots = int(slots)

    def machines(self) -> list[str]:
        """The machine ids (convbench.core.machine.machine_id) of the nodes offering a slot, each asked
        once on its node."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        probe = self.ray.remote(_machine_id)
        refs = [probe.options(num_cpus=0, resources={SLOT: 1},
                              scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)).remote()
                for node in self.ray.nodes() if node.get("Alive") and node.get("Resources", {}).get(SLOT)]
        found = []
        for ref in refs:
            try:
                found.append(self.ray.get(ref))
            except self.ray.exceptions.RayError as err:
                print(f"convbench: a node did not say which machine it is ({type(err).__name__}); its store is not read")
        return sorted(set(found))

    def __call__(self, todo, batch: int, check: bool, repeats: int):
        """Yields each layer's record as its task ends, in any order; a layer whose task failed for good
        is reported in one line and yields nothing (a rerun measures it)."""
        from convbench.core.machine import commit

        task = self.ray.remote(measure_on_node).options(num_cpus=0, resources={SLOT: 1}, max_retries=self.retries)
        driver_commit = commit()
        pending = {task.remote(row, list(labels), batch, check, repeats, self.threads, driver_commit): row["layer"]
                   for row, labels in todo}
        while pending:
            ready, _ = self.ray.wait(list(pending), num_returns=1)
            layer = pending.pop(ready[0])
            try:
                yield self.ray.get(ready[0])
            except self.ray.exceptions.RayError as err:
                print(f"convbench: layer {layer} was not measured on the cluster ({type(err).__name__}: "
                      f"{str(err).splitlines()[0][:200]}); a rerun measures it")


def _machine_id() -> str:
    from convbench.core.machine import machine_id

    return machine_id()
