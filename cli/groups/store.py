"""ops store: load records from files, write them back out, see what is there."""

from __future__ import annotations

from typing import Annotated

import typer

from ..context import get
from ..options import DryRun, Fields, Format, Yes, group

app = group("Import, export and inspect the records in the store.")

TypeOpt = Annotated[
    str,
    typer.Option(
        "--type",
        "-t",
        help="Record type: customers, orders, messages, calls, returns, "
        "reservations, staff, rooms, cases, call_attempts, notes, threads.",
    ),
]


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            help="JSON, JSONL or CSV/TSV file, or - for stdin; for messages also "
            ".eml files or a directory of them, for calls sipuni/Asterisk logs."
        ),
    ],
    type_: TypeOpt,
    input_format: Annotated[
        str,
        typer.Option(
            "--input-format", "-f", help="auto, csv, tsv, json, jsonl, eml, sipuni or asterisk."
        ),
    ] = "auto",
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            help="Force the encoding (default: detected — UTF-8/BOM, "
            "UTF-16, CP1251, KOI8-R, Shift_JIS/CP932, EUC-JP, GB18030).",
        ),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="CSV delimiter (default: sniffed).")
    ] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Import records into the store: journaled, undoable, idempotent.

    New records are created; existing ones (same id) get the fields that differ.
    Bad rows are reported with their line and reason while good rows are
    imported (exit 3 when any row was rejected).

    Example: ops store import customers.csv --type customers --dry-run
    """
    from deskops.adapters.schema import entity
    from deskops.commands.importer import plan_import, read_rows

    ops = get(ctx)
    ent = entity(type_)
    store = ops.store()
    rows = read_rows(
        file,
        ent.name,
        fmt=input_format,
        encoding=encoding,
        delimiter=delimiter,
        tz=ops.tz,
        stdin=_stdin_bytes(ops),
        region=str(ops.config.profile.get("profile", {}).get("country") or "") or None,
    )
    source = "<stdin>" if file == "-" else file
    plan = plan_import(store, ent, rows, tz=ops.tz, source=source)
    ops.run_plan(plan, what=f"import {type_}", fmt=fmt, fields=fields, dry_run=dry_run, yes=yes)


def _stdin_bytes(ops):  # type: ignore[no-untyped-def]
    return getattr(ops.stdin, "buffer", None)


@app.command("export")
def export(
    ctx: typer.Context,
    type_: TypeOpt,
    fmt: Format = None,
    fields: Fields = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.")] = None,
) -> None:
    """Write records out (default JSONL when piped is TSV; use -o jsonl or -o csv to re-import).

    Example: ops store export --type orders -o jsonl > orders.jsonl
    """
    from deskops.adapters.schema import entity

    ops = get(ctx)
    ent = entity(type_)
    store = ops.store()
    ops.renderer(fmt, fields).render(store.iter_records(ent, limit=limit), ent.all_names)


@app.command("info")
def info(ctx: typer.Context, fmt: Format = None, fields: Fields = None) -> None:
    """Show the store's location, schema version and how many records of each type it holds.

    Example: ops store info
    """
    from deskops.adapters.schema import ENTITIES

    ops = get(ctx)
    store = ops.store()
    ops.info(
        f"store {store.display_url} ({store.dialect}), schema version {store.schema_version()}"
    )
    rows = [{"type": name, "records": store.count(ent)} for name, ent in ENTITIES.items()]
    rows.append(
        {"type": "journal_runs", "records": int(store.scalar("SELECT COUNT(*) FROM journal_runs"))}
    )
    ops.renderer(fmt, fields).render(rows, ["type", "records"])
