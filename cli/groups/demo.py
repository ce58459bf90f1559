"""ops demo: build or refresh the demo stores of the five teams."""

from __future__ import annotations

from typing import Annotated

import typer

from ..context import get
from ..options import DryRun, Fields, Format, command_app

app = command_app("Build or refresh a demo store from a profile's data and show what to try.")

FIELDS = ["profile", "type", "created", "updated", "unchanged", "not_yet", "store"]


@app.command("demo")
def demo(
    ctx: typer.Context,
    profile: Annotated[
        list[str] | None,
        typer.Option(
            "--profile",
            "-p",
            help="Demo profile (repeatable). Default: the global "
            "--profile, else all five: salon-ja, support-ja, stores-zh, toys-ru, "
            "pharmacy-uk.",
        ),
    ] = None,
    dry_run: DryRun = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Build or refresh a demo store from a profile's data and show what to try.

    Dates are laid out relative to today in the profile's time zone (pin the
    clock with --as-of or OPS_NOW); records that would arrive later today are
    added by a later refresh. Each profile gets its own store unless --store
    is given. Running it again changes nothing but what is new.

    Example: ops demo --profile toys-ru
    """
    from deskops.adapters.errors import PartialFailure, UsageError
    from deskops.commands.demo import (
        dataset,
        general_tour,
        plan_demo,
        profiles_with_data,
        try_next,
    )

    ops = get(ctx)
    chosen = list(profile or [])
    if not chosen and ops.flags.get("profile"):
        chosen = [ops.flags["profile"]]
    if not chosen:
        if ops.flags.get("store.url"):
            raise UsageError("with --store, name the demo profile to load: --profile NAME")
        chosen = profiles_with_data()
    rows = []
    problems = 0
    hints: list[str] = []
    for name in chosen:
        sub = ops.for_profile(name)
        cfg = sub.config
        prof_name = cfg.profile_name or name
        ds = dataset(
            prof_name, cfg.get("timezone") if cfg.values["timezone"].source != "default" else None
        )
        store = sub.store()
        plan, stats = plan_demo(store, prof_name, ds.manifest.get("timezone"))
        try:
            sub.run_plan(plan, what=f"demo {prof_name}", dry_run=dry_run, yes=True, show=False)
        except PartialFailure as exc:
            problems += 1
            sub.warn(str(exc))
        kinds = sorted({*stats.created, *stats.updated, *stats.unchanged, *stats.not_yet})
        for kind in kinds:
            rows.append(
                {
                    "profile": prof_name,
                    "type": kind,
                    "created": stats.created.get(kind, 0),
                    "updated": stats.updated.get(kind, 0),
                    "unchanged": stats.unchanged.get(kind, 0),
                    "not_yet": stats.not_yet.get(kind, 0),
                    "store": store.display_url,
                }
            )
        hints.extend(try_next(prof_name, cfg.profile))
        sub.close()
    ops.renderer(fmt, fields).render(rows, FIELDS, FIELDS[:-1])
    if rows:
        last = [r for r in rows if r["profile"] == rows[-1]["profile"]]
        biggest = max(last, key=lambda r: r["created"] + r["unchanged"])["type"]
        hints.extend(general_tour(rows[-1]["profile"], biggest))
        ops.info("\nTry next:\n  " + "\n  ".join(hints))
    if problems:
        raise PartialFailure(f"demo: {problems} profile(s) had records that could not be loaded")
