"""ops orders: the confirmation call queue, call outcomes, duplicates, flags, notes,
stale orders at shift end, delivery estimates."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deskops.adapters.errors import OpsError, UsageError

from ..context import Ops, get
from ..options import AgentOpt, DryRun, Fields, Format, Yes, group, read_ids

app = group("Work the order confirmation queue, record calls, find duplicates, set flags.")

OrdersOpt = Annotated[
    str | None,
    typer.Option(
        "--orders",
        help="retailcrm+https://HOST?site=CODE or magento+https://HOST/rest "
        "(default: OPS_ORDERS_URL, else the orders in the store).",
    ),
]
IdsArg = Annotated[
    list[str], typer.Argument(help="Order ids, or - to read ids/JSON lines from stdin.")
]


def _backend(ops: Ops, url: str | None) -> Any:
    from deskops.adapters.orders import StoreOrders
    from deskops.adapters.registry import scheme_of

    url = url or ops.config.get("orders.url")
    if url and scheme_of(str(url)) not in ("", "sqlite", "postgresql", "postgres"):
        return ops.backend(f"orders:{url}")
    return StoreOrders(ops.store())


def _cfg(ops: Ops) -> Any:
    from deskops.commands.orders import orders_config

    return orders_config(ops.config.profile, ops.tz, str(ops.config.profile_path or "profile"))


def _now() -> Any:
    from deskops.commands.clock import now_utc

    return now_utc()


def _agent(agent: str | None) -> str:
    from deskops.commands.plan import actor

    return agent or actor()


def _apply(ops: Ops, plan: Any, backend: Any, what: str, *, also: Any = None, **kw: Any) -> Any:
    """Run a plan on the orders backend: all of it in one store transaction when the
    orders are in the store; on a vendor API each change stands alone (no rollback there)."""
    targets = {} if backend.backend == "store" else {backend.backend: backend}
    targets.update(also or {})
    return ops.run_plan(
        plan, what=what, atomic=backend.backend == "store", targets=targets or None, **kw
    )


def _ids(ids: list[str]) -> list[str]:
    found = read_ids(ids)
    if not found:
        raise UsageError("no order ids on stdin")
    return found


def _load(backend: Any, ids: list[str]) -> list[dict[str, Any]]:
    found, missing = [], []
    for oid in ids:
        o = backend.get(oid)
        (found if o is not None else missing).append(o if o is not None else oid)
    if missing:
        raise UsageError(f"no such order(s) in {backend.display}: {', '.join(missing)}")
    return found


def _stock(ops: Ops, cfg: Any, path: str | None) -> Any:
    from pathlib import Path

    from deskops.commands.orders import read_stock

    if path:
        return read_stock(Path(path))
    if cfg.stock_file is None:
        return None
    p = cfg.stock_file
    if not p.is_absolute():
        base = ops.config.profile_path.parent if ops.config.profile_path else Path.cwd()
        candidates = [base / p, *_fixture_dirs(ops, p)]
        p = next((c for c in candidates if c.exists()), candidates[0])
    return read_stock(p) if p.exists() else None


def _fixture_dirs(ops: Ops, p: Any) -> list[Any]:
    from deskops.fixtures import FIXTURES_DIR

    name = str(ops.config.profile.get("profile", {}).get("name") or "")
    return [FIXTURES_DIR / name / p] if name else []


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Status (code or name); repeatable.")
    ] = None,
    payment: Annotated[
        list[str] | None, typer.Option("--payment", help="Payment method; repeatable.")
    ] = None,
    campaign: Annotated[list[str] | None, typer.Option("--campaign", help="Campaign.")] = None,
    site: Annotated[list[str] | None, typer.Option("--site", help="Site / storefront.")] = None,
    created_from: Annotated[
        str | None,
        typer.Option("--created-from", help="Date/time, or today, yesterday, last-business-day."),
    ] = None,
    created_to: Annotated[
        str | None, typer.Option("--created-to", help="Date/time, or today, yesterday, now.")
    ] = None,
    called: Annotated[
        str | None, typer.Option("--called", help="yes|no: support already called.")
    ] = None,
    flag: Annotated[list[str] | None, typer.Option("--flag", help="Has this flag.")] = None,
    phone: Annotated[
        str | None, typer.Option("--phone", help="Any way of writing the number.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (newest first).")] = 100,
    all_: Annotated[bool, typer.Option("--all", help="No limit.")] = False,
    orders_url: OrdersOpt = None,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """List orders, newest first, with an items summary.

    Example: ops -p toys-ru orders list --status "Перед сборкой" --created-from yesterday
    """
    from deskops.adapters.orders import OrderQuery
    from deskops.commands.orders import ORDER_FIELDS, order_row, phone_query

    ops = get(ctx)
    cfg = _cfg(ops)
    now = _now()
    if called not in (None, "yes", "no"):
        raise UsageError(f"--called {called!r}: use yes or no")
    q = OrderQuery(
        statuses=[cfg.status(s) for s in status or []],
        payment_methods=list(payment or []),
        campaigns=list(campaign or []),
        sites=list(site or []),
        created_from=cfg.when(created_from, now, what="--created-from") if created_from else None,
        created_to=cfg.when(created_to, now, end=True, what="--created-to") if created_to else None,
        support_called=None if called is None else called == "yes",
        flags=[cfg.flag(f) for f in flag or []],
        phone=phone_query(phone, cfg) if phone else None,
        region=cfg.region,
        limit=None if all_ else limit,
    )
    backend = _backend(ops, orders_url)
    ops.renderer(fmt, fields).render((order_row(o, cfg) for o in backend.orders(q)), ORDER_FIELDS)


@app.command("confirm")
def confirm(
    ctx: typer.Context,
    next_: Annotated[
        bool,
        typer.Option(
            "--next", help="Claim the next due order for the calling agent and show the call sheet."
        ),
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many rows.")] = None,
    agent: AgentOpt = None,
    stock: Annotated[
        str | None, typer.Option("--stock", help="Logistics stock file (CSV: sku;name;qty).")
    ] = None,
    orders_url: OrdersOpt = None,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """The profile's confirmation queue: attempts today, last attempt, when the next may be
    made, stock, bank details, who holds it.

    Example: ops -p pharmacy-uk orders confirm --next --agent Мельник
    """
    from deskops.commands.orders import QUEUE_FIELDS, call_sheet, claim_next, confirm_queue

    ops = get(ctx)
    cfg = _cfg(ops)
    backend = _backend(ops, orders_url)
    stock_map = _stock(ops, cfg, stock)
    now = _now()
    if next_:
        who = _agent(agent)
        got = claim_next(backend, ops.store(), cfg, who, now, stock=stock_map)
        if got is None:
            ops.info("orders confirm --next: no order is due now")
            return
        sheet = call_sheet(got, ops.store(), cfg)
        ops.renderer(fmt, fields).render(
            [sheet],
            [
                *QUEUE_FIELDS,
                "claimed_until",
                "email",
                "address",
                "items",
                "payment_status",
                "attempts",
                "notes",
            ],
        )
        return
    rows = confirm_queue(backend, ops.store(), cfg, now, limit=limit, stock=stock_map)
    ops.renderer(fmt, fields).render([r.row for r in rows], QUEUE_FIELDS)


@app.command("call")
def call(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="The order called.")],
    outcome: Annotated[
        str,
        typer.Option(
            "--outcome", help="confirmed, no-answer, wrong-number, callback or cancelled."
        ),
    ],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (cancelled).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="What was said.")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="When the call was made (default: now).")
    ] = None,
    resend_bank_details: Annotated[
        bool, typer.Option("--resend-bank-details", help="Also mail the bank-details template.")
    ] = False,
    no_mail: Annotated[
        bool, typer.Option("--no-mail", help="Do not send the outcome's template.")
    ] = False,
    smtp: Annotated[
        str | None, typer.Option("--smtp", help="smtp://user@host:587?starttls=1 for the mail.")
    ] = None,
    agent: AgentOpt = None,
    orders_url: OrdersOpt = None,
    dry_run: DryRun = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Record a call attempt and apply the profile's outcome: status, fields, flags,
    comment, the customer's mail. Journaled (ops undo); the claim is released.

    Example: ops -p toys-ru orders call 477801 --outcome cancelled --reason "передумал"
    """
    from deskops.commands.clock import parse_datetime
    from deskops.commands.orders import CallRequest, plan_call, release

    ops = get(ctx)
    cfg = _cfg(ops)
    backend = _backend(ops, orders_url)
    who = _agent(agent)
    when = parse_datetime(at, ops.tz, field="--at") if at else _now()
    sender, address = ops.smtp(smtp)
    plan = plan_call(
        CallRequest(order, outcome, who, when, reason, note, resend_bank_details, not no_mail),
        backend,
        cfg,
        sender=sender,
        sender_address=address,
    )
    result = _apply(
        ops,
        plan,
        backend,
        f"orders call {order}",
        also={sender.backend: sender} if sender is not None else None,
        fmt=fmt,
        fields=fields,
        dry_run=dry_run,
        yes=True,  # one call on one named order: the attempt record is part of it
    )
    if result is not None:
        release(ops.store(), order)


@app.command("release")
def release_cmd(
    ctx: typer.Context,
    ids: IdsArg,
    agent: AgentOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Release another agent's claim.")] = False,
) -> None:
    """Give back claimed orders without calling (they return to the queue).

    Example: ops orders release 100004811
    """
    from deskops.commands.orders import release

    ops = get(ctx)
    wanted = _ids(ids)
    for oid in wanted:
        with ops.store().transaction():
            release(ops.store(), oid, None if force else _agent(agent))
    ops.info(f"released {len(wanted)} claim(s)")


@app.command("duplicates")
def duplicates(
    ctx: typer.Context,
    window: Annotated[
        str | None, typer.Option("--window", help="How far apart duplicates may be (7d, 48h).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only orders created since (default: 30 days).")
    ] = None,
    keep: Annotated[
        str | None, typer.Option("--keep", help="oldest (default) or newest complete order.")
    ] = None,
    orders_url: OrdersOpt = None,
    agent: AgentOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Orders placed twice: same phone (any notation), same or overlapping items, within the
    window. The plan keeps one and marks the others as duplicates with a comment naming
    the kept order; nothing is deleted.

    Example: ops -p toys-ru orders duplicates --window 48h --dry-run
    """
    from datetime import timedelta

    from deskops.adapters.orders import OrderQuery
    from deskops.commands.mailrules import parse_duration
    from deskops.commands.orders import duplicate_groups, plan_duplicates

    ops = get(ctx)
    cfg = _cfg(ops)
    now = _now()
    default_window = (
        f"{cfg.duplicates['window_hours']}h" if cfg.duplicates.get("window_hours") else "7d"
    )
    span = parse_duration(window or default_window, "--window")
    start = cfg.when(since, now, what="--since") if since else now - timedelta(days=30)
    backend = _backend(ops, orders_url)
    closed = {cfg.status(s) for s in cfg.duplicates.get("ignore_statuses", [])}
    orders = [
        o
        for o in backend.orders(OrderQuery(created_from=start, newest_first=False))
        if o.get("status") not in closed
    ]
    groups, problems = duplicate_groups(orders, cfg, span)
    plan, rows = plan_duplicates(
        groups,
        cfg,
        backend.backend,
        _agent(agent),
        now,
        keep or str(cfg.duplicates.get("keep", "oldest")),
    )
    for p in problems:
        ops.warn(p)
    _apply(ops, plan, backend, "orders duplicates", dry_run=dry_run, yes=yes, show=False)
    ops.renderer(fmt, fields).render(
        rows, ["group", "role", "id", "created_at", "status", "phone", "customer_name", "items"]
    )


@app.command("flag")
def flag(
    ctx: typer.Context,
    ids: IdsArg,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Flag to set; repeatable.")
    ] = None,
    unset: Annotated[
        list[str] | None, typer.Option("--unset", help="Flag to remove; repeatable.")
    ] = None,
    comment: Annotated[str | None, typer.Option("--comment", help="Also add this comment.")] = None,
    agent: AgentOpt = None,
    orders_url: OrdersOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Set or remove flags on orders (names checked against the profile's [flags]).

    Example: ops orders list -o jsonl --status pending | ops orders flag --set Склад -
    """
    from deskops.commands.orders import plan_flags

    if not set_ and not unset:
        raise UsageError("give --set NAME or --unset NAME")
    ops = get(ctx)
    cfg = _cfg(ops)
    backend = _backend(ops, orders_url)
    orders = _load(backend, _ids(ids))
    plan = plan_flags(
        orders,
        cfg,
        backend.backend,
        set_=list(set_ or []),
        unset=list(unset or []),
        comment=comment,
        agent=_agent(agent),
        now=_now(),
    )
    _apply(ops, plan, backend, "orders flag", fmt=fmt, fields=fields, dry_run=dry_run, yes=yes)


@app.command("note")
def note(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="The order.")],
    text: Annotated[str, typer.Argument(help="The note (added as an order comment).")],
    agent: AgentOpt = None,
    orders_url: OrdersOpt = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Add a comment to an order, signed by the agent.

    Example: ops orders note 100004811 "Клієнт просить дзвонити після 17:00"
    """
    from deskops.commands.orders import plan_note

    ops = get(ctx)
    backend = _backend(ops, orders_url)
    (order_rec,) = _load(backend, [order])
    plan = plan_note(order_rec, text, backend.backend, _agent(agent), _now())
    _apply(ops, plan, backend, "orders note", fmt=fmt, fields=fields, dry_run=dry_run, yes=yes)


@app.command("stale")
def stale(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option("--status", help="The status that must not be left (default: the profile's)."),
    ] = None,
    shift_end: Annotated[
        str, typer.Option("--shift-end", help="End of the shift, HH:MM (today) or a date/time.")
    ] = "21:00",
    orders_url: OrdersOpt = None,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Orders still in a status at the end of the shift, per manager (a violation).

    Example: ops -p toys-ru orders stale --status "Перед сборкой" --shift-end 21:00
    """
    import re

    from deskops.adapters.orders import OrderQuery
    from deskops.commands.clock import parse_datetime
    from deskops.commands.orders import ORDER_FIELDS, _table, stale_orders

    ops = get(ctx)
    cfg = _cfg(ops)
    now = _now()
    if status is None:
        listed = _table(cfg.profile, "statuses", "rules").get("left_at_shift_end_is_violation")
        if not listed:
            raise UsageError("give --status (the profile names no status to check)")
        status = str(listed[0] if isinstance(listed, list) else listed)
    wanted = cfg.status(status)
    if re.fullmatch(r"\d{1,2}:\d{2}", shift_end.strip()):
        local = now.astimezone(cfg.tz).date().isoformat()
        end = parse_datetime(f"{local} {shift_end.strip()}", cfg.tz, field="--shift-end")
    else:
        end = parse_datetime(shift_end, cfg.tz, field="--shift-end")
    backend = _backend(ops, orders_url)
    rows = stale_orders(backend.orders(OrderQuery(statuses=[wanted])), cfg, wanted, end)
    per: dict[str, int] = {}
    for r in rows:
        per[str(r["manager"])] = per.get(str(r["manager"]), 0) + 1
    ops.renderer(fmt, fields).render(rows, ["manager", "id", "since", *ORDER_FIELDS[3:6]])
    if per:
        ops.info("per manager: " + ", ".join(f"{k} {v}" for k, v in sorted(per.items())))


@app.command("eta")
def eta_cmd(
    ctx: typer.Context,
    ids: IdsArg,
    orders_url: OrdersOpt = None,
    fmt: Format = None,
    fields: Fields = None,
) -> None:
    """Planned delivery date from the supplier cut-offs and the delivery windows.

    Example: ops -p toys-ru orders eta 477801
    """
    from deskops.commands.orders import eta

    ops = get(ctx)
    cfg = _cfg(ops)
    backend = _backend(ops, orders_url)
    rows = []
    for o in _load(backend, _ids(ids)):
        try:
            rows.append(eta(o, cfg))
        except OpsError as exc:
            raise UsageError(str(exc)) from None
    ops.renderer(fmt, fields).render(
        rows,
        [
            "id",
            "created_at",
            "supplier_groups",
            "warehouse_date",
            "delivery_date",
            "region",
            "windows",
        ],
    )
