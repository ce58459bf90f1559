"""ops cases: the support desk's case records — orphan cases linked to registrations,
long cases posted to the support window, source tags."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deskops.adapters.errors import UsageError

from ..context import get
from ..options import CasesOpt, CustomersOpt, DryRun, Fields, Format, Yes, group

app = group("Link case records to customers, flag long cases, tag where callers came from.")


def _unlinked_rows(source: Any, index: Any, found: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for u in found:
        c = u.case
        names = [str((index.customer(i) or {}).get("name") or "") for i in u.candidates]
        rows.append({
            "case": c["id"], "opened_at": c.get("opened_at"),
            "caller_number": u.number or c.get("caller_number"),
            "candidates": ", ".join(u.candidates), "names": ", ".join(names),
            "status": "one match" if len(u.candidates) == 1
            else f"{len(u.candidates)} matches: ambiguous" if u.candidates
            else "not found: ask the e-mail address during the call",
            "url": source.record_url(str(c["id"]), c),
        })  # fmt: skip
    return rows


@app.command("unlinked")
def unlinked_cmd(
    ctx: typer.Context,
    cases: CasesOpt = None,
    customers: CustomersOpt = None,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Case records linked to no customer registration, oldest first, each with the
    registrations found by the number the customer called from (phone fields and numbers
    written in "other"/notes, however spelled; orders and reservations holding it).

    Example: ops -p support-ja cases unlinked
    """
    from deskops.commands.cases import UNLINKED_FIELDS, unlinked

    ops = get(ctx)
    source = ops.records("cases", cases)
    index = ops.customer_index(ops.records("customers", customers))
    found = unlinked(source.records(), index)
    ops.renderer(fmt, fields).render(_unlinked_rows(source, index, found), UNLINKED_FIELDS)
    one = sum(1 for u in found if len(u.candidates) == 1)
    many = sum(1 for u in found if len(u.candidates) > 1)
    ops.info(f"{len(found)} unlinked case(s): {one} with one match (`ops cases link --auto`), "
             f"{many} ambiguous, {len(found) - one - many} not found")  # fmt: skip


@app.command("link")
def link_cmd(
    ctx: typer.Context,
    case: Annotated[str | None, typer.Argument(help="The case record.")] = None,
    customer: Annotated[str | None, typer.Argument(help="The customer registration.")] = None,
    auto: Annotated[
        bool,
        typer.Option("--auto", help="Link every unlinked case whose number finds one match."),
    ] = False,
    cases: CasesOpt = None,
    customers: CustomersOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Link a case to a registration (journaled; `ops undo`), or with --auto every
    unlinked case with exactly one candidate; the ambiguous ones are listed, not linked.

    Example: ops -p support-ja cases link --auto --dry-run  (or: cases link 18314 1026236)
    """
    from deskops.commands.cases import plan_auto_link, plan_link, unlinked

    ops = get(ctx)
    source = ops.records("cases", cases)
    index = ops.customer_index(ops.records("customers", customers))
    if auto:
        if case or customer:
            raise UsageError("--auto links every unlinked case: give no CASE or CUSTOMER")
        found = unlinked(source.records(), index)
        plan = plan_auto_link(source, found)
        ambiguous = [u for u in found if len(u.candidates) > 1]
        for row in _unlinked_rows(source, index, ambiguous):
            ops.info(f"not linked: case {row['case']} ({row['caller_number']}): "
                     f"{row['status']} — {row['candidates']}")  # fmt: skip
    else:
        if not (case and customer):
            raise UsageError("give CASE and CUSTOMER, or --auto")
        plan = plan_link(source, index, case, customer)
    ops.run_plan(plan, what=plan.command, fmt=fmt, fields=fields, dry_run=dry_run, yes=yes,
                 targets=source.targets())  # fmt: skip


@app.command("long")
def long_cmd(
    ctx: typer.Context,
    over: Annotated[
        str | None,
        typer.Option("--over", help="Threshold: 20m, 1h, 90 (default: [long_cases])."),
    ] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            help="Post each long case once to the support-window chat: slack+https://…, "
            "telegram+https://…, line+https://… or smtp://… (repeatable).",
        ),
    ] = None,
    cases: CasesOpt = None,
    dry_run: DryRun = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Open cases running longer than the threshold (from starting work on them; only
    in the [long_cases] statuses when the profile lists them), longest first. --notify
    posts each once with its link ([templates.long_case_post]); a case already posted
    is not posted again.

    Example: ops -p support-ja cases long --over 20m --notify slack+https://hooks.slack.com/…
    """
    from deskops.commands.cases import (
        LONG_FIELDS,
        closed_statuses,
        long_case_posts,
        long_cases,
        minutes_option,
        working_statuses,
    )
    from deskops.commands.clock import now_utc

    ops = get(ctx)
    source = ops.records("cases", cases)
    profile = ops.config.profile
    found = long_cases(source.records(), closed_statuses(profile), minutes_option(over, profile),
                       now_utc(), working_statuses(profile))  # fmt: skip
    rows = [
        {"case": c["id"], "agent": c.get("agent"), "topic": c.get("topic"),
         "started_at": c.get("started_at") or c.get("opened_at"), "minutes": minutes,
         "status": c.get("status"), "url": source.record_url(str(c["id"]), c)}
        for c, minutes in found
    ]  # fmt: skip
    ops.renderer(fmt, fields).render(rows, LONG_FIELDS)
    if notify and found:
        ops.post(long_case_posts(source, found, profile, "notify"), notify,
                 what="cases long --notify", dry_run=dry_run)  # fmt: skip


@app.command("tag-source")
def tag_source_cmd(
    ctx: typer.Context,
    cases: CasesOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Tag cases with where the caller came from ([[source_tags.rules]]: the first rule
    whose keyword the case's subject or text contains, e.g. 【カタログDM】 before 【DMをみた】).
    Cases that carry one of the tags already are left alone. Journaled; `ops undo`.

    Example: ops -p support-ja cases tag-source --dry-run
    """
    from deskops.commands.cases import plan_source_tags, source_rules

    ops = get(ctx)
    source = ops.records("cases", cases)
    plan = plan_source_tags(source, source.records(), source_rules(ops.config.profile))
    ops.run_plan(plan, what="cases tag-source", fmt=fmt, fields=fields, dry_run=dry_run,
                 yes=yes, targets=source.targets())  # fmt: skip
