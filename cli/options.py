"""Options shared by many commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

Format = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-o",
        help="table, json, jsonl, csv or tsv (default: table on a terminal, TSV when piped).",
    ),
]
Fields = Annotated[
    str | None,
    typer.Option("--fields", help="Comma-separated columns to show, in this order."),
]
DryRun = Annotated[bool, typer.Option("--dry-run", "-n", help="Show the plan, change nothing.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Apply bulk plans without asking.")]


def group(help_: str) -> typer.Typer:
    """A command group with the project's settings (plain help, no completion)."""
    return typer.Typer(
        help=help_,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def command_app(help_: str) -> typer.Typer:
    """A single-command module (``ops undo``, ``ops demo``)."""
    return typer.Typer(
        help=help_,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
