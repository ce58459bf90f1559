"""ops undo: reverse a journaled run."""

from __future__ import annotations

from typing import Annotated

import typer

from ..context import get
from ..options import DryRun, Fields, Format, Yes, command_app

app = command_app("Reverse a journaled run (the undo is journaled too).")


@app.command("undo")
def undo(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(help="Run id (see `ops journal list`), or 'last'.")],
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Reverse a journaled run (the undo is journaled too).

    Each change is reversed only if the record still holds what the run left;
    if anything was changed since, nothing is undone and the conflict is named.

    Example: ops undo 20261122-101500-3fa2 --dry-run
    """
    from deskops.commands.plan import undo_plan

    ops = get(ctx)
    plan = undo_plan(ops.store(), run)
    # Changes made on a mailbox or another backend go back there: reopen it by its URL.
    targets = {b: ops.backend(b) for b in {c.backend for c in plan.changes} if b != "store"}
    ops.run_plan(
        plan,
        what=f"undo {plan.undo_of}",
        fmt=fmt,
        fields=fields,
        dry_run=dry_run,
        yes=yes,
        targets=targets,
        # All-or-nothing on the store; a mailbox or an API is written in batches instead,
        # each change journaled with what happened to it.
        atomic=not targets,
    )
