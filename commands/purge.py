"""Retention: personal data past its period removed from the store and from the journal —
the only deletion ops performs (procedures: stores-zh "Customer data … keep it for a set
period, then delete it").

Periods, per record type, from the profile::

    [retention]
    default = "365d"          # every type without its own; else [data] retention_days
    customers = "3y"          # counted from the last activity (for a customer: also of
    messages = "180d"         # the records, calls and mail tied to it)
    personal_extra = ["survey_comment"]   # more ``extra`` keys that hold personal data

(``365``, ``365d``, ``52w``, ``18mo``, ``3y``); ``--older-than`` overrides them all. A type
without a period is left alone. A record's last activity is the latest of its time fields
(:data:`KINDS`); a record without any is left alone too.

What happens to a record past its period (:data:`KINDS`): no record is deleted; its
personal fields are blanked and it keeps what reports count (store, service, times,
status, topic, agent, line, durations, totals, satisfaction), its id and its links.

- a customer registration loses its name, kana, phones, e-mails, notes and "other" (a
  registration is never deleted: ``schema.CUSTOMERS`` is not deletable, and support-ja's
  ``[crm] never_delete`` says why — it carries the customer's orders and history;
  company, region and store stay). Its last activity is also that of every record tied
  to it (:data:`CONTACTS`: by customer id, or a reservation, case, order, call or mail
  from one of its numbers or addresses);
- a reservation its customer name, contact, e-mail and notes; a case its subject, text
  and caller number; a message its addresses, subject, text, headers and raw source; a
  thread its subject; a call the customer's number (the caller of an inbound call, the
  callee of an outbound one — the other side is an extension the reports count); a
  callback its number and note; an order its name, phone, e-mail and address; a return
  its refund details; a note its text;
- and every record the personal ``extra`` keys (:data:`PERSONAL_EXTRA`, plus
  ``[retention] personal_extra``).

The purge is journaled as ordinary ``set`` changes on the backend ``purge``,
whose before is ``(personal data)`` and after nothing: the journal records *that* fields
were blanked, not what they held — a purge whose journal kept the data would defeat it.
So a purge cannot be undone (``ops undo`` cannot reopen its backend). The journal's older
entries that hold personal data of those records — their creates, changes and deletes,
and the messages sent about them (``outbox`` entries whose key names the record or whose
recipient is one of its numbers or addresses) — are redacted in the same transaction, as
are entries about records of a purged type that no longer exist and are older than its
period. Runs stay listed; ``sent`` outbox entries still say a message went out, so nothing
is sent twice.

Only the store is purged: a mailbox, a PBX, kintone or a shop system keep their own data
(kintone refuses deletes anyway).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from deskops.adapters.errors import OpsError, UsageError
from deskops.adapters.schema import (
    CALL_ATTEMPTS,
    CALLS,
    CASES,
    CUSTOMERS,
    MESSAGES,
    NOTES,
    ORDERS,
    RESERVATIONS,
    RETURNS,
    THREADS,
    Entity,
)
from deskops.adapters.store import Store

from .clock import iso
from .lookup import EMAIL_RE
from .plan import SET, Change, Plan, dumps, loads

MARK = "(personal data)"  # the before of a purge change: something was there, not what
BACKEND = "purge"
CALLER = "caller:"  # call_attempts.target of a callback, followed by the number
PERSONAL_EXTRA = (
    "requester", "raw_request", "survey_comment", "complaint", "contact", "phone", "phones",
    "email", "emails", "name", "address", "birthday", "birth_date", "order_email",
)  # fmt: skip
SAFE_OUTBOX = ("channel", "template", "route", "from", "mentions")  # kept of a message sent


def _calls_fields(rec: dict[str, Any]) -> tuple[str, ...]:
    """The customer's side of a call: caller of an inbound call, callee of an outbound one
    (the other side is an extension the reports count per agent)."""
    direction = str(rec.get("direction") or "")
    if direction == "inbound":
        return ("caller", "caller_name", "number")
    if direction == "outbound":
        return ("callee", "number")
    return ("number",)


@dataclass(frozen=True)
class Kind:
    name: str
    entity: Entity
    activity: tuple[str, ...]  # the last activity is the latest of these
    fields: tuple[str, ...]  # personal fields (every one a record may have)
    fields_of: Callable[[dict[str, Any]], tuple[str, ...]] | None = None  # per record

    def personal_fields(self, rec: dict[str, Any]) -> tuple[str, ...]:
        return self.fields_of(rec) if self.fields_of is not None else self.fields


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("customers", CUSTOMERS, ("created_at", "updated_at", "extra.last_visit"),
             ("name", "name_kana", "notes", "other", "phones", "emails")),
        Kind("reservations", RESERVATIONS, ("created_at", "updated_at", "starts_at", "ends_at"),
             ("customer_name", "contact", "email", "notes")),
        Kind("cases", CASES, ("opened_at", "started_at", "closed_at"),
             ("subject", "body", "caller_number")),
        Kind("messages", MESSAGES, ("date",),
             ("from_addr", "from_name", "to_addrs", "cc_addrs", "reply_to", "subject",
              "body_text", "attachments", "headers", "raw")),
        Kind("threads", THREADS, ("last_message_at",), ("subject",)),
        Kind("calls", CALLS, ("started_at",), ("caller", "caller_name", "callee", "number"),
             fields_of=_calls_fields),
        Kind("call_attempts", CALL_ATTEMPTS, ("at",), ("note", "target")),
        Kind("notes", NOTES, ("at",), ("text",)),
        Kind("orders", ORDERS, ("created_at", "updated_at", "delivery_date"),
             ("customer_name", "phone", "email", "address")),
        Kind("returns", RETURNS, ("created_at", "handed_in_at", "payout_date"),
             ("refund_details",)),
    )
}  # fmt: skip
# what ties a record to a customer registration, so that its times count as the customer's
# activity too: the customer id, or one of the customer's numbers or addresses
CONTACTS: dict[str, tuple[str | None, tuple[str, ...], tuple[str, ...]]] = {
    "reservations": ("customer_id", ("contact",), ("email",)),
    "cases": ("customer_id", ("caller_number",), ()),
    "orders": ("customer_id", ("phone",), ("email",)),
    "threads": ("customer_id", (), ()),
    "messages": (None, (), ("from_addr",)),
    "calls": (None, ("number", "caller", "callee"), ()),
}


# -- periods -----------------------------------------------------------------------------------
_DURATION = re.compile(
    r"^\s*(\d+)\s*(d|days?|w|weeks?|mo|months?|y|years?)?\s*$", re.IGNORECASE
)  # fmt: skip


def _months_back(day: date, months: int) -> date:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    m += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(y, m, d)
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def cutoff_of(value: Any, now: datetime, tz: tzinfo, where: str) -> datetime:
    """The instant before which a record's last activity is past ``value``: a duration
    (days by default; ``w``, ``mo``, ``y``) back from now, or a date (its start, in ``tz``)."""
    if isinstance(value, bool) or value is None:
        raise UsageError(f"{where}: expected a period like 365d, 18mo, 3y, or a date")
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time(0), tz).astimezone(UTC)
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise UsageError(f"{where}: {text!r} is not a date") from None
        cut = datetime.combine(day, time(0), tz).astimezone(UTC)
        if cut > now:
            raise UsageError(f"{where}: {text} is in the future")
        return cut
    m = _DURATION.match(text)
    if not m:
        raise UsageError(
            f"{where}: {text!r} is not a period (like 365d, 52w, 18mo, 3y) or a date (YYYY-MM-DD)"
        )
    n, unit = int(m.group(1)), (m.group(2) or "d").lower()
    if n <= 0:
        raise UsageError(f"{where}: the period must be longer than 0")
    local = now.astimezone(tz)
    if unit.startswith("d"):
        return now - timedelta(days=n)
    if unit.startswith("w"):
        return now - timedelta(weeks=n)
    months = n if unit.startswith("mo") else 12 * n
    day = _months_back(local.date(), months)
    return datetime.combine(day, local.time(), tz).astimezone(UTC)


@dataclass
class Period:
    kind: str
    text: str  # as configured ("365d", "[data] retention_days 365")
    cutoff: datetime


def retention(
    profile: dict[str, Any],
    now: datetime,
    tz: tzinfo,
    *,
    older_than: str | None = None,
    types: Iterable[str] | None = None,
) -> tuple[dict[str, Period], tuple[str, ...]]:
    """(the period of each record type that has one, the personal ``extra`` keys)."""
    section = profile.get("retention")
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise UsageError("[retention]: expected a table")
    valid = {*KINDS, "default", "personal_extra"}
    unknown = sorted(set(section) - valid)
    if unknown:
        raise UsageError(
            f"[retention] {unknown[0]}: unknown key; valid: {', '.join(sorted(valid))}"
        )
    extra = section.get("personal_extra") or []
    if not isinstance(extra, list) or not all(isinstance(k, str) for k in extra):
        raise UsageError("[retention] personal_extra: expected a list of extra keys")
    wanted = list(KINDS) if not types else list(dict.fromkeys(types))
    bad = [t for t in wanted if t not in KINDS]
    if bad:
        raise UsageError(f"--type {bad[0]}: not purged; valid: {', '.join(KINDS)}")
    data = profile.get("data")
    days = data.get("retention_days") if isinstance(data, dict) else None
    default: tuple[Any, str] | None = None
    if section.get("default") is not None:
        default = (section["default"], "[retention] default")
    elif days is not None:
        if isinstance(days, bool) or not isinstance(days, int):
            raise UsageError("[data] retention_days: expected a number of days")
        default = (days, "[data] retention_days")
    out: dict[str, Period] = {}
    for kind in wanted:
        if older_than is not None:
            given: tuple[Any, str] | None = (older_than, "--older-than")
        elif section.get(kind) is not None:
            given = (section[kind], f"[retention] {kind}")
        else:
            given = default
        if given is None:
            continue
        value, where = given
        shown = f"{value}d" if isinstance(value, int) and not isinstance(value, bool) else value
        out[kind] = Period(kind, str(shown), cutoff_of(value, now, tz, where))
    return out, tuple(dict.fromkeys([*PERSONAL_EXTRA, *extra]))


# -- values ------------------------------------------------------------------------------------
def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _when(value: Any, tz: tzinfo) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tz)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=tz)


def _field(rec: dict[str, Any], name: str) -> Any:
    if name.startswith("extra."):
        extra = rec.get("extra")
        return extra.get(name[6:]) if isinstance(extra, dict) else None
    return rec.get(name)


def last_activity(kind: Kind, rec: dict[str, Any], tz: tzinfo) -> datetime | None:
    times = [t for t in (_when(_field(rec, n), tz) for n in kind.activity) if t is not None]
    return max(times) if times else None


def blank_of(kind: Kind, name: str, value: Any = None) -> Any:
    """What a personal field becomes: an empty list, ``caller:`` for a callback's target,
    else nothing."""
    if name in kind.entity.children:
        return []
    if kind.name == "call_attempts" and name == "target":
        return CALLER
    return None


def personal(
    kind: Kind, rec: dict[str, Any], extra_keys: Iterable[str], only: Iterable[str] | None = None
) -> list[str]:
    """The personal fields of ``rec`` that still hold something (``extra.<key>`` for
    ``extra`` keys)."""
    names = [*kind.personal_fields(rec), *(f"extra.{k}" for k in extra_keys)]
    if only is not None:
        keep = set(only)
        names = [n for n in names if n in keep]
    out = []
    for name in names:
        value = _field(rec, name)
        if kind.name == "call_attempts" and name == "target":
            if isinstance(value, str) and value.startswith(CALLER) and value != CALLER:
                out.append(name)  # only a callback's target carries a number
            continue
        if not _empty(value):
            out.append(name)
    return out


NUMBER = re.compile(r"\+?\d[\d\-() ]{7,}\d")


def contact_keys(value: Any) -> set[str]:
    """The e-mail addresses (lower case) and numbers (last nine digits) in a value, texts
    included: what a message's recipient is compared with."""
    out: set[str] = set()
    for text in _strings(value):
        out.update(m.lower() for m in EMAIL_RE.findall(text))
        out.update(k for k in (_phone_key(m) for m in NUMBER.findall(text)) if k)
    return out


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


# -- the plan ----------------------------------------------------------------------------------
@dataclass
class KindPlan:
    kind: str
    period: Period
    records: int = 0
    undated: int = 0  # without any time: left alone
    expired: int = 0
    blank: int = 0
    fields: Counter[str] = field(default_factory=Counter)

    def row(self, tz: tzinfo) -> dict[str, Any]:
        return {
            "type": self.kind,
            "period": self.period.text,
            "before": self.period.cutoff.astimezone(tz).isoformat(timespec="seconds"),
            "records": self.records,
            "expired": self.expired,
            "blank": self.blank,
            "undated": self.undated,
            "fields": ", ".join(f"{k} {v}" for k, v in sorted(self.fields.items())),
        }


ROW_FIELDS = ["type", "period", "before", "records", "expired", "blank", "undated", "fields"]
RECORD_FIELDS = ["type", "id", "last_activity", "fields"]


@dataclass
class Purge:
    plan: Plan
    kinds: list[KindPlan]
    extra_keys: tuple[str, ...]
    expired: dict[str, set[str]]  # type → ids past the period
    cutoffs: dict[str, datetime]
    values: set[str]  # numbers and addresses in what is blanked (:func:`contact_keys`)
    items: list[dict[str, Any]]  # per record: type, id, last activity, fields
    journal: int = 0  # journal entries to redact

    def rows(self, tz: tzinfo) -> list[dict[str, Any]]:
        rows = [k.row(tz) for k in self.kinds]
        rows.append({"type": "journal", "period": "", "before": "", "records": "",
                     "expired": "", "blank": self.journal, "undated": "",
                     "fields": "before/after of older entries"})  # fmt: skip
        return rows


def _phone_key(value: Any) -> str | None:
    """The last nine digits of a number: ``+81 70-4999-4264`` and ``07049994264`` meet. A
    chance match only keeps a registration longer."""
    digits = re.sub(r"\D", "", str(value or ""))
    return digits[-9:] if len(digits) >= 9 else None


def _linked_activity(store: Store, tz: tzinfo) -> dict[str, datetime]:
    """Customer id → the latest activity of the records tied to it (:data:`CONTACTS`)."""
    by_phone: dict[str, set[str]] = {}
    by_email: dict[str, set[str]] = {}
    for row in store.iter_query("SELECT parent_id, phone FROM customer_phones"):
        key = _phone_key(row["phone"])
        if key:
            by_phone.setdefault(key, set()).add(str(row["parent_id"]))
    for row in store.iter_query("SELECT parent_id, email FROM customer_emails"):
        if row["email"]:
            by_email.setdefault(str(row["email"]).strip().lower(), set()).add(str(row["parent_id"]))
    out: dict[str, datetime] = {}
    for name, (id_col, phone_cols, email_cols) in CONTACTS.items():
        kind = KINDS[name]
        times = [n for n in kind.activity if not n.startswith("extra.")]
        cols = [c for c in (id_col, *phone_cols, *email_cols) if c]
        rows = store.iter_query(
            f"SELECT {', '.join(dict.fromkeys([*cols, *times]))} FROM {kind.entity.table}"
        )
        for row in rows:
            found = [t for t in (_when(row[c], tz) for c in times) if t is not None]
            if not found:
                continue
            latest = max(found)
            who: set[str] = set()
            if id_col and row[id_col]:
                who.add(str(row[id_col]))
            for c in phone_cols:
                key = _phone_key(row[c])
                who.update(by_phone.get(key, ()) if key else ())
            for c in email_cols:
                for address in re.findall(r"[\w.+-]+@[\w.-]+", str(row[c] or "")):
                    who.update(by_email.get(address.lower(), ()))
            for cid in who:
                if cid not in out or out[cid] < latest:
                    out[cid] = latest
    return out


def plan_purge(
    store: Store,
    profile: dict[str, Any],
    tz: tzinfo,
    now: datetime,
    *,
    older_than: str | None = None,
    types: Iterable[str] | None = None,
) -> Purge:
    """What a purge would change now; reads only."""
    periods, extra_keys = retention(profile, now, tz, older_than=older_than, types=types)
    if not periods:
        raise UsageError(
            "no retention period: set [retention] (or [data] retention_days) in the profile, "
            "or give --older-than"
        )
    plan = Plan(command="store purge" + (f" --older-than {older_than}" if older_than else ""))
    purge = Purge(plan, [], extra_keys, {}, {k: p.cutoff for k, p in periods.items()}, set(), [])
    linked = _linked_activity(store, tz) if "customers" in periods else {}
    for name, period in periods.items():
        kind = KINDS[name]
        kp = KindPlan(name, period)
        purge.kinds.append(kp)
        ids = purge.expired.setdefault(name, set())
        for rec in store.iter_records(kind.entity, children=bool(kind.entity.children)):
            kp.records += 1
            latest = last_activity(kind, rec, tz)
            if name == "customers" and str(rec["id"]) in linked:
                other = linked[str(rec["id"])]
                latest = other if latest is None or other > latest else latest
            if latest is None:
                kp.undated += 1
                continue
            if latest >= period.cutoff:
                continue
            kp.expired += 1
            rid = str(rec["id"])
            ids.add(rid)
            held = personal(kind, rec, extra_keys)
            if not held:
                continue  # blank already
            for n in held:
                purge.values.update(contact_keys(_field(rec, n)))
            kp.blank += 1
            kp.fields.update(held)
            reason = f"retention {period.text}: last activity {iso(latest)}"
            plan.add(Change(f"{name}:{rid}", ",".join(held), SET, MARK, None, reason, BACKEND))
            purge.items.append({"type": name, "id": rid,
                                "last_activity": latest.astimezone(tz).isoformat(),
                                "fields": ", ".join(held)})  # fmt: skip
    scrub = JournalScrub(store, purge)
    purge.journal = len(scrub.find())
    if purge.journal or plan.changes:
        plan.add(Change("journal:entries", "before,after", SET, MARK, None,
                        "personal data of the purged records", BACKEND))  # fmt: skip
    return purge


# -- the journal -------------------------------------------------------------------------------
class JournalScrub:
    """The journal entries that hold personal data of purged records, and their redaction:
    personal fields set to nothing (as the purge left the records), messages about them
    cut down to their channel and template."""

    def __init__(self, store: Store, purge: Purge) -> None:
        self.store = store
        self.purge = purge
        self.all_ids = {i for ids in purge.expired.values() for i in ids}

    def redact(self, kind: Kind, name: str, value: Any) -> Any:
        if value is None:
            return None
        if name == "*" and isinstance(value, dict):
            out = dict(value)
            for n in kind.personal_fields(value):
                if n in out and not _empty(out[n]):
                    out[n] = self.redact(kind, n, out[n])
            if isinstance(out.get("extra"), dict):
                out["extra"] = self.redact(kind, "extra", out["extra"])
            return out
        if name == "extra" and isinstance(value, dict):
            return {k: v for k, v in value.items() if k not in self.purge.extra_keys}
        if kind.name == "call_attempts" and name == "target":
            return CALLER if str(value).startswith(CALLER) else value  # only callbacks
        if name in kind.fields or name.startswith("extra."):
            return blank_of(kind, name)
        return value

    def redact_send(self, value: Any) -> Any:
        if not isinstance(value, dict):
            return None
        return {**{k: v for k, v in value.items() if k in SAFE_OUTBOX}, "purged": True}

    def _about_purged(self, target: str, after: Any) -> bool:
        key = target.removeprefix("outbox:")
        # the key names the record (confirm-YX2601140012-sms, escalate:18338:custom); a short
        # number in it is a date or an hour (report-…-2026-01-13-…), not an id
        tokens = [t for t in re.split(r"[-:]", key) if not (t.isdigit() and len(t) < 4)]
        if any(token in self.all_ids for token in tokens):
            return True
        to = after.get("to") if isinstance(after, dict) else None
        return bool(contact_keys(to) & self.purge.values)

    def find(self) -> list[tuple[str, int, str | None, str | None]]:
        """(run id, seq, new before, new after) of every entry to redact."""
        out: list[tuple[str, int, str | None, str | None]] = []
        gone: dict[str, list[dict[str, Any]]] = {}
        cut = {k: iso(c) for k, c in self.purge.cutoffs.items()}
        rows = self.store.iter_query(
            "SELECT run_id, seq, target, field, op, before, after, at FROM journal_entries "
            "WHERE backend <> ? AND (before IS NOT NULL OR after IS NOT NULL)",
            (BACKEND,),
        )
        for row in rows:
            kind_name, _, rid = str(row["target"]).partition(":")
            if kind_name == "outbox":
                if row["op"] != "send" or row["after"] is None:
                    continue
                after = loads(row["after"])
                if isinstance(after, dict) and after.get("purged"):
                    continue
                if self._about_purged(str(row["target"]), after):
                    out.append((row["run_id"], row["seq"], row["before"],
                                dumps(self.redact_send(after))))  # fmt: skip
                continue
            if kind_name not in self.purge.cutoffs:
                continue
            if rid in self.purge.expired.get(kind_name, ()):
                self._add(out, row)
            elif str(row["at"]) < cut[kind_name]:
                gone.setdefault(kind_name, []).append(row)  # the record may be gone
        for kind_name, candidates in gone.items():
            present = self._present(KINDS[kind_name].entity, {str(r["target"]).partition(":")[2]
                                                              for r in candidates})  # fmt: skip
            for row in candidates:
                if str(row["target"]).partition(":")[2] not in present:
                    self._add(out, row)
        return out

    def _add(self, out: list[tuple[str, int, str | None, str | None]], row: dict[str, Any]) -> None:
        kind = KINDS[str(row["target"]).partition(":")[0]]
        before, after = loads(row["before"]), loads(row["after"])
        new_before = self.redact(kind, str(row["field"]), before)
        new_after = self.redact(kind, str(row["field"]), after)
        if new_before != before or new_after != after:
            out.append((row["run_id"], row["seq"], dumps(new_before), dumps(new_after)))

    def _present(self, entity: Entity, ids: set[str]) -> set[str]:
        found: set[str] = set()
        todo = sorted(ids)
        for i in range(0, len(todo), 500):
            part = todo[i : i + 500]
            rows = self.store.query(
                f"SELECT id FROM {entity.table} WHERE id IN ({', '.join('?' for _ in part)})",
                part,
            )
            found.update(str(r["id"]) for r in rows)
        return found

    def apply(self, entries: list[tuple[str, int, str | None, str | None]]) -> None:
        self.store.executemany(
            "UPDATE journal_entries SET before = ?, after = ? WHERE run_id = ? AND seq = ?",
            [(before, after, run_id, seq) for run_id, seq, before, after in entries],
        )


# -- the change target -------------------------------------------------------------------------
class PurgeTarget:
    """Applies the changes of :func:`plan_purge` (backend ``purge``). It reads whether a
    record still holds personal data (``(personal data)``) or not (nothing), so a rerun
    skips what is gone; it refuses to write anything back."""

    backend = BACKEND

    def __init__(self, store: Store, purge: Purge) -> None:
        self.store = store
        self.purge = purge
        self.scrub = JournalScrub(store, purge)
        self.pending: list[tuple[str, int, str | None, str | None]] = []

    def _kind(self, change: Change) -> Kind:
        try:
            return KINDS[change.kind]
        except KeyError:
            raise OpsError(f"{change.target}: not a record type a purge changes") from None

    def read(self, change: Change) -> Any:
        if change.kind == "journal":
            self.pending = self.scrub.find()
            return MARK if self.pending else change.after
        kind = self._kind(change)
        rec = self.store.get(kind.entity, change.key, children=bool(kind.entity.children))
        if rec is None:
            return None
        held = personal(kind, rec, self.purge.extra_keys, only=change.field.split(","))
        return MARK if held else None

    def write(self, change: Change) -> None:
        if change.after is not None or change.op != SET:
            raise OpsError(
                f"{change.target}: purged data cannot be restored (the journal does not keep it)"
            )
        if change.kind == "journal":
            self.scrub.apply(self.pending)
            return
        kind = self._kind(change)
        names = change.field.split(",")
        extra_keys = {n[6:] for n in names if n.startswith("extra.")}
        if extra_keys:
            extra = self.store.read_field(kind.entity, change.key, "extra")
            if isinstance(extra, dict):
                kept = {k: v for k, v in extra.items() if k not in extra_keys}
                self.store.set_field(kind.entity, change.key, "extra", kept)
        for name in names:
            if not name.startswith("extra."):
                self.store.set_field(kind.entity, change.key, name, blank_of(kind, name))

    def transaction(self) -> Any:
        return self.store.transaction()
