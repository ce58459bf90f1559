"""ops store: load records from files, write them back out, see what is there."""

from __future__ import annotations

from typing import Annotated

import typer

from ..context import get
from ..options import DryRun, Fields, Format, Yes, group

app = group("Import, export and inspect the records in the store; purge expired personal data.")

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
        region=ops.region or None,
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


@app.command("purge")
def purge(
    ctx: typer.Context,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Past this period (365d, 52w, 18mo, 3y) or before this date (YYYY-MM-DD), "
            "for every type; default: the profile's [retention] (or [data] retention_days).",
        ),
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            "-t",
            help="Only these record types (repeatable): customers, reservations, cases, "
            "messages, threads, calls, call_attempts, notes, orders, returns.",
        ),
    ] = None,
    records: Annotated[
        bool, typer.Option("--list", help="List the records (type, id, fields), not the counts.")
    ] = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Remove personal data past the retention period: the only deletion ops performs.

    Without --yes it shows, per record type, how many records are past their period
    (from their last activity) and which fields would go, and changes nothing. With
    --yes it applies: records are kept with what reports count (times, store, service,
    status, durations, totals) and lose names, numbers, addresses and texts; no record
    is deleted (customer registrations never are). The journal records that fields
    were blanked, not their values, and the journal's older entries holding those
    values are redacted in the same run — so a purge cannot be undone (`ops undo`
    refuses it). Only the store is purged, not a mailbox, PBX or kintone.

    Example: ops -p stores-zh store purge --older-than 365d
    """
    from deskops.commands.clock import now_utc
    from deskops.commands.purge import RECORD_FIELDS, ROW_FIELDS, PurgeTarget, plan_purge

    ops = get(ctx)
    store = ops.store()
    planned = plan_purge(
        store, ops.config.profile, ops.tz, now_utc(), older_than=older_than, types=types
    )
    renderer = ops.renderer(fmt, fields)
    if records:
        renderer.render(planned.items, RECORD_FIELDS)
    if not (yes or ops.yes) or dry_run or ops.dry_run:
        if not records:
            renderer.render(planned.rows(ops.tz), ROW_FIELDS)
        ops.info("dry run: nothing was changed; rerun with --yes to purge")
        return
    result = ops.run_plan(
        planned.plan,
        what="store purge",
        yes=True,
        targets={"purge": PurgeTarget(store, planned)},
        show=False,
    )
    if result is not None and not records:
        renderer.render(planned.rows(ops.tz), ROW_FIELDS)
