"""ops customers: find registrations by phone, e-mail or name; list likely duplicates.

There is no merge and no delete: a registration carries the customer's orders and
history, so duplicates are listed for a supervisor to decide.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..context import Ops, get
from ..options import CustomersOpt, Fields, Format, group

app = group("Find customer registrations by phone, e-mail or name; list likely duplicates.")


def _row(ops: Ops, source: Any, c: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": c.get("id"),
        "name": c.get("name"),
        "company": c.get("company"),
        "phones": ", ".join(str(p) for p in c.get("phones") or []),
        "emails": ", ".join(str(e) for e in c.get("emails") or []),
        **extra,
        "url": source.record_url(str(c.get("id")), c),
    }


@app.command("find")
def find_cmd(
    ctx: typer.Context,
    phone: Annotated[
        str | None,
        typer.Option("--phone", help="A number in any spelling: 03-1234-5678, +81 3 1234 5678…"),
    ] = None,
    email: Annotated[str | None, typer.Option("--email", help="An e-mail address.")] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="A name or company (width, case and kana folded)."),
    ] = None,
    customers: CustomersOpt = None,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Registrations by phone (the phone fields and numbers written in notes/"other", with
    or without hyphens, brackets, trunk prefix or country code; and the orders and
    reservations that carry the number), e-mail (case-insensitive) or name. Several
    options narrow the search. Each row says why it matched. Exit 1 when none is found.

    Example: ops -p support-ja customers find --phone 0312345678
    """
    from deskops.commands.customers import FIND_FIELDS, find

    ops = get(ctx)
    source = ops.records("customers", customers)
    index = ops.customer_index(source)
    found = find(index, phone=phone, email=email, name=name)
    rows = [_row(ops, source, f.customer, why="; ".join(f.why)) for f in found]
    ops.renderer(fmt, fields).render(rows, FIND_FIELDS)
    if not rows:
        ops.info("no registration found")
        raise typer.Exit(1)


@app.command("duplicates")
def duplicates_cmd(
    ctx: typer.Context,
    customers: CustomersOpt = None,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            help="Also post each group once to a chat (slack+https://…, telegram+https://…, "
            "line+https://…, smtp://…) with [templates.duplicate_report].",
        ),
    ] = None,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Groups of registrations that look like one customer: the same phone number or
    e-mail address (also when written in notes/"other"), or the same name and company
    (per [crm] duplicate_match). One row per registration, with its link. Nothing is
    merged or deleted: a supervisor decides. Exit 1 when there are groups.

    Example: ops -p support-ja customers duplicates -o csv > duplicates.csv
    """
    from deskops.commands.customers import DUPLICATE_FIELDS, duplicates

    ops = get(ctx)
    source = ops.records("customers", customers)
    crm = ops.config.profile.get("crm")
    match = crm.get("duplicate_match") if isinstance(crm, dict) else None
    groups = duplicates(source.records(), ops.region, match or ())
    rows = [
        _row(ops, source, c, group=g.number, shared="; ".join(g.shared))
        for g in groups
        for c in g.customers
    ]
    ops.renderer(fmt, fields).render(rows, DUPLICATE_FIELDS)
    if notify and groups:
        _post_groups(ops, source, groups, notify)
    ops.info(f"{len(groups)} group(s) of registrations that look like one customer")
    if groups:
        raise typer.Exit(1)


def _post_groups(ops: Ops, source: Any, groups: list[Any], urls: list[str]) -> None:
    from deskops.commands.plan import SEND, Change, Plan

    templates = ops.config.profile.get("templates")
    template = templates.get("duplicate_report") if isinstance(templates, dict) else None
    text = (
        str(template["text"])
        if isinstance(template, dict) and template.get("text")
        else "Possible duplicate registrations (nothing was deleted): {links}"
    )
    plan = Plan(command="customers duplicates --notify")
    for g in groups:
        ids = [str(c["id"]) for c in g.customers]
        links = " ".join(
            source.record_url(i, c) or i for i, c in zip(ids, g.customers, strict=True)
        )
        body = text.replace("{links}", links).replace("{shared}", "; ".join(g.shared))
        plan.add(Change(f"outbox:duplicates-{'-'.join(ids)}", "*", SEND, None,
                        {"text": body, "title": "duplicate registrations"},
                        f"shared: {'; '.join(g.shared)}", "notify"))  # fmt: skip
    ops.post(plan, urls, what="customers duplicates --notify")
