"""ops journal: every applied change, by run."""

from __future__ import annotations

from typing import Annotated

import typer

from ..context import get
from ..options import Fields, Format, group

app = group("List and show the journaled runs of changes.")

RUN_FIELDS = [
    "run_id",
    "started_at",
    "finished_at",
    "actor",
    "command",
    "status",
    "changes",
    "undo_of",
    "undone_by",
    "summary",
]
RUN_DEFAULT = ["run_id", "started_at", "actor", "command", "status", "changes", "undone_by"]
ENTRY_FIELDS = [
    "seq",
    "at",
    "backend",
    "target",
    "field",
    "op",
    "before",
    "after",
    "reason",
    "outcome",
    "error",
]
ENTRY_DEFAULT = ["seq", "target", "field", "op", "before", "after", "outcome", "error"]


@app.command("list")
def list_runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="At most this many runs (0: all).")] = 50,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """List runs, newest first.

    Example: ops journal list -o json
    """
    from deskops.commands.plan import Journal

    ops = get(ctx)
    rows = Journal(ops.store()).runs(limit or None)
    ops.renderer(fmt, fields).render(rows, RUN_FIELDS, RUN_DEFAULT)


@app.command("show")
def show(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(help="Run id (see `ops journal list`), or 'last'.")],
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Show each change of a run: target, field, before, after, outcome.

    Example: ops journal show last --fields target,field,before,after
    """
    from deskops.commands.plan import Journal

    ops = get(ctx)
    journal = Journal(ops.store())
    info = journal.run(run)
    ops.info(
        f"run {info['run_id']} · {info['command']} · {info['actor']} · {info['started_at']} · "
        f"{info['status']}" + (f" · undone by {info['undone_by']}" if info["undone_by"] else "")
    )
    ops.renderer(fmt, fields).render(journal.entries(info["run_id"]), ENTRY_FIELDS, ENTRY_DEFAULT)
