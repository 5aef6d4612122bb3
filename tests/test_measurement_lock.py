"""One measurement at a time per machine (convbench.measure.measurement_lock), bad numbers refused by the
command line in one line, and Ctrl-C ending a sweep in one line that says how to resume."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from convbench.core import records
from convbench.measure import measurement_lock
from convbench.measure.measurement_lock import HOLDER, MeasurementBusy, measuring

from test_corpus_store import LABELS, corpus  # noqa: F401  (the six-layer corpus fixture)


def _clean_env(**extra):
    """This process's environment less its hold on the lock (a process it starts would measure under it)."""
    env = {k: v for k, v in os.environ.items() if k != HOLDER}
    return {**env, **extra}


def _sweep(store: Path, data: Path, out: Path):
    code = ("import time\nfrom pathlib import Path\nfrom convbench.corpus.sweep import sweep_corpus\n"
            f"found = sweep_corpus('all', labels={LABELS!r}, store=Path({str(store)!r}), data=Path({str(data)!r}), "
            "repeats=1, on_layer=lambda record, todo: time.sleep(0.3))\nprint('measured', found.measured)\n")
    return subprocess.Popen([sys.executable, "-c", code], stdout=open(out, "w"), stderr=subprocess.STDOUT,
                            env=_clean_env())


def test_two_sweeps_started_together_measure_each_layer_once(corpus, tmp_path):  # noqa: F811
    # before the lock: both measured every layer, each while the other was timing
    outs = [tmp_path / f"sweep{i}.txt" for i in (1, 2)]
    first = _sweep(tmp_path / "store", corpus, outs[0])
    deadline = time.time() + 120  # the second starts while the first is measuring: after its first record
    while not list((tmp_path / "store").glob("*/*.jsonl")) and time.time() < deadline and first.poll() is None:
        time.sleep(0.02)
    sweeps = [first, _sweep(tmp_path / "store", corpus, outs[1])]
    assert [sweep.wait(timeout=300) for sweep in sweeps] == [0, 0]
    printed = [out.read_text() for out in outs]
    assert [int(text.split("measured ")[-1]) for text in printed] == [6, 0]  # the second waited, then found all done
    assert "waiting for pid" in printed[1] and "to finish measuring on this machine" in printed[1]
    store = next((tmp_path / "store").iterdir())
    lines = [record["layer"] for path in store.glob("*.jsonl") for record in records.read_records(path)]
    assert len(lines) == len(set(lines)) == 6


def test_a_second_measurement_waits_or_refuses_and_stores_nothing(tmp_path):
    with measuring("a test holding the lock"):
        with measuring("the same process again"):  # re-entrant
            assert measurement_lock.held()
        store = tmp_path / "store"
        command = [sys.executable, "-m", "convbench.cli", "sweep", "--corpus", "smoke", "--sample", "1",
                   "--store", str(store), "--no-wait"]
        refused = subprocess.run(command, capture_output=True, text=True, env=_clean_env(), timeout=120)
        assert refused.returncode == 2
        assert "a test holding the lock" in refused.stdout and "is measuring on this machine" in refused.stdout
        assert refused.stdout.count("\n") == 1 and not store.exists()
        child = subprocess.run([sys.executable, "-c", "from convbench.measure.measurement_lock import measuring\n"
                                "with measuring('child', wait=False):\n    print('measured')"],
                               capture_output=True, text=True, timeout=60)  # started by the holder: its hold
        assert child.stdout.strip() == "measured", child.stderr
    assert not measurement_lock.held()
    with measuring("free again", wait=False):
        pass


def test_a_process_waiting_for_the_lock_gets_it_when_the_holder_ends(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time\nfrom convbench.measure.measurement_lock import "
                               "measuring\nwith measuring('holder'):\n    print('held', flush=True)\n    time.sleep(2)"],
                              stdout=subprocess.PIPE, text=True, env=_clean_env())
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(MeasurementBusy, match=r"pid \d+ \(holder, since"):
        with measuring("impatient", wait=False):
            pass
    start = time.perf_counter()
    said = []
    with measuring("patient", say=said.append):
        waited = time.perf_counter() - start
    assert holder.wait(timeout=30) == 0 and waited > 0.5 and "waiting for pid" in said[0]


@pytest.mark.parametrize("argv, named", [
    (["sweep", "--corpus", "smoke", "--sample", "-1"], "--sample: expected an int >= 1; got '-1'"),
    (["sweep", "--corpus", "smoke", "--sample", "0"], "--sample: expected an int >= 1; got '0'"),
    (["sweep", "--corpus", "smoke", "--batch", "0"], "--batch: expected an int >= 1; got '0'"),
    (["sweep", "--repeats", "0"], "--repeats: expected an int >= 1; got '0'"),
    (["targets", "--repeats", "x"], "--repeats: expected an int >= 1; got 'x'"),
    (["robustness", "--epochs", "-1"], "--epochs: expected an int >= 1; got '-1'"),
    (["accuracy", "--compressions", "1.5"], "--compressions: expected a number in [0, 1); got '1.5'"),
    (["stages", "--compression", "nan"], "--compression: expected a number >= 0.0; got 'nan'"),
    (["recommend", "1", "3", "8", "8", "4", "3", "0"], "N C H W K R S: expected an int >= 1; got '0'"),
])
def test_a_bad_number_on_the_command_line_is_one_line_and_exit_2(argv, named, capsys):
    from convbench import cli

    with pytest.raises(SystemExit) as ended:
        cli.main(argv)
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1


def test_ctrl_c_ends_a_sweep_in_one_line_that_says_how_to_resume(tmp_path):
    store = tmp_path / "store"
    command = [sys.executable, "-m", "convbench.cli", "sweep", "--corpus", "smoke", "--sample", "4",
               "--store", str(store)]
    sweep = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_clean_env())
    deadline = time.time() + 120
    while not list(store.glob("*/*.jsonl")) and time.time() < deadline and sweep.poll() is None:
        time.sleep(0.05)
    sweep.send_signal(signal.SIGINT)
    out, err = sweep.communicate(timeout=60)
    assert sweep.returncode == 130, (out, err)
    assert err.strip().count("\n") == 0 and "interrupted" in err and "resumes it" in err
    assert "Traceback" not in out + err


def test_a_bare_asv_runs_setup_cache_under_its_forkservers_hold(tmp_path):
    # a bare `asv run`: its forkserver holds the lock for the whole run, and asv starts each setup_cache beside
    # it (one parent) one at a time; the setup_cache measures under the forkserver's hold, where it once
    # waited for ever. A process of another parent still waits.
    hold = ("import sys, time\nfrom convbench.measure.measurement_lock import hold_for_this_process\n"
            "hold_for_this_process(sys.argv[1])\nprint('held', flush=True)\ntime.sleep(float(sys.argv[2]))\n")
    parent = ("import subprocess, sys\n"
              f"server = subprocess.Popen([sys.executable, '-c', {hold!r}, 'forkserver', '30'], stdout=subprocess.PIPE, text=True)\n"
              "assert server.stdout.readline().strip() == 'held'\n"
              f"print(subprocess.run([sys.executable, '-c', {hold!r}, 'setup_cache', '0'], capture_output=True, "
              "text=True, timeout=20).stdout.strip(), flush=True)\n"
              "sys.stdin.readline()\nserver.kill()\n")
    run = subprocess.Popen([sys.executable, "-c", parent], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                           env=_clean_env(CONVBENCH_MEASUREMENT_LOCK=str(tmp_path / "lock")))
    try:
        assert run.stdout.readline().strip() == "held"  # the setup_cache did not wait for its sibling
        os.environ["CONVBENCH_MEASUREMENT_LOCK"] = str(tmp_path / "lock")
        with pytest.raises(MeasurementBusy, match=r"forkserver"):
            with measuring("not asv's", wait=False):
                pass
    finally:
        os.environ.pop("CONVBENCH_MEASUREMENT_LOCK", None)
        run.communicate("\n", timeout=30)
