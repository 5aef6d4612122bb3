"""The package's layers: every module imports first, imports point down, one top-level name.

core <- implementations (convbench.algorithms) <- harness <- top (cli, plot, the package's
front door). Each module is imported alone in a new interpreter started in an
empty folder, so it is the installed package that is tried, and an import
cycle that the usual import order hides shows up.
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"convbench": ROOT / "convbench", "convbench.algorithms": ROOT / "algorithms"}

LAYERS = {
    "core": {"convbench.errors", "convbench.spec", "convbench.arrays", "convbench.threads", "convbench.cache",
             "convbench.selection"},
    "harness": {"convbench.registry", "convbench.api", "convbench.measure", "convbench.oracle", "convbench.signals",
                "convbench.layers", "convbench.recommend", "convbench.targets", "convbench.results", "convbench.runs",
                "convbench.nn", "convbench.nn.functional", "convbench.nn.modules", "convbench.accuracy",
                "convbench.training", "convbench.models", "convbench.roofline", "convbench.guard"},
    "top": {"convbench", "convbench.cli", "convbench.plot", "convbench.bench", "convbench.report"},
}
ORDER = ["core", "implementations", "harness", "top"]


def module_files():
    """{module name: file} for every module of the package, found on disk."""
    found = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join((package, *parts)).rstrip(".")
            if package == "convbench" and parts[:1] == ("algorithms",):
                continue
            found[name] = path
    return found


MODULES = module_files()


def layer_of(module: str) -> str:
    if module.startswith("convbench.algorithms"):
        return "implementations"
    return next(layer for layer, members in LAYERS.items() if module in members)


def imported_modules(module: str, path: Path) -> set:
    """The convbench modules `module` imports (module level or inside functions), resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base]).rstrip(".")
            if node.module:  # `from . import x` imports x, not the package's front door
                names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name in MODULES}


def test_every_module_has_a_layer():
    unplaced = [m for m in MODULES if not m.startswith("convbench.algorithms")
                and not any(m in members for members in LAYERS.values())]
    assert not unplaced, f"modules with no layer in this test: {unplaced}"
    assert "convbench.algorithms.fft.bandlimit" in MODULES and "convbench.api" in MODULES


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    mine = ORDER.index(layer_of(module))
    upward = sorted(other for other in imported_modules(module, MODULES[module])
                    if ORDER.index(layer_of(other)) > mine)
    assert not upward, f"{module} ({layer_of(module)}) imports from a higher layer: {upward}"


def _run(code: str, cwd) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_every_module_imports_first_in_a_fresh_interpreter(tmp_path):
    """All modules, each in its own interpreter (started together: they are independent)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    runs = {module: subprocess.Popen([sys.executable, "-c", f"import {module}"], cwd=tmp_path, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for module in sorted(MODULES)}
    failed = {}
    for module, run in runs.items():
        _, stderr = run.communicate(timeout=600)
        if run.returncode:
            failed[module] = stderr.strip().splitlines()[-1]
    assert not failed, f"modules that do not import first: {failed}"


def test_only_convbench_is_installed_at_the_top(tmp_path):
    run = _run("import algorithms", tmp_path)
    assert run.returncode != 0 and "No module named 'algorithms'" in run.stderr
    run = _run("import convbench.algorithms.fft.bandlimit as b, convbench; print(b.__file__, callable(convbench.plan))",
               tmp_path)
    assert run.returncode == 0, run.stderr
    assert str(ROOT / "algorithms") in run.stdout and run.stdout.split()[-1] == "True"
