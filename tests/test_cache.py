"""The cache is only a cache: corrupt files are warned about and rebuilt, writes are atomic and locked."""
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

import convbench
from convbench import cli
from convbench.core import cache
from convbench.interface import auto
from convbench.measure import recommend

WRITER = """
import sys
from pathlib import Path
from convbench.core.cache import update_json
path, tag = Path(sys.argv[1]), sys.argv[2]
for i in range(60):
    update_json(path, {f"{tag}{i}": i})
"""


def test_a_corrupt_recommend_store_is_rebuilt_with_a_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    (tmp_path / "recommend.json").write_text("garbage{")  # what a run killed mid-write could leave
    argv = ["recommend", "1", "2", "8", "8", "2", "3", "3", "--padding", "1", "1"]
    with pytest.warns(UserWarning, match="unreadable cache .*recommend.json.*rebuilt"):
        assert cli.main(argv) == 0
    assert "recommended:" in capsys.readouterr().out
    stored = json.loads((tmp_path / "recommend.json").read_text())
    assert len(stored) == 1 and set(next(iter(stored.values()))) >= {"direct", "fft", "torch"}


def test_a_stored_entry_of_the_wrong_form_is_measured_again(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    spec = convbench.ConvSpec(1, 2, 8, 8, 2, 3, 3, padding=1)
    (tmp_path / "recommend.json").write_text(json.dumps({auto.store_key(spec, "cpu"): {"no-such": "x"}}))
    best, times, measured = recommend.recommend(spec)
    assert measured and best in times and all(isinstance(t, float) for t in times.values())


def test_two_processes_writing_at_once_keep_every_entry(tmp_path):
    path = tmp_path / "store.json"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag]) for tag in ("a", "b")]
    assert all(w.wait(timeout=120) == 0 for w in writers)
    stored = json.loads(path.read_text())
    assert len(stored) == 120  # a read-modify-write without the lock loses some
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".store.json.")]  # no temporary left


def test_a_corrupt_fftw_wisdom_file_is_rebuilt_with_a_warning(tmp_path, monkeypatch):
    from convbench.algorithms.fft import wisdom

    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(wisdom, "_loaded", False)
    wisdom.wisdom_path().write_bytes(b"\x80garbage")
    spec = convbench.ConvSpec(1, 2, 9, 9, 2, 3, 3)
    rng = np.random.default_rng(0)
    x, w = rng.uniform(-1, 1, spec.input_shape), rng.uniform(-1, 1, spec.filter_shape)
    with pytest.warns(UserWarning, match="unreadable FFTW wisdom"):
        plan = convbench.plan(spec, "fft", input_transform="fft", output_transform="fft",
                              planner_effort="FFTW_ESTIMATE")
    assert plan(x, w).shape == spec.output_shape
    wisdom.save()
    assert isinstance(pickle.loads(wisdom.wisdom_path().read_bytes()), tuple)  # valid wisdom replaced it


def test_read_json_says_nothing_when_the_file_is_missing(tmp_path, recwarn):
    assert cache.read_json(tmp_path / "none.json") == {}
    assert not recwarn.list


@pytest.mark.parametrize("stored", [{1: 2}, (b"a", b"b"), "missing module"])
def test_wisdom_of_the_wrong_type_or_naming_a_missing_module_is_rebuilt(stored, tmp_path, monkeypatch):
    from convbench.algorithms.fft import wisdom

    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(wisdom, "_loaded", False)
    # a pickle's GLOBAL opcode naming a module that is not there (another version's class, say)
    data = b"cconvbench_module_that_is_gone\nThing\n." if stored == "missing module" else pickle.dumps(stored)
    wisdom.wisdom_path().write_bytes(data)
    spec = convbench.ConvSpec(1, 2, 12, 12, 2, 3, 3, padding=1)
    rng = np.random.default_rng(1)
    x, w = rng.uniform(-1, 1, spec.input_shape), rng.uniform(-1, 1, spec.filter_shape)
    with pytest.warns(UserWarning, match="FFTW wisdom"):
        plan = convbench.plan(spec, "fft tile 8", planner_effort="FFTW_ESTIMATE")
    truth = convbench.plan(spec, "torch")(x, w)
    assert np.allclose(plan(x, w), truth, atol=1e-4)


def test_a_directory_in_the_way_of_a_cache_file_warns_and_keeps_the_measurement(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    (tmp_path / "recommend.json").mkdir()
    argv = ["recommend", "1", "2", "8", "8", "2", "3", "3", "--padding", "1", "1"]
    with pytest.warns(UserWarning, match="could not write the cache .*recommend.json.*without caching"):
        assert cli.main(argv) == 0
    assert "recommended:" in capsys.readouterr().out
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".recommend.json.")]


def test_a_cache_that_cannot_be_created_warns_and_the_command_finishes(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CONVBENCH_CACHE", str(blocker / "cache"))  # what a read-only home amounts to
    spec = convbench.ConvSpec(1, 2, 8, 8, 2, 3, 3, padding=1)
    with pytest.warns(UserWarning, match="could not write the cache"):
        best, times, measured = recommend.recommend(spec)
    assert measured and best == min(times, key=times.get)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), 0.0, float("inf"), True])
def test_a_stored_time_that_is_not_positive_and_finite_is_refused(bad, tmp_path, monkeypatch):
    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    monkeypatch.setenv("CONVBENCH_CORPUS_STORE", str(tmp_path / "no-store"))
    spec = convbench.ConvSpec(1, 2, 8, 8, 2, 3, 3, padding=1)
    entry = {"direct": 1e-3, "fft tile 64": bad, "torch": 2e-3}
    (tmp_path / "recommend.json").write_text(json.dumps({auto.store_key(spec, "cpu"): entry}))
    assert auto.stored(spec) is None
    assert not auto.choose(spec)[1].startswith("fastest exact algorithm measured here")


def test_the_recommend_store_is_keyed_by_the_machine_not_the_hostname():
    import platform

    from convbench.core.machine import machine_id

    key = auto.store_key(convbench.ConvSpec(1, 2, 8, 8, 2, 3, 3), "cpu")
    assert key.startswith(machine_id() + "|cpu|") and platform.node() + "|" not in key


@pytest.mark.parametrize("entry", [["oops"], [{"count": "seven"}]])
def test_a_cached_model_layer_of_the_wrong_form_is_extracted_again(entry, tmp_path, monkeypatch):
    from convbench.workloads import models

    monkeypatch.setenv("CONVBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(models, "load_model", lambda name: __import__("torch").nn.Conv2d(3, 4, 3))
    versions = "|".join(f"{p}={models.package_version(p)}" for p in ("torch", "torchvision", "timm"))
    key = f"tiny|{(1, 3, 8, 8)}|{versions}"
    (tmp_path / "model_layers.json").write_text(json.dumps({key: entry}))
    with pytest.warns(UserWarning, match="ignoring the cached layers of tiny"):
        found = models.model_layers("tiny", (1, 3, 8, 8))
    assert len(found) == 1 and found[0].count == 1 and found[0].spec.K == 4
