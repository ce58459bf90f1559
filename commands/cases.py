"""The support desk's case records: linking orphan cases to registrations, long cases,
source tags.

Cases come from :mod:`.records` (the store, or a kintone app); customers are found
with the one lookup (:class:`.lookup.CustomerIndex`), by the number the customer
called from — in phone fields and in free text, however it was written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from deskops.adapters.errors import UsageError
from deskops.adapters.orders import when_of

from .lookup import CustomerIndex, emails_in_text, normalize_phone
from .orders import fill
from .plan import SEND, SET, Change, Plan
from .records import Records

UNLINKED_FIELDS = ["case", "opened_at", "caller_number", "candidates", "names", "status", "url"]


@dataclass
class Unlinked:
    case: dict[str, Any]
    number: str | None  # E.164 of the number the customer called from
    candidates: list[str] = field(default_factory=list)  # customer ids
    why: dict[str, list[str]] = field(default_factory=dict)  # customer id → where found


def unlinked(cases: Iterable[dict[str, Any]], index: CustomerIndex) -> list[Unlinked]:
    """Cases linked to no registration, each with the registrations its incoming
    number (or, for a mail or form case without one, the addresses written in it)
    leads to."""
    out = []
    for c in cases:
        if c.get("customer_id"):
            continue
        number = normalize_phone(str(c.get("caller_number") or ""), index.region)
        if number:
            matches = index.find(phones=[number])
        else:
            text = " ".join(str(c.get(f) or "") for f in ("subject", "body"))
            matches = index.find(emails=emails_in_text(text))
        u = Unlinked(c, number)
        for m in matches:
            if m.customer_id and index.customer(m.customer_id) is not None:
                if m.customer_id not in u.why:
                    u.candidates.append(m.customer_id)
                u.why.setdefault(m.customer_id, []).append(m.why)
        out.append(u)
    out.sort(key=lambda u: str(u.case.get("opened_at") or ""))
    return out


def link_change(source: Records, case: dict[str, Any], customer_id: str, why: str) -> Change:
    """Set the case's customer (the value it holds now is the expected ``before``)."""
    return Change(
        f"cases:{case['id']}", "customer_id", SET, case.get("customer_id"), customer_id, why,
        source.backend,
    )  # fmt: skip


def plan_link(source: Records, index: CustomerIndex, case_id: str, customer_id: str) -> Plan:
    case = source.get(case_id)
    if case is None:
        raise UsageError(f"no case {case_id!r}")
    if index.customer(customer_id) is None:
        raise UsageError(f"no customer registration {customer_id!r}")
    current = case.get("customer_id")
    if current and str(current) != str(customer_id):
        raise UsageError(
            f"case {case_id} is linked to customer {current} already; "
            "change the link in the case itself if that one is wrong"
        )
    plan = Plan(command=f"cases link {case_id} {customer_id}")
    if current:
        plan.unchanged += 1
    else:
        plan.add(link_change(source, case, customer_id, "linked by hand"))
    return plan


def plan_auto_link(source: Records, found: list[Unlinked]) -> Plan:
    """Link the cases whose number leads to exactly one registration."""
    plan = Plan(command="cases link --auto")
    for u in found:
        if len(u.candidates) == 1:
            cid = u.candidates[0]
            how = ", ".join(dict.fromkeys(u.why[cid]))
            what = f"number {u.number}" if u.number else "address in the case"
            plan.add(link_change(source, u.case, cid, f"only registration with {what} ({how})"))
    return plan


# -- long cases ----------------------------------------------------------------------------------
LONG_FIELDS = ["case", "agent", "topic", "started_at", "minutes", "status", "url"]


def closed_statuses(profile: dict[str, Any]) -> set[str]:
    table = profile.get("statuses")
    closed = table.get("closed") if isinstance(table, dict) else None
    return {str(s) for s in closed} if isinstance(closed, list) else {"完了", "closed", "done"}


def working_statuses(profile: dict[str, Any]) -> set[str] | None:
    """[long_cases] statuses: the statuses in which an agent is on the case (None: any
    status that is not closed)."""
    section = profile.get("long_cases")
    value = section.get("statuses") if isinstance(section, dict) else None
    return {str(s) for s in value} if isinstance(value, list) and value else None


def long_cases(
    cases: Iterable[dict[str, Any]],
    closed: set[str],
    over: timedelta,
    now: datetime,
    working: set[str] | None = None,
) -> list[tuple[dict[str, Any], float]]:
    """Open cases worked on for longer than ``over`` (from ``started_at``, else
    ``opened_at``), longest first, with their minutes. ``working``: only cases in these
    statuses (a case waiting for the customer's answer is not running)."""
    out = []
    for c in cases:
        status = str(c.get("status") or "")
        if c.get("closed_at") or status in closed:
            continue
        if working is not None and status not in working:
            continue
        start = when_of(c.get("started_at") or c.get("opened_at"))
        if start is None:
            continue
        running = now - start
        if running > over:
            out.append((c, round(running.total_seconds() / 60, 1)))
    out.sort(key=lambda x: -x[1])
    return out


def long_case_posts(
    source: Records,
    found: list[tuple[dict[str, Any], float]],
    profile: dict[str, Any],
    backend: str,
) -> Plan:
    """One post per long case, once (a case already posted is not posted again)."""
    section = profile.get("long_cases")
    section = section if isinstance(section, dict) else {}
    templates = profile.get("templates")
    name = str(section.get("template") or "long_case_post")
    template = (templates or {}).get(name) if isinstance(templates, dict) else None
    text = (
        str(template.get("text"))
        if isinstance(template, dict) and template.get("text")
        else "Case running over {minutes} minutes: {case_url} ({agent} / {topic})"
    )
    plan = Plan(command="cases long --notify")
    for c, minutes in found:
        url = source.record_url(str(c["id"]), c) or f"case {c['id']}"
        values = {
            "case_url": url, "agent": c.get("agent") or "-", "topic": c.get("topic") or "-",
            "minutes": int(minutes), "case": c["id"], "subject": c.get("subject") or "",
        }  # fmt: skip
        body = fill(text, values, name)
        channel = section.get("chat_channel")
        after = {"text": body, "title": f"long case {c['id']}"}
        if channel:
            after["channel"] = str(channel)
        plan.add(Change(f"outbox:long-case-{c['id']}", "*", SEND, None, after,
                        f"open for {int(minutes)} min", backend))  # fmt: skip
    return plan


# -- source tags ---------------------------------------------------------------------------------
def source_rules(profile: dict[str, Any]) -> list[tuple[str, list[str]]]:
    table = profile.get("source_tags")
    rules = table.get("rules") if isinstance(table, dict) else None
    if not isinstance(rules, list) or not rules:
        raise UsageError("the profile has no [[source_tags.rules]] (tag, keywords)")
    out = []
    for i, r in enumerate(rules, 1):
        if not isinstance(r, dict) or not r.get("tag") or not isinstance(r.get("keywords"), list):
            raise UsageError(f'[[source_tags.rules]] #{i}: expected tag = "…", keywords = ["…"]')
        out.append((str(r["tag"]), [str(k) for k in r["keywords"]]))
    return out


def plan_source_tags(
    source: Records, cases: Iterable[dict[str, Any]], rules: list[tuple[str, list[str]]]
) -> Plan:
    """Tag each case whose text names a source (the first matching rule wins; a case
    that carries one of the tags already is left alone)."""
    plan = Plan(command="cases tag-source")
    tags = {t for t, _ in rules}
    for c in cases:
        have = list(c.get("tags") or [])
        if tags.intersection(have):
            continue
        text = " ".join(str(c.get(f) or "") for f in ("subject", "body"))
        for tag, keywords in rules:
            hit = next((k for k in keywords if k and k in text), None)
            if hit is None:
                continue
            plan.add(Change(f"cases:{c['id']}", "tags", SET, c.get("tags"), [*have, tag],
                            f"case text mentions {hit!r}", source.backend))  # fmt: skip
            break
    return plan


def minutes_option(text: str | None, profile: dict[str, Any]) -> timedelta:
    """``--over`` (``20m``, ``1h``, ``90``) or the profile's [long_cases] threshold."""
    if text is None:
        section = profile.get("long_cases")
        value = section.get("threshold_minutes") if isinstance(section, dict) else None
        return timedelta(minutes=float(value or 20))
    t = text.strip().lower()
    unit = {"m": 1, "h": 60}.get(t[-1:], None)
    number = t[:-1] if unit else t
    try:
        minutes = float(number) * (unit or 1)
    except ValueError:
        raise UsageError(f"--over {text!r}: expected minutes such as 20m, 1h or 90") from None
    if minutes <= 0:
        raise UsageError(f"--over {text!r}: must be more than 0")
    return timedelta(minutes=minutes)
