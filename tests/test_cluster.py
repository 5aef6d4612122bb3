"""The corpus sweep on a Ray cluster: the same records as a sweep here, one measurement per node at a
time, each record with its node's machine, and nothing lost or doubled when a node goes away."""
import time
from collections import defaultdict

import pytest

from convbench.core import records
from convbench.core.errors import ConvError
from convbench.corpus import cluster, sweep

ray = pytest.importorskip("ray", reason="the cluster extra (convbench[cluster]) is not installed")
from ray.cluster_utils import Cluster  # noqa: E402

LABELS = ("direct", "torch")
SHARD = (1, 12)  # a slice of the smoke tier: every 12th layer, 5 of its 50


@pytest.fixture
def two_nodes():
    """A head that offers no slot and two worker nodes that offer one each, on this machine."""
    local = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = [local.add_node(num_cpus=1, resources={cluster.SLOT: 1}) for _ in range(2)]
    local.wait_for_nodes()
    ray.init(address=local.address, log_to_driver=False, logging_level="ERROR")
    yield local, nodes
    ray.shutdown()
    local.shutdown()


def keys(found):
    return sorted((r["layer"], label) for r in found for label in r["variants"])


def test_a_cluster_sweep_stores_what_a_local_one_does_one_measurement_per_node(two_nodes, tmp_path):
    here = sweep.sweep_corpus("smoke", SHARD, LABELS, store=tmp_path / "here", repeats=1)
    runner = cluster.RayRunner(threads=1)
    assert runner.slots == 2 and runner.machines() == [here.path.parent.name]
    there = sweep.sweep_corpus("smoke", SHARD, LABELS, store=tmp_path / "there", repeats=1, runner=runner)
    assert there.measured == here.measured == len(here.records) == len(sweep.tier_layers("smoke", SHARD))
    assert keys(there.records) == keys(here.records)
    lines = records.read_records(there.path)
    assert len(lines) == there.measured and len({line["layer"] for line in lines}) == len(lines)
    by_node = defaultdict(list)
    for line in lines:
        assert line["machine"]["id"] == there.path.parent.name and line["machine"]["cpu"]
        assert line["threads"] == 1 and line["ended"] >= line["started"]
        by_node[line["node"]["id"]].append((line["started"], line["ended"]))
    assert len(by_node) == 2  # both nodes measured
    for spans in by_node.values():  # and neither ever ran two at once
        spans.sort()
        assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))
    again = sweep.sweep_corpus("smoke", SHARD, LABELS, store=tmp_path / "there", repeats=1)  # resumes without Ray
    assert again.measured == 0


def test_a_node_that_goes_away_loses_nothing_and_doubles_nothing(two_nodes, tmp_path):
    local, nodes = two_nodes
    removed = []

    def remove_one(record, todo):
        if not removed:  # the first record is in: take a node away while the others are in flight
            removed.append(nodes[0])
            local.remove_node(nodes[0])

    found = sweep.sweep_corpus("smoke", SHARD, LABELS, store=tmp_path / "s", repeats=1,
                               runner=cluster.RayRunner(threads=1), on_layer=remove_one)
    assert removed
    lines = records.read_records(found.path)
    expected = [row["layer"] for row in sweep.tier_layers("smoke", SHARD)]
    assert sorted(line["layer"] for line in lines) == sorted(expected)  # every layer, exactly once
    assert keys(found.records) == sorted((layer, label) for layer in expected for label in LABELS)


def test_without_ray_the_error_names_the_extra(monkeypatch):
    import builtins

    real = builtins.__import__
    monkeypatch.setattr(builtins, "__import__",
                        lambda name, *a, **k: (_ for _ in ()).throw(ImportError("no ray")) if name == "ray" else real(name, *a, **k))
    with pytest.raises(ConvError, match=r"convbench\[cluster\]"):
        cluster.import_ray()


def test_an_address_where_nothing_listens_is_a_clear_error_at_once():
    import socket

    with socket.socket() as free:  # a port nothing listens on: bound, then closed
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(ConvError, match=rf"no Ray cluster at '127.0.0.1:{port}'"):
        cluster.RayRunner(address=f"127.0.0.1:{port}")
    assert time.monotonic() - started < 30  # ray.init alone retries such an address for minutes


def test_a_node_that_cannot_measure_says_so_in_its_records(monkeypatch):
    def broken(*args, **kwargs):
        raise ImportError("libfftw3f.so.3: cannot open shared object file")

    monkeypatch.setattr(sweep, "measure_layer", broken)
    row = sweep.tier_layers("smoke", SHARD)[0]
    record = cluster.measure_on_node(row, ["direct"], 1, False, 1, None, "abc1234")  # threads: the cores, as here
    assert record["layer"] == row["layer"] and record["machine"]["id"] and record["commit"] == "abc1234"
    assert set(record["variants"]) == {"torch", "direct"}
    assert all("could not measure: ImportError: libfftw3f" in v["why_not"] for v in record["variants"].values())
    assert record["ended"] >= record["started"] and record["node"]["host"]
