"""Build the docs site (docs/ in the checkout) with MkDocs in strict mode: any warning fails the build."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from convbench.core.errors import ConvError

DOCS = Path(__file__).resolve().parents[2] / "docs"


def build_site(out: str | Path = "results/html/docs", results: str | Path = "results") -> Path:
    """The site in `out`; its findings pages read `results` (docs/hooks.py renders them at build time).
    (Not --quiet: MkDocs counts the warnings that strict mode fails on only where it logs them.)"""
    config = DOCS / "mkdocs.yml"
    if not config.exists():
        raise ConvError(f"docs: {config} not found; expected a checkout of convbench (the site's sources are "
                        f"not installed with the package)")
    out = Path(out).resolve()
    env = dict(os.environ, CONVBENCH_DOCS_RESULTS=str(Path(results).resolve()))
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
                           "-d", str(out)], env=env, capture_output=True, text=True)
    if done.returncode:
        said = [line for line in (done.stderr + done.stdout).splitlines() if not line.startswith("INFO")]
        raise ConvError("docs: mkdocs build --strict failed: " + " | ".join(said))
    return out
