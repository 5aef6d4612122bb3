"""The docs site: it builds offline in strict mode, its CLI reference is the parser's, its findings are
the results files', no figure is typed by hand in the docs or the README, and the README's API runs."""
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from convbench.core.errors import ConvError

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "docs" / "content"

# What a measured figure looks like in prose: a time, a rate, a ratio, a relative error, a share, or a
# decimal in a table cell. Code (fenced or inline) is left out: it shows commands and their options.
FIGURE = re.compile(r"\d+(?:\.\d+)?\s?(?:ms|μs|us|ns|GFLOP/s|GB/s|TFLOP/s)\b|\b\d+\.\d+x\b"
                    r"|\b\d+(?:\.\d+)?-\d+(?:\.\d+)?x\b|\d(?:\.\d+)?e-\d+|\d+(?:\.\d+)?%|\|\s*\d+\.\d+\s*\|")


def _prose(text: str) -> list[tuple[int, str]]:
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, re.sub(r"`[^`]*`", "", line)))
    return lines


def test_no_figure_is_typed_by_hand_in_the_docs_or_the_readme():
    """Measured figures live in results files and reach the docs through the rendered findings pages."""
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
             for path in [ROOT / "README.md", *sorted(CONTENT.rglob("*.md"))]
             for number, line in _prose(path.read_text()) if FIGURE.search(line)]
    assert not found, "figures typed by hand (put them in a results file):\n" + "\n".join(found)


def test_the_figure_check_finds_a_planted_figure():
    assert FIGURE.search("F(4x4) ran 1.34x faster") and FIGURE.search("| 93.9 | 0.0 |")
    assert FIGURE.search("took 14.1 ms") and not _prose("```\n12.5 ms\n```") and not FIGURE.search(
        _prose("run `--fail=median:10%` here")[0][1])


def test_the_readme_api_lines_run():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Ten lines of API"):]
    code = section[section.index("```python") + len("```python"):section.index("```", section.index("```python") + 9)]
    assert 8 <= len(code.strip().splitlines()) <= 12
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["y"].shape == (8, 64, 56, 56) and np.isfinite(scope["y"]).all()
    assert scope["p"].choice


def test_the_cli_reference_is_the_parser(monkeypatch):
    from convbench.cli import build_parser
    from convbench.report.cli_reference import _subcommands, cli_reference

    text = cli_reference(build_parser)
    commands = _subcommands(build_parser())
    assert {"bench", "targets", "docs", "sweep"} <= set(commands)
    for name, parser in commands.items():
        assert f"## convbench {name}" in text
        for action in parser._actions:
            for option in action.option_strings:
                assert option in text, f"convbench {name} {option} missing from the CLI reference"


def _planted_results(folder: Path) -> Path:
    (folder / "targets").mkdir(parents=True)
    (folder / "targets" / "planted-machine.json").write_text(json.dumps(
        {"machine": "planted-machine", "commit": "abc1234", "measured": "2026-12-05",
         "ratios": {"fft 7x7 vs torch": 1.23456}}))
    (folder / "records").mkdir()
    (folder / "records" / "planted.json").write_text(json.dumps(
        {"title": "A planted record", "what": "rows", "columns": ["case", "ratio"], "rows": [["a", 0.98765]]}))
    (folder / "records" / "cut-short.json").write_text('{"title": "cut')
    (folder / "calibration").mkdir()
    (folder / "calibration" / "planted-machine.json").write_text(json.dumps(
        {"machine": "planted-machine", "measured": "2026-12-05", "thresholds": {"winograd_channels_from": None,
                                                                              "fft_tile_step_up": {"8": 5.25}},
         "shipped": {"winograd_channels_from": 128, "fft_tile_step_up": {"8": 4}},
         "check": {"target": 1.3, "rows": [["x", 1, "layer A", "torch", 1.0, "torch", 1.0, "fft", 1.456]]}}))
    return folder


def test_the_findings_pages_render_the_results_files(tmp_path):
    from convbench.report.findings import pages

    rendered = pages(_planted_results(tmp_path / "results"))
    assert "| fft 7x7 vs torch | 1.23 |" in rendered["findings/targets.md"]
    assert "| a | 0.98765 |" in rendered["findings/records.md"]
    assert "## cut-short\n\nunreadable" in rendered["findings/records.md"]  # reported, the rest still shown
    assert "No asv results" in rendered["findings/suites.md"]
    calibration = rendered["findings/calibration.md"]
    assert "| winograd_channels_from | 128 | never |" in calibration and "| 8: 4 | 8: 5.25 |" in calibration
    assert "on 1 of 1 layers calibrated, 0 with the shipped thresholds" in calibration
    assert "| layer A | torch | torch | 1 | fft | 1.46 |" in calibration


def test_the_site_builds_strict_with_the_findings_of_the_results_it_is_given(tmp_path):
    from convbench.report.docs_site import build_site

    site = build_site(out=tmp_path / "site", results=_planted_results(tmp_path / "results"))
    assert "1.23" in (site / "findings" / "targets" / "index.html").read_text()
    assert "convbench targets" in (site / "reference" / "cli" / "index.html").read_text()
    assert "plan" in (site / "reference" / "api" / "index.html").read_text()


def test_a_broken_link_fails_the_build(tmp_path, monkeypatch):
    from convbench.report import docs_site

    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    (docs / "content" / "index.md").write_text("# convbench\n\nSee [a page that is not there](nowhere.md).\n")
    monkeypatch.setattr(docs_site, "DOCS", docs)
    with pytest.raises(ConvError, match="nowhere.md"):
        docs_site.build_site(out=tmp_path / "site", results=_planted_results(tmp_path / "results"))
