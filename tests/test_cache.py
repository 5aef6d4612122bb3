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
