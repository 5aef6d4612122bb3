"""The main job, callable from Python as from `convbench bench`: asv sweep -> HTML -> offline UI -> charts."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

from convbench.interface import registry
from convbench.core.spec import ConvSpec
from convbench.measure import placement_log


# The quick main job's corpus variants: ours and the peers that run as fast as ours (oneDNN 2.6, NNPACK);
# scipy's and fft-conv-pytorch's whole-image FFTs run far slower and sweep in the full job only
# (results/records/implementation-choices.json, rows bench-quick-corpus-peers and bench-cpu-backends-only).
QUICK_CORPUS_LABELS = registry.LABELS + ("onednn2 winograd", "onednn2 direct", "nnpack wt8x8", "nnpack ft16x16")


def asv_machine_name() -> str:
    """asv's machine name for this hardware (not the hostname): the CPU and its cores, and the GPU's
    name where the cuda backend runs, e.g. 'amd-epyc-f25-m1-s1-avx2-2-cores'."""
    from convbench.core.machine import machine_id

    gpu = _gpu_slug()
    return machine_id() + (f"-{gpu}" if gpu else "")


def _has_gpu() -> bool:
    """Whether the cuda backend runs here (torch sees a GPU)."""
    return registry.supports("torch", "cuda", ConvSpec(N=1, C=1, H=4, W=4, K=1, R=3, S=3))


def _gpu_slug() -> str:
    import re

    if not _has_gpu():
        return ""
    from convbench.core.machine import gpu_name

    return re.sub(r"[^a-z0-9]+", "-", gpu_name().lower()).strip("-")


def asv_machine_fields() -> dict:
    """What results/<machine>/machine.json says of this hardware: asv's `cpu` (the model name with the
    chip's vendor, family, model, stepping and vector width: Chip.cpu_text) and `num_cpu`."""
    from convbench.core.machine import chip

    found = chip()
    return {"cpu": found.cpu_text(), "num_cpu": str(found.cores)}


def _identity_of(fields: dict) -> dict:
    from convbench.core.machine import fields_of_cpu_text

    return {**fields_of_cpu_text(str(fields.get("cpu", ""))), "num_cpu": fields.get("num_cpu")}


def check_machine_name(results: str, machine: str) -> None:
    """ConvError when results/<machine>/machine.json describes other hardware: asv files a run by its
    name alone, and a Zen 5's results under a Zen 4's name would chart as one history."""
    import json

    from convbench.core.errors import ConvError
    from convbench.core.machine import differences

    path = Path(results) / machine / "machine.json"
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        return
    except (OSError, ValueError) as err:
        print(f"convbench: skipping the unreadable {path} ({type(err).__name__}: {err})")
        return
    differs = differences(_identity_of(stored), _identity_of(asv_machine_fields()))
    if differs:
        raise ConvError(f"machine {machine!r}: {path} is another machine's ("
                        + ", ".join(f"{key} {old!r}, here {new!r}" for key, (old, new) in differs.items())
                        + f"); pass a --machine that names this hardware (default: {asv_machine_name()!r})")


def register_asv_machine(machine: str, results: str = "results") -> None:
    """asv's record of this machine (~/.asv-machine.json) under the name `machine`, with its hardware, so
    that results/<machine>/machine.json holds what check_machine_name compares. (`asv machine --yes
    --machine NAME` keeps only the fields that differ from asv's defaults: the name.)

    The kernel version and the RAM the VM was given change between sessions on one chip: where the
    folder's machine.json already names this hardware its `os` and `ram` are kept, so that a run leaves
    the committed file as it was (each result file keeps the `os` and `ram` of its own run)."""
    import json

    from asv.machine import Machine, MachineCollection

    fields = {**Machine.get_defaults(), "machine": machine, **asv_machine_fields()}
    try:
        stored = json.loads((Path(results) / machine / "machine.json").read_text())
        fields.update({key: stored[key] for key in ("os", "ram") if key in stored})
    except (OSError, ValueError):
        pass
    # the entry replaced whole: Machine.load would merge these into an earlier one, keeping its stale keys
    MachineCollection.save(machine, fields)


def listing_after_a_partial_run(before: dict, after: dict) -> dict:
    """asv's list of benchmarks (results/benchmarks.json) as a quick run, or one of this machine's
    backends only, should leave it: asv rewrites it with the run's parameters, which would drop the full
    sweep's from the committed list (and from the charts of its history). Each benchmark is the run's
    entry (its code, its setup_cache key), with the full list's parameters where it had the same
    parameter names and the run's values are among them; a new benchmark, or one whose parameters
    changed, is the run's as it is."""
    def full_params(name, entry):
        old = before.get(name)
        if not (isinstance(old, dict) and isinstance(entry, dict) and "params" in entry
                and old.get("param_names") == entry.get("param_names")
                and len(old.get("params", [])) == len(entry["params"])
                and all(set(quick) <= set(full) for quick, full in zip(entry["params"], old["params"]))):
            return entry
        return {**entry, "params": old["params"]}

    return {name: full_params(name, entry) for name, entry in after.items()}


def _keep_full_listing(results: str, before: bytes | None) -> None:
    """After a quick or one-backend run: restore the full sweep's parameters to results/benchmarks.json
    (the file stays byte for byte what it was when no benchmark changed)."""
    import json

    path = Path(results) / "benchmarks.json"
    if before is None:
        return
    try:
        old, new = json.loads(before), json.loads(path.read_text())
    except (OSError, ValueError):
        return  # asv's own file, unreadable: asv says why on its next run
    kept = listing_after_a_partial_run(old, new)
    if kept == old:
        path.write_bytes(before)
    else:
        path.write_text(json.dumps(kept, indent=4, sort_keys=True))


def head_commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def _run(title: str, command: list[str], announce: Callable[[str, list[str]], None], env=None) -> None:
    announce(title, command)
    subprocess.run(command, check=True, env=env)


def main_job(quick: bool = False, machine: str | None = None, bench: str | None = None,
             results: str = "results", out: str = "results/figures",
             announce: Callable[[str, list[str]], None] = lambda title, command: None) -> dict:
    """Run the asv suites on the working tree (saved under HEAD), sweep and check the corpus's smoke tier,
    publish the history as HTML with the offline UI, and draw the charts. Returns {"machine", "html",
    "charts", "corpus"}."""
    from convbench.corpus.sweep import STORE, sweep_corpus
    from convbench.report.corpus_charts import plot_corpus
    from convbench.report.plot import plot_all  # seaborn and matplotlib load only for this
    from convbench.report.page import write_report
    from convbench.report.docs_site import build_site
    from convbench.report.sweep_parts import run_in_parts

    asv = [sys.executable, "-m", "asv"]
    on_gpu = _has_gpu()
    # asv forks a process for every parameter combination, an n/a one too: without a GPU the cuda rows
    # cost a large part of a suite's time for nothing (the published page lines up each run's own backends)
    env = dict(os.environ, CONVBENCH_QUICK="1" if quick else "0",
               CONVBENCH_BACKENDS=os.environ.get("CONVBENCH_BACKENDS", "cpu,cuda" if on_gpu else "cpu"))
    machine = machine or asv_machine_name()
    check_machine_name(results, machine)
    if not quick:  # where the threads sat around each timed sample, in a log beside asv's results
        # (measure.placement_log); the quick job keeps its minutes
        env[placement_log.LOG_ENV] = str(placement_log.log_path(results, machine, head_commit()).resolve())
    announce("1/7 register this machine with asv, with its hardware", ["asv", "machine", "--machine", machine])
    register_asv_machine(machine, results)
    run = [*asv, "run", "--python=same", "--set-commit-hash", head_commit(), "--machine", machine]
    if quick:
        run.append("--quick")
    if on_gpu:
        run += ["--launch-method", "spawn"]  # a real GPU: CUDA does not survive asv's forkserver
    if bench:
        run += ["--bench", bench]
    listing = Path(results) / "benchmarks.json"
    before = listing.read_bytes() if listing.exists() else None
    title = f"2/7 run the {'quick' if quick else 'full'} sweep on the working tree ({results}/{machine}/)"
    if quick or bench:
        _run(title, run, announce, env)
    else:  # hours here: in parts that each save, so that a killed sweep resumes
        announce(title, run)
        run_in_parts(run, results, machine, head_commit(),
                     runner=lambda part, command: _run(f"2/7 {part}", command, announce, env), announce=announce)
    _keep_full_listing(results, before)
    commit = head_commit()[:8]
    announce(f"3/7 sweep and check the corpus's smoke tier ({STORE}/, a file for commit {commit})",
             ["convbench", "sweep", "--corpus", "smoke", "--check", "--tag", commit])
    corpus = sweep_corpus("smoke", labels=QUICK_CORPUS_LABELS if quick else registry.SWEPT_LABELS, check=True,
                          tag=commit, store=Path(results) / "corpus", repeats=1 if quick else 3)
    _run("4/7 publish the history as HTML", [*asv, "publish"], announce)
    html = Path(results) / "html"
    _run("5/7 install the offline UI (asv-tachyon; the legacy page needs CDNs)",
         [sys.executable, "-m", "asv_tachyon", "install", str(html)], announce)
    announce("6/7 draw the charts, and the report page that shows them", [])
    charts = plot_all(results, out, machine=machine) + plot_corpus(Path(results) / "corpus", out)
    report = write_report(html, sorted(Path(out).glob("*.png")), machine)  # `convbench accuracy`'s chart too
    announce("7/7 build the docs, their findings rendered from these results", ["convbench", "docs"])
    docs = build_site(out=html / "docs", results=results)
    return {"machine": machine, "html": html / "index.html", "report": report, "docs": docs / "index.html",
            "charts": charts, "corpus": corpus}
