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
AgentOpt = Annotated[
    str | None,
    typer.Option("--agent", help="Who is working (default: OPS_AGENT, else the OS user)."),
]
CasesOpt = Annotated[
    str | None,
    typer.Option(
        "--cases",
        help="kintone+https://DOMAIN/k/APP for cases kept in a kintone app "
        "(default: OPS_CASES_URL, else the store).",
    ),
]
CustomersOpt = Annotated[
    str | None,
    typer.Option(
        "--customers",
        help="kintone+https://DOMAIN/k/APP for registrations kept in a kintone app "
        "(default: OPS_CUSTOMERS_URL, else the store).",
    ),
]


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


def read_ids(ids: list[str] | None, keys: tuple[str, ...] = ("id",)) -> list[str] | None:
    """Ids from arguments, or from stdin when given as ``-``: one per line, the first
    column of TSV (its header row skipped), or JSON lines (the first of ``keys`` present),
    so ``ops … list -o jsonl | ops … flag -`` works."""
    if not ids:
        return None
    if ids != ["-"]:
        return ids
    import json
    import sys

    from deskops.adapters.errors import UsageError

    out = []
    for n, line in enumerate(sys.stdin, 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                raise UsageError(f"stdin:{n}: not a JSON object") from None
            value = next((obj[k] for k in keys if isinstance(obj, dict) and obj.get(k)), None)
            if value is None:
                raise UsageError(f"stdin:{n}: no {' or '.join(keys)} in the JSON object")
            out.append(str(value))
        else:
            first = line.split("\t")[0]
            if first not in keys:  # a TSV header row names the column
                out.append(first)
    return out
