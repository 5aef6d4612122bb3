"""MkDocs hook: the pages rendered at build time, never typed by hand: the CLI reference from the parser,
the findings from the files under results/ ($CONVBENCH_DOCS_RESULTS, default the checkout's)."""
import os
from pathlib import Path

from mkdocs.structure.files import File

RESULTS = Path(__file__).resolve().parents[1] / "results"


def on_files(files, config):
    from convbench.cli import build_parser
    from convbench.report.cli_reference import cli_reference
    from convbench.report.findings import pages

    rendered = {"reference/cli.md": cli_reference(build_parser),
                **pages(os.environ.get("CONVBENCH_DOCS_RESULTS", RESULTS))}
    for path, text in rendered.items():
        files.append(File.generated(config, path, content=text))
    return files
