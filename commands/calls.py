"""Call logs: import, the missed-call callback list, callbacks, the billing check.

The toy shop's routine (procedures, toys-ru): a missed call needs no callback
when the customer was reached after it — a later answered call with the same
number, in either direction. The rest is the callback list, with the customer
and the open orders found by the number, so the agent knows why they called.
Internal lines are never called back. Every morning yesterday's charges are
checked: hotlines (8-800) are billed per started minute, other lines per
second, so a whole-minute charge on a per-second line is a deviation.

Numbers are compared in E.164 (``number`` of a call record, set at import with
the profile's region); lines are matched by name or number against the
profile's ``[[lines]]``.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from deskops.adapters.errors import UsageError
from deskops.adapters.phones import e164
from deskops.adapters.schema import CALL_ATTEMPTS
from deskops.adapters.store import Store, json_object

from .clock import iso
from .plan import CREATE, Change, Plan

CALLER = "caller:"  # call_attempts.target of a callback: caller:+79161234567
DEFAULT_OUTCOMES = {  # outcome → it takes the caller off the callback list
    "reached": True,
    "no-answer": False,
    "voicemail": False,
    "wrong-number": True,
    "not-needed": True,
    "handled": True,
}
BILLING = ("per_minute", "per_second")


@dataclass
class Line:
    name: str
    number: str | None = None
    kind: str = ""
    billing: str | None = None  # per_minute / per_second
    rate_per_minute: float | None = None
    callback: bool = True
    # the directions the line pays for: a hotline (8-800) pays for the calls it receives,
    # an ordinary city number only for the calls it makes
    bills: tuple[str, ...] = ("outbound",)


@dataclass
class CallsConfig:
    tz: tzinfo
    region: str
    lines: list[Line] = field(default_factory=list)
    internal: set[str] = field(default_factory=set)  # line names and numbers never called back
    outcomes: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_OUTCOMES))
    handled_comment: str = "handled ({agent})"
    closed_statuses: set[str] = field(default_factory=set)
    tolerance: float = 0.01
    orders: Any = None  # OrdersConfig: dates (yesterday, last-business-day), statuses
    _by_key: dict[str, Line] = field(default_factory=dict)
    _misses: set[str] = field(default_factory=set)  # keys known to name no line

    def index_lines(self) -> None:
        self._by_key = {}
        self._misses = set()
        for ln in reversed(self.lines):  # the first line of a name or number wins
            self._by_key[ln.name] = ln
            if ln.number and _digits(ln.number):
                self._by_key["#" + _digits(ln.number)] = ln

    def line(self, *keys: str | None) -> Line | None:
        """The profile line named by any of ``keys`` (a line name or a number)."""
        if len(self._by_key) < len(self.lines):
            self.index_lines()
        for key in keys:
            if not key:
                continue
            found = self._by_key.get(key)
            if found is None:
                if key in self._misses:
                    continue
                found = self._by_key.get("#" + _digits(key))
                if found is None:
                    if len(self._misses) > 100_000:
                        self._misses.clear()
                    self._misses.add(key)
                    continue
            return found
        return None

    def outcome(self, name: str) -> bool:
        if name not in self.outcomes:
            raise UsageError(f"unknown outcome {name!r}; valid: {', '.join(self.outcomes)}")
        return self.outcomes[name]


def _digits(text: str) -> str:
    return text if text.isdigit() else "".join([ch for ch in text if ch.isdigit()])


def calls_config(profile: dict[str, Any], tz: tzinfo, source: str = "profile") -> CallsConfig:
    from .orders import orders_config

    section = profile.get("calls") if isinstance(profile.get("calls"), dict) else {}
    assert isinstance(section, dict)
    region = str(profile.get("profile", {}).get("country") or profile.get("country") or "")
    cfg = CallsConfig(tz=tz, region=region, orders=orders_config(profile, tz, source))
    lines = profile.get("lines") or []
    if isinstance(lines, dict):  # [lines] name = "number" (a desk's numbers, no tariffs)
        lines = [{"name": k, "number": v} for k, v in lines.items() if isinstance(v, str)]
    for i, raw in enumerate(lines, 1):
        if not isinstance(raw, dict) or not raw.get("name"):
            raise UsageError(f"{source}: [[lines]] #{i}: a line needs a name")
        billing = raw.get("billing")
        if billing is not None and billing not in BILLING:
            raise UsageError(
                f"{source}: [[lines]] {raw['name']}: billing {billing!r}; valid: "
                + ", ".join(BILLING)
            )
        ln = Line(
            name=str(raw["name"]),
            number=str(raw["number"]) if raw.get("number") else None,
            kind=str(raw.get("kind") or ""),
            billing=billing,
            rate_per_minute=float(raw["rate_per_minute"]) if raw.get("rate_per_minute") else None,
            callback=bool(raw.get("callback", True)),
            bills=_bills(raw, source),
        )
        cfg.lines.append(ln)
        if not ln.callback:
            cfg.internal.add(ln.name)
    internal = section.get("internal_lines")
    names = internal.get("exclude_from_callbacks", []) if isinstance(internal, dict) else internal
    for name in names or []:
        cfg.internal.add(str(name))
    for name in list(cfg.internal):
        found = cfg.line(name)
        if found and found.number:
            cfg.internal.add(found.number)
    outcomes = section.get("outcomes")
    if isinstance(outcomes, dict):
        cfg.outcomes = {str(k): bool(v.get("closes", True) if isinstance(v, dict) else v)
                        for k, v in outcomes.items()}  # fmt: skip
        cfg.outcomes.setdefault("handled", True)
    if section.get("handled_comment"):
        cfg.handled_comment = str(section["handled_comment"])
    cfg.closed_statuses = {str(s) for s in section.get("closed_order_statuses") or []}
    billing_check = section.get("billing_check")
    if isinstance(billing_check, dict) and billing_check.get("tolerance") is not None:
        cfg.tolerance = float(billing_check["tolerance"])
    return cfg


def _bills(raw: dict[str, Any], source: str) -> tuple[str, ...]:
    value = raw.get("bills")
    if value is None:
        return ("inbound", "outbound") if raw.get("kind") == "hotline" else ("outbound",)
    items = [value] if isinstance(value, str) else list(value)
    bad = [x for x in items if x not in ("inbound", "outbound")]
    if bad:
        raise UsageError(
            f"{source}: [[lines]] {raw.get('name')}: bills {bad[0]!r}; valid: inbound, outbound"
        )
    return tuple(items)


def read_tariffs(path: str, cfg: CallsConfig) -> None:
    """Lines and rates from a CSV/TSV/JSON file (columns line, billing, rate_per_minute and
    optionally number) replace or add to the profile's ``[[lines]]``."""
    from deskops.adapters.files import Header, RowError, iter_records

    for line, row in iter_records(path):
        if isinstance(row, Header):
            missing = {"line", "billing", "rate_per_minute"} - set(row.columns)
            if missing:
                raise UsageError(f"{path}:1: no column {', '.join(sorted(missing))}")
            continue
        if isinstance(row, RowError):
            raise UsageError(f"{path}:{line}: {row.message}")
        name = str(row.get("line") or "").strip()
        billing = str(row.get("billing") or "").strip()
        if not name:
            raise UsageError(f"{path}:{line}: line: empty")
        if billing not in BILLING:
            raise UsageError(f"{path}:{line}: billing {billing!r}; valid: {', '.join(BILLING)}")
        try:
            rate = float(str(row.get("rate_per_minute")).replace(",", "."))
        except ValueError:
            raise UsageError(
                f"{path}:{line}: rate_per_minute {row.get('rate_per_minute')!r} is not a number"
            ) from None
        ln = cfg.line(name) or cfg.line(str(row.get("number") or ""))
        if ln is None:
            ln = Line(name=name, number=str(row.get("number") or "") or None)
            cfg.lines.append(ln)
            cfg.index_lines()
        ln.billing, ln.rate_per_minute = billing, rate


# -- import --------------------------------------------------------------------------------------
def call_items(rows: Iterable[tuple[Any, Any]], name: str) -> Iterator[dict[str, Any] | str]:
    """Records, and ``file:line: problem`` texts for the rows that could not be read."""
    from deskops.adapters.files import RowError

    for line, row in rows:
        if isinstance(row, RowError):
            yield f"{name}:{line}: {row.message}"
        else:
            yield row


# -- missed calls --------------------------------------------------------------------------------
@dataclass
class Caller:
    number: str
    misses: int
    first_miss: str
    last_miss: str
    contact_at: str | None  # the last contact (an answered call or a closing callback)
    open: int  # misses after the last contact
    line: str | None = None
    caller_name: str | None = None
    written: str | None = None  # the number as the PBX wrote it
    talked: str | None = None  # who talked in the contact after the misses
    contact_call: str | None = None
    contact_kind: str | None = None  # call / callback
    attempts: int = 0  # callbacks that did not reach the caller, since the last miss
    last_attempt: str | None = None
    customer: str | None = None
    orders: list[str] = field(default_factory=list)

    @property
    def handled(self) -> bool:
        return self.open == 0


def _is_contact(a: str) -> str:
    """An answered call ``a`` that reached the caller: not a Twilio inbound call that the
    application answered and that dialled agent legs (those legs tell whether anyone talked)."""
    return (
        f"{a}.status = 'answered' AND NOT ({a}.source = 'twilio' AND {a}.direction = 'inbound' "
        f"AND {a}.call_group = {a}.id AND EXISTS (SELECT 1 FROM calls g2 "
        f"WHERE g2.call_group = {a}.id AND g2.id <> {a}.id))"
    )


def _window_sql(cfg: CallsConfig, exclude: Iterable[str]) -> tuple[str, list[Any]]:
    """Conditions on a miss ``m``: not on an internal or excluded line."""
    names = set(cfg.internal)
    for x in exclude:
        ln = cfg.line(x)
        names.add(x)
        if ln is not None:
            names.add(ln.name)
            if ln.number:
                names.add(ln.number)
    if not names:
        return "", []
    marks = ", ".join("?" for _ in names)
    return (
        f" AND COALESCE(m.line, '') NOT IN ({marks}) AND COALESCE(m.callee, '') NOT IN ({marks})",
        [*names, *names],
    )


def missed(
    store: Store,
    cfg: CallsConfig,
    since: datetime,
    until: datetime,
    *,
    exclude_lines: Iterable[str] = (),
    handled: bool = True,
    counts: bool = False,
) -> tuple[list[Caller], int, int]:
    """Callers with missed inbound calls in [since, until), newest last miss first (without
    the handled ones unless ``handled``); how many callers were handled; how many misses
    had no callable number (hidden, or an extension).

    A miss is an inbound call not answered on any of its legs. It is handled when a
    later answered call with the same number exists (either direction, any time up to
    now) or a callback with a closing outcome was recorded after it. One query: the
    misses, the last contact per number, the last miss's line and the callbacks tried.
    ``counts``: for a report, only whether each caller was handled (``open`` is 0 or 1;
    no callbacks tried).
    """
    line_sql, line_params = _window_sql(cfg, exclude_lines)
    window = [iso(since), iso(until), *line_params]
    # A plain miss: inbound, not answered, and no other leg of the call answered.
    plain = (
        "m.direction = 'inbound' AND m.status <> 'answered' AND m.status <> 'in-progress' "
        "AND m.started_at >= ? AND m.started_at < ?"
        + line_sql
        + " AND (m.call_group = m.id OR m.call_group IS NULL OR NOT EXISTS ("
        "SELECT 1 FROM calls g WHERE g.call_group = m.call_group AND g.status = 'answered'))"
    )
    # Twilio: an inbound call the application answered whose agent legs all went unanswered.
    twilio = (
        "m.source = 'twilio' AND m.direction = 'inbound' AND m.status = 'answered' "
        "AND m.call_group = m.id AND m.started_at >= ? AND m.started_at < ?"
        + line_sql
        + " AND EXISTS (SELECT 1 FROM calls g WHERE g.call_group = m.id AND g.id <> m.id)"
        " AND NOT EXISTS (SELECT 1 FROM calls g WHERE g.call_group = m.id AND g.id <> m.id"
        " AND g.status = 'answered')"
    )
    closing = [o for o, closes in cfg.outcomes.items() if closes]
    marks = ", ".join("?" for _ in closing) or "NULL"
    sep = "char(31)" if store.dialect == "sqlite" else "chr(31)"
    last_row = f" || {sep} || ".join(
        ["m.started_at", *(f"COALESCE(m.{c}, '')" for c in ("line", "callee", "caller",
                                                            "caller_name"))]
    )  # fmt: skip
    # SQLite without statistics would walk the misses by time and sort them; the partial
    # index in caller order needs no sort (PostgreSQL plans this well on its own).
    by_caller = " INDEXED BY ix_calls_misses" if store.dialect == "sqlite" else ""
    twilio_calls = " INDEXED BY ix_calls_twilio" if store.dialect == "sqlite" else ""
    per_number = (
        "SELECT m.number, COUNT(*) AS n, MIN(m.started_at) AS lo, MAX(m.started_at) AS hi, "
        f"MAX({last_row}) AS lr FROM calls m{{}} WHERE {{}} AND m.number IS NOT NULL "
        "GROUP BY m.number"
    )
    # Per caller (grouped along the misses index, by number): the misses, the last answered
    # call and the last closing callback; the misses after the contact are counted only
    # for the callers still to call back.
    sql = (
        f"WITH g0 AS ({per_number.format(by_caller, plain)} UNION ALL "
        f"{per_number.format(twilio_calls, twilio)}), "
        # callbacks by number, once (joined, not asked per caller)
        "cb AS MATERIALIZED (SELECT substr(t.target, 8) AS number, MAX(t.at) AS at, "
        "COUNT(*) AS n FROM call_attempts t WHERE t.target LIKE 'caller:%' "
        f"AND t.outcome IN ({marks}) GROUP BY t.target), "
        "g AS MATERIALIZED (SELECT g0.number, SUM(g0.n) AS misses, MIN(lo) AS first_miss, "
        "MAX(hi) AS last_miss, MAX(lr) AS last_row, "
        f"(SELECT MAX(a.started_at) FROM calls a WHERE a.number = g0.number AND "
        f"{_is_contact('a')}) AS ans_at, MAX(cb.at) AS cb_at "
        "FROM g0 LEFT JOIN cb ON cb.number = g0.number GROUP BY g0.number), "
        "c AS MATERIALIZED (SELECT g.*, CASE WHEN cb_at IS NULL OR ans_at > cb_at "
        "THEN ans_at ELSE cb_at END AS contact_at FROM g) "
        + (
            "SELECT c.*, CASE WHEN c.contact_at >= c.last_miss THEN 0 ELSE 1 END AS open, "
            "NULL AS attempts, NULL AS last_attempt, "
            if counts
            else "SELECT c.*, CASE WHEN c.contact_at IS NULL THEN c.misses "
            "WHEN c.last_miss <= c.contact_at THEN 0 ELSE "
            f"(SELECT COUNT(*) FROM calls m{by_caller} WHERE m.number = c.number AND "
            f"m.started_at > c.contact_at AND {plain}) + (SELECT COUNT(*) FROM calls m "
            f"WHERE m.number = c.number AND m.started_at > c.contact_at AND {twilio}) END AS open, "
            "(SELECT COUNT(*) FROM call_attempts t WHERE t.target = 'caller:' || c.number "
            "AND t.at > c.last_miss) AS attempts, "
            "(SELECT t.at || ' ' || t.outcome FROM call_attempts t WHERE t.target = 'caller:' "
            "|| c.number AND t.at > c.last_miss ORDER BY t.at DESC LIMIT 1) AS last_attempt, "
        )
        + "(SELECT COUNT(*) FROM c c2 WHERE c2.contact_at >= c2.last_miss) AS handled_total "
        "FROM c "
        + ("" if handled else "WHERE c.contact_at IS NULL OR c.last_miss > c.contact_at ")
        + "ORDER BY c.last_miss DESC"
    )
    params = [*window, *window, *closing, *([] if counts else [*window, *window])]
    callers = []
    handled_total = None
    for r in store.iter_query(sql, params, size=5000):
        handled_total = r["handled_total"]
        _, line, callee, caller, caller_name = (r["last_row"].split("\x1f") + [""] * 5)[:5]
        ln = cfg.line(line, callee)
        callers.append(
            Caller(
                number=r["number"],
                misses=int(r["misses"]),
                first_miss=r["first_miss"],
                last_miss=r["last_miss"],
                contact_at=r["contact_at"],
                open=int(r["open"]),
                line=ln.name if ln else line or callee or None,
                caller_name=caller_name or None,
                written=caller or None,
                attempts=int(r["attempts"] or 0) if int(r["open"]) else 0,
                last_attempt=r["last_attempt"] if int(r["open"]) else None,
            )
        )
    hidden = store.scalar(
        "SELECT COUNT(*) FROM calls m WHERE m.direction = 'inbound' AND m.status <> 'answered' "
        "AND m.status <> 'in-progress' AND m.started_at >= ? AND m.started_at < ?"
        + line_sql
        + " AND m.number IS NULL",
        window,
    )
    if handled_total is None:  # no row: nobody missed, or (not shown) all were reached
        handled_total = (
            0 if handled else len(missed(store, cfg, since, until, exclude_lines=exclude_lines)[0])
        )
    return callers, int(handled_total), int(hidden or 0)


def describe(store: Store, cfg: CallsConfig, callers: list[Caller]) -> None:
    """Fill in, for the callers shown: the contact of the handled ones (who talked, or
    the callback) and the customer and open orders found by the number."""
    from .lookup import CustomerIndex

    index: CustomerIndex | None = None
    for c in callers:
        if c.handled:
            _contact(store, cfg, c)
        if index is None:
            index = CustomerIndex(store, cfg.region)
        for m in index.find(phones=[c.number]):
            cust = index.customer(m.customer_id)
            if cust and not c.customer:
                c.customer = cust.get("name")
            rec = m.record
            if m.why.startswith("order ") and rec.get("id"):
                if not c.customer and rec.get("customer_name"):
                    c.customer = rec["customer_name"]
                if _open(cfg, rec.get("status")) and len(c.orders) < 5:
                    c.orders.append(f"{rec['id']} ({rec.get('status') or '?'})")


def _open(cfg: CallsConfig, status: str | None) -> bool:
    if not status:
        return True
    closed = set(cfg.closed_statuses)
    labels = cfg.orders.statuses if cfg.orders is not None else {}
    for code, label in labels.items():
        if code in closed or label in closed:
            closed.update((code, label))
    return status not in closed


def _contact(store: Store, cfg: CallsConfig, c: Caller) -> None:
    """The contact after the last miss: the first answered call, else a closing callback."""
    rows = store.query(
        "SELECT id, started_at, direction, answered_by, caller, caller_name, extra FROM calls c "
        f"WHERE number = ? AND {_is_contact('c')} AND started_at > ? "
        "ORDER BY started_at LIMIT 1",
        (c.number, c.last_miss),
    )
    if rows:
        r = rows[0]
        c.contact_at, c.contact_call, c.contact_kind = r["started_at"], r["id"], "call"
        c.talked = agent_of(r)
        return
    cb = store.query(
        "SELECT at, agent, outcome FROM call_attempts WHERE target = ? AND at > ? "
        "ORDER BY at LIMIT 1",
        (CALLER + c.number, c.last_miss),
    )
    if cb:
        c.contact_at, c.talked, c.contact_kind = cb[0]["at"], cb[0]["agent"], "callback"


def agent_of(call: dict[str, Any]) -> str | None:
    """Who talked: the agent's name where the PBX gave one, else the extension."""
    extra = json_object(call.get("extra"))
    if call.get("direction") == "outbound":
        return extra.get("caller_name") or call.get("caller_name") or call.get("caller")
    return extra.get("answered_by_name") or call.get("answered_by")


def plan_mark_handled(cfg: CallsConfig, callers: list[Caller], agent: str) -> Plan:
    """A handled mark (comment + the agent who talked) for each handled caller; the mark's id
    names the contact, so marking twice adds nothing."""
    plan = Plan(command="calls missed --mark-handled")
    for c in callers:
        if not c.handled or c.contact_kind != "call" or not c.contact_call:
            continue
        talked = c.talked or agent
        rec = {
            "id": f"handled:{c.number}:{c.contact_call}",
            "target": CALLER + c.number,
            "agent": talked,
            "at": c.contact_at,
            "outcome": "handled",
            "note": cfg.handled_comment.format(agent=talked, when=c.contact_at, number=c.number),
        }
        plan.add(Change(f"call_attempts:{rec['id']}", "*", CREATE, None, rec,
                        f"missed {c.last_miss}, reached {c.contact_at}"))  # fmt: skip
    return plan


def caller_rows(callers: list[Caller], tz: tzinfo) -> Iterator[dict[str, Any]]:
    for c in callers:
        yield {
            "number": c.number,
            "caller": c.caller_name or "",
            "misses": c.misses,
            "open": c.open,
            "first_miss": _local(c.first_miss, tz),
            "last_miss": _local(c.last_miss, tz),
            "line": c.line,
            "status": "handled" if c.handled else "open",
            "contact_at": _local(c.contact_at, tz) if c.handled else None,
            "talked": c.talked if c.handled else None,
            "attempts": c.attempts,
            "last_attempt": c.last_attempt,
            "customer": c.customer,
            "orders": ", ".join(c.orders) if c.orders else "no order found",
        }


CALLER_FIELDS = [
    "number", "caller", "misses", "open", "first_miss", "last_miss", "line", "status",
    "contact_at", "talked", "attempts", "last_attempt", "customer", "orders",
]  # fmt: skip


_OFFSET: dict[tuple[tzinfo, str], timedelta] = {}  # (zone, UTC hour) → offset
_MINUTE: dict[tuple[tzinfo, str], str] = {}  # (zone, UTC minute) → local minute


def _local(text: str | None, tz: tzinfo) -> str | None:
    """``2026-01-12T07:15:02Z`` → ``2026-01-12 10:15`` in ``tz`` (the offset looked up once
    per hour: zones change their offset on the hour)."""
    if not text:
        return None
    known = _MINUTE.get((tz, text[:16]))
    if known is not None:
        return known
    if len(_MINUTE) > 200_000:
        _MINUTE.clear()
    utc = datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                   int(text[14:16]))  # fmt: skip
    key = (tz, text[:13])
    offset = _OFFSET.get(key)
    if offset is None:
        if len(_OFFSET) > 100_000:
            _OFFSET.clear()
        local = utc.replace(tzinfo=UTC).astimezone(tz)
        offset = _OFFSET[key] = local.utcoffset() or timedelta()
    dt = utc + offset
    found = _MINUTE[(tz, text[:16])] = (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d} {dt.hour:02d}:{dt.minute:02d}"
    )
    return found


# -- callbacks -----------------------------------------------------------------------------------
def resolve_caller(store: Store, cfg: CallsConfig, text: str) -> tuple[str, str | None]:
    """(E.164 number, order id) from a phone number or an order id of the store."""
    from deskops.adapters.schema import ORDERS

    order = store.get(ORDERS, text.strip(), children=False)
    if order is not None:
        number = e164(str(order.get("phone") or ""), cfg.region)
        if not number:
            raise UsageError(f"order {text}: no valid phone number ({order.get('phone')!r})")
        return number, str(order["id"])
    number = e164(text, cfg.region)
    if not number:
        raise UsageError(
            f"{text!r} is neither a phone number (region {cfg.region or '?'}) nor an order id"
        )
    return number, None


def plan_callback(
    cfg: CallsConfig,
    number: str,
    *,
    outcome: str,
    note: str | None,
    agent: str,
    now: datetime,
    order_id: str | None = None,
) -> Plan:
    closes = cfg.outcome(outcome)
    rec = {
        "id": f"callback:{number}:{iso(now)}:{secrets.token_hex(3)}",  # two in one second
        "target": CALLER + number,
        "agent": agent,
        "at": iso(now),
        "outcome": outcome,
        "note": note,
    }
    why = f"callback {outcome}" + (f", order {order_id}" if order_id else "")
    why += "; off the callback list" if closes else "; stays on the callback list"
    plan = Plan(command=f"calls callback {number} --outcome {outcome}")
    plan.add(Change(f"{CALL_ATTEMPTS.name}:{rec['id']}", "*", CREATE, None, rec, why))
    return plan


# -- billing ---------------------------------------------------------------------------------------
@dataclass
class BillingResult:
    deviations: list[dict[str, Any]]
    summary: list[dict[str, Any]]


def billing_check(
    store: Store, cfg: CallsConfig, day: date, *, days: int = 1, details: bool = True
) -> BillingResult:
    """Each charged call of ``day`` (local; ``days`` from it) against its line's tariff.
    ``details=False`` keeps the summary only (a report over a month)."""
    start = datetime.combine(day, datetime.min.time(), cfg.tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=days), datetime.min.time(), cfg.tz)
    window = (iso(start), iso(end.astimezone(UTC)))
    deviations: list[dict[str, Any]] = []
    per_line: dict[str, dict[str, Any]] = {}
    names: list[str] = []
    if details:  # every call, for its row
        sql = (
            "SELECT id, started_at, line, direction, status, caller, callee, number, duration, "
            "talk_seconds, cost, 1 AS n FROM calls WHERE started_at >= ? AND started_at < ? "
            "AND cost IS NOT NULL ORDER BY started_at"
        )
    else:
        # Calls on a line named as in the profile are summed in one pass in SQL; the
        # others (a number, no line) are grouped alike for the tariff and read here.
        covered = _summed_in_sql(store, cfg, window, per_line)
        if covered is None:
            return BillingResult(deviations, _rounded(per_line))
        names = covered
        sql = (
            "SELECT line, direction, status, caller, callee, duration, talk_seconds, cost, "
            "COUNT(*) AS n FROM calls WHERE started_at >= ? AND started_at < ? "
            "AND cost IS NOT NULL"
            + (f" AND (line IS NULL OR line NOT IN ({', '.join('?' for _ in names)}))"
               if names else "")
            + " GROUP BY line, direction, status, caller, callee, duration, talk_seconds, cost"
        )  # fmt: skip
    lines: dict[tuple[Any, Any, Any, Any], Line | None] = {}
    for call in store.iter_query(sql, (*window, *names), size=5000):
        direction = call["direction"]
        n = int(call["n"])
        where = (call["line"], call["callee"], call["caller"], direction)
        if where in lines:
            ln = lines[where]
        else:
            ln = cfg.line(where[0], where[1] if direction == "inbound" else None)
            ln = lines[where] = ln or cfg.line(where[2] if direction == "outbound" else None)
        s = _line_summary(per_line, ln, ln.name if ln else (where[0] or "(unknown line)"))
        cost = float(call["cost"])
        s["calls"] += n
        s["charged"] += cost * n
        if ln is None or not ln.billing or ln.rate_per_minute is None:
            s["no_tariff"] += n
            continue
        billed = direction in ln.bills
        talk = 0
        if billed and call["status"] == "answered":
            t = call["talk_seconds"]
            talk = int(t if t is not None else call["duration"] or 0)
        expected, kind = expected_charge(ln, talk, cost, cfg.tolerance)
        s["expected"] += expected * n
        if kind is None:
            continue
        if not billed:
            kind = f"charged, but {ln.name} does not pay for {direction} calls"
        s["deviations"] += n
        s["difference"] += (cost - expected) * n
        if details:
            deviations.append({
                "call": call["id"], "time": _local(call["started_at"], cfg.tz),
                "line": ln.name, "billing": ln.billing, "direction": direction,
                "number": call["number"], "talk": talk, "charged": round(cost, 2),
                "expected": expected, "difference": round(cost - expected, 2), "kind": kind,
            })  # fmt: skip
    return BillingResult(deviations, _rounded(per_line))


def _rounded(per_line: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    summary = []
    for s in sorted(per_line.values(), key=lambda x: x["line"]):
        for k in ("charged", "expected", "difference"):
            s[k] = round(s[k], 2)
        summary.append(s)
    return summary


def _line_summary(per_line: dict[str, dict[str, Any]], ln: Line | None, key: str) -> dict[str, Any]:
    s = per_line.get(key)
    if s is None:
        s = per_line[key] = {
            "line": key, "billing": ln.billing if ln else None,
            "rate_per_minute": ln.rate_per_minute if ln else None, "calls": 0,
            "charged": 0.0, "expected": 0.0, "deviations": 0, "difference": 0.0,
            "no_tariff": 0,
        }  # fmt: skip
    return s


def _summed_in_sql(
    store: Store, cfg: CallsConfig, window: tuple[str, str], per_line: dict[str, dict[str, Any]]
) -> list[str] | None:
    """Sum the calls whose ``line`` is a profile line's name in one pass in SQL, the
    expected charge worked out exactly as :func:`expected_charge` does (a month of calls
    grouped by talk time and charge for Python to check is a sort of a million rows).
    The names it covered, for the other calls to be read; None when there are none."""
    chosen: dict[str, Line] = {}
    for ln in cfg.lines:
        if ln.name not in chosen and cfg.line(ln.name) is ln:
            chosen[ln.name] = ln
    if not chosen:
        return []
    sqlite = store.dialect == "sqlite"
    floor = "CAST({} AS INTEGER)" if sqlite else "FLOOR({})"
    real = "{!r}" if sqlite else "CAST({!r} AS DOUBLE PRECISION)"
    keys: list[str] = []
    amounts: list[str] = []
    for i, ln in enumerate(chosen.values()):
        name = _literal(ln.name)
        keys.append(f"WHEN {name} THEN {i}")
        if not ln.billing or ln.rate_per_minute is None:
            continue
        rate = real.format(float(ln.rate_per_minute))
        bills = ", ".join(_literal(b) for b in ln.bills) or "NULL"
        talk = (
            f"(CASE WHEN direction IN ({bills}) AND status = 'answered' THEN "
            "CAST(COALESCE(talk_seconds, duration, 0) AS INTEGER) ELSE 0 END)"
        )
        if ln.billing == "per_minute":
            amount = f"((({talk} + 59) / 60) * {rate})"
        else:
            amount = f"({talk} * {rate} / 60.0)"
        # cents, half up: the same arithmetic as _cents()
        cents = floor.format(f"{amount} * 100 + 0.5 + {real.format(_EPS)}")
        amounts.append(f"WHEN {name} THEN {cents} / 100.0")
    expected = f"CASE line {' '.join(amounts)} END" if amounts else "NULL"
    off = f"ABS(cost - e) > {real.format(float(cfg.tolerance))}"
    # each call's line and expected charge worked out once (SQLite would otherwise copy
    # the expressions into every sum: LIMIT -1 keeps the subquery from being flattened)
    calls = (
        f"SELECT CASE line {' '.join(keys)} ELSE -1 END AS k, cost, {expected} AS e "
        "FROM calls WHERE started_at >= ? AND started_at < ? AND cost IS NOT NULL"
        + (" LIMIT -1 OFFSET 0" if sqlite else "")
    )
    others = False
    lines = list(chosen.values())
    for r in store.query(
        f"SELECT k, COUNT(*) AS calls, SUM(cost) AS charged, SUM(e) AS expected, "
        f"SUM(CASE WHEN {off} THEN 1 ELSE 0 END) AS devs, "
        f"SUM(CASE WHEN {off} THEN cost - e END) AS diff FROM ({calls}) c GROUP BY k",
        window,
    ):
        if int(r["k"]) < 0:
            others = True  # calls on a number, or on no line: read one by one
            continue
        ln = lines[int(r["k"])]
        s = _line_summary(per_line, ln, ln.name)
        s["calls"] += int(r["calls"])
        s["charged"] += float(r["charged"] or 0)
        if not ln.billing or ln.rate_per_minute is None:
            s["no_tariff"] += int(r["calls"])
            continue
        s["expected"] += float(r["expected"] or 0)
        s["deviations"] += int(r["devs"] or 0)
        s["difference"] += float(r["diff"] or 0)
    return list(chosen) if others else None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_EPS = 1e-7  # a decimal half cent stored as a double a hair below .5 still rounds up


def _cents(amount: float) -> float:
    """Money to the cent, half up (``0.125`` → ``0.13``), as the SQL sums round it."""
    return math.floor(amount * 100 + 0.5 + _EPS) / 100.0


def expected_charge(ln: Line, talk: int, cost: float, tol: float) -> tuple[float, str | None]:
    """(expected amount, deviation kind or None). Per-minute lines: every started minute;
    per-second lines: the seconds, and a whole-minute charge for a call that is not a
    whole number of minutes is a ``round charge``."""
    rate = float(ln.rate_per_minute or 0)
    if ln.billing == "per_minute":
        expected = _cents(((talk + 59) // 60) * rate)
    else:
        expected = _cents(talk * rate / 60.0)
    if abs(cost - expected) <= tol:
        return expected, None
    if ln.billing == "per_minute":
        if talk % 60 and abs(cost - _cents(talk * rate / 60.0)) <= tol:
            return expected, "billed by the second on a per-minute line"
        minutes = cost / rate if rate else 0
        whole = abs(minutes - round(minutes)) * rate <= tol
        return expected, ("overcharge" if cost > expected else "undercharge") + (
            "" if whole else ", not whole minutes"
        )
    if rate and cost > 0 and talk % 60:
        minutes = cost / rate
        if abs(minutes - round(minutes)) * rate <= tol:
            return expected, "round charge"
    return expected, "overcharge" if cost > expected else "undercharge"


DEVIATION_FIELDS = [
    "time", "line", "billing", "direction", "number", "talk", "charged", "expected",
    "difference", "kind", "call",
]  # fmt: skip
SUMMARY_FIELDS = [
    "line", "billing", "rate_per_minute", "calls", "charged", "expected", "deviations",
    "difference", "no_tariff",
]  # fmt: skip


def since_until(
    cfg: CallsConfig, since: str | None, until: str | None, now: datetime
) -> tuple[datetime, datetime]:
    """The miss window: from the start of the last business day (a Monday looks back to
    Friday) unless told, up to now."""
    start = cfg.orders.when(since or "last-business-day", now, what="--since")
    end = cfg.orders.when(until, now, end=True, what="--until") if until else now
    if until and end != now:
        end += timedelta(seconds=1)
    if end <= start:
        raise UsageError(f"--until ({iso(end)}) is not after --since ({iso(start)})")
    return start, end
