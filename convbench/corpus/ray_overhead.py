"""What a Ray cluster costs a corpus sweep, and whether it changes what is measured.

Starts a one-node Ray cluster on this machine (a head with no slot, one worker node offering one
`convbench` slot and the machine's cores), then sweeps the same slice of the smoke tier here and
through the cluster in turns (here, cluster, three times each), each into a fresh store, and prints:
- the cluster's overhead per layer: the driver's wall time over the layers against the sum of the
  tasks' own times (each record's ended - started);
- each variant's ratio to torch (torch's time / the variant's), the median over the layers, from each
  run: the two local runs show the machine's noise, the cluster runs what Ray adds to it.

    .venv/bin/python -m convbench.corpus.ray_overhead [--shard 1/1] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def ratios(records) -> dict:
    found = {}
    for record in records:
        variants = record["variants"]
        torch_seconds = variants.get("torch", {}).get("seconds")
        for label, value in variants.items():
            if label != "torch" and torch_seconds and "seconds" in value and not value.get("timed_once"):
                found.setdefault(label, []).append(torch_seconds / value["seconds"])
    return {label: statistics.median(values) for label, values in found.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shard", default="1/1")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--algorithms", nargs="+",
                        default=["direct", "winograd F(4x4,3x3)", "fft tile 16", "fft", "torch"])
    args = parser.parse_args()

    import ray
    from ray.cluster_utils import Cluster

    from convbench.corpus import cluster, sweep

    shard = sweep.parse_shard(args.shard)
    local = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    local.add_node(num_cpus=1, resources={cluster.SLOT: 1})
    local.wait_for_nodes()
    ray.init(address=local.address, log_to_driver=False, logging_level="ERROR")
    runner = cluster.RayRunner()
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for turn, where in enumerate(("here", "cluster") * 3):
            start = time.perf_counter()
            found = sweep.sweep_corpus("smoke", shard, args.algorithms, repeats=args.repeats,
                                       store=Path(scratch) / f"{turn}", runner=runner if where == "cluster" else None)
            wall = time.perf_counter() - start
            busy = sum(r["ended"] - r["started"] for r in found.records if "ended" in r)
            results.append((where, wall, busy, found.measured, ratios(found.records)))
    ray.shutdown()
    local.shutdown()
    labels = sorted({label for *_, found in results for label in found})
    print(f"{results[0][3]} layers of the smoke tier (shard {args.shard}), variants in turns, repeats {args.repeats}")
    print("run      wall [s]  per layer [ms]  in tasks [s]  Ray per layer [ms]  " + "  ".join(labels))
    for where, wall, busy, layers, found in results:
        overhead = f"{(wall - busy) / layers * 1e3:18.1f}" if busy else f"{'-':>18}"
        print(f"{where:8} {wall:8.1f}  {wall / layers * 1e3:14.1f}  {busy:12.1f}  {overhead}  "
              + "  ".join(f"{found.get(label, float('nan')):{len(label)}.2f}" for label in labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
