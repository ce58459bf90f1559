"""ops returns: exchange and return requests (ЗНВ), refund details, the payout list."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deskops.adapters.errors import OpsError, UsageError

from ..context import Ops, get
from ..options import AgentOpt, DryRun, Fields, Format, Yes, group

app = group("Create exchange and return requests, check refund details, list payouts.")

REFUND_FIELDS = ("card", "holder", "account", "bik", "inn", "bank", "phone", "operator", "wallet")


def _cfg(ops: Ops) -> Any:
    from deskops.commands.returns import returns_config

    path = ops.config.profile_path
    return returns_config(
        ops.config.profile, ops.tz, str(path or "profile"), path.parent if path else None
    )


@app.command("request-form")
def request_form(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="The order the customer wants to return from.")],
    subject: Annotated[
        str | None,
        typer.Option("--subject", help="Subject of the customer's mail (the reply is Re: it)."),
    ] = None,
    smtp: Annotated[
        str | None, typer.Option("--smtp", help="smtp://user@host:587?starttls=1 for the mail.")
    ] = None,
    agent: AgentOpt = None,
    dry_run: DryRun = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Mail the customer the blank exchange/return form of the order's storefront, with
    its signature ([templates.return_form_reply]); notes it on the order. Once a day per
    order (a second run the same day sends nothing).

    Example: ops -p toys-ru returns request-form 477712 --subject "Сломался пульт"
    """
    from deskops.adapters.schema import ORDERS
    from deskops.commands.clock import iso, now_utc
    from deskops.commands.orders import mail_change, orders_config
    from deskops.commands.plan import ADD, Change, Journal, Plan, actor
    from deskops.commands.returns import form_of

    ops = get(ctx)
    cfg = _cfg(ops)
    store = ops.store()
    rec = store.get(ORDERS, order)
    if rec is None:
        raise UsageError(f"no order {order!r} in the store")
    form = form_of(cfg, rec)
    sender, address = ops.smtp(smtp, "returns")
    if sender is None:
        raise UsageError("no SMTP server: give --smtp or set OPS_SMTP_URL")
    who = agent or actor()
    now = now_utc()
    ocfg = orders_config(ops.config.profile, ops.tz, str(ops.config.profile_path))
    day = now.astimezone(cfg.tz).date().isoformat()
    key = f"return-form-{order}-{day}"
    if Journal(store).sent(f"outbox:{key}"):
        ops.info(f"returns request-form: the form for order {order} went out today already")
        return
    plan = Plan(command=f"returns request-form {order}")
    plan.add(
        mail_change(
            rec,
            ocfg,
            "return_form_reply",
            who,
            f"return-form-{order}-{day}",
            sender.backend,
            address,
            {"subject": subject or f"Заказ №{order}"},
            _language(store, rec),
            [form],
        )  # fmt: skip
    )
    note = f"Бланк возврата отправлен ({rec.get('email')}, {form.name})"
    plan.add(Change(f"orders:{order}", "comments", ADD, None,
                    {"at": iso(now), "author": who, "text": note}, "return form sent"))  # fmt: skip
    ops.run_plan(plan, what=f"returns request-form {order}", fmt=fmt, fields=fields,
                 dry_run=dry_run, yes=True, targets={sender.backend: sender})  # fmt: skip


@app.command("create")
def create(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="The order the items came from.")],
    type_: Annotated[str, typer.Option("--type", help="exchange or return.")],
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="defect, incomplete, wrong-item, size, colour, changed-mind "
            "(the profile's [returns.reasons]).",
        ),
    ],  # fmt: skip
    items: Annotated[
        list[str] | None,
        typer.Option("--items", help="SKU or SKU:QTY; repeatable (default: all not yet returned)."),
    ] = None,
    pickup: Annotated[
        str | None,
        typer.Option("--pickup", help="Pick-up point code (or one of the profile's exceptions)."),
    ] = None,
    day: Annotated[
        str | None,
        typer.Option("--date", help="Agreed date: hand-in (return) or delivery (exchange)."),
    ] = None,
    replacement: Annotated[
        list[str] | None,
        typer.Option(
            "--replacement",
            help="SKU[:QTY][@PRICE] sent instead (exchange; default: the same items).",
        ),
    ] = None,  # fmt: skip
    refund_method: Annotated[
        str | None,
        typer.Option("--refund-method", help="sber-card, bank, phone, qiwi or yoomoney."),
    ] = None,
    refund_card: Annotated[str | None, typer.Option("--refund-card", help="Card number.")] = None,
    refund_holder: Annotated[
        str | None, typer.Option("--refund-holder", help="Card holder's full name.")
    ] = None,
    refund_account: Annotated[
        str | None, typer.Option("--refund-account", help="Account number (20 digits).")
    ] = None,
    refund_bik: Annotated[str | None, typer.Option("--refund-bik", help="Bank BIK.")] = None,
    refund_inn: Annotated[str | None, typer.Option("--refund-inn", help="INN.")] = None,
    refund_bank: Annotated[str | None, typer.Option("--refund-bank", help="Bank name.")] = None,
    refund_phone: Annotated[
        str | None, typer.Option("--refund-phone", help="Mobile number to refund to.")
    ] = None,
    refund_operator: Annotated[
        str | None, typer.Option("--refund-operator", help="Mobile operator (else looked up).")
    ] = None,
    refund_wallet: Annotated[
        str | None, typer.Option("--refund-wallet", help="QIWI or YooMoney wallet.")
    ] = None,
    stock_file: Annotated[
        str | None, typer.Option("--stock", help="Stock CSV (sku;qty) for the replacement.")
    ] = None,
    smtp: Annotated[
        str | None, typer.Option("--smtp", help="smtp://user@host:587?starttls=1 for the mail.")
    ] = None,
    no_mail: Annotated[bool, typer.Option("--no-mail", help="Do not mail the customer.")] = False,
    agent: AgentOpt = None,
    dry_run: DryRun = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Register an exchange or a return (ЗНВ) in one all-or-nothing, journaled run.

    Checks the items against the order (and what was returned before), the pick-up
    point, the refund details (Luhn, BIK/account key, INN, mobile number, wallets)
    and the replacement's stock; computes who pays delivery, the refund, its deadline
    and the payout run; creates the request, for an exchange the new order, the
    cross-referencing comments, the flag changes and the customer's e-mail. The same
    request twice creates nothing the second time. `ops undo RUN` reverses all but
    the mail.

    Example: ops -p toys-ru returns create 477712 --type return --reason defect \
      --pickup PK-0001 --refund-method qiwi --refund-wallet "+7 968 407-74-71"
    """
    from pathlib import Path

    from deskops.commands.clock import now_utc, parse_datetime
    from deskops.commands.orders import mail_change, orders_config, read_stock
    from deskops.commands.plan import actor
    from deskops.commands.returns import Request, mail_values, plan_create

    ops = get(ctx)
    cfg = _cfg(ops)
    store = ops.store()
    who = agent or actor()
    agreed = parse_datetime(day, ops.tz, field="--date").astimezone(ops.tz).date() if day else None
    refund = {
        "card": refund_card, "holder": refund_holder, "account": refund_account,
        "bik": refund_bik, "inn": refund_inn, "bank": refund_bank, "phone": refund_phone,
        "operator": refund_operator, "wallet": refund_wallet,
    }  # fmt: skip
    req = Request(order, type_, reason, list(items or []), pickup, agreed,
                  list(replacement or []), refund_method, refund, who, now_utc())  # fmt: skip
    stock = read_stock(Path(stock_file)) if stock_file else None
    created = plan_create(store, cfg, req, stock=stock)
    if created.existing is not None:
        ops.info(
            f"returns create: {created.existing['id']} already registers these items of order "
            f"{order} ({created.existing['status']}); nothing to do"
        )
        return
    targets = None
    if not no_mail:
        sender, address = ops.smtp(smtp, "returns")
        if sender is None:
            raise UsageError(
                "no SMTP server to mail the customer: give --smtp or set OPS_SMTP_URL, or --no-mail"
            )
        from deskops.adapters.schema import ORDERS

        order_rec = store.get(ORDERS, order)
        assert order_rec is not None
        ocfg = orders_config(ops.config.profile, ops.tz, str(ops.config.profile_path))
        name = "return_created" if type_ == "return" else "exchange_created"
        created.plan.add(
            mail_change(
                order_rec,
                ocfg,
                name,
                who,
                f"{created.return_id}-{name}",
                sender.backend,
                address,
                mail_values(created),
                _language(store, order_rec),
            )  # fmt: skip
        )
        targets = {sender.backend: sender}
    ops.info("; ".join(f"{k}: {v}" for k, v in created.summary.items() if v not in (None, "")))
    ops.run_plan(created.plan, what=f"returns create {order}", fmt=fmt, fields=fields,
                 dry_run=dry_run, yes=True, targets=targets)  # fmt: skip


def _language(store: Any, order: dict[str, Any]) -> str | None:
    from deskops.adapters.schema import CUSTOMERS

    cust = store.get(CUSTOMERS, order["customer_id"]) if order.get("customer_id") else None
    return str(cust["language"]) if cust and cust.get("language") else None


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    order: Annotated[str | None, typer.Option("--order", help="Only this order's.")] = None,
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Show card and account numbers in full.")
    ] = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Return requests, newest first; card and account numbers masked.

    Example: ops -p toys-ru returns list --status "Сдан в ПВЗ"
    """
    from deskops.commands.returns import RETURN_FIELDS, items_text, return_rows

    ops = get(ctx)
    if unmask:
        _confirm_unmask(ops, yes)
    rows = [_row(r, unmask, items_text) for r in return_rows(ops.store(), status=status,
                                                             order_id=order)]  # fmt: skip
    ops.renderer(fmt, fields).render(
        rows, RETURN_FIELDS, ["id", "order_id", "type", "reason", "status", "items",
                              "refund_amount", "payout_date", "exchange_order_id"],
    )  # fmt: skip


def _row(r: dict[str, Any], unmask: bool, items_text: Any) -> dict[str, Any]:
    from deskops.commands.refunds import mask

    out = dict(r)
    out["items"] = items_text(r.get("items"))
    out["refund_details"] = r.get("refund_details") if unmask else mask(r.get("refund_details"))
    return out


def _confirm_unmask(ops: Ops, yes: bool) -> None:
    if yes:
        return
    if not ops.interactive:
        raise UsageError("--unmask shows full card and account numbers: confirm with --yes")
    if not typer.confirm("Show full card and account numbers?", err=True):
        raise OpsError("nothing shown")


@app.command("show")
def show(
    ctx: typer.Context,
    return_id: Annotated[str, typer.Argument(help="The request (ЗНВ-592).")],
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Show card and account numbers in full.")
    ] = False,
    yes: Yes = False,
) -> None:
    """One return request in full (JSON), refund details masked unless --unmask.

    Example: ops -p toys-ru returns show ЗНВ-592
    """
    from deskops.adapters.schema import RETURNS
    from deskops.commands.refunds import mask

    from ..output import dump_document

    ops = get(ctx)
    rec = ops.store().get(RETURNS, return_id)
    if rec is None:
        raise UsageError(f"no return request {return_id!r} (see `ops returns list`)")
    if unmask:
        _confirm_unmask(ops, yes)
    else:
        rec["refund_details"] = mask(rec.get("refund_details"))
    dump_document(rec, ops.stdout)


@app.command("payouts")
def payouts(
    ctx: typer.Context,
    week: Annotated[
        str, typer.Option("--week", help="A day of the payout week (default: this week).")
    ] = "today",
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Full card and account numbers (asks first).")
    ] = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """The accountant's list of the week's refund run (Thursday/Friday; due Tuesday).

    Example: ops -p toys-ru returns payouts --week 2026-01-13 -o csv > payouts.csv
    """
    from deskops.commands.clock import now_utc, parse_datetime
    from deskops.commands.refunds import mask
    from deskops.commands.returns import items_text, return_rows, run_of_week

    ops = get(ctx)
    cfg = _cfg(ops)
    if week == "today":
        day = now_utc().astimezone(cfg.tz).date()
    else:
        day = parse_datetime(week, cfg.tz, field="--week").astimezone(cfg.tz).date()
    listed, first, last = run_of_week(cfg, day)
    if unmask:
        _confirm_unmask(ops, yes)
    rows = []
    for r in return_rows(ops.store(), status=None, order_id=None):
        pay = str(r.get("payout_date") or "")
        if not pay or not (first.isoformat() <= pay <= last.isoformat()):
            continue
        details = r.get("refund_details") if unmask else mask(r.get("refund_details"))
        rows.append({
            "return": r["id"], "order": r["order_id"], "amount": r.get("refund_amount"),
            "method": r.get("refund_method"), "details": details, "payout_date": pay,
            "status": r.get("status"), "items": items_text(r.get("items")),
        })  # fmt: skip
    rows.sort(key=lambda x: (x["payout_date"], x["return"]))
    ops.renderer(fmt, fields).render(
        rows, ["return", "order", "amount", "method", "details", "payout_date", "status", "items"]
    )
    total = sum(float(r["amount"] or 0) for r in rows)
    amount = f"{total:,.2f}".replace(",", " ")
    ops.info(
        f"payout run {first:%d.%m}–{last:%d.%m} (list due {listed:%a %d.%m}): "
        f"{len(rows)} refund(s), {amount} ₽"
    )
