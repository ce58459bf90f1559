"""Escalation by topic: a case posted to the chat channel of its topic, mentioning the
channel's people, once (procedures: support-ja "Routing by topic").

The profile's ``[[routing]]`` entries say where each topic goes::

    [[routing]]
    name = "purchase consideration"
    key = "purchase"                 # the short name ``--topic`` takes
    topics = ["購入検討"]             # the case topics routed here (``--topic`` takes them too)
    chat_channel = "#inside-sales"
    mention = ["岡", "石田"]
    named_person_only = false        # true: a person the customer asked for is the only mention
    required = ["name", "company", "phone", "email"]

and ``[templates.routing_post] text`` the message, with ``{mentions} {topic} {case_url}
{summary}`` (and ``{channel} {case_id} {channel_name}``). ``[escalation]`` adds the case
status set once the post went out (``status``, one of ``[statuses]``), the pattern of
an order number in a case text (``order_number_pattern``, group ``number``) and the labels
of the summary lines (``[escalation.labels]``).

What counts as a required value, first found wins (:data:`SOURCES`):

- ``name`` / ``company`` / ``phone`` / ``email``: the case's ``extra.requester`` (what the
  agent took down for an unlinked case), else the linked customer registration (name,
  company, first phone, first e-mail); ``phone`` also the number the case came from
  (``caller_number``); ``email`` and ``phone`` also one written in the case's subject or
  body (an e-mail address; a number of 10 to 13 digits);
- ``order_no``: ``extra.order_no``, else an order number in the subject or body
  (``order_number_pattern``, or ``注文番号/order no./订单号/заказ №`` followed by it);
- ``order_email``: ``extra.order_email``, else an e-mail address in the subject or body —
  not the customer's registered address, which need not be the one the order was placed
  with;
- anything else: the case field or ``extra`` key of that name.

Nothing here posts or prints: :func:`plan_escalation` returns the plan (the status change,
then the ``send``) and a preview the CLI shows, masked on a terminal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deskops.adapters.errors import UsageError

from .cases import closed_statuses
from .lookup import EMAIL_RE
from .plan import SEND, SET, Change, Plan

DEFAULT_TEMPLATE = "{mentions} {topic}: {case_url}\n{summary}"
DEFAULT_LABELS = {
    "subject": "subject",
    "name": "name",
    "company": "company",
    "phone": "phone",
    "email": "e-mail",
    "order_no": "order no.",
    "order_email": "order e-mail",
    "product": "product",
    "agent": "agent",
    "body": "text",
}
SUMMARY = ("subject", "name", "company", "phone", "email", "order_no", "order_email",
           "product", "agent", "body")  # fmt: skip
PERSONAL = {"name", "phone", "email", "order_email"}  # masked on a terminal
PHONE = re.compile(r"\+?\d[\d\-() ]{8,}\d")
DEFAULT_ORDER_NO = (
    r"(?i)(?:注文番号|注文No\.?|order\s*(?:no\.?|number|#)|订单号|заказ[а-я]*\s*№?|№)"
    r"\s*[:：#№]?\s*(?P<number>[A-Za-z0-9][A-Za-z0-9-]{3,})"
)
HONORIFICS = ("さん", "様", "さま", "氏", "先生")
BODY_CHARS = 300  # of the case text in the summary
OUTBOX = "outbox:escalate:"  # + <case>:<route key>


@dataclass
class Route:
    """One ``[[routing]]`` entry."""

    key: str
    name: str
    topics: list[str]
    channel: str
    channel_name: str
    mention: list[str]
    named_person_only: bool
    required: list[str]
    notify: str | None = None  # the entry's own notification URL (no secret in it)

    @property
    def aliases(self) -> list[str]:
        return list(dict.fromkeys([self.key, self.name, *self.topics]))


@dataclass
class Escalation:
    """The plan and what the CLI shows of it."""

    plan: Plan
    case_id: str
    route: Route
    topic: str
    mentions: list[str]
    text: str  # as posted
    shown: str  # as shown on a terminal: personal values masked
    case_url: str
    status: str | None  # the status set, None: left as it is
    notes: list[str] = field(default_factory=list)  # why something was left out


def _norm(text: Any) -> str:
    return unicodedata.normalize("NFKC", str(text or "")).strip().casefold()


def _table(profile: dict[str, Any], name: str) -> dict[str, Any]:
    value = profile.get(name)
    return value if isinstance(value, dict) else {}


def routes(profile: dict[str, Any]) -> list[Route]:
    """The profile's ``[[routing]]`` entries; each needs a ``key`` or a ``name``."""
    raw = profile.get("routing")
    if not isinstance(raw, list) or not raw:
        raise UsageError("the profile has no [[routing]] entries: nothing to escalate to")
    out = []
    for n, entry in enumerate(raw, 1):
        if not isinstance(entry, dict):
            raise UsageError(f"[[routing]] entry {n}: expected a table")
        key = str(entry.get("key") or entry.get("name") or "").strip()
        if not key:
            raise UsageError(f"[[routing]] entry {n}: give it a key (or a name)")

        def strings(name: str, entry: dict[str, Any] = entry, key: str = key) -> list[str]:
            value = entry.get(name) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"[[routing]] {key}: {name} must be a list of strings")
            return [v for v in value if v.strip()]

        out.append(
            Route(
                key=key,
                name=str(entry.get("name") or key),
                topics=strings("topics"),
                channel=str(entry.get("chat_channel") or ""),
                channel_name=str(entry.get("chat_channel_name") or entry.get("chat_channel") or ""),
                mention=strings("mention"),
                named_person_only=bool(entry.get("named_person_only")),
                required=strings("required"),
                notify=str(entry["notify"]) if entry.get("notify") else None,
            )
        )
    return out


def valid_topics(all_routes: list[Route]) -> str:
    keys = ", ".join(r.key for r in all_routes)
    topics = ", ".join(t for r in all_routes for t in r.topics)
    return f"{keys} (or a case topic: {topics})" if topics else keys


def pick_route(
    all_routes: list[Route], topic: str | None, case: dict[str, Any]
) -> tuple[Route, str]:
    """(the routing entry, the topic word for the message): ``topic`` names an entry by its
    key, name or one of its topics; without it the case's own topic decides."""
    case_topic = str(case.get("topic") or "").strip()
    if topic is None:
        for route in all_routes:
            if _norm(case_topic) in {_norm(t) for t in route.topics} and case_topic:
                return route, case_topic
        why = f"topic {case_topic!r}" if case_topic else "no topic"
        raise UsageError(
            f"case {case.get('id')} has {why}, which no [[routing]] entry routes; give "
            f"--topic: {valid_topics(all_routes)}"
        )
    wanted = _norm(topic)
    for route in all_routes:
        if wanted in {_norm(a) for a in route.aliases}:
            if case_topic and _norm(case_topic) in {_norm(t) for t in route.topics}:
                return route, case_topic
            word = next((t for t in route.topics if _norm(t) == wanted), None)
            return route, word or (route.topics[0] if route.topics else route.name)
    raise UsageError(f"--topic {topic!r}: no such routing; valid: {valid_topics(all_routes)}")


# -- required values ---------------------------------------------------------------------------
def _text_of(case: dict[str, Any]) -> str:
    return "\n".join(str(case.get(k) or "") for k in ("subject", "body"))


def _extra(case: dict[str, Any]) -> dict[str, Any]:
    extra = case.get("extra")
    return extra if isinstance(extra, dict) else {}


def _requester(case: dict[str, Any]) -> dict[str, Any]:
    req = _extra(case).get("requester")
    return req if isinstance(req, dict) else {}


def _first(values: Any) -> Any:
    if isinstance(values, list):
        return next((v for v in values if str(v or "").strip()), None)
    return values


def order_number_in(text: str, pattern: str | None) -> str | None:
    m = re.search(pattern or DEFAULT_ORDER_NO, text)
    if m is None:
        return None
    return m.groupdict().get("number") or m.group(0)


def phone_in(text: str) -> str | None:
    for m in PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 10 <= len(digits) <= 13:
            return m.group(0).strip()
    return None


def email_in(text: str) -> str | None:
    m = EMAIL_RE.search(text)
    return m.group(0) if m else None


Source = Callable[[dict[str, Any], dict[str, Any] | None, str | None], Any]

# name → where it is looked up, in order: (case, customer, order number pattern) → value
SOURCES: dict[str, list[Source]] = {
    "name": [lambda c, cu, p: _requester(c).get("name"), lambda c, cu, p: (cu or {}).get("name")],
    "company": [
        lambda c, cu, p: _requester(c).get("company"),
        lambda c, cu, p: (cu or {}).get("company"),
    ],
    "phone": [
        lambda c, cu, p: _requester(c).get("phone"),
        lambda c, cu, p: _first((cu or {}).get("phones")),
        lambda c, cu, p: c.get("caller_number"),
        lambda c, cu, p: phone_in(_text_of(c)),
    ],
    "email": [
        lambda c, cu, p: _requester(c).get("email"),
        lambda c, cu, p: _first((cu or {}).get("emails")),
        lambda c, cu, p: email_in(_text_of(c)),
    ],
    "order_no": [
        lambda c, cu, p: _extra(c).get("order_no"),
        lambda c, cu, p: order_number_in(_text_of(c), p),
    ],
    "order_email": [
        lambda c, cu, p: _extra(c).get("order_email"),
        lambda c, cu, p: email_in(_text_of(c)),
    ],
}


def value_of(
    name: str, case: dict[str, Any], customer: dict[str, Any] | None, pattern: str | None
) -> str | None:
    """The first value found for ``name`` (see the module's list), as text, or None."""
    sources = SOURCES.get(name) or [
        lambda c, cu, p: c.get(name),
        lambda c, cu, p: _extra(c).get(name),
    ]
    for source in sources:
        value = _first(source(case, customer, pattern))
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def missing_required(
    route: Route, case: dict[str, Any], customer: dict[str, Any] | None, pattern: str | None
) -> list[str]:
    return [n for n in route.required if value_of(n, case, customer, pattern) is None]


def order_pattern(profile: dict[str, Any]) -> str | None:
    """``[escalation] order_number_pattern``, checked."""
    esc = _table(profile, "escalation")
    pattern = str(esc["order_number_pattern"]) if esc.get("order_number_pattern") else None
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UsageError(f"[escalation] order_number_pattern: {exc}") from None
    return pattern


def check_required(
    route: Route, case: dict[str, Any], customer: dict[str, Any] | None, profile: dict[str, Any]
) -> str | None:
    """Every required value the case lacks, named in one usage error; else the order number
    pattern the values were looked up with."""
    pattern = order_pattern(profile)
    missing = missing_required(route, case, customer, pattern)
    if missing:
        raise UsageError(
            f"case {case['id']}: {route.key} ({route.channel or route.name}) needs "
            f"{', '.join(route.required)}; missing: {', '.join(missing)} — add them to the case "
            "(or its customer registration) first; nothing was posted"
        )
    return pattern


# -- mentions ----------------------------------------------------------------------------------
def known_people(profile: dict[str, Any]) -> dict[str, str]:
    """Who ``--named`` may name, by every way the profile spells them → display name:
    ``[agents]`` (id and name), ``[team]`` supervisor and specialists, ``[escalation]
    supervisor``."""
    agents = {k: str(v) for k, v in _table(profile, "agents").items() if isinstance(v, str)}
    people: dict[str, str] = {}
    for agent_id, name in agents.items():
        if agent_id == "default":
            continue
        people[_norm(agent_id)] = name
        people[_norm(name)] = name
    team = _table(profile, "team")
    escalation = _table(profile, "escalation")
    for value in (team.get("supervisor"), escalation.get("supervisor")):
        if isinstance(value, str) and value:
            people.setdefault(_norm(value), agents.get(value, value))
    specialists = team.get("specialists")
    if isinstance(specialists, dict):
        for name in specialists.values():
            if isinstance(name, str):
                people.setdefault(_norm(name), name)
    return people


def person(text: str, route: Route, profile: dict[str, Any]) -> str | None:
    """The display name ``text`` means (honorifics like さん/様 dropped), or None."""
    wanted = _norm(text)
    for suffix in HONORIFICS:
        if wanted.endswith(suffix) and len(wanted) > len(suffix):
            wanted = wanted[: -len(suffix)].strip()
            break
    for name in route.mention:
        if _norm(name) == wanted:
            return name
    return known_people(profile).get(wanted)


def pick_mentions(
    route: Route, named: str | None, case: dict[str, Any], profile: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """(the people to mention, notes). ``named`` (``--named``) or the person the customer
    asked for (``extra.requested_person``) is the only mention where the entry says
    ``named_person_only``; ``--named`` elsewhere is a usage error."""
    notes: list[str] = []
    if named is not None and not route.named_person_only:
        raise UsageError(
            f"--named: routing {route.key} mentions all of {', '.join(route.mention) or 'nobody'}"
            "; only an entry with named_person_only = true mentions one person"
        )
    if not route.named_person_only:
        return list(route.mention), notes
    if named is not None:
        found = person(named, route, profile)
        if found is None:
            valid = sorted({*route.mention, *known_people(profile).values()})
            raise UsageError(f"--named {named!r}: not a known person; valid: {', '.join(valid)}")
        return [found], notes
    asked = _extra(case).get("requested_person")
    if isinstance(asked, str) and asked.strip():
        found = person(asked, route, profile)
        if found is not None:
            return [found], notes
        notes.append(
            f"the customer asked for {asked!r}, who is not a known person; mentioning "
            f"{', '.join(route.mention)}"
        )
    return list(route.mention), notes


# -- the message -------------------------------------------------------------------------------
def mask(value: str) -> str:
    from .report import mask_name

    return str(mask_name(value))


def mask_text(text: str) -> str:
    """E-mail addresses and phone numbers in a free text masked."""
    text = EMAIL_RE.sub(lambda m: mask(m.group(0)), text)
    return PHONE.sub(
        lambda m: mask(m.group(0)) if len(re.sub(r"\D", "", m.group(0))) >= 10 else m.group(0),
        text,
    )


def summary_lines(
    case: dict[str, Any],
    customer: dict[str, Any] | None,
    profile: dict[str, Any],
    pattern: str | None,
    *,
    masked: bool,
) -> str:
    own = _table(_table(profile, "escalation"), "labels")
    labels = {**DEFAULT_LABELS, **{k: str(v) for k, v in own.items()}}
    sep = "：" if any(ord(ch) > 0x2E80 for ch in "".join(labels.values())) else ": "
    lines = []
    for name in SUMMARY:
        if name in ("subject", "product", "agent"):
            value = str(case.get(name) or "").strip() or None
        elif name == "body":
            body = " ".join(str(case.get("body") or "").split())
            value = (body[:BODY_CHARS] + "…" if len(body) > BODY_CHARS else body) or None
        else:
            value = value_of(name, case, customer, pattern)
        if value is None:
            continue
        if masked:
            value = mask(value) if name in PERSONAL else mask_text(value)
        lines.append(f"{labels[name]}{sep}{value}")
    return "\n".join(lines)


def render(template: str, values: dict[str, str]) -> str:
    from .orders import fill

    return fill(template, values, "routing_post")


def escalation_status(profile: dict[str, Any]) -> str | None:
    """``[escalation] status``, else the ``[statuses]`` name that says escalation."""
    esc = _table(profile, "escalation")
    statuses = _table(profile, "statuses")
    if esc.get("status"):
        status = str(esc["status"])
        names = [k for k, v in statuses.items() if isinstance(v, str)]
        if names and status not in names:
            raise UsageError(
                f"[escalation] status {status!r} is not one of [statuses]: {', '.join(names)}"
            )
        return status
    for name in statuses:
        if "escalat" in name.lower() or "エスカレーション" in name:
            return str(name)
    return None


def outbox_target(case_id: str, route: Route) -> str:
    return f"{OUTBOX}{case_id}:{route.key}"


def plan_escalation(
    case: dict[str, Any],
    customer: dict[str, Any] | None,
    route: Route,
    topic: str,
    profile: dict[str, Any],
    *,
    case_url: str | None,
    named: str | None,
    notify_backend: str,
    status_backend: str | None,
    suffix: str = "",
    mail: bool = False,
) -> Escalation:
    """The escalation of ``case`` along ``route``: the status change (where
    ``status_backend`` can take it; None: not recorded on the case), then the post to
    ``notify_backend`` (``mail``: with a subject). Missing required values are one usage
    error, raised first."""
    pattern = check_required(route, case, customer, profile)
    case_id = str(case["id"])
    mentions, notes = pick_mentions(route, named, case, profile)
    template = _table(_table(profile, "templates"), "routing_post").get("text")
    template = str(template) if template else DEFAULT_TEMPLATE
    url = case_url or f"case {case_id}"
    values = {
        "mentions": " ".join(f"@{m}" for m in mentions),
        "topic": topic,
        "case_url": url,
        "case_id": case_id,
        "channel": route.channel,
        "channel_name": route.channel_name,
    }
    full = summary_lines(case, customer, profile, pattern, masked=False)
    text = render(template, {**values, "summary": full})
    shown = render(
        template,
        {**values, "summary": summary_lines(case, customer, profile, pattern, masked=True)},
    )
    plan = Plan(command=f"escalate {case_id} --topic {route.key}")
    status = escalation_status(profile)
    current = case.get("status")
    if status is None:
        notes.append("no escalation status in the profile ([escalation] status): left as it is")
    elif status_backend is None:
        notes.append(f"the case status cannot be written here: left at {current!r}")
        status = None
    elif current in closed_statuses(profile):
        notes.append(f"the case is closed ({current}): its status is left as it is")
        status = None
    elif current != status:
        plan.add(Change(f"cases:{case_id}", "status", SET, current, status,
                        f"escalated to {route.channel or route.key}", status_backend))  # fmt: skip
    else:
        status = None
    after = {"text": text, "channel": route.channel, "mentions": mentions, "route": route.key,
             "case_url": url}  # fmt: skip
    if mail:  # a chat message is the text alone; a mail needs a subject
        after["title"] = f"[{route.channel_name or route.key}] {topic} {case_id}"
    plan.add(Change(outbox_target(case_id, route) + suffix, "*", SEND, None, after,
                    f"escalation of case {case_id} ({topic})", notify_backend))  # fmt: skip
    return Escalation(plan, case_id, route, topic, mentions, text, shown, url, status, notes)


def already_posted(store: Any, case_id: str, route: Route) -> dict[str, Any] | None:
    """The journal entry of an earlier post of this case on this route (``--force`` ones
    included), or None."""
    target = outbox_target(case_id, route)
    rows = store.query(
        "SELECT e.run_id, e.at FROM journal_entries e WHERE e.op = 'send' "
        "AND e.outcome = 'applied' AND (e.target = ? OR substr(e.target, 1, ?) = ?) "
        "ORDER BY e.at DESC LIMIT 1",
        (target, len(target) + 1, target + ":"),
    )
    return rows[0] if rows else None
