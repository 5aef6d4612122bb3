"""The corpus sweep's store: a kill or a truncated file loses at most the layer in flight, a rerun
measures nothing twice, --check gives a verdict, and the readers (answers, charts, auto) never die."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from convbench.core import error_budget, records
from convbench.core.errors import ConvError
from convbench.corpus import build, sweep

# six small layers, one of each kind and one convbench cannot express (reflect padding)
KEYS = [
    (1, 4, 12, 12, 6, 12, 12, 3, 3, "1,1", 1, 1, 1, 1, 1, True),
    (1, 8, 9, 9, 4, 9, 9, 1, 1, "0,0", 1, 1, 1, 1, 1, False),
    (1, 8, 10, 10, 8, 10, 10, 3, 3, "1,1", 1, 1, 1, 1, 8, False),
    (1, 4, 11, 11, 4, 7, 7, 3, 3, "0,0", 1, 1, 2, 2, 1, False),
    (1, 3, 10, 12, 5, 10, 12, 1, 3, "0,1", 1, 1, 1, 1, 1, True),
    (1, 3, 8, 8, 4, 8, 8, 3, 3, "1,1", 1, 1, 1, 1, 1, True),
]
LABELS = ("direct", "torch")


@pytest.fixture
def corpus(tmp_path):
    layers = [dict(key=list(key), modules=[f"conv{i}"], count=i + 1,
                   why_not="padding_mode='reflect' (convbench pads with zeros)" if i == 5 else "")
              for i, key in enumerate(KEYS)]
    progress = [dict(source="test", name="tiny", input=[3, 12, 12], device="meta", error="", layers=layers),
                dict(source="test", name="broken", input=None, device="", error="RuntimeError: no", layers=[])]
    data = tmp_path / "data"
    meta = build.assemble(progress, data)
    assert meta["layers"] == 6 and meta["failed"] == 1 and meta["unexpressible"] == 1
    return data


def keys_of(found):
    return sorted((r["layer"], label) for r in found for label in r["variants"])


def test_append_and_read_and_a_cut_short_line(tmp_path, capsys):
    path = tmp_path / "store.jsonl"
    records.append_record(path, {"a": 1})
    records.append_record(path, {"a": 2})
    with open(path, "ab") as handle:
        handle.write(b'{"a": 3, "b"')  # what a write cut short leaves
    assert records.read_records(path) == [{"a": 1}, {"a": 2}]
    assert "cut short" in capsys.readouterr().out
    records.append_record(path, {"a": 4})  # the cut-short tail is moved aside, never joined
    assert "moved it to store.jsonl.damaged" in capsys.readouterr().out
    assert records.read_records(path) == [{"a": 1}, {"a": 2}, {"a": 4}]
    assert (tmp_path / "store.jsonl.damaged").read_bytes() == b'{"a": 3, "b"\n'
    path.write_bytes(b'{"a": 1}\nnot json\n[1]\n{"a": 5}\n')
    assert records.read_records(path) == [{"a": 1}, {"a": 5}]
    out = capsys.readouterr().out
    assert out.count("\n") == 2 and "not JSON" in out and "not a JSON object" in out


def test_sweep_checks_each_variant_and_resumes(corpus, tmp_path):
    store = tmp_path / "store"
    first = sweep.sweep_corpus("all", labels=LABELS, check=True, store=store, data=corpus, repeats=1)
    assert first.measured == 6 and first.skipped == 0 and first.failures == []
    assert keys_of(first.records) == sorted((r["layer"], label) for r in first.records for label in LABELS)
    again = sweep.sweep_corpus("all", labels=LABELS, check=True, store=store, data=corpus, repeats=1)
    assert again.measured == 0 and again.skipped == 6 and keys_of(again.records) == keys_of(first.records)
    reflect = next(r for r in first.records if r["spec"] is None)
    assert all(v["why_not"].startswith("padding_mode") for v in reflect["variants"].values())
    grouped = next(r for r in first.records if r["kind"] == "grouped")
    assert grouped["variants"]["direct"]["ok"] is True and grouped["variants"]["direct"]["error"] < 1e-5
    assert first.records[0]["machine"]["cores"] == os.cpu_count() and "torch" in first.records[0]["machine"]


def test_check_fails_a_variant_outside_its_tolerance(corpus, tmp_path, monkeypatch):
    from convbench.interface import registry

    monkeypatch.setitem(error_budget.TOLERANCE, "direct", 0.0)  # every rounding error is now a failure
    found = sweep.sweep_corpus("all", labels=LABELS, check=True, store=tmp_path / "s", data=corpus, repeats=1)
    assert {label for _, label, _, _ in found.failures} == {"direct"} and len(found.failures) == 5


def _sweep_command(store: Path, data: Path) -> list[str]:
    code = ("import sys, time\nfrom pathlib import Path\nfrom convbench.corpus.sweep import sweep_corpus\n"
            f"sweep_corpus('all', labels={LABELS!r}, store=Path({str(store)!r}), data=Path({str(data)!r}), repeats=1,"
            " on_layer=lambda record, todo: time.sleep(0.5))\n")
    return [sys.executable, "-c", code]


def test_a_killed_sweep_resumes_to_exactly_the_uninterrupted_records(corpus, tmp_path):
    whole = sweep.sweep_corpus("all", labels=LABELS, store=tmp_path / "whole", data=corpus, repeats=1)
    store = tmp_path / "killed"
    path = sweep.store_path(sweep.run_name("all"), store)
    child = subprocess.Popen(_sweep_command(store, corpus))
    deadline = time.time() + 120
    while len(records.read_records(path)) < 2 and time.time() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert 2 <= len(records.read_records(path)) < 6, "the kill came after the sweep ended"
    resumed = sweep.sweep_corpus("all", labels=LABELS, store=store, data=corpus, repeats=1)
    assert resumed.skipped >= 2 and resumed.measured == 6 - resumed.skipped
    assert keys_of(resumed.records) == keys_of(whole.records)  # the same keys, none twice

    # the store's last file cut short mid-line: the layer is measured again, nothing else
    data = path.read_bytes()
    path.write_bytes(data[:-40])
    again = sweep.sweep_corpus("all", labels=LABELS, store=store, data=corpus, repeats=1)
    assert again.measured == 1 and keys_of(again.records) == keys_of(whole.records)
    assert path.with_name(path.name + ".damaged").exists()


def test_shards_cover_the_tier_once(corpus):
    shards = [sweep.tier_layers("all", (i, 3), data=corpus) for i in (1, 2, 3)]
    ids = [row["layer"] for shard in shards for row in shard]
    assert sorted(ids) == sorted(row["layer"] for row in sweep.tier_layers("all", data=corpus))
    for text in ("0/2", "3/2", "x"):
        with pytest.raises(ConvError, match="shard must be I/N"):
            sweep.parse_shard(text)


def test_answers_charts_and_auto_read_a_store_with_a_truncated_file(corpus, tmp_path, monkeypatch, capsys):
    from convbench.corpus import answers
    from convbench.core.spec import ConvSpec
    from convbench.interface import auto
    from convbench.report.corpus_charts import plot_corpus

    store = tmp_path / "store"
    sweep.sweep_corpus("all", labels=LABELS, store=store, data=corpus, repeats=1)
    machine_dir = next(store.iterdir())
    (machine_dir / "other-b1.jsonl").write_bytes(b'{"layer": "x", "variants": {"torch": {"seco')
    found = answers.load(store)
    assert len(found) == 6 and "cut short" in capsys.readouterr().out
    result = answers.answer(found, corpus)
    assert result.layers == 5 and abs(sum(result.wins.values()) - 1) < 1e-9
    assert result.models and result.models[0][0] == "test/tiny"
    import shutil

    shutil.copytree(machine_dir, store / "another-cpu-4-cores")  # a second machine, as a cluster sweep files it
    assert len(answers.load(store, "another-cpu-4-cores")) == 6
    charts = plot_corpus(store, tmp_path / "figures", data=corpus)
    assert {p.name for p in charts if p.suffix == ".png"} >= {"corpus_winners.png", "corpus_speedups.png",
                                                              "corpus_machines.png"}

    monkeypatch.setenv("CONVBENCH_CORPUS_STORE", str(store))
    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path / "cache"))
    spec = ConvSpec(N=1, C=4, H=12, W=12, K=6, R=3, S=3, padding=1)
    times = auto.stored(spec)
    assert set(times) == set(LABELS)
    assert auto.choose(spec)[0] == min(times, key=times.get)


def test_a_store_line_carries_the_machine_and_versions(corpus, tmp_path):
    found = sweep.sweep_corpus("all", labels=LABELS, store=tmp_path / "s", data=corpus, repeats=1)
    line = json.loads(found.path.read_text().splitlines()[0])
    assert {"id", "cpu", "cores", "memory_bytes", "gpu", "torch", "numba", "pyfftw"} <= set(line["machine"])
    assert found.path.parent.name == line["machine"]["id"]


def test_every_variant_has_a_tolerance():
    from convbench.interface import registry

    assert set(error_budget.TOLERANCE) == set(registry.SWEPT_LABELS)  # ours and every CPU peer
    assert all(0 < t < 1e-4 for t in error_budget.TOLERANCE.values())


def test_a_tier_after_its_sample_measures_only_the_rest(corpus, tmp_path):
    store = tmp_path / "store"
    part = sweep.sweep_corpus("all", labels=LABELS, sample=3, check=True, store=store, data=corpus, repeats=1)
    assert part.measured == 3
    rest = sweep.sweep_corpus("all", labels=LABELS, store=store, data=corpus, repeats=1)  # checked records count
    assert rest.measured == 3 and rest.skipped == 3 and len(rest.records) == 6
    more = sweep.sweep_corpus("all", labels=(*LABELS, "winograd"), store=store, data=corpus, repeats=1)
    assert more.measured == 6  # a variant the stored lines lack: measured, with torch, and only it
    checked = sweep.sweep_corpus("all", labels=LABELS, check=True, store=store, data=corpus, repeats=1)
    assert checked.measured == 3  # the unchecked lines do not count for a check run
    tagged = sweep.sweep_corpus("all", labels=LABELS, store=store, data=corpus, repeats=1, tag="fresh")
    assert tagged.measured == 6 and tagged.path.name.endswith("-fresh.jsonl")


def test_a_new_variant_is_measured_alone_and_the_store_keeps_the_others_ratios(corpus, tmp_path):
    from convbench.corpus import answers

    store = tmp_path / "store"
    first = sweep.sweep_corpus("all", labels=LABELS, store=store, data=corpus, repeats=1)
    more = sweep.sweep_corpus("all", labels=(*LABELS, "winograd"), store=store, data=corpus, repeats=1)
    assert more.measured == 6 and more.skipped == 0
    added = records.read_records(more.path)[-6:]
    for line in added:  # the new variant, and torch beside it where it ran (its ratio's reference)
        ran = "seconds" in line["variants"]["winograd"]
        unexpressible = line["spec"] is None  # every variant n/a, for the same reason
        assert set(line["variants"]) == ({"torch", "winograd"} if ran or unexpressible else {"winograd"})
    assert any("seconds" in line["variants"]["winograd"] for line in added)
    before = {r["layer"]: r["variants"] for r in first.records}
    for found in (more.records, answers.load(store, first.path.parent.name)):
        assert keys_of(found) == sorted((r["layer"], label) for r in found for label in (*LABELS, "winograd"))
        for record in found:  # direct keeps the ratio to torch measured in its own run
            old, now = before[record["layer"]], record["variants"]
            if "seconds" in old["direct"]:
                assert now["direct"].get("measured_seconds", now["direct"]["seconds"]) == old["direct"]["seconds"]
                assert now["direct"]["seconds"] / now["torch"]["seconds"] == pytest.approx(
                    old["direct"]["seconds"] / old["torch"]["seconds"])
    assert any("measured_seconds" in r["variants"]["direct"] for r in more.records)  # a ratio carried over
    again = sweep.sweep_corpus("all", labels=(*LABELS, "winograd"), store=store, data=corpus, repeats=1)
    assert again.measured == 0 and again.skipped == 6


_WRITER = """
import sys
from pathlib import Path
from convbench.core.records import append_record
path, writer, count, size = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for i in range(count):
    append_record(path, {"writer": writer, "i": i, "pad": "x" * size})
"""


def test_two_writers_appending_at_once_lose_nothing(tmp_path):
    # 1-4 of 3,000 records of 9 KB were lost before appends were locked: the repair took a line the other
    # writer was still writing for one cut short
    path, count = tmp_path / "store.jsonl", 1500
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), name, str(count), "9000"])
               for name in ("a", "b")]
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0]
    found = records.read_records(path)
    assert sorted((r["writer"], r["i"]) for r in found) == sorted((w, i) for w in "ab" for i in range(count))
    assert not path.with_name(path.name + ".damaged").exists()


def test_a_well_formed_line_of_the_wrong_shape_is_skipped_and_the_sweep_goes_on(corpus, tmp_path, capsys):
    from convbench.corpus import answers

    store = tmp_path / "store"
    first = sweep.sweep_corpus("all", labels=LABELS, store=store, data=corpus, repeats=1)
    for line in ({"layer": ["x"], "batch": 1, "variants": {}}, {"layer": "zzz", "batch": 1, "variants": {"torch": 5}},
                 {"layer": "yyy", "batch": 1, "variants": {"torch": {"seconds": -1.0}}},
                 {"layer": "www", "batch": True, "variants": {}}):
        records.append_record(first.path, line)
    capsys.readouterr()
    again = sweep.sweep_corpus("all", labels=LABELS, store=store, data=corpus, repeats=1)
    assert again.measured == 0 and again.skipped == 6
    out = capsys.readouterr().out
    assert out.count("skipping line") == 4
    assert "layer=['x']; expected a layer id" in out and "variant 'torch' is not an object" in out
    assert "seconds=-1.0; expected a positive finite number" in out and "batch=True; expected an int" in out
    found = answers.load(store, first.path.parent.name)
    assert sorted(r["layer"] for r in found) == sorted(r["layer"] for r in first.records)
    assert answers.answer(found, corpus).layers == 5
