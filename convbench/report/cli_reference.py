"""The docs' CLI reference, rendered from the parser itself so that it cannot disagree with the CLI."""
from __future__ import annotations

import argparse
import os


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_reference(build_parser) -> str:
    """Markdown: the overview, then each command's --help as argparse prints it; `build_parser` makes the
    parser (convbench.cli's, passed in: the CLI sits above this layer)."""
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: the same text on every machine
    try:
        parser = build_parser()
        parts = ["# Command line", "Rendered from `convbench.cli.build_parser()` when the docs are built.",
                 "```text\n" + parser.format_help().rstrip() + "\n```"]
        for name, command in _subcommands(parser).items():
            parts.append(f"## convbench {name}\n\n```text\n{command.format_help().rstrip()}\n```")
    finally:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    return "\n\n".join(parts) + "\n"
