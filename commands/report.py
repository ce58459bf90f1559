"""The daily report: what every team types into a spreadsheet at the end of a shift,
computed from what the other commands recorded (procedures: all five teams).

Sections, each a table of rows plus totals:

- ``agents``: cases handled and their handling time (case records: started → closed),
  calls answered and made (call logs; extensions named by the profile's ``[agents]``),
  call attempts and confirmations (``call_attempts``), changes journaled;
- ``mail``: received and answered per mailbox, unanswered past the SLA per zone,
  inquiries not converted (``ops mail awaiting --expire``), bounces;
- ``orders``: call outcomes, duplicates cancelled, orders left in the watched status
  at shift end per manager;
- ``calls``: missed callers, called back, still open, billing deviations;
- ``returns``: requests created, refunds due by payout date;
- ``reservations``: per store, the profile's ``[kpi]`` (success, on time, satisfaction,
  handling within the target, complaints).

Personal data (customer names, numbers, addresses) is masked unless asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from deskops.adapters.errors import UsageError
from deskops.adapters.store import Store, json_object

from .clock import iso

SECTIONS = ("agents", "mail", "orders", "calls", "returns", "reservations")
BY = ("agent", "store", "affiliate", "line")


@dataclass
class Window:
    start: datetime  # UTC
    end: datetime
    first: date  # local days covered
    last: date

    @property
    def label(self) -> str:
        return (
            self.first.isoformat()
            if self.first == self.last
            else (f"{self.first.isoformat()}..{self.last.isoformat()}")
        )


def day_window(day: date, tz: tzinfo, days: int = 1) -> Window:
    start = datetime.combine(day, time(0), tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=days), time(0), tz).astimezone(UTC)
    return Window(start, end, day, day + timedelta(days=days - 1))


@dataclass
class Section:
    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    details: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        grouped = self.columns[0] if self.columns else None
        return {"grouped_by": grouped, "rows": self.rows, "totals": self.totals, **self.details}


@dataclass
class Context:
    store: Store
    profile: dict[str, Any]
    tz: tzinfo
    now: datetime
    unmask: bool = False
    by: str | None = None  # agent, store, affiliate, line: how the rows are grouped
    _names: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        table = self.profile.get("agents")
        table = table if isinstance(table, dict) else {}
        # extension → agent: [agents.extensions], or a profile-wide [extensions] table
        exts = table.get("extensions") or self.profile.get("extensions")
        # every way a person is written (id, display name, extension) → the display name
        self._names: dict[str, str] = {}
        for ident, display in table.items():
            if isinstance(display, str):
                self._names[str(ident)] = display
                self._names[display] = display
        if isinstance(exts, dict):
            for ext, ident in exts.items():
                self._names[str(ext)] = self._names.get(str(ident), str(ident))

    def affiliate_of_site(self, site: Any) -> str:
        """The storefront name of an order's site (``[affiliates.*] site``)."""
        for code, aff in (self.profile.get("affiliates") or {}).items():
            if isinstance(aff, dict) and site and aff.get("site") == site:
                return str(aff.get("name") or code)
        return str(site or "-")

    def agent(self, ext: Any, name: Any = None) -> str | None:
        """One name per person, the profile's display name (``[agents]``) where it knows
        them by id, display name, extension, or the surname the PBX writes first."""
        for key in (ext, name, str(name).split()[0] if name else None):
            if key is not None and str(key).strip() in self._names:
                return self._names[str(key).strip()]
        if name:
            return str(name)
        return str(ext).strip() or None if ext is not None else None


def mask_name(text: Any) -> Any:
    """``Иванова Мария Петровна`` → ``Иванова М. П.``; e-mail and phones keep a hint."""
    if not isinstance(text, str) or not text.strip():
        return text
    if "@" in text:
        user, _, domain = text.partition("@")
        return f"{user[:1]}***@{domain}"
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 6 and len(digits) >= len(text.replace(" ", "")) - 4:
        return text[:-4].translate(str.maketrans("0123456789", "**********")) + text[-4:]
    words = text.split()
    if len(words) == 1:
        return words[0][:1] + "."
    return words[0] + " " + " ".join(w[:1] + "." for w in words[1:])


def _minutes(a: Any, b: Any) -> float | None:
    if not a or not b:
        return None
    try:
        x = datetime.fromisoformat(str(a).replace("Z", "+00:00"))
        y = datetime.fromisoformat(str(b).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (y - x).total_seconds() / 60


# -- agents ------------------------------------------------------------------------------------
def agents_section(ctx: Context, w: Window) -> Section:
    per: dict[str, dict[str, Any]] = {}

    def row(name: str | None) -> dict[str, Any]:
        key = name or "(nobody)"
        return per.setdefault(key, {
            "agent": key, "cases": 0, "handling_minutes": 0.0, "calls_answered": 0,
            "calls_made": 0, "talk_minutes": 0.0, "attempts": 0, "confirmations": 0,
            "changes": 0,
        })  # fmt: skip

    lo, hi = iso(w.start), iso(w.end)
    for c in ctx.store.query(
        "SELECT agent, started_at, closed_at, opened_at FROM cases "
        "WHERE closed_at >= ? AND closed_at < ?",
        (lo, hi),
    ):
        r = row(ctx.agent(c["agent"]))
        r["cases"] += 1
        r["handling_minutes"] += max(0.0, _minutes(c["started_at"] or c["opened_at"],
                                                   c["closed_at"]) or 0.0)  # fmt: skip
    # calls per person in SQL: outbound by the calling extension, inbound by who answered
    # (one sample of the call's extra gives the name the PBX wrote next to the extension)
    for c in ctx.store.query(
        "SELECT direction, CASE WHEN direction = 'outbound' THEN caller END AS who, "
        "CASE WHEN direction = 'inbound' THEN answered_by END AS ans, "
        "MAX(caller_name) AS name, COUNT(*) AS n, SUM(talk_seconds) AS talk, "
        "MAX(extra) AS extra FROM calls WHERE started_at >= ? AND started_at < ? "
        "AND status = 'answered' AND direction IN ('inbound', 'outbound') "
        "GROUP BY direction, CASE WHEN direction = 'outbound' THEN caller END, "
        "CASE WHEN direction = 'inbound' THEN answered_by END",
        (lo, hi),
    ):
        if c["direction"] == "outbound":
            name = ctx.agent(c["who"], c["name"])
            key = "calls_made"
        else:
            sample = json_object(c["extra"])
            name = ctx.agent(c["ans"], sample.get("answered_by_name"))
            key = "calls_answered"
        if name is None:
            continue
        r = row(name)
        r[key] += int(c["n"])
        r["talk_minutes"] += float(c["talk"] or 0) / 60
    for a in ctx.store.query(
        "SELECT agent, outcome, COUNT(*) AS n FROM call_attempts WHERE at >= ? AND at < ? "
        "GROUP BY agent, outcome",
        (lo, hi),
    ):
        r = row(ctx.agent(a["agent"]) or a["agent"])
        r["attempts"] += int(a["n"])
        if a["outcome"] in ("confirmed", "reached"):
            r["confirmations"] += int(a["n"])
    for j in ctx.store.query(
        "SELECT actor, summary FROM journal_runs WHERE started_at >= ? AND started_at < ? "
        "AND undo_of IS NULL AND command NOT LIKE 'demo%' AND command NOT LIKE '% import%'",
        (lo, hi),
    ):
        applied = int(json_object(j["summary"]).get("applied") or 0)
        if applied:
            row(ctx.agent(j["actor"]) or j["actor"])["changes"] += applied
    rows = sorted(per.values(), key=lambda r: (-r["cases"] - r["calls_answered"]
                                               - r["calls_made"], r["agent"]))  # fmt: skip
    for r in rows:
        cases = r["cases"]
        r["avg_handling_minutes"] = round(r["handling_minutes"] / cases, 1) if cases else None
        r["handling_minutes"] = round(r["handling_minutes"], 1)
        r["talk_minutes"] = round(r["talk_minutes"], 1)
    cols = ["agent", "cases", "handling_minutes", "avg_handling_minutes", "calls_answered",
            "calls_made", "talk_minutes", "attempts", "confirmations", "changes"]  # fmt: skip
    totals = {c: round(sum(r[c] or 0 for r in rows), 1) for c in cols[1:]
              if c != "avg_handling_minutes"}  # fmt: skip
    return Section("agents", rows, cols, totals)


# -- mail ----------------------------------------------------------------------------------------
def mail_section(ctx: Context, w: Window) -> Section:
    from deskops.adapters.mailbox import StoreMailbox

    from .bounces import is_bounce
    from .lookup import fold
    from .mail import mailbox_addresses, reply_sla, rule_context, unanswered

    rctx = rule_context(ctx.profile, tz=ctx.tz, now=ctx.now, store=None)
    boxes = mailbox_addresses(ctx.profile)
    box = StoreMailbox(ctx.store)
    sla = reply_sla(ctx.profile)
    # the day's mail and what came within the SLA after it: a reply in time is in there;
    # a later one, or none, is past the SLA either way
    messages = list(box.messages(since=w.start, until=w.end + sla))
    per: dict[str, dict[str, Any]] = {}
    key = ctx.by if ctx.by in ("affiliate", "store") else "mailbox"
    affiliates = ctx.profile.get("affiliates") or {}

    def group_of(mailbox: str | None) -> str:
        """The row a mailbox counts in: itself, or its storefront / store (--by)."""
        box = boxes.get(mailbox or "", {})
        if key == "mailbox":
            return mailbox or "(none)"
        code = box.get(key)
        if key == "affiliate" and code in affiliates:
            return str(affiliates[code].get("name") or code)
        return str(code or "(main)")

    bounces = 0
    for m in messages:
        if not (w.start <= m.date < w.end):
            continue
        label = group_of(m.mailbox)
        r = per.setdefault(label, {
            key: label, "zone": str(boxes.get(m.mailbox or "", {}).get("zone", "")),
            "received": 0, "answered": 0, "unanswered_past_sla": 0, "bounces": 0,
        })  # fmt: skip
        if fold(m.from_addr) in rctx.our_addresses:
            r["answered"] += 1
        else:
            r["received"] += 1
            if m.raw and is_bounce(m.raw):
                r["bounces"] += 1
                bounces += 1
    late = [u for u in unanswered(messages, ctx.profile, rctx, older_than=sla)
            if u["problem"] != "reply without signature"
            and w.start <= datetime.fromisoformat(u["date"]) < w.end]  # fmt: skip
    per_zone: dict[str, int] = {}
    for u in late:
        per_zone[u["zone"] or "-"] = per_zone.get(u["zone"] or "-", 0) + 1
        if group_of(u["mailbox"]) in per:
            per[group_of(u["mailbox"])]["unanswered_past_sla"] += 1
    not_converted = [
        {"date": r["date"], "customer": r["customer"] if ctx.unmask else mask_name(r["customer"]),
         "store": r["store"], "subject": r["subject"]}
        for r in ctx.store.query(
            "SELECT date, customer, store, subject FROM report_records WHERE kind = ? "
            "AND date >= ? AND date <= ? ORDER BY date, store",
            ("not_converted", w.first.isoformat(), w.last.isoformat()),
        )
    ]  # fmt: skip
    rows = sorted(per.values(), key=lambda r: (r["zone"], r[key]))
    cols = [key, "zone", "received", "answered", "unanswered_past_sla", "bounces"]
    totals = {c: sum(r[c] for r in rows) for c in cols[2:]}
    totals.update({"not_converted": len(not_converted),
                   "sla_minutes": int(sla.total_seconds() // 60),
                   "unanswered_by_zone": per_zone})  # fmt: skip
    details = {"not_converted": not_converted}
    return Section("mail", rows, cols, totals, details)


# -- orders --------------------------------------------------------------------------------------
def orders_section(ctx: Context, w: Window) -> Section:
    from .orders import _table, orders_config, stale_orders

    cfg = orders_config(ctx.profile, ctx.tz)
    lo, hi = iso(w.start), iso(w.end)
    per: dict[str, dict[str, Any]] = {}
    group_col = "affiliate" if ctx.by == "affiliate" else "agent"
    by_site = group_col == "affiliate"
    for a in ctx.store.query(
        "SELECT a.agent, a.outcome, o.site, COUNT(*) AS n FROM call_attempts a "
        "LEFT JOIN orders o ON a.target = 'orders:' || o.id WHERE a.at >= ? AND a.at < ? "
        "AND a.target LIKE 'orders:%' GROUP BY a.agent, a.outcome, o.site"
        if by_site
        else "SELECT agent, outcome, COUNT(*) AS n FROM call_attempts WHERE at >= ? AND at < ? "
        "AND target LIKE 'orders:%' GROUP BY agent, outcome",
        (lo, hi),
    ):
        name = (ctx.affiliate_of_site(a["site"]) if by_site
                else ctx.agent(a["agent"]) or a["agent"])  # fmt: skip
        r = per.setdefault(name, {group_col: name, "confirmed": 0, "no_answer": 0, "cancelled": 0,
                                  "other": 0})  # fmt: skip
        key = {"confirmed": "confirmed", "no-answer": "no_answer", "cancelled": "cancelled"}.get(
            a["outcome"], "other"
        )
        r[key] += int(a["n"])
    dup_status = str(_table(ctx.profile, "orders", "duplicates").get("status") or "")
    duplicates = 0
    if dup_status:
        code = dup_status
        for c, label in cfg.statuses.items():
            if dup_status in (c, label):
                code = c if cfg.status_stored_as == "code" else label
        duplicates = int(ctx.store.scalar(
            "SELECT COUNT(*) FROM journal_entries WHERE at >= ? AND at < ? AND field = 'status' "
            "AND op = 'set' AND outcome = 'applied' AND after = ?",
            (lo, hi, json.dumps(code, ensure_ascii=False)),
        ) or 0)  # fmt: skip
    rules = _table(ctx.profile, "statuses", "rules")
    watched = rules.get("left_at_shift_end_is_violation")
    watched = str(watched[0] if isinstance(watched, list) else watched or "")
    stale: list[dict[str, Any]] = []
    if watched:
        shift = str(_table(ctx.profile, "report").get("shift_end") or "21:00")
        hh, mm = (int(x) for x in shift.split(":"))
        end = datetime.combine(w.last, time(hh, mm), ctx.tz)
        from deskops.adapters.orders import OrderQuery, StoreOrders

        status = cfg.status(watched)
        orders = StoreOrders(ctx.store).orders(OrderQuery(statuses=[status]))
        stale = stale_orders(orders, cfg, status, end)
    left: dict[str, int] = {}
    for o in stale:
        left[str(o.get("manager") or "-")] = left.get(str(o.get("manager") or "-"), 0) + 1
    rows = sorted(per.values(), key=lambda r: r[group_col])
    cols = [group_col, "confirmed", "no_answer", "cancelled", "other"]
    totals = {c: sum(r[c] for r in rows) for c in cols[1:]}
    totals.update({"duplicates_cancelled": duplicates, "left_in_status": watched or None,
                   "left_at_shift_end": len(stale)})  # fmt: skip
    details = {"left_by_manager": [{"manager": k, "orders": v} for k, v in sorted(left.items())]}
    return Section("orders", rows, cols, totals, details)


# -- calls ---------------------------------------------------------------------------------------
def calls_section(ctx: Context, w: Window) -> Section:
    from .calls import billing_check, calls_config, missed

    cfg = calls_config(ctx.profile, ctx.tz)
    callers, handled, hidden = missed(ctx.store, cfg, w.start, w.end, counts=True)
    per: dict[str, dict[str, Any]] = {}
    for c in callers:
        r = per.setdefault(c.line or "-", {"line": c.line or "-", "missed_callers": 0,
                                           "reached": 0, "still_open": 0, "misses": 0})  # fmt: skip
        r["missed_callers"] += 1
        r["misses"] += c.misses
        r["reached" if c.handled else "still_open"] += 1
    called_back = int(ctx.store.scalar(
        "SELECT COUNT(*) FROM call_attempts WHERE target LIKE 'caller:%' AND at >= ? AND at < ?",
        (iso(w.start), iso(w.end)),
    ) or 0)  # fmt: skip
    days = (w.last - w.first).days + 1
    billing = billing_check(ctx.store, cfg, w.first, days=days, details=False)
    deviations = sum(s["deviations"] for s in billing.summary)
    difference = sum(s["difference"] for s in billing.summary)
    rows = sorted(per.values(), key=lambda r: -r["missed_callers"])
    cols = ["line", "missed_callers", "misses", "reached", "still_open"]
    totals = {c: sum(r[c] for r in rows) for c in cols[1:]}
    totals.update({"callbacks_recorded": called_back, "no_callable_number": hidden,
                   "billing_deviations": deviations,
                   "billing_difference": round(difference, 2)})  # fmt: skip
    return Section("calls", rows, cols, totals)


# -- returns -------------------------------------------------------------------------------------
def returns_section(ctx: Context, w: Window) -> Section:
    per: dict[str, dict[str, Any]] = {}
    by_site = ctx.by == "affiliate"
    for r in ctx.store.query(
        "SELECT r.type, r.reason, r.refund_amount, o.site FROM returns r "
        "LEFT JOIN orders o ON o.id = r.order_id WHERE r.created_at >= ? AND r.created_at < ?",
        (iso(w.start), iso(w.end)),
    ):
        group = ctx.affiliate_of_site(r["site"]) if by_site else r["reason"]
        row = per.setdefault(f"{r['type']}|{group}", {
            "type": r["type"], "affiliate" if by_site else "reason": group, "created": 0,
            "refunds": 0.0})  # fmt: skip
        row["created"] += 1
        row["refunds"] += float(r["refund_amount"] or 0)
    due = [
        {"payout_date": r["payout_date"], "refunds": int(r["n"]),
         "amount": round(float(r["amount"] or 0), 2)}
        for r in ctx.store.query(
            "SELECT payout_date, COUNT(*) AS n, SUM(refund_amount) AS amount FROM returns "
            "WHERE payout_date >= ? AND refund_amount IS NOT NULL GROUP BY payout_date "
            "ORDER BY payout_date",
            (w.first.isoformat(),),
        )
    ]  # fmt: skip
    label = "affiliate" if by_site else "reason"
    rows = sorted(per.values(), key=lambda r: (r["type"] or "", r[label] or ""))
    for r in rows:
        r["refunds"] = round(r["refunds"], 2)
    cols = ["type", label, "created", "refunds"]
    totals = {"created": sum(r["created"] for r in rows),
              "refunds": round(sum(r["refunds"] for r in rows), 2),
              "refunds_due": round(sum(d["amount"] for d in due), 2)}  # fmt: skip
    return Section("returns", rows, cols, totals, {"refunds_due": due})


# -- reservations --------------------------------------------------------------------------------
RESERVATION_OK = {"已确认", "已完成", "爽约", "confirmed", "completed", "no_show"}
RESERVATION_DONE = {"已完成", "completed"}


def _kpi(profile: dict[str, Any], key: str, name: str, default: int) -> int:
    items = (profile.get("kpi") or {}).get("items") if isinstance(profile.get("kpi"), dict) else []
    for it in items or []:
        if isinstance(it, dict) and it.get("key") == key and it.get(name) is not None:
            return int(it[name])
    return default


def reservations_section(ctx: Context, w: Window) -> Section:
    on_time = _kpi(ctx.profile, "on_time_rate", "tolerance_minutes", 10)
    handle = _kpi(ctx.profile, "handling_timeliness", "target_minutes", 30)
    per: dict[str, dict[str, Any]] = {}
    for r in ctx.store.query(
        "SELECT store, status, starts_at, created_at, satisfaction, extra FROM reservations "
        "WHERE starts_at >= ? AND starts_at < ?",
        (iso(w.start), iso(w.end)),
    ):
        s = per.setdefault(r["store"] or "-", {
            "store": r["store"] or "-", "reservations": 0, "ok": 0, "completed": 0,
            "on_time": 0, "rated": 0, "rating_sum": 0, "rated_4_5": 0, "confirmed": 0,
            "confirmed_in_time": 0, "complaints": 0})  # fmt: skip
        extra = json_object(r["extra"])
        s["reservations"] += 1
        s["ok"] += r["status"] in RESERVATION_OK
        if r["status"] in RESERVATION_DONE:
            s["completed"] += 1
            late = _minutes(r["starts_at"], extra.get("service_started_at"))
            s["on_time"] += late is not None and late <= on_time
        if r["satisfaction"]:
            s["rated"] += 1
            s["rating_sum"] += int(r["satisfaction"])
            s["rated_4_5"] += int(r["satisfaction"]) >= 4
        if extra.get("confirmed_at"):
            s["confirmed"] += 1
            took = _minutes(r["created_at"], extra.get("confirmed_at"))
            s["confirmed_in_time"] += took is not None and took <= handle
        s["complaints"] += bool(extra.get("complaint"))
    rows = []
    for s in sorted(per.values(), key=lambda x: x["store"]):
        rows.append({
            "store": s["store"], "reservations": s["reservations"],
            "success_rate": _rate(s["ok"], s["reservations"]),
            "on_time_rate": _rate(s["on_time"], s["completed"]),
            "satisfaction": round(s["rating_sum"] / s["rated"], 2) if s["rated"] else None,
            "satisfied_share": _rate(s["rated_4_5"], s["rated"]),
            "confirmed_in_time": _rate(s["confirmed_in_time"], s["confirmed"]),
            "complaint_rate": _rate(s["complaints"], s["completed"]),
            "complaints": s["complaints"],
        })  # fmt: skip
    cols = ["store", "reservations", "success_rate", "on_time_rate", "satisfaction",
            "satisfied_share", "confirmed_in_time", "complaint_rate", "complaints"]  # fmt: skip
    keys = ("reservations", "ok", "completed", "on_time", "rated", "rating_sum", "complaints")
    total = {k: sum(s[k] for s in per.values()) for k in keys}
    totals = {
        "reservations": total["reservations"],
        "success_rate": _rate(total["ok"], total["reservations"]),
        "on_time_rate": _rate(total["on_time"], total["completed"]),
        "satisfaction": round(total["rating_sum"] / total["rated"], 2) if total["rated"] else None,
        "complaint_rate": _rate(total["complaints"], total["completed"]),
    }
    return Section("reservations", rows, cols, totals)


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 3) if d else None


# -- the report ----------------------------------------------------------------------------------
BUILDERS = {
    "agents": agents_section,
    "mail": mail_section,
    "orders": orders_section,
    "calls": calls_section,
    "returns": returns_section,
    "reservations": reservations_section,
}


def periods(first: date, last: date, by: str, tz: tzinfo) -> list[Window]:
    """Windows of ``by`` (day, week from Monday, month, quarter) covering first..last."""
    if by not in ("day", "week", "month", "quarter"):
        raise UsageError(f"--by {by!r}; valid: day, week, month, quarter")
    out = []
    start = first
    while start <= last:
        if by == "day":
            nxt = start + timedelta(days=1)
        elif by == "week":
            nxt = start + timedelta(days=7 - start.weekday())
        else:
            step = 1 if by == "month" else 3 - (start.month - 1) % 3
            y, m = divmod(start.month - 1 + step, 12)
            nxt = date(start.year + y, m + 1, 1)
        end = min(nxt - timedelta(days=1), last)
        out.append(day_window(start, tz, (end - start).days + 1))
        start = end + timedelta(days=1)
    return out


def pick_sections(names: Iterable[str] | None) -> list[str]:
    chosen = list(names or []) or list(SECTIONS)
    bad = [n for n in chosen if n not in SECTIONS]
    if bad:
        raise UsageError(f"--section {bad[0]!r}; valid: {', '.join(SECTIONS)}")
    return chosen


def build(ctx: Context, w: Window, sections: Iterable[str]) -> dict[str, Section]:
    return {name: BUILDERS[name](ctx, w) for name in sections}


# A range of periods over a big store is worked on by several processes, one period each:
# the sections are scans and sorts of months of calls and cases, a core each.
PARALLEL_FROM = 50_000  # events in the range (calls, cases, messages) before it pays


def build_periods(
    ctx: Context, windows: list[Window], sections: list[str], workers: int | None = None
) -> list[dict[str, Section]]:
    """:func:`build` for each window, in order. ``workers``: processes to use (None: as
    many as there are cores when the range holds enough events to be worth it)."""
    if workers is None:
        workers = _workers(ctx, windows)
    workers = max(1, min(workers, len(windows)))
    if workers == 1:
        return [build(ctx, w, sections) for w in windows]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    spec = (ctx.store.url, ctx.profile, ctx.tz, ctx.now, ctx.unmask, ctx.by)
    # one task per period and section, the longest periods and the heaviest sections first,
    # so that no worker is left alone with a big one at the end
    tasks = sorted(
        ((i, name) for i in range(len(windows)) for name in sections),
        key=lambda t: (windows[t[0]].start - windows[t[0]].end, HEAVY.get(t[1], 9)),
    )
    # spawn: a worker opens its own connection; it inherits no open database handle
    with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn")) as pool:
        built = pool.map(_build_one, [(spec, windows[i], name) for i, name in tasks])
        done = dict(zip(tasks, built, strict=True))
    return [{name: done[i, name] for name in sections} for i in range(len(windows))]


HEAVY = {"calls": 0, "agents": 1, "mail": 2, "reservations": 3}  # the order tasks start in


def _build_one(job: tuple[tuple[Any, ...], Window, str]) -> Section:
    (url, profile, tz, now, unmask, by), w, name = job
    store = _worker_store.get(url)
    if store is None:
        store = _worker_store[url] = Store.open(url, migrate=False)
    return BUILDERS[name](Context(store, profile, tz, now, unmask, by), w)


_worker_store: dict[str, Store] = {}  # a worker's connection, kept for its next tasks


def _workers(ctx: Context, windows: list[Window]) -> int:
    import os

    if len(windows) < 2:
        return 1
    wanted = os.environ.get("OPS_REPORT_WORKERS")
    if wanted:
        try:
            return max(1, int(wanted))
        except ValueError:
            raise UsageError(f"OPS_REPORT_WORKERS={wanted!r}: expected a number") from None
    lo, hi = iso(windows[0].start), iso(windows[-1].end)
    seen = 0
    for table, column in (("calls", "started_at"), ("cases", "closed_at"), ("messages", "date")):
        seen += int(ctx.store.scalar(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {column} >= ? AND {column} < ? "
            f"LIMIT {PARALLEL_FROM}) t",
            (lo, hi),
        ) or 0)  # fmt: skip
        if seen >= PARALLEL_FROM:
            return os.cpu_count() or 1
    return 1


def document(w: Window, sections: dict[str, Section], profile_name: str) -> dict[str, Any]:
    return {
        "report": "daily" if w.first == w.last else "range",
        "profile": profile_name,
        "from": w.first.isoformat(),
        "to": w.last.isoformat(),
        "sections": {k: s.as_dict() for k, s in sections.items()},
    }


def summary_text(doc: dict[str, Any]) -> str:
    """A few lines for a chat: each section's totals."""
    lines = [f"ops report {doc['profile']} {doc['from']}"
             + ("" if doc["from"] == doc["to"] else f"..{doc['to']}")]  # fmt: skip
    for name, sec in doc["sections"].items():
        parts = [f"{k} {v}" for k, v in sec["totals"].items()
                 if isinstance(v, int | float) and not isinstance(v, bool)]  # fmt: skip
        if parts:
            lines.append(f"{name}: " + ", ".join(parts))
    return "\n".join(lines)
