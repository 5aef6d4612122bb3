"""The main job, callable from Python as from `convbench bench`: asv sweep -> HTML -> offline UI -> charts."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Callable

from convbench.interface import registry
from convbench.core.spec import ConvSpec


def head_commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def _run(title: str, command: list[str], announce: Callable[[str, list[str]], None], env=None) -> None:
    announce(title, command)
    subprocess.run(command, check=True, env=env)


def main_job(quick: bool = False, machine: str | None = None, bench: str | None = None,
             results: str = "results", out: str = "results/figures",
             announce: Callable[[str, list[str]], None] = lambda title, command: None) -> dict:
    """Run the asv suites on the working tree (saved under HEAD), publish the history as HTML with
    the offline UI, and draw the charts. Returns {"machine", "html", "charts"}."""
    from convbench.report.plot import plot_all  # seaborn and matplotlib load only for this
    from convbench.report.page import write_report

    asv = [sys.executable, "-m", "asv"]
    env = dict(os.environ, CONVBENCH_QUICK="1" if quick else "0")
    machine = machine or platform.node() or "this-machine"
    _run("1/5 register this machine with asv", [*asv, "machine", "--yes", "--machine", machine], announce)
    run = [*asv, "run", "--python=same", "--set-commit-hash", head_commit(), "--machine", machine]
    if quick:
        run.append("--quick")
    if registry.supports("torch", "cuda", ConvSpec(N=1, C=1, H=4, W=4, K=1, R=3, S=3)):
        run += ["--launch-method", "spawn"]  # a real GPU: CUDA does not survive asv's forkserver
    if bench:
        run += ["--bench", bench]
    _run(f"2/5 run the {'quick' if quick else 'full'} sweep on the working tree ({results}/{machine}/)", run, announce, env)
    _run("3/5 publish the history as HTML", [*asv, "publish"], announce)
    html = Path(results) / "html"
    _run("4/5 install the offline UI (asv-tachyon; the legacy page needs CDNs)",
         [sys.executable, "-m", "asv_tachyon", "install", str(html)], announce)
    announce("5/5 draw the charts, and the report page that shows them", [])
    charts = plot_all(results, out, machine=machine)
    report = write_report(html, sorted(Path(out).glob("*.png")), machine)  # `convbench accuracy`'s chart too
    return {"machine": machine, "html": html / "index.html", "report": report, "charts": charts}
