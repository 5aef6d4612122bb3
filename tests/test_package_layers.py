"""The package's layers (convbench.core.layering, the one list): every module imports first, imports point
down, no cycle inside a layer, and the README's Layout section shows the same folders.

Each module is imported alone in a new interpreter started in an empty folder, so it is the
installed package that is tried, and an import cycle that the usual import order hides shows up.
"""
import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from convbench.core.layering import LAYERS, layer_of, rank

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"convbench": ROOT / "convbench", "convbench.algorithms": ROOT / "algorithms"}


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


def imported_modules(module: str, source: str, is_package: bool, known) -> set:
    """The modules of `known` that `module` imports (module level or inside functions), resolved."""
    package = module if is_package else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base]).rstrip(".")
            submodules = {f"{base}.{alias.name}" for alias in node.names} & set(known)
            names.update(submodules)
            if len(submodules) < len(node.names):  # `from p import x` uses p's front door unless x is a module
                names.add(base)
    return {name for name in names if name in known and name != module}


def import_graph(sources: dict) -> dict:
    """{module: modules it imports} for {module: (source, is_package)}."""
    return {module: imported_modules(module, source, is_package, sources)
            for module, (source, is_package) in sources.items()}


def upward_imports(graph: dict) -> list:
    """(module, imported) pairs where the imported module's layer is above the importer's."""
    return sorted((module, other) for module, others in graph.items() for other in others
                  if rank(layer_of(other)) > rank(layer_of(module)))


def cycles_within_layers(graph: dict) -> list:
    """The import cycles among modules of one layer (Tarjan's strongly connected components, size > 1
    or a module importing itself), each as a sorted list. A package's __init__ and its own modules are
    not a cycle: importing convbench.x.y runs convbench.x first whatever y imports."""
    def edges(module):
        return [other for other in graph[module] if layer_of(other) == layer_of(module)
                and not module.startswith(other + ".")]
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(module):
        index[module] = low[module] = counter[0]
        counter[0] += 1
        stack.append(module)
        on_stack.add(module)
        for other in edges(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))
    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


GRAPH = import_graph({module: (path.read_text(), path.name == "__init__.py") for module, path in MODULES.items()})


def test_every_module_has_a_layer():
    unplaced = []
    for module in MODULES:
        try:
            layer_of(module)
        except KeyError:
            unplaced.append(module)
    assert not unplaced, f"modules in no layer of convbench.core.layering: {unplaced}"
    assert "convbench.algorithms.fft.bandlimit" in MODULES and "convbench.interface.api" in MODULES


def folder_layers() -> list:
    """The layers' folders inside convbench/, bottom to top (the implementations' is the repository's algorithms/)."""
    return [package.split(".")[1] for _, packages, _ in LAYERS for package in packages
            if package.count(".") == 1 and package not in ("convbench.algorithms", "convbench.cli")]


def test_each_layer_is_a_folder_and_each_folder_a_layer():
    """`ls convbench` shows the layers: each subpackage is a layer of the one list, and every module sits in one."""
    folders = {path.name for path in (ROOT / "convbench").iterdir() if (path / "__init__.py").exists()}
    assert folders == set(folder_layers())
    loose = sorted(path.name for path in (ROOT / "convbench").glob("*.py") if path.name not in ("__init__.py", "cli.py"))
    assert not loose, f"modules outside a layer's folder: {loose}"


def test_imports_point_down():
    upward = upward_imports(GRAPH)
    assert not upward, "imports from a higher layer: " + ", ".join(f"{a} ({layer_of(a)}) -> {b} ({layer_of(b)})"
                                                                   for a, b in upward)


def test_no_import_cycle_within_a_layer():
    assert not cycles_within_layers(GRAPH), f"import cycles: {cycles_within_layers(GRAPH)}"


PLANTED = {  # a small package that satisfies the rules, to plant violations in
    "convbench.core.spec": ("import numpy", False),
    "convbench.interface.api": ("from convbench.core.spec import ConvSpec", False),
    "convbench.interface.registry": ("from convbench.core import spec", False),
    "convbench.measure.runs": ("from convbench.interface.api import plan\ndef f():\n    from . import timing", False),
    "convbench.measure.timing": ("import time", False),
}


def test_the_checks_pass_the_planted_package_clean():
    graph = import_graph(PLANTED)
    assert graph["convbench.measure.runs"] == {"convbench.interface.api", "convbench.measure.timing"}
    assert not upward_imports(graph) and not cycles_within_layers(graph)


def test_a_planted_upward_import_fails():
    planted = dict(PLANTED, **{"convbench.core.spec": ("def f():\n    from convbench.measure import runs", False)})
    assert upward_imports(import_graph(planted)) == [("convbench.core.spec", "convbench.measure.runs")]


def test_a_planted_cycle_inside_a_layer_fails():
    """api -> registry -> api, the second edge inside a function (as api -> recommend -> api was)."""
    planted = dict(PLANTED, **{"convbench.interface.registry": ("def f():\n    from .api import plan", False),
                               "convbench.interface.api": ("from convbench.interface import registry", False)})
    graph = import_graph(planted)
    assert not upward_imports(graph)
    assert cycles_within_layers(graph) == [["convbench.interface.api", "convbench.interface.registry"]]


def _layout_block(text: str) -> str:
    return text[text.index("```"):text.index("```", text.index("```") + 3)]


def test_the_layout_pages_show_the_layers_in_order():
    """The README's Layout section and the docs' layout page name each layer's folder, bottom to top as in
    the one list."""
    readme = (ROOT / "README.md").read_text()
    for where, text in (("the README's Layout", readme[readme.index("## Layout"):]),
                        ("docs/content/design/layout.md", (ROOT / "docs/content/design/layout.md").read_text())):
        names = re.findall(r"^ {2}(\w+)/\s", _layout_block(text), flags=re.M)
        assert names == folder_layers(), f"{where} lists {names}; convbench.core.layering has {folder_layers()}"


def _run(code: str, cwd) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


# One interpreter loads the heavy third-party libraries (none of convbench), then forks a child per
# module that imports that module alone: what comes first among convbench's modules is exactly as in a
# fresh interpreter, and each child costs only convbench's own imports. 98 modules: 17 s here, against
# 149 s for 98 fresh interpreters started together on two cores (2026-12-02). pyfftw is not preloaded:
# whether it comes before torch is convbench's to arrange (tests/test_pools.py checks that).
FORK_EACH_MODULE = r"""
import importlib, json, os, signal, sys, traceback
import matplotlib, numba, numpy, pandas, scipy.signal, torch
failed = {}
for module in sys.argv[1:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        signal.alarm(300)  # a hung import is killed, and then reported
        try:
            importlib.import_module(module)
            message = ""
        except BaseException as err:
            message = traceback.format_exception_only(type(err), err)[-1].strip()
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    if message or status:
        failed[module] = message or f"the child ended with status {status}"
print("FAILED" + json.dumps(failed))
"""


def test_every_module_imports_first_in_a_fresh_interpreter(tmp_path):
    """All modules, each the first of convbench's in a child forked from an interpreter that has none."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", FORK_EACH_MODULE, *sorted(MODULES)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=900)
    line = next((line for line in run.stdout.splitlines() if line.startswith("FAILED")), None)
    assert line is not None, run.stderr[-3000:]
    failed = json.loads(line[len("FAILED"):])
    assert not failed, f"modules that do not import first: {failed}"


def test_only_convbench_is_installed_at_the_top(tmp_path):
    run = _run("import algorithms", tmp_path)
    assert run.returncode != 0 and "No module named 'algorithms'" in run.stderr
    run = _run("import convbench.algorithms.fft.bandlimit as b, convbench; print(b.__file__, callable(convbench.plan))",
               tmp_path)
    assert run.returncode == 0, run.stderr
    assert str(ROOT / "algorithms") in run.stdout and run.stdout.split()[-1] == "True"


def test_import_convbench_loads_only_the_core(tmp_path):
    """The README's claim: `import convbench` loads the core and nothing above it (no implementation,
    no torch); plan() loads the interface on first use."""
    run = _run("import sys, convbench; print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
               "('convbench', 'torch', 'numba', 'pyfftw'))))", tmp_path)
    assert run.returncode == 0, run.stderr
    loaded = run.stdout.split()
    assert "convbench.core.spec" in loaded
    assert all(m == "convbench" or m.startswith("convbench.core") for m in loaded), loaded
    run = _run("import sys, convbench; convbench.plan; print('convbench.interface.api' in sys.modules)", tmp_path)
    assert run.stdout.split() == ["True"], run.stderr
