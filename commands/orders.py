"""Order procedures: the confirmation call queue, call outcomes, duplicates, flags,
stale orders at shift end, delivery estimates.

Everything reads orders through the orders port (:mod:`deskops.adapters.orders`)
and returns rows or plans. The team's words — status and flag names, the queue's
filters, what each call outcome does, attempt spacing, templates — come from the
profile (``[statuses]``, ``[flags]``, ``[queue]``, ``[attempts]``, ``[orders]``,
``[holidays]``, ``[business_days]``, ``[templates.*]``), so the pharmacy's and the
toy shop's procedures are data, not code.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from deskops.adapters.errors import UsageError
from deskops.adapters.orders import OrderQuery, OrdersBackend, when_of
from deskops.adapters.phones import e164
from deskops.adapters.schema import CALL_ATTEMPTS, CLAIMS, NOTES
from deskops.adapters.store import Store

from .clock import iso, parse_datetime
from .plan import ADD, CREATE, REMOVE, SEND, SET, Change, Plan, actor

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
OUTCOMES = ["confirmed", "no-answer", "wrong-number", "callback", "cancelled"]
ORDER_FIELDS = [
    "id",
    "created_at",
    "status",
    "customer_name",
    "phone",
    "total",
    "currency",
    "payment_method",
    "campaign",
    "site",
    "support_called",
    "manager",
    "flags",
    "items",
]
QUEUE_FIELDS = [
    "id",
    "created_at",
    "customer_name",
    "phone",
    "total",
    "status",
    "attempts_today",
    "last_attempt",
    "next_attempt",
    "due",
    "stock",
    "bank_details_sent",
    "claimed_by",
]


def _table(profile: dict[str, Any], *path: str) -> dict[str, Any]:
    node: Any = profile
    for p in path:
        node = node.get(p, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


@dataclass
class Outcome:
    """What a call outcome does to the order (``[orders.outcomes.<name>]``)."""

    status: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # e.g. support_called = true
    template: str | None = None  # mailed to the customer
    comment: str | None = None  # added to the order; {reason} {note} {agent}
    reason_required: bool = False
    add_flags: list[str] = field(default_factory=list)
    remove_flags: list[str] = field(default_factory=list)


@dataclass
class OrdersConfig:
    tz: tzinfo
    region: str
    statuses: dict[str, str]  # code → label
    status_stored_as: str  # "code" or "label"
    flags: dict[str, str]  # key → name
    queue: dict[str, Any]
    min_per_day: int
    min_gap: timedelta
    day_parts: list[tuple[time, time]]
    business_days: set[int]
    hours: tuple[time, time]
    holidays: set[date]
    outcomes: dict[str, Outcome]
    claim_ttl: timedelta
    stock_file: Path | None
    duplicates: dict[str, Any]
    profile: dict[str, Any]

    # -- names ------------------------------------------------------------------------------
    def status(self, name: str) -> str:
        """A status as the orders hold it; the code or the label is accepted."""
        for code, label in self.statuses.items():
            if name.casefold() in (code.casefold(), label.casefold()):
                return code if self.status_stored_as == "code" else label
        if not self.statuses:
            return name
        valid = self.statuses.values() if self.status_stored_as == "label" else self.statuses
        raise UsageError(f"unknown status {name!r}; valid: {', '.join(valid)}")

    def flag(self, name: str) -> str:
        for key, label in self.flags.items():
            if name.casefold() in (key.casefold(), label.casefold()):
                return label
        if not self.flags:
            return name
        raise UsageError(f"unknown flag {name!r}; valid: {', '.join(self.flags.values())}")

    # -- time -------------------------------------------------------------------------------
    def is_business_day(self, d: date) -> bool:
        return d.weekday() in self.business_days and d not in self.holidays

    def previous_business_day(self, d: date) -> date:
        d -= timedelta(days=1)
        for _ in range(30):
            if self.is_business_day(d):
                return d
            d -= timedelta(days=1)
        return d

    def day_start(self, d: date) -> datetime:
        return datetime.combine(d, time(0), self.tz).astimezone(UTC)

    def when(self, text: str, now: datetime, *, end: bool = False, what: str = "date") -> datetime:
        """``today``, ``yesterday``, ``last-business-day``, ``now`` or a date/time."""
        local = now.astimezone(self.tz).date()
        word = text.strip().lower().replace("_", "-")
        days = {
            "today": local,
            "yesterday": local - timedelta(days=1),
            "last-business-day": self.previous_business_day(local),
            "previous-business-day": self.previous_business_day(local),
        }
        if word == "now":
            return now
        if word in days:
            d = days[word]
            return (
                self.day_start(d + timedelta(days=1)) - timedelta(seconds=1)
                if end
                else (self.day_start(d))
            )
        at = parse_datetime(text, self.tz, field=what)
        if end and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", text):
            return at + timedelta(days=1) - timedelta(seconds=1)
        return at


def _clock(text: str, where: str) -> time:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", str(text))
    if not m:
        raise UsageError(f"{where}: {text!r} is not a time of day (HH:MM)")
    return time(int(m.group(1)), int(m.group(2)))


def orders_config(profile: dict[str, Any], tz: tzinfo, source: str = "profile") -> OrdersConfig:
    statuses = {
        str(k): str(v) for k, v in _table(profile, "statuses").items() if not isinstance(v, dict)
    }
    flags = {str(k): str(v) for k, v in _table(profile, "flags").items() if not isinstance(v, dict)}
    orders = _table(profile, "orders")
    attempts = _table(profile, "attempts")
    parts = [
        (
            _clock(v[0], f"{source}: attempts.day_parts.{k}"),
            _clock(v[1], f"{source}: attempts.day_parts.{k}"),
        )
        for k, v in _table(profile, "attempts", "day_parts").items()
        if isinstance(v, list) and len(v) == 2
    ]
    bdays = (
        profile.get("business_days", {}) if isinstance(profile.get("business_days"), dict) else {}
    )
    weekdays = bdays.get("weekdays") or WEEKDAYS[:5]
    hours = bdays.get("hours") or {}
    holidays = set()
    for d in _table(profile, "holidays").get("dates", []) or []:
        try:
            holidays.add(date.fromisoformat(str(d)))
        except ValueError:
            raise UsageError(f"{source}: holidays.dates: {d!r} is not a date") from None
    outcomes: dict[str, Outcome] = {}
    for name, spec in _table(profile, "orders", "outcomes").items():
        if name not in OUTCOMES:
            raise UsageError(
                f"{source}: orders.outcomes.{name}: unknown outcome; valid: {', '.join(OUTCOMES)}"
            )
        if not isinstance(spec, dict):
            raise UsageError(f"{source}: orders.outcomes.{name} must be a table")
        outcomes[name] = Outcome(
            status=spec.get("status"),
            fields=dict(spec.get("set", {})),
            template=spec.get("template"),
            comment=spec.get("comment"),
            reason_required=bool(spec.get("reason_required", False)),
            add_flags=[str(f) for f in spec.get("add_flags", [])],
            remove_flags=[str(f) for f in spec.get("remove_flags", [])],
        )
    stock = _table(profile, "queue").get("stock_file") or orders.get("stock_file")
    stock_path = Path(str(stock)) if stock else None
    dup = dict(_table(profile, "rules", "duplicates"))
    dup.update(_table(profile, "orders", "duplicates"))
    return OrdersConfig(
        tz=tz,
        region=str(_table(profile, "profile").get("country") or ""),
        statuses=statuses,
        status_stored_as=str(orders.get("statuses_stored_as", "code")),
        flags=flags,
        queue=_table(profile, "queue"),
        min_per_day=int(attempts.get("min_per_day", 3)),
        min_gap=timedelta(hours=float(attempts.get("min_gap_hours", 2))),
        day_parts=sorted(parts),
        business_days={WEEKDAYS.index(str(w).lower()[:3]) for w in weekdays},
        hours=(
            _clock(hours.get("start", "09:00"), f"{source}: business_days.hours"),
            _clock(hours.get("end", "18:00"), f"{source}: business_days.hours"),
        ),
        holidays=holidays,
        outcomes=outcomes,
        claim_ttl=timedelta(minutes=float(orders.get("claim_minutes", 30))),
        stock_file=stock_path,
        duplicates=dup,
        profile=profile,
    )


# -- list ------------------------------------------------------------------------------------
def items_summary(order: dict[str, Any], limit: int | None = None) -> str:
    items = order.get("items") or []
    names = [f"{i.get('name') or i.get('sku')} ×{i.get('qty') or 1}" for i in items]
    if limit is not None and len(names) > limit:
        return "; ".join(names[:limit]) + f"; … (+{len(names) - limit})"
    return "; ".join(names)


def order_row(order: dict[str, Any], cfg: OrdersConfig) -> dict[str, Any]:
    created = order.get("created_at")
    try:
        created = (
            datetime.fromisoformat(str(created)).astimezone(cfg.tz).isoformat(timespec="minutes")
        )
    except (TypeError, ValueError):
        pass
    return {
        "id": order.get("id"),
        "created_at": created,
        "status": order.get("status"),
        "customer_name": order.get("customer_name"),
        "phone": order.get("phone"),
        "email": order.get("email"),
        "address": order.get("address"),
        "total": order.get("total"),
        "currency": order.get("currency"),
        "payment_method": order.get("payment_method"),
        "payment_status": order.get("payment_status"),
        "campaign": order.get("campaign"),
        "site": order.get("site"),
        "support_called": order.get("support_called"),
        "manager": order.get("manager"),
        "flags": ", ".join(order.get("flags") or []),
        "items": items_summary(order),
    }


def phone_query(text: str, cfg: OrdersConfig) -> str:
    found = e164(text, cfg.region)
    if found is None:
        raise UsageError(f"--phone: {text!r} is not a phone number (region {cfg.region or '?'})")
    return found


# -- the confirmation queue ----------------------------------------------------------------
def queue_query(cfg: OrdersConfig, now: datetime) -> OrderQuery:
    q = cfg.queue
    if not q:
        raise UsageError("the profile has no confirmation queue ([queue] with statuses, …)")

    def listed(key: str) -> list[str]:
        v = q.get(key)
        return [str(x) for x in v] if isinstance(v, list) else ([str(v)] if v else [])

    query = OrderQuery(
        statuses=[cfg.status(s) for s in listed("statuses")],
        payment_methods=listed("payment_method") + listed("payment_methods"),
        campaigns=listed("campaign") + listed("campaigns"),
        sites=listed("site") + listed("sites"),
        support_called=q.get("support_called")
        if isinstance(q.get("support_called"), bool)
        else None,
        region=cfg.region,
        newest_first=str(q.get("order", "newest_first")) != "oldest_first",
    )
    if q.get("created_from"):
        query.created_from = cfg.when(str(q["created_from"]), now, what="queue.created_from")
    if q.get("created_to"):
        query.created_to = cfg.when(str(q["created_to"]), now, end=True, what="queue.created_to")
    return query


def attempts_of(store: Store, order_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Call attempts per order id, oldest first (one query for the page)."""
    out: dict[str, list[dict[str, Any]]] = {oid: [] for oid in order_ids}
    if not order_ids:
        return out
    targets = [f"orders:{oid}" for oid in order_ids]
    for i in range(0, len(targets), 500):
        part = targets[i : i + 500]
        marks = ", ".join("?" for _ in part)
        for rec in store.iter_records(
            CALL_ATTEMPTS, f"target IN ({marks})", part, order="at", children=False
        ):
            out.setdefault(str(rec["target"]).partition(":")[2], []).append(rec)
    return out


def next_attempt(attempts: list[dict[str, Any]], cfg: OrdersConfig, now: datetime) -> datetime:
    """When the next call may be made: the minimum gap after the last attempt, in a part
    of the day not yet tried today while fewer than the daily minimum were made, within
    business hours of a business day."""
    today = now.astimezone(cfg.tz).date()
    todays = [
        a
        for a in (when_of(x.get("at")) for x in attempts)
        if a and a.astimezone(cfg.tz).date() == today
    ]
    last = max((a for a in (when_of(x.get("at")) for x in attempts) if a), default=None)
    earliest = now if last is None else max(now, last + cfg.min_gap)
    local = earliest.astimezone(cfg.tz)
    if cfg.day_parts and len(todays) < cfg.min_per_day and local.date() == today:
        used = {
            i
            for i, (a, b) in enumerate(cfg.day_parts)
            for t in todays
            if a <= t.astimezone(cfg.tz).time() < b
        }
        for i, (a, b) in enumerate(cfg.day_parts):
            if i in used or local.time() >= b:
                continue
            if local.time() < a:
                local = datetime.combine(today, a, cfg.tz)
            break
    return _business_time(local, cfg).astimezone(UTC)


def _business_time(local: datetime, cfg: OrdersConfig) -> datetime:
    start, end = cfg.hours
    for _ in range(60):
        if cfg.is_business_day(local.date()):
            if local.time() < start:
                return datetime.combine(local.date(), start, cfg.tz)
            if local.time() < end:
                return local
        local = datetime.combine(local.date() + timedelta(days=1), start, cfg.tz)
    return local


def read_stock(path: Path | None) -> dict[str, float] | None:
    """SKU → quantity from the logistics file (CSV, any encoding, ``;`` or ``,``).

    A row that cannot be read is an error naming the file and line: a stock check on a
    half-read file would tell agents that items are missing when they are not."""
    if path is None:
        return None
    from deskops.adapters.files import Header, RowError, iter_records

    if not path.exists():
        raise UsageError(f"{path}: stock file not found ([queue] stock_file or --stock)")
    stock: dict[str, float] = {}
    for line, row in iter_records(str(path), fmt="csv"):
        if isinstance(row, Header):
            continue
        if isinstance(row, RowError):
            raise UsageError(f"{path}:{line}: {row.message}")
        sku = str(row.get("sku") or row.get("SKU") or "").strip()
        qty = str(row.get("qty") or row.get("quantity") or "").replace(",", ".").strip()
        if not sku:
            continue
        try:
            stock[sku] = float(qty)
        except ValueError:
            raise UsageError(f"{path}:{line}: qty {qty!r} of {sku} is not a number") from None
    return stock


def stock_check(order: dict[str, Any], stock: dict[str, float] | None) -> str:
    if stock is None:
        return "no stock file"
    short = []
    for item in order.get("items") or []:
        sku = str(item.get("sku") or "")
        have = stock.get(sku)
        if have is None:
            short.append(f"{sku} unknown")
        elif have < float(item.get("qty") or 1):
            short.append(f"{sku} out ({have:g})")
    return "ok" if not short else "; ".join(short)


def bank_details_mailed(store: Store) -> set[str]:
    """Ids of the orders ops has mailed bank details to (journaled ``bank_details`` sends),
    read once per queue listing rather than once per row."""
    prefix = "outbox:bank_details-"
    rows = store.query(
        "SELECT target FROM journal_entries WHERE target LIKE ? AND outcome = 'applied'",
        (prefix + "%",),
    )
    return {str(r["target"])[len(prefix) :].rsplit("-CA-", 1)[0] for r in rows}


def live_claims(store: Store, now: datetime) -> dict[str, dict[str, Any]]:
    return {
        str(c["id"]).partition(":")[2]: c
        for c in store.iter_records(CLAIMS, "expires_at > ?", (iso(now),), children=False)
    }


@dataclass
class QueueRow:
    order: dict[str, Any]
    attempts: list[dict[str, Any]]
    next_at: datetime
    row: dict[str, Any]


def confirm_queue(
    backend: OrdersBackend,
    store: Store,
    cfg: OrdersConfig,
    now: datetime,
    *,
    limit: int | None = None,
    stock: dict[str, float] | None = None,
) -> list[QueueRow]:
    query = queue_query(cfg, now)
    query.limit = limit  # the store then reads a page the size of the limit, not a long one
    return list(queue_rows(backend, store, cfg, now, stock=stock, query=query))


def queue_rows(
    backend: OrdersBackend,
    store: Store,
    cfg: OrdersConfig,
    now: datetime,
    *,
    stock: dict[str, float] | None = None,
    query: OrderQuery | None = None,
) -> Iterator[QueueRow]:
    """The queue in order, read a page at a time (attempts and claims per page), so the
    first rows come without reading a long queue whole."""
    query = query or queue_query(cfg, now)
    claims = live_claims(store, now)
    mailed = bank_details_mailed(store)
    today = now.astimezone(cfg.tz).date()
    source = backend.orders(query)
    while True:
        page = list(itertools.islice(source, 200))
        if not page:
            return
        attempts = attempts_of(store, [str(o["id"]) for o in page])
        for o in page:
            yield _queue_row(
                o, attempts.get(str(o["id"]), []), claims, cfg, now, today, stock, mailed
            )


def _queue_row(
    o: dict[str, Any],
    att: list[dict[str, Any]],
    claims: dict[str, dict[str, Any]],
    cfg: OrdersConfig,
    now: datetime,
    today: date,
    stock: dict[str, float] | None,
    mailed: set[str],
) -> QueueRow:
    nxt = next_attempt(att, cfg, now)
    last = att[-1] if att else None
    claim = claims.get(str(o["id"]))
    row = order_row(o, cfg)
    row.update(
        {
            "attempts_today": sum(
                1
                for a in att
                if (t := when_of(a.get("at"))) and t.astimezone(cfg.tz).date() == today
            ),
            "last_attempt": f"{_local(last.get('at'), cfg)} {last.get('outcome')}" if last else "",
            "next_attempt": nxt.astimezone(cfg.tz).isoformat(timespec="minutes"),
            "due": nxt <= now,
            "stock": stock_check(o, stock),
            "bank_details_sent": bool((o.get("extra") or {}).get("bank_details_emailed"))
            or str(o["id"]) in mailed,
            "claimed_by": (claim or {}).get("agent") or "",
        }
    )
    return QueueRow(o, att, nxt, row)


def _local(value: Any, cfg: OrdersConfig) -> str:
    at = when_of(value)
    return at.astimezone(cfg.tz).isoformat(timespec="minutes") if at else str(value or "")


# -- claims ----------------------------------------------------------------------------------
def try_claim(store: Store, order_id: str, agent: str, now: datetime, ttl: timedelta) -> bool:
    """Claim one order for ``agent``: atomic on SQLite and PostgreSQL alike (one upsert on
    the claim's primary key that only takes over an expired claim or the agent's own)."""
    key = f"orders:{order_id}"
    cur = store.execute(
        "INSERT INTO claims (id, agent, claimed_at, expires_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET agent = excluded.agent, "
        "claimed_at = excluded.claimed_at, expires_at = excluded.expires_at "
        "WHERE claims.expires_at <= ? OR claims.agent = excluded.agent",
        (key, agent, iso(now), iso(now + ttl), iso(now)),
    )
    return bool(cur.rowcount == 1)


def claim_next(
    backend: OrdersBackend,
    store: Store,
    cfg: OrdersConfig,
    agent: str,
    now: datetime,
    *,
    stock: dict[str, float] | None = None,
) -> QueueRow | None:
    """The first order of the queue that is due and free, claimed for ``agent``; an
    order the agent already holds (and still in the queue) comes back to them first."""
    query = queue_query(cfg, now)
    held = [
        str(c["id"]).partition(":")[2]
        for c in store.iter_records(
            CLAIMS, "agent = ? AND expires_at > ?", (agent, iso(now)), children=False
        )
    ]
    if held:
        mine = OrderQuery(**{**query.__dict__, "ids": held, "limit": None})
        for r in queue_rows(backend, store, cfg, now, stock=stock, query=mine):
            if _claim(store, r, agent, now, cfg):
                return r
    for r in queue_rows(backend, store, cfg, now, stock=stock, query=query):
        if r.row["due"] and not r.row["claimed_by"] and _claim(store, r, agent, now, cfg):
            return r
    return None


def _claim(store: Store, r: QueueRow, agent: str, now: datetime, cfg: OrdersConfig) -> bool:
    with store.transaction():
        won = try_claim(store, str(r.order["id"]), agent, now, cfg.claim_ttl)
    if won:
        r.row["claimed_by"] = agent
        r.row["claimed_until"] = (
            (now + cfg.claim_ttl).astimezone(cfg.tz).isoformat(timespec="minutes")
        )
    return won


def call_sheet(r: QueueRow, store: Store, cfg: OrdersConfig) -> dict[str, Any]:
    """Everything the call needs, in one record."""
    o = r.order
    items_limit = int(_table(cfg.profile, "statuses", "rules").get("items_to_read_on_call", 4))
    notes = [
        f"{_local(n.get('at'), cfg)} {n.get('author') or ''}: {n.get('text')}"
        for n in store.iter_records(
            NOTES, "target = ?", (f"orders:{o['id']}",), order="at", children=False
        )
    ] + [
        f"{_local(c.get('at'), cfg)} {c.get('author') or ''}: {c.get('text')}"
        for c in o.get("comments") or []
    ]
    attempts = [
        f"{_local(a.get('at'), cfg)} {a.get('agent') or ''} {a.get('outcome')}"
        + (f": {a.get('note')}" if a.get("note") else "")
        for a in r.attempts
    ]
    return {
        **r.row,
        "email": o.get("email"),
        "address": o.get("address"),
        "items": items_summary(o, items_limit),
        "payment_status": o.get("payment_status"),
        "notes": notes,
        "attempts": attempts,
    }


def release(store: Store, order_id: str, agent: str | None = None) -> None:
    sql = "DELETE FROM claims WHERE id = ?"
    params: list[Any] = [f"orders:{order_id}"]
    if agent:
        sql += " AND agent = ?"
        params.append(agent)
    store.execute(sql, params)


# -- call outcomes ---------------------------------------------------------------------------
class _Vars(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


def fill(text: str, values: dict[str, Any], name: str) -> str:
    """``text`` with every ``{placeholder}`` filled; a missing one is an error naming the
    template and the values it may use (every profile template is filled here)."""
    try:
        return text.format_map(_Vars(values))
    except KeyError as exc:
        raise UsageError(
            f"template {name!r}: no value for {{{exc.args[0]}}} "
            f"(known: {', '.join(sorted(values))})"
        ) from None
    except (ValueError, IndexError) as exc:
        raise UsageError(f"template {name!r}: {exc}") from None


def render(template: dict[str, Any], values: dict[str, Any], name: str) -> tuple[str, str]:
    """Subject and body with every ``{placeholder}`` filled; a missing one is an error."""
    return (fill(str(template.get("subject") or ""), values, name),
            fill(str(template.get("body") or ""), values, name))  # fmt: skip


def template_values(order: dict[str, Any], cfg: OrdersConfig, agent: str) -> dict[str, Any]:
    name = str(order.get("customer_name") or "")
    agents = _table(cfg.profile, "agents")
    bank = _table(cfg.profile, "bank")
    extra = order.get("extra") or {}
    values: dict[str, Any] = {
        "order_id": order.get("id"),
        "order_number": extra.get("increment_id") or extra.get("number") or order.get("id"),
        "customer_name": name,
        "customer_first_name": name.split()[0] if name.split() else name,
        "total": f"{float(order.get('total') or 0):g}",
        "currency": order.get("currency") or "",
        "address": order.get("address") or "",
        "phone": order.get("phone") or "",
        "items": ", ".join(
            str(i.get("name") or i.get("sku")) for i in (order.get("items") or [])[:4]
        ),
        "agent": agent,
        "agent_name": str(agents.get(agent, agent)),
        "affiliate": extra.get("affiliate") or "",
    }
    values.update({f"bank_{k}": v for k, v in bank.items() if not isinstance(v, dict)})
    if "bank_bank" in values:
        values.setdefault("bank_name", values["bank_bank"])
    for code, aff in _table(cfg.profile, "affiliates").items():
        if isinstance(aff, dict) and code == extra.get("affiliate_code"):
            values["signature"] = aff.get("signature", "")
    return values


def mail_change(
    order: dict[str, Any],
    cfg: OrdersConfig,
    template_name: str,
    agent: str,
    key: str,
    sender_backend: str,
    sender_address: str,
    values: dict[str, Any] | None = None,
    language: str | None = None,
    attachments: list[Path] | None = None,
) -> Change:
    """The mail of a template to the order's customer, as a ``send`` change. ``values``
    add to the order's own placeholders; with ``language`` a template ``NAME_<language>``
    (``return_created_en``) is preferred to ``NAME``."""
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    templates = _table(cfg.profile, "templates")
    if language and isinstance(templates.get(f"{template_name}_{language}"), dict):
        template_name = f"{template_name}_{language}"
    tpl = templates.get(template_name)
    if not isinstance(tpl, dict):
        raise UsageError(
            f"no template {template_name!r} in the profile; known: {', '.join(sorted(templates))}"
        )
    to = str(order.get("email") or "")
    if "@" not in to:
        raise UsageError(f"order {order.get('id')}: no e-mail address to send {template_name!r}")
    subject, body = render(
        tpl, {**template_values(order, cfg, agent), **(values or {})}, template_name
    )
    msg = EmailMessage()
    msg["From"] = sender_address
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=sender_address.rpartition("@")[2] or "deskops.invalid")
    msg.set_content(body)
    for path in attachments or []:
        import mimetypes

        kind = (mimetypes.guess_type(path.name)[0] or "application/octet-stream").split("/")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"{path}: cannot attach ({exc.strerror})") from None
        msg.add_attachment(data, maintype=kind[0], subtype=kind[1], filename=path.name)
    raw = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))  # SMTP wants CRLF lines
    payload = {"raw": raw, "from": sender_address, "to": [to]}
    return Change(
        f"outbox:{key}", "*", SEND, None, payload, f"template {template_name}", sender_backend
    )


@dataclass
class CallRequest:
    order_id: str
    outcome: str
    agent: str
    at: datetime
    reason: str | None = None
    note: str | None = None
    resend_bank_details: bool = False
    mail: bool = True


def plan_call(
    req: CallRequest,
    backend: OrdersBackend,
    cfg: OrdersConfig,
    *,
    sender: Any | None = None,
    sender_address: str = "",
) -> Plan:
    """The changes one call makes: the attempt (with its note), the outcome's status,
    fields, flags and comment, and the outcome's mail (and bank details on request)."""
    if req.outcome not in OUTCOMES:
        raise UsageError(f"--outcome {req.outcome!r}; valid: {', '.join(OUTCOMES)}")
    order = backend.get(req.order_id)
    if order is None:
        raise UsageError(f"no order {req.order_id!r} in {backend.display}")
    spec = cfg.outcomes.get(req.outcome, Outcome())
    if spec.reason_required and not (req.reason or "").strip():
        raise UsageError(f"--outcome {req.outcome} needs --reason (the profile requires one)")
    plan = Plan(command=f"orders call {req.order_id} --outcome {req.outcome}")
    target = f"orders:{order['id']}"
    reason = f"call {req.outcome}"
    digest = hashlib.sha1(f"{target}|{iso(req.at)}|{req.agent}|{req.outcome}".encode()).hexdigest()
    attempt_id = f"CA-{digest[:12]}"
    note = req.note or (req.reason if req.outcome == "cancelled" else None)
    attempt = {
        "id": attempt_id,
        "target": target,
        "agent": req.agent,
        "at": iso(req.at),
        "outcome": req.outcome,
        "note": note,
    }
    plan.add(Change(f"call_attempts:{attempt_id}", "*", CREATE, None, attempt, reason))
    b = backend.backend
    if spec.status:
        status = cfg.status(spec.status)
        if order.get("status") != status:
            plan.add(Change(target, "status", SET, order.get("status"), status, reason, b))
    for name, value in spec.fields.items():
        if order.get(name) != value:
            plan.add(Change(target, name, SET, order.get(name), value, reason, b))
    flags = set(order.get("flags") or [])
    for f in spec.add_flags:
        if cfg.flag(f) not in flags:
            plan.add(Change(target, "flags", ADD, None, cfg.flag(f), reason, b))
    for f in spec.remove_flags:
        if cfg.flag(f) in flags:
            plan.add(Change(target, "flags", REMOVE, cfg.flag(f), None, reason, b))
    if spec.comment:
        text = (
            spec.comment.format_map(
                _Vars(
                    {
                        "reason": req.reason or "",
                        "note": req.note or "",
                        "agent": req.agent,
                        "outcome": req.outcome,
                    }
                )
            )
            if "{" in spec.comment
            else spec.comment
        )
        comment = {"at": iso(req.at), "author": req.agent, "text": text.strip()}
        plan.add(Change(target, "comments", ADD, None, comment, reason, b))
    mails = []
    if spec.template and req.mail:
        mails.append(spec.template)
    if req.resend_bank_details:
        mails.append("bank_details")
    for name in mails:
        if sender is None:
            raise UsageError(
                f"--outcome {req.outcome} mails the customer ({name}): give --smtp URL or "
                "OPS_SMTP_URL" + ("" if name == "bank_details" else ", or --no-mail")
            )
        key = f"{name}-{order['id']}-{attempt_id}"
        plan.add(mail_change(order, cfg, name, req.agent, key, sender.backend, sender_address))
    return plan


# -- duplicates --------------------------------------------------------------------------------
def duplicate_groups(
    orders: Iterable[dict[str, Any]], cfg: OrdersConfig, window: timedelta
) -> tuple[list[list[dict[str, Any]]], list[str]]:
    """Groups of orders with the same phone (E.164 in the profile's region) placed within
    ``window`` of each other with the same or overlapping items; invalid phones are reported,
    never matched."""
    by_phone: dict[str, list[dict[str, Any]]] = {}
    problems = []
    for o in orders:
        phone = e164(str(o.get("phone") or ""), cfg.region)
        if phone is None:
            if o.get("phone"):
                problems.append(f"order {o['id']}: phone {o.get('phone')!r} is not valid; skipped")
            continue
        by_phone.setdefault(phone, []).append(o)
    groups = []
    for same in by_phone.values():
        if len(same) < 2:
            continue
        same.sort(
            key=lambda o: (
                when_of(o.get("created_at")) or datetime.min.replace(tzinfo=UTC),
                str(o["id"]),
            )
        )
        current: list[dict[str, Any]] = []
        for o in same:
            if current and _related(current, o, window):
                current.append(o)
            else:
                if len(current) > 1:
                    groups.append(current)
                current = [o]
        if len(current) > 1:
            groups.append(current)
    return groups, problems


def _skus(o: dict[str, Any]) -> set[str]:
    return {str(i.get("sku") or i.get("name")) for i in o.get("items") or []}


def _related(group: list[dict[str, Any]], o: dict[str, Any], window: timedelta) -> bool:
    t = when_of(o.get("created_at"))
    for g in group:
        tg = when_of(g.get("created_at"))
        if t and tg and abs(t - tg) <= window and (_skus(g) & _skus(o) or not _skus(o)):
            return True
    return False


def plan_duplicates(
    groups: list[list[dict[str, Any]]],
    cfg: OrdersConfig,
    backend: str,
    agent: str,
    now: datetime,
    keep: str = "oldest",
) -> tuple[Plan, list[dict[str, Any]]]:
    """Keep one order per group (the oldest complete one by default), set the others to the
    duplicate status with a comment naming the kept order. Nothing is deleted."""
    status = cfg.status(str(cfg.duplicates.get("status") or _dup_status(cfg)))
    template = str(cfg.duplicates.get("comment") or "Duplicate of order {main_id}.")
    plan = Plan(command="orders duplicates")
    rows = []
    for group in groups:
        complete = [o for o in group if o.get("items") and o.get("address")] or group
        main = complete[-1] if keep == "newest" else complete[0]
        for o in group:
            row = order_row(o, cfg)
            row["group"] = main["id"]
            row["role"] = "keep" if o is main else "duplicate"
            rows.append(row)
            if o is main:
                continue
            target = f"orders:{o['id']}"
            reason = f"duplicate of {main['id']}"
            if o.get("status") != status:
                plan.add(Change(target, "status", SET, o.get("status"), status, reason, backend))
            text = template.format_map(_Vars({"main_id": main["id"]}))
            plan.add(
                Change(
                    target,
                    "comments",
                    ADD,
                    None,
                    {"at": iso(now), "author": agent, "text": text},
                    reason,
                    backend,
                )
            )
    return plan, rows


def _dup_status(cfg: OrdersConfig) -> str:
    rules = _table(cfg.profile, "statuses", "rules")
    if rules.get("duplicate"):
        return str(rules["duplicate"])
    raise UsageError("the profile names no duplicate status ([orders.duplicates] status = …)")


# -- flags and notes ---------------------------------------------------------------------------
def plan_flags(
    orders: list[dict[str, Any]],
    cfg: OrdersConfig,
    backend: str,
    *,
    set_: list[str],
    unset: list[str],
    comment: str | None,
    agent: str,
    now: datetime,
) -> Plan:
    plan = Plan(command="orders flag")
    add = [cfg.flag(f) for f in set_]
    drop = [cfg.flag(f) for f in unset]
    for o in orders:
        target = f"orders:{o['id']}"
        have = set(o.get("flags") or [])
        for f in add:
            if f not in have:
                plan.add(Change(target, "flags", ADD, None, f, "flag set", backend))
            else:
                plan.unchanged += 1
        for f in drop:
            if f in have:
                plan.add(Change(target, "flags", REMOVE, f, None, "flag unset", backend))
            else:
                plan.unchanged += 1
        if comment:
            plan.add(
                Change(
                    target,
                    "comments",
                    ADD,
                    None,
                    {"at": iso(now), "author": agent, "text": comment},
                    "flag comment",
                    backend,
                )
            )
    return plan


def plan_note(order: dict[str, Any], text: str, backend: str, agent: str, now: datetime) -> Plan:
    if not text.strip():
        raise UsageError("the note is empty")
    plan = Plan(command=f"orders note {order['id']}")
    plan.add(
        Change(
            f"orders:{order['id']}",
            "comments",
            ADD,
            None,
            {"at": iso(now), "author": agent, "text": text.strip()},
            "note",
            backend,
        )
    )
    return plan


# -- stale orders at shift end -----------------------------------------------------------------
def stale_orders(
    orders: Iterable[dict[str, Any]], cfg: OrdersConfig, status: str, shift_end: datetime
) -> list[dict[str, Any]]:
    """Orders still in ``status`` at the end of the shift (entered it before the end)."""
    rows = []
    for o in orders:
        if o.get("status") != status:
            continue
        since = None
        for h in o.get("status_history") or []:
            if h.get("status") == status:
                since = when_of(h.get("at"))
        since = since or when_of(o.get("updated_at")) or when_of(o.get("created_at"))
        if since is not None and since > shift_end:
            continue
        row = order_row(o, cfg)
        row["manager"] = o.get("manager") or "(none)"
        row["since"] = since.astimezone(cfg.tz).isoformat(timespec="minutes") if since else ""
        rows.append(row)
    rows.sort(key=lambda r: (str(r["manager"]), r["since"]))
    return rows


# -- delivery estimate -------------------------------------------------------------------------
def eta(order: dict[str, Any], cfg: OrdersConfig) -> dict[str, Any]:
    """Planned delivery from the supplier cut-offs of the items' groups, then the delivery
    windows of the destination (``[[tables.supplier_cutoffs]]``, ``[tables.delivery_windows]``)."""
    cutoffs = {
        str(c.get("group")): c
        for c in cfg.profile.get("tables", {}).get("supplier_cutoffs", [])
        if isinstance(c, dict)
    }
    if not cutoffs:
        raise UsageError("the profile has no supplier cut-offs ([[tables.supplier_cutoffs]])")
    created = when_of(order.get("created_at"))
    if created is None:
        raise UsageError(f"order {order.get('id')}: no creation time")
    local = created.astimezone(cfg.tz)
    warehouse = local.date()
    groups = []
    after = 1
    for item in order.get("items") or []:
        group = str(item.get("supplier_group") or "")
        c = cutoffs.get(group)
        if c is None:
            continue
        before = _clock(str(c.get("order_before", "00:00")), f"supplier_cutoffs {group}")
        base = _days(str(c.get("warehouse", "today")))
        w = local.date() + timedelta(days=base if local.time() < before else base + 1)
        groups.append(f"{group}: {w.isoformat()}")
        after = max(after, int(c.get("customer_days_after_warehouse", 1)))
        warehouse = max(warehouse, w)
    arrive = warehouse + timedelta(days=after)
    region, windows = _windows(order, cfg)
    closed = {WEEKDAYS.index(d[:3].lower()) for d in windows.get("closed_on", [])}
    while arrive.weekday() in closed:
        arrive += timedelta(days=1)
    slots = windows.get("weekends" if arrive.weekday() >= 5 else "weekdays") or []
    return {
        "id": order.get("id"),
        "created_at": local.isoformat(timespec="minutes"),
        "supplier_groups": "; ".join(groups) or "(no supplier group on the items)",
        "warehouse_date": warehouse.isoformat(),
        "delivery_date": arrive.isoformat(),
        "region": region,
        "windows": ", ".join(slots),
    }


def _days(word: str) -> int:
    word = word.strip().lower()
    if word == "today":
        return 0
    if word == "tomorrow":
        return 1
    m = re.fullmatch(r"\+?(\d+)\s*days?", word)
    if m:
        return int(m.group(1))
    raise UsageError(f"supplier_cutoffs: warehouse {word!r}: use today, tomorrow or +N days")


def _windows(order: dict[str, Any], cfg: OrdersConfig) -> tuple[str, dict[str, Any]]:
    """The delivery windows of the order's city (``[orders.eta.cities]`` names the cities of
    each window table; anything else is ``regions``)."""
    table = cfg.profile.get("tables", {}).get("delivery_windows", {})
    place = f"{order.get('city') or ''} {order.get('address') or ''}".casefold()
    for region, names in _table(cfg.profile, "orders", "eta", "cities").items():
        if any(str(n).casefold() in place for n in (names if isinstance(names, list) else [names])):
            return str(region), table.get(region, {})
    return "regions", table.get("regions", {})


__all__ = ["ORDER_FIELDS", "QUEUE_FIELDS", "actor"]
