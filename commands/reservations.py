"""Store reservations by the chain's written policy (procedures, stores-zh).

A reservation is requested through a channel (``[channels]``), checked for completeness
and format (``[validation]``: every problem named at once), then for resources
(``[resources]``): a qualified member of staff on shift and free (``staff.services``,
``staff.extra.shift``/``days_off``) and a free room or station of a kind the service can
use (``[resources.services.<code>] room_kinds``), for the service's duration. The slot is
claimed under a lock (:class:`ReservationsTarget`), so two desks booking the same slot at
the same moment cannot both succeed.

Changes and cancellations are free up to ``[changes] change_notice_hours`` /
``cancel_notice_hours`` before the start; later ones carry the fee of ``[[changes.fees]]``
(a percentage of the service price), unless waived (``[changes.waivers]``); a no-show
carries ``[changes.no_show]``. The fee is recorded on the reservation
(``extra.fee``). A change moves the booking to a new reservation and marks the old one
``改期`` pointing at it (``extra.rescheduled_to``), as the profile's statuses describe.

Messages to the customer (confirmation, change, cancellation, reminder, survey) are
``send`` changes of the plan: e-mail through the SMTP sender and SMS through the SMS sender
(the port ``sms``) when one is configured; app push, and SMS or e-mail without a sender,
are kept as journaled outbox entries (:class:`Outbox`, ``ops reservations outbox``) for the
desk to send, never dropped. Each goes out once (the journal's ``send`` entries are the
record, whichever way it went).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from deskops.adapters.errors import OpsError, UsageError
from deskops.adapters.schema import CUSTOMERS, RESERVATIONS, STAFF
from deskops.adapters.store import Store, json_object

from .clock import iso, parse_date, parse_datetime
from .orders import _clock, _table, orders_config
from .plan import CREATE, SEND, SET, Change, Plan, StoreTarget, loads

STATUS_KEYS = {
    "pending": "待确认", "confirmed": "已确认", "completed": "已完成", "cancelled": "已取消",
    "no_show": "爽约", "moved": "改期",
}  # fmt: skip
CHANNEL_KEYS = ("website", "app", "third_party", "phone", "walk_in")
METHOD_KEYS = {"sms": "短信", "push": "App推送", "email": "邮件", "phone": "电话"}
CHECKS = ("staff_skill", "staff_shift", "staff_free", "room_kind", "room_free")
OPTION = {  # record field → the option that gives it (problems name the option)
    "store": "--store", "service": "--service", "starts_at": "--time",
    "customer_name": "--name", "contact": "--contact", "email": "--email",
    "channel": "--channel", "customer_id": "--customer", "staff_id": "--staff",
}  # fmt: skip
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EMAIL_RE = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")


# -- configuration -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Service:
    code: str
    name: str
    minutes: int
    price: float
    room_kinds: tuple[str, ...]
    staff: int = 1
    skill: str = ""
    preparation: str = ""


@dataclass(frozen=True)
class Shop:
    """A store of the chain (``[stores.<code>]``); "store" is the database here."""

    code: str
    name: str
    address: str
    phone: str
    opens: time
    closes: time


@dataclass(frozen=True)
class FeeRow:
    min_hours: float
    percent: float
    label: str


@dataclass
class ReservationsConfig:
    tz: tzinfo
    region: str
    currency: str = ""
    profile: dict[str, Any] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)  # key → label
    platforms: list[str] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=lambda: dict(STATUS_KEYS))
    services: dict[str, Service] = field(default_factory=dict)  # code → service
    shops: dict[str, Shop] = field(default_factory=dict)  # code → store
    required: list[str] = field(default_factory=lambda: ["starts_at", "service",
                                                         "customer_name", "contact"])  # fmt: skip
    phone_pattern: re.Pattern[str] | None = None
    strip: list[str] = field(default_factory=lambda: [" ", "-"])
    within_hours: bool = True
    fix_template: str = "fix_request"  # [validation] fix_request_template
    checks: set[str] = field(default_factory=lambda: set(CHECKS))
    slot_minutes: int = 30
    methods: dict[str, str] = field(default_factory=lambda: dict(METHOD_KEYS))  # key → label
    by_channel: dict[str, list[str]] = field(default_factory=dict)  # channel key → methods
    email_when_present: bool = True
    id_prefix: str = "R"
    date_format: str = "{year}-{month:02d}-{day:02d}"
    change_hours: float = 24.0
    cancel_hours: float = 24.0
    fees: list[FeeRow] = field(default_factory=list)  # the highest min_hours first
    no_show: FeeRow | None = None
    waivers: list[str] = field(default_factory=list)
    first_time_free: bool = False
    remind_hours: list[float] = field(default_factory=lambda: [24.0])
    remind_methods: list[str] = field(default_factory=lambda: ["sms"])
    remind_email: bool = True
    quiet: tuple[time, time] | None = None
    consent: dict[str, str] = field(default_factory=dict)  # method → customers.extra.consent key
    survey_after: float = 2.0
    survey_within: float = 72.0
    scale: tuple[int, int] = (1, 5)
    survey_methods: list[str] = field(default_factory=lambda: ["sms"])
    survey_url: str = ""
    low_score: int = 2
    follow_up_hours: float = 24.0
    _mail: Any = None  # the orders' reading of the profile, for their mail builder

    def mail_config(self) -> Any:
        if self._mail is None:
            self._mail = orders_config(self.profile, self.tz)
        return self._mail

    @property
    def open_statuses(self) -> list[str]:
        return [self.statuses["pending"], self.statuses["confirmed"]]

    @property
    def released(self) -> list[str]:
        """Statuses that free the slot again."""
        return [self.statuses[k] for k in ("cancelled", "moved", "no_show")]

    def shop(self, text: str | None) -> Shop | None:
        """By code (``SH01``, any case) or by name (``上海静安店``)."""
        t = (text or "").strip()
        for s in self.shops.values():
            if t.upper() == s.code.upper() or t == s.name:
                return s
        return None

    def service(self, text: str | None) -> Service | None:
        t = (text or "").strip()
        for s in self.services.values():
            if t.upper() == s.code.upper() or t == s.name:
                return s
        return None

    def channel(self, text: str | None) -> str | None:
        """The channel key for a key (``third-party``), a label (``第三方平台``) or a key's
        unambiguous beginning (``web``)."""
        t = (text or "").strip()
        key = t.lower().replace("-", "_")
        for k, label in self.channels.items():
            if key == k or t == label:
                return k
        starts = [k for k in self.channels if key and k.startswith(key)]
        return starts[0] if len(starts) == 1 else None

    def channel_key(self, label: Any) -> str | None:
        return next((k for k, v in self.channels.items() if v == label), None)

    def status(self, text: str) -> str:
        """The stored status for a key (``confirmed``) or a status name (``已确认``)."""
        t = text.strip()
        key = t.lower().replace("-", "_")
        if key in self.statuses:
            return self.statuses[key]
        if t in self.statuses.values():
            return t
        valid = ", ".join(f"{k} ({v})" for k, v in self.statuses.items())
        raise UsageError(f"--status {text!r}; valid: {valid}")

    def method_keys(self, labels: Iterable[Any]) -> list[str]:
        by_label = {v: k for k, v in self.methods.items()}
        return [by_label.get(str(x), str(x)) for x in labels if by_label.get(str(x), str(x))]


def reservations_config(
    profile: dict[str, Any], tz: tzinfo, source: str = "profile"
) -> ReservationsConfig:
    """The profile's reservation policy; a malformed entry is named with its section."""
    prof = _table(profile, "profile")
    cfg = ReservationsConfig(tz=tz, region=str(prof.get("country") or ""),
                             currency=str(prof.get("currency") or ""), profile=profile)  # fmt: skip
    channels = _table(profile, "channels")
    cfg.channels = {k: str(v) for k, v in channels.items() if isinstance(v, str)} or {
        k: k for k in CHANNEL_KEYS
    }
    cfg.platforms = [str(p) for p in channels.get("platforms") or []]
    statuses = _table(profile, "statuses")
    cfg.statuses.update({str(k): str(v) for k, v in _table(statuses, "keys").items()})
    resources = _table(profile, "resources")
    if resources.get("check") is not None:
        cfg.checks = {str(c) for c in resources["check"]}
        unknown = cfg.checks - set(CHECKS)
        if unknown:
            raise UsageError(f"{source}: [resources] check: unknown {', '.join(sorted(unknown))}; "
                             f"valid: {', '.join(CHECKS)}")  # fmt: skip
    cfg.slot_minutes = int(resources.get("slot_minutes", cfg.slot_minutes))
    for code, spec in _table(resources, "services").items():
        where = f"{source}: [resources.services.{code}]"
        if not isinstance(spec, dict) or not spec.get("minutes") or not spec.get("room_kinds"):
            raise UsageError(f"{where}: needs minutes and room_kinds")
        cfg.services[str(code)] = Service(
            str(code), str(spec.get("name") or code), int(spec["minutes"]),
            float(spec.get("price") or 0), tuple(str(k) for k in spec["room_kinds"]),
            int(spec.get("staff", 1)), str(spec.get("skill") or ""),
            str(spec.get("preparation") or ""),
        )  # fmt: skip
    default_hours = _table(profile, "working_hours", "stores")
    for code, spec in _table(profile, "stores").items():
        where = f"{source}: [stores.{code}]"
        if not isinstance(spec, dict):
            raise UsageError(f"{where}: expected a table")
        cfg.shops[str(code)] = Shop(
            str(code), str(spec.get("name") or code), str(spec.get("address") or ""),
            str(spec.get("phone") or ""),
            _clock(spec.get("open") or default_hours.get("start") or "00:00", f"{where} open"),
            _clock(spec.get("close") or default_hours.get("end") or "23:59", f"{where} close"),
        )  # fmt: skip
    val = _table(profile, "validation")
    if val.get("required") is not None:
        cfg.required = [str(x) for x in val["required"]]
    if val.get("phone_pattern"):
        try:
            cfg.phone_pattern = re.compile(str(val["phone_pattern"]))
        except re.error as exc:
            raise UsageError(f"{source}: [validation] phone_pattern: {exc}") from None
    if val.get("strip") is not None:
        cfg.strip = [str(x) for x in val["strip"]]
    cfg.within_hours = bool(val.get("within_store_hours", True))
    cfg.fix_template = str(val.get("fix_request_template") or cfg.fix_template)
    conf = _table(profile, "confirmation")
    cfg.methods.update({str(k): str(v) for k, v in _table(conf, "method_keys").items()})
    cfg.by_channel = {str(k): [str(m) for m in v] for k, v in _table(conf, "by_channel").items()}
    cfg.email_when_present = bool(conf.get("also_email_when_present", True))
    cfg.id_prefix = str(conf.get("reservation_id_prefix") or cfg.id_prefix)
    cfg.date_format = str(conf.get("date_format") or cfg.date_format)
    changes = _table(profile, "changes")
    cfg.change_hours = float(changes.get("change_notice_hours", cfg.change_hours))
    cfg.cancel_hours = float(changes.get("cancel_notice_hours", cfg.cancel_hours))
    for i, row in enumerate(changes.get("fees") or [], 1):
        if not isinstance(row, dict) or "fee_percent" not in row:
            raise UsageError(f"{source}: [[changes.fees]] row {i}: needs fee_percent")
        cfg.fees.append(FeeRow(float(row.get("min_hours_before", 0)), float(row["fee_percent"]),
                               str(row.get("label") or "")))  # fmt: skip
    cfg.fees.sort(key=lambda r: r.min_hours, reverse=True)
    ns = _table(changes, "no_show")
    if ns.get("fee_percent") is not None:
        cfg.no_show = FeeRow(0.0, float(ns["fee_percent"]), str(ns.get("label") or ""))
    waivers = _table(changes, "waivers")
    cfg.waivers = [str(w) for w in waivers.get("reasons") or []]
    cfg.first_time_free = bool(waivers.get("first_time_member_free", False))
    rem = _table(profile, "reminders")
    if rem.get("hours_before") is not None:
        cfg.remind_hours = sorted(float(h) for h in rem["hours_before"])
    if rem.get("channels") is not None:
        cfg.remind_methods = cfg.method_keys(rem["channels"])
    cfg.remind_email = bool(rem.get("also_email_when_present", True))
    quiet = _table(rem, "quiet_hours")
    if quiet:
        where = f"{source}: [reminders] quiet_hours"
        cfg.quiet = (_clock(str(quiet.get("start")), where), _clock(str(quiet.get("end")), where))
    cfg.consent = {str(k): str(v) for k, v in _table(rem, "consent").items()}
    sv = _table(profile, "survey")
    cfg.survey_after = float(sv.get("send_after_hours", cfg.survey_after))
    cfg.survey_within = float(sv.get("send_within_hours", cfg.survey_within))
    if sv.get("scale"):
        lo, hi = (int(x) for x in sv["scale"])
        cfg.scale = (lo, hi)
    if sv.get("channels") is not None:
        cfg.survey_methods = cfg.method_keys(sv["channels"])
    cfg.survey_url = str(sv.get("url") or "")
    cfg.low_score = int(sv.get("low_score_threshold", cfg.low_score))
    cfg.follow_up_hours = float(sv.get("follow_up_hours", cfg.follow_up_hours))
    return cfg


# -- times ---------------------------------------------------------------------------------------
def parse_time(text: str, tz: tzinfo, now: datetime, *, what: str = "--time") -> datetime:
    """``now``, ``HH:MM`` (today), ``tomorrow HH:MM`` or a date and time (naive: the
    profile's zone)."""
    word = text.strip().lower()
    if word == "now":
        return now
    m = re.fullmatch(r"(?:(today|tomorrow|yesterday)\s+)?((?:[01]?\d|2[0-3]):[0-5]\d)", word)
    if m:
        day = day_of(m.group(1) or "today", now, tz).date()
        return datetime.combine(day, _clock(m.group(2), what), tz).astimezone(now.tzinfo)
    return parse_datetime(text, tz, field=what)


def day_of(text: str, now: datetime, tz: tzinfo, *, what: str = "--date") -> datetime:
    """The local midnight starting ``today``, ``tomorrow``, ``yesterday`` or a date."""
    word = text.strip().lower()
    today = now.astimezone(tz).date()
    shift = {"today": 0, "tomorrow": 1, "yesterday": -1}
    d = today + timedelta(days=shift[word]) if word in shift else parse_date(text, field=what)
    return datetime.combine(d, time(0), tz)


def _dt(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _hm(t: time) -> str:
    return t.strftime("%H:%M")


def local(cfg: ReservationsConfig, value: Any) -> str | None:
    """A stored time as the desk reads it: local, to the minute."""
    if not value:
        return None
    try:
        return _dt(value).astimezone(cfg.tz).isoformat(timespec="minutes")
    except ValueError:
        return str(value)


# -- validation ----------------------------------------------------------------------------------
@dataclass
class Request:
    """What the desk or an online form gives; every field is checked, none is trusted."""

    store: str | None = None
    service: str | None = None
    time: str | None = None
    name: str | None = None
    contact: str | None = None
    email: str | None = None
    channel: str | None = "phone"
    customer_id: str | None = None
    staff: str | None = None
    platform: str | None = None
    notes: str | None = None


@dataclass
class Checked:
    shop: Shop
    service: Service
    start: datetime
    end: datetime
    name: str
    contact: str | None  # as the profile's pattern reads it (13812345678)
    e164: str | None
    email: str | None
    channel: str  # key ("" for a booking whose channel is not in the profile)
    customer: dict[str, Any] | None
    staff: str | None
    platform: str | None
    notes: str


@dataclass(frozen=True)
class Problem:
    """One problem of a request: the record field, what kind (``missing``, ``invalid``,
    ``past``, ``closed``: outside the opening hours) and the desk's words for it; a
    message to the customer can name it in their language (:func:`fix_problems`)."""

    field: str
    kind: str
    text: str


class Invalid(UsageError):
    """A request with problems; ``problems`` names each (``--contact: missing``),
    ``items`` the same as :class:`Problem` records."""

    def __init__(self, what: str, problems: list[str], items: list[Problem] | None = None) -> None:
        n = len(problems)
        super().__init__(f"{what}: {n} problem{'s' if n > 1 else ''}: " + "; ".join(problems))
        self.problems = problems
        self.items = items or [Problem("", "invalid", p) for p in problems]


def check_phone(cfg: ReservationsConfig, text: str) -> tuple[str | None, str | None, str | None]:
    """(the number as the profile writes it, E.164, the problem) for a written number."""
    import phonenumbers

    from deskops.adapters.phones import e164

    plain = unicodedata.normalize("NFKC", text).strip()
    number = e164(plain, cfg.region)
    parsed = phonenumbers.parse(number) if number else None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        return None, None, f"{text!r} is not a valid phone number in {cfg.region or 'any region'}"
    assert number is not None
    stripped = plain
    for s in cfg.strip:
        stripped = stripped.replace(s, "")
    if cfg.phone_pattern is not None:
        if not cfg.phone_pattern.fullmatch(stripped):
            return None, None, f"{text!r} is not a mobile number ({cfg.phone_pattern.pattern})"
        return stripped, number, None
    return str(parsed.national_number), number, None


def check_request(
    cfg: ReservationsConfig, store: Store, req: Request, now: datetime, *, what: str,
    new: bool = True,
) -> Checked:  # fmt: skip
    """The request as a reservation, or :class:`Invalid` naming every problem at once.
    ``new``: a new request, whose customer is looked up by number or address and whose
    third-party platform is required; a change keeps the booking's own."""
    problems: list[str] = []
    items: list[Problem] = []

    def problem(name: str, text: str, kind: str = "") -> None:
        problems.append(f"{OPTION.get(name, name)}: {text}")
        items.append(Problem(name, kind or ("missing" if text == "missing" else "invalid"), text))

    def first(rec: dict[str, Any] | None, name: str) -> str:
        return str(next(iter((rec or {}).get(name) or []), "") or "").strip()

    customer = None
    if req.customer_id:
        customer = store.get(CUSTOMERS, req.customer_id)
        if customer is None:
            problem("customer_id", f"no customer {req.customer_id!r}")
    contact = (req.contact or first(customer, "phones")).strip()
    email = (req.email or first(customer, "emails")).strip()
    national = number = phone_problem = None
    if contact:
        national, number, phone_problem = check_phone(cfg, contact)
    email_ok = bool(email and EMAIL_RE.fullmatch(unicodedata.normalize("NFKC", email)))
    if new and customer is None and not req.customer_id and (number or email_ok):
        customer = find_customer(store, cfg, number, email if email_ok else None)
        if not email:
            email = first(customer, "emails")
            email_ok = bool(email)
    name = (req.name or (customer or {}).get("name") or "").strip()
    given = {"store": req.store, "service": req.service, "starts_at": req.time,
             "customer_name": name, "contact": contact, "email": email,
             "channel": req.channel}  # fmt: skip
    always = ["store", "service", "starts_at", *(["channel"] if new else [])]
    for key in dict.fromkeys([*always, *cfg.required]):
        if not str(given.get(key) or "").strip():
            problem(key, "missing")
    shop = cfg.shop(req.store) if req.store else None
    if req.store and shop is None:
        problem("store", f"unknown {req.store!r}; valid: "
                + ", ".join(f"{s.code} ({s.name})" for s in cfg.shops.values()))  # fmt: skip
    service = cfg.service(req.service) if req.service else None
    if req.service and service is None:
        problem("service", f"unknown {req.service!r}; valid: "
                + ", ".join(f"{s.code} ({s.name})" for s in cfg.services.values()))  # fmt: skip
    start = end = None
    if req.time:
        try:
            start = parse_time(req.time, cfg.tz, now)
        except UsageError:
            problem("starts_at", f"{req.time!r} is not a date and time (2026-01-15 14:00)")
    if start is not None:
        shown = start.astimezone(cfg.tz).strftime("%Y-%m-%d %H:%M")
        if start < now - timedelta(minutes=1):
            problem("starts_at", f"{shown} is in the past", "past")
        if service is not None:
            end = start + timedelta(minutes=service.minutes)
        if shop is not None and cfg.within_hours:
            a, b = start.astimezone(cfg.tz), (end or start).astimezone(cfg.tz)
            if a.time() < shop.opens or b.date() != a.date() or b.time() > shop.closes:
                took = f"; {service.name} takes {service.minutes} min" if service else ""
                problem("starts_at", f"{shown} is outside the opening hours of {shop.name} "
                        f"({_hm(shop.opens)}–{_hm(shop.closes)}{took})", "closed")  # fmt: skip
    if phone_problem:
        problem("contact", phone_problem)
    if email and not email_ok:
        problem("email", f"{email!r} is not an e-mail address")
    channel = cfg.channel(req.channel) if req.channel else None
    if req.channel and channel is None:
        problem("channel", f"unknown {req.channel!r}; valid: "
                + ", ".join(f"{k} ({v})" for k, v in cfg.channels.items()))  # fmt: skip
    platform = (req.platform or "").strip() or None
    if new and channel == "third_party" and cfg.platforms and platform not in cfg.platforms:
        given_as = "missing" if not platform else repr(platform)
        text = f"{given_as}; a third-party booking names one of {', '.join(cfg.platforms)}"
        problems.append(f"--platform: {text}")
        items.append(Problem("platform", "missing" if not platform else "invalid", text))
    if req.staff:
        member = store.get(STAFF, req.staff, children=False)
        if member is None:
            problem("staff_id", f"no staff member {req.staff!r}")
        elif shop is not None and member.get("store") != shop.name:
            problem("staff_id", f"{req.staff} works at {member.get('store')}, not {shop.name}")
    if problems:
        raise Invalid(what, problems, items)
    assert shop and service and start and end
    return Checked(shop, service, start, end, name, national, number, email or None,
                   channel or "", customer, req.staff, platform,
                   (req.notes or "").strip())  # fmt: skip


# -- resources -----------------------------------------------------------------------------------
def booked(
    store: Store, cfg: ReservationsConfig, shop_name: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Reservations of the store holding staff or a room at some time in [start, end)."""
    marks = ", ".join("?" for _ in cfg.released)
    rows = store.query(
        "SELECT id, staff_id, room_id, starts_at, ends_at, status, extra FROM reservations "
        f"WHERE store = ? AND starts_at < ? AND ends_at > ? AND (status IS NULL OR status NOT IN "
        f"({marks})) ORDER BY starts_at, id",
        (shop_name, iso(end), iso(start), *cfg.released),
    )
    for r in rows:
        extra = json_object(r.pop("extra"))
        r["staff"] = [str(s) for s in extra.get("staff_ids") or []] or (
            [r["staff_id"]] if r["staff_id"] else []
        )
    return rows


def _who(rec: dict[str, Any]) -> str:
    return f"{rec['id']} {rec.get('name') or ''}".strip()


def _span(cfg: ReservationsConfig, b: dict[str, Any]) -> str:
    a, z = _dt(b["starts_at"]).astimezone(cfg.tz), _dt(b["ends_at"]).astimezone(cfg.tz)
    return f"{b['id']} {a:%H:%M}–{z:%H:%M}"


@dataclass
class Fit:
    staff: list[dict[str, Any]]
    room: dict[str, Any] | None
    reasons: list[str]

    @property
    def ok(self) -> bool:
        return self.room is not None and not self.reasons


@dataclass
class Resources:
    """A store's staff and rooms and what is booked in a time range, read once; ``fit``
    decides any slot inside that range without another query."""

    cfg: ReservationsConfig
    shop: Shop
    staff: list[dict[str, Any]]
    rooms: list[dict[str, Any]]
    taken: list[dict[str, Any]]

    @classmethod
    def load(
        cls, store: Store, cfg: ReservationsConfig, shop: Shop, start: datetime, end: datetime
    ) -> Resources:
        from deskops.adapters.schema import ROOMS

        staff = list(store.iter_records(STAFF, "store = ?", (shop.name,), children=False))
        rooms = list(store.iter_records(ROOMS, "store = ?", (shop.name,), children=False))
        return cls(cfg, shop, staff, rooms, booked(store, cfg, shop.name, start, end))

    def fit(
        self,
        service: Service,
        start: datetime,
        end: datetime,
        *,
        want_staff: str | None = None,
        exclude: Iterable[str] = (),
    ) -> Fit:
        checks, skip = self.cfg.checks, set(exclude)
        overlap = [b for b in self.taken if b["id"] not in skip
                   and b["starts_at"] < iso(end) and b["ends_at"] > iso(start)]  # fmt: skip
        staff_busy = {s: b for b in overlap for s in b["staff"]}
        room_busy = {b["room_id"]: b for b in overlap if b["room_id"]}
        reasons: list[str] = []
        qualified = [s for s in self.staff if "staff_skill" not in checks
                     or service.name in (s.get("services") or [])]  # fmt: skip
        if want_staff:
            chosen = [s for s in self.staff if s["id"] == want_staff]
            if chosen and chosen[0] not in qualified:
                reasons.append(f"{_who(chosen[0])} does not do {service.name}")
            qualified = [s for s in qualified if s["id"] == want_staff]
        notes, free = [], []
        for s in qualified:
            why = _off_shift(s, start, end, self.cfg.tz) if "staff_shift" in checks else None
            if why is None and "staff_free" in checks and s["id"] in staff_busy:
                why = f"booked ({_span(self.cfg, staff_busy[s['id']])})"
            if why:
                notes.append(f"{_who(s)} {why}")
            else:
                free.append(s)
        if not qualified and not reasons:
            reasons.append(f"nobody at {self.shop.name} does {service.name}")
        elif len(free) < service.staff and not reasons:
            need = f"{service.staff} qualified staff" if service.staff > 1 else "qualified staff"
            reasons.append(f"no {need} free: " + "; ".join(notes))
        kinds = service.room_kinds
        order = {k: i for i, k in enumerate(kinds)}
        usable = [r for r in self.rooms if "room_kind" not in checks or r.get("kind") in order]
        rooms = sorted(usable, key=lambda r: (order.get(str(r.get("kind")), len(order)), r["id"]))
        open_rooms = [r for r in rooms if "room_free" not in checks or r["id"] not in room_busy]
        if not rooms:
            reasons.append(f"{self.shop.name} has no {' or '.join(kinds)}")
        elif not open_rooms:
            reasons.append(f"no free {' or '.join(kinds)}: " + "; ".join(
                f"{r['id']} {r.get('name') or ''} booked ({_span(self.cfg, room_busy[r['id']])})"
                for r in rooms))  # fmt: skip
        return Fit(free[: service.staff], open_rooms[0] if open_rooms else None, reasons)

    def free_starts(
        self, service: Service, near: datetime, now: datetime, *, exclude: Iterable[str] = (),
        want_staff: str | None = None, limit: int = 3,
    ) -> list[str]:  # fmt: skip
        """Start times (HH:MM) of the same day that fit, nearest to ``near`` first."""
        day = near.astimezone(self.cfg.tz).date()
        t = datetime.combine(day, self.shop.opens, self.cfg.tz)
        close = datetime.combine(day, self.shop.closes, self.cfg.tz)
        found: list[datetime] = []
        step = timedelta(minutes=max(self.cfg.slot_minutes, 5))
        while t + timedelta(minutes=service.minutes) <= close:
            end = t + timedelta(minutes=service.minutes)
            fit = self.fit(service, t, end, want_staff=want_staff, exclude=exclude)
            if t >= now and t != near and fit.ok:
                found.append(t)
            t += step
        found.sort(key=lambda x: (abs((x - near).total_seconds()), x))
        return [f"{x.astimezone(self.cfg.tz):%H:%M}" for x in sorted(found[:limit])]


def _off_shift(member: dict[str, Any], start: datetime, end: datetime, tz: tzinfo) -> str | None:
    extra = member.get("extra") or {}
    a, z = start.astimezone(tz), end.astimezone(tz)
    if a.weekday() in (extra.get("days_off") or []):
        return f"has {WEEKDAYS[a.weekday()]} off"
    shift = extra.get("shift") or {}
    if shift.get("start") and shift.get("end"):
        s = _clock(shift["start"], f"staff {member['id']} shift")
        e = _clock(shift["end"], f"staff {member['id']} shift")
        if a.time() < s or z.date() != a.date() or z.time() > e:
            return f"works {_hm(s)}–{_hm(e)}"
    return None


class Unavailable(OpsError):
    """No staff or room for the slot: a refusal, not bad input (exit 1)."""


def refusal(
    res: Resources, checked: Checked, now: datetime, fit: Fit, exclude: Iterable[str] = ()
) -> Unavailable:
    when = checked.start.astimezone(res.cfg.tz).strftime("%Y-%m-%d %H:%M")
    asked = next((s for s in res.staff if s["id"] == checked.staff), None)
    qualified = asked is not None and checked.service.name in (asked.get("services") or [])
    free = res.free_starts(checked.service, checked.start, now, exclude=exclude,
                           want_staff=checked.staff if qualified else None)  # fmt: skip
    who = f" with {_who(asked)}" if qualified and asked else ""
    offer = (f"; free that day{who} at {', '.join(free)}" if free
             else "; nothing else is free that day")  # fmt: skip
    return Unavailable(f"{checked.service.name} at {checked.shop.name} {when} cannot be booked: "
                       + "; ".join(fit.reasons) + offer)  # fmt: skip


def clash(store: Store, cfg: ReservationsConfig, rec: dict[str, Any]) -> str | None:
    """What took the staff or room of ``rec`` since it was planned (read under the lock)."""
    extra = rec.get("extra") or {}
    skip = {rec["id"], extra.get("rescheduled_from")}
    mine = set(extra.get("staff_ids") or [rec.get("staff_id")]) - {None}
    for b in booked(store, cfg, rec["store"], _dt(rec["starts_at"]), _dt(rec["ends_at"])):
        if b["id"] in skip:
            continue
        taken = [s for s in b["staff"] if s in mine]
        if rec.get("room_id") and b["room_id"] == rec["room_id"]:
            taken.append(str(rec["room_id"]))
        if taken:
            return (f"{', '.join(taken)} booked meanwhile by {_span(cfg, b)}; "
                    "run the command again for another slot")  # fmt: skip
    return None


CLAIM_FIELDS = ("staff_id", "room_id", "status")


class ReservationsTarget(StoreTarget):
    """The store, where creating a reservation claims its slot: under the store's lock the
    staff and room are checked again, inside the transaction that writes the record, so of
    two processes booking the same slot at once exactly one succeeds. Confirming a
    pending request claims the same way: its staff, room and status are set under the
    lock (taken at the first of them), and setting the status to confirmed, last, checks
    the staff and room written just before against everything else."""

    def __init__(self, store: Store, cfg: ReservationsConfig) -> None:
        super().__init__(store)
        self.cfg = cfg

    def read(self, change: Change) -> Any:
        if change.kind == "reservations" and change.op == CREATE:
            self.store.lock(f"reservations:{change.after['store']}")  # claims of one store queue up
            current = super().read(change)
            if current is not None and current.get("created_at") != change.after["created_at"]:
                raise OpsError(f"reservation number {change.key} was taken a moment ago; "
                               "run the command again")  # fmt: skip
            return current
        if change.kind == "reservations" and change.op == SET and change.field in CLAIM_FIELDS:
            rec = self.store.get(RESERVATIONS, change.key, children=False)
            if rec is not None:
                self.store.lock(f"reservations:{rec['store']}")
        return super().read(change)

    def write(self, change: Change) -> None:
        if change.kind == "reservations" and change.op == CREATE:
            why = clash(self.store, self.cfg, change.after)
            if why:
                raise Unavailable(why)
        confirmed = self.cfg.statuses["confirmed"]
        if (change.kind == "reservations" and change.op == SET and change.field == "status"
                and change.after == confirmed and change.before != confirmed):  # fmt: skip
            rec = self.store.get(RESERVATIONS, change.key, children=False)
            why = clash(self.store, self.cfg, rec) if rec is not None else None
            if why:
                raise Unavailable(why)
        super().write(change)


class Outbox:
    """Messages no sender is configured for (app push; SMS without an SMS sender, e-mail
    without SMTP): applying a ``send`` to it records the message in the journal for the
    desk to send, and ``ops reservations outbox`` lists them. Recorded once, like a sent
    mail."""

    backend = "outbox"

    def __init__(self, store: Store) -> None:
        self.store = store

    def read(self, change: Change) -> Any:
        return change.after if self.store.sent(change.target) else None

    def write(self, change: Change) -> None:
        if change.op != SEND:
            raise OpsError(f"an outbox message cannot be changed or taken back ({change.target})")

    def transaction(self) -> Any:
        return nullcontext()


# -- messages ------------------------------------------------------------------------------------
@dataclass
class Senders:
    """Where messages go: ``mail`` the SMTP sender, ``sms`` the SMS sender (None: those
    messages go to the outbox too)."""

    mail: Any = None
    mail_from: str = ""
    agent: str = ""
    enabled: bool = True
    sms: Any = None

    def targets(self, store: Store, cfg: ReservationsConfig) -> dict[str, Any]:
        out: dict[str, Any] = {"store": ReservationsTarget(store, cfg), "outbox": Outbox(store)}
        for sender in (self.mail, self.sms):
            if sender is not None:
                out[sender.backend] = sender
        return out

    def close(self) -> None:
        for sender in (self.mail, self.sms):
            if sender is not None and hasattr(sender, "close"):
                sender.close()


def _template(
    cfg: ReservationsConfig, kind: str, method: str, language: str | None
) -> tuple[str, dict[str, Any]] | None:
    """``<kind>_<method>`` (confirm_sms), else ``<kind>``; ``_<language>`` preferred; an app
    push without its own text uses the SMS one; e-mail only where a template has a subject."""
    templates = _table(cfg.profile, "templates")
    bases = [f"{kind}_{method}", kind] + ([f"{kind}_sms"] if method == "push" else [])
    for base in bases:
        for name in ([f"{base}_{language}"] if language else []) + [base]:
            tpl = templates.get(name)
            if isinstance(tpl, dict) and (method != "email" or tpl.get("subject")):
                return name, tpl
    return None


def values_of(cfg: ReservationsConfig, rec: dict[str, Any]) -> dict[str, Any]:
    """The placeholders every reservation message may use (date and time empty for a
    request without a readable start, which a fix request may be about)."""
    try:
        start: datetime | None = _dt(rec["starts_at"]).astimezone(cfg.tz)
    except (KeyError, TypeError, ValueError):
        start = None
    shop = cfg.shop(rec.get("store"))
    service = cfg.service(rec.get("service"))
    return {
        "reservation_id": rec["id"], "customer_name": rec.get("customer_name") or "",
        "date": cfg.date_format.format(year=start.year, month=start.month, day=start.day,
                                       weekday=WEEKDAYS[start.weekday()]) if start else "",
        "time": f"{start:%H:%M}" if start else "", "service": rec.get("service") or "",
        "store": rec.get("store") or "", "address": shop.address if shop else "",
        "store_phone": shop.phone if shop else "",
        "preparation": service.preparation if service else "",
        "survey_url": cfg.survey_url.format(reservation_id=rec["id"]) if cfg.survey_url else "",
    }  # fmt: skip


def messages(
    cfg: ReservationsConfig,
    senders: Senders,
    rec: dict[str, Any],
    kind: str,
    methods: Iterable[str],
    key: str,
    reason: str,
    *,
    values: dict[str, Any] | None = None,
    language: str | None = None,
) -> list[Change]:
    """One ``send`` per method (``outbox:<key>-<method>``): e-mail through SMTP and SMS
    through the SMS sender when there is one, everything else to the outbox; all but a
    mail carry channel, recipient (``to``) and ``text``. The target is the same whichever
    way a message goes, so one recorded in the outbox is not sent again by SMS."""
    from .orders import mail_change, render

    out: list[Change] = []
    vals = {**values_of(cfg, rec), **(values or {})}
    for method in dict.fromkeys(methods):
        to = rec.get("email") if method == "email" else rec.get("contact")
        found = _template(cfg, kind, method, language) if to else None
        if found is None:
            continue
        name, tpl = found
        target_key = f"{key}-{method}"
        if method == "email" and senders.mail is not None:
            change = mail_change(rec, cfg.mail_config(), name, senders.agent, target_key,
                                 senders.mail.backend, senders.mail_from, vals)  # fmt: skip
            change.reason = reason
            out.append(change)
            continue
        title = tpl.get("subject") if method == "email" else tpl.get("title")
        subject, body = render({"subject": title or "", "body": tpl.get("body")}, vals, name)
        after = {"channel": cfg.methods.get(method, method), "to": to, "text": body,
                 "template": name, **({"title": subject} if subject else {})}  # fmt: skip
        via = senders.sms.backend if method == "sms" and senders.sms is not None else "outbox"
        out.append(Change(f"outbox:{target_key}", "*", SEND, None, after, reason, via))
    return out


def confirm_methods(
    cfg: ReservationsConfig, rec: dict[str, Any], allowed: Iterable[str]
) -> list[str]:
    """The written message methods for a reservation: its channel's (``[confirmation]
    by_channel``) that ``allowed`` lists, else the first of ``allowed`` that is not e-mail
    (a walk-in still gets its reminder by SMS); e-mail too when the customer left one."""
    ok = list(allowed)
    channel = cfg.channel_key(rec.get("channel")) or ""
    methods = [m for m in cfg.by_channel.get(channel, ["sms"]) if m in ok and m != "email"]
    if not methods:
        methods = [m for m in ok if m not in ("email", "phone")][:1]
    if rec.get("email") and "email" in ok:
        methods.append("email")
    return methods


def language_of(cfg: ReservationsConfig, customer: dict[str, Any] | None) -> str | None:
    lang = (customer or {}).get("language") or _table(cfg.profile, "profile").get("language")
    return str(lang) if lang else None


# -- create --------------------------------------------------------------------------------------
@dataclass
class Planned:
    plan: Plan
    record: dict[str, Any]
    summary: dict[str, Any]
    fee: Fee | None = None
    existing: dict[str, Any] | None = None


def new_id(store: Store, cfg: ReservationsConfig, now: datetime) -> str:
    """``<prefix><yymmdd><4 digits>``: random, so concurrent creates do not pick the same
    number (a clash is caught under the lock and asks for a rerun)."""
    head = f"{cfg.id_prefix}{now.astimezone(cfg.tz):%y%m%d}"
    taken = {r["id"] for r in store.query("SELECT id FROM reservations WHERE id LIKE ?",
                                          (head + "%",))}  # fmt: skip
    digits = 4 if len(taken) < 5000 else 6
    while True:
        rid = f"{head}{secrets.randbelow(10**digits):0{digits}d}"
        if rid not in taken:
            return rid


def find_customer(
    store: Store, cfg: ReservationsConfig, number: str | None, email: str | None
) -> dict[str, Any] | None:
    """The one customer the number (E.164) or the address leads to, if just one."""
    from .lookup import CustomerIndex

    index = CustomerIndex(store, cfg.region)
    ids = {m.customer_id for m in index.find([email] if email else [], [number] if number else [])
           if m.customer_id and index.customer(m.customer_id)}  # fmt: skip
    return index.customer(ids.pop()) if len(ids) == 1 else None


def same_booking(store: Store, cfg: ReservationsConfig, c: Checked) -> dict[str, Any] | None:
    """An open reservation of the same customer number, store, service and start."""
    from deskops.adapters.phones import e164

    for r in store.iter_records(
        RESERVATIONS, "store = ? AND starts_at = ? AND service = ?",
        (c.shop.name, iso(c.start), c.service.name), children=False,
    ):  # fmt: skip
        if r.get("status") in cfg.open_statuses and e164(str(r.get("contact") or ""),
                                                         cfg.region) == c.e164:  # fmt: skip
            return r
    return None


def plan_create(
    store: Store,
    cfg: ReservationsConfig,
    req: Request,
    now: datetime,
    senders: Senders,
) -> Planned:
    checked = check_request(cfg, store, req, now, what="reservation not created")
    found = same_booking(store, cfg, checked)
    if found is not None:
        return Planned(Plan(command="reservations create"), found, {}, existing=found)
    fit = claimable(store, cfg, checked, now)
    customer = checked.customer
    label = cfg.channels[checked.channel]
    methods = confirm_methods(cfg, {"channel": label, "email": checked.email},
                              [*cfg.methods] if senders.enabled else [])  # fmt: skip
    record = booking(store, cfg, checked, fit, now, senders.agent, {
        "customer_id": customer["id"] if customer else None, "customer_name": checked.name,
        "contact": checked.contact, "email": checked.email, "channel": label,
        "notes": checked.notes,
    }, {
        "confirm_method": cfg.methods.get(methods[0], methods[0]) if methods else label,
        **({"platform": checked.platform} if checked.platform else {}),
    })  # fmt: skip
    rid = record["id"]
    plan = Plan(command=f"reservations create {rid}")
    plan.add(Change(f"reservations:{rid}", "*", CREATE, None, record, f"reservation {rid}"))
    for c in messages(cfg, senders, record, "confirm", methods, f"confirm-{rid}",
                      f"confirmation of {rid}", language=language_of(cfg, customer)):  # fmt: skip
        plan.add(c)
    summary = {"reservation": rid, **booked_summary(cfg, record, fit),
               "customer": customer["id"] if customer else None}  # fmt: skip
    return Planned(plan, record, summary)


def claimable(
    store: Store, cfg: ReservationsConfig, checked: Checked, now: datetime,
    exclude: Iterable[str] = (), held: Iterable[dict[str, Any]] = (),
) -> Fit:  # fmt: skip
    """The staff and room for the request, or :class:`Unavailable` with the reasons and
    the free times of that day. ``held``: claims planned but not written yet (as
    :func:`booked` gives them), which a run confirming several requests counts too."""
    mine = [b for b in held if b["store"] == checked.shop.name]
    res = Resources.load(store, cfg, checked.shop, checked.start, checked.end)
    res.taken.extend(mine)
    fit = res.fit(checked.service, checked.start, checked.end, want_staff=checked.staff,
                  exclude=exclude)  # fmt: skip
    if not fit.ok:
        day = Resources.load(store, cfg, checked.shop, *_day_range(cfg, checked.start))
        day.taken.extend(mine)
        raise refusal(day, checked, now, fit, exclude)
    return fit


def booking(
    store: Store, cfg: ReservationsConfig, checked: Checked, fit: Fit, now: datetime,
    agent: str, who: dict[str, Any], extra: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """The confirmed reservation record, every field (as the store gives it back), with a
    new number; ``who`` the customer's fields, ``extra`` what else it records."""
    from .importer import full_record

    extra = {"price": checked.service.price, "minutes": checked.service.minutes,
             "confirmed_at": iso(now), "confirmed_by": agent, **extra}  # fmt: skip
    if checked.service.staff > 1:
        extra["staff_ids"] = [s["id"] for s in fit.staff]
    return full_record(RESERVATIONS, {
        **who, "id": new_id(store, cfg, now), "store": checked.shop.name,
        "service": checked.service.name, "starts_at": iso(checked.start),
        "ends_at": iso(checked.end), "staff_id": fit.staff[0]["id"],
        "room_id": fit.room["id"] if fit.room else None, "status": cfg.statuses["confirmed"],
        "created_at": iso(now), "updated_at": iso(now), "satisfaction": None, "extra": extra,
    })  # fmt: skip


def booked_summary(cfg: ReservationsConfig, record: dict[str, Any], fit: Fit) -> dict[str, Any]:
    return {"store": record["store"], "service": record["service"],
            "starts_at": local(cfg, record["starts_at"]), "ends_at": local(cfg, record["ends_at"]),
            "staff": ", ".join(_who(s) for s in fit.staff),
            "room": _who(fit.room) if fit.room else None}  # fmt: skip


def _day_range(cfg: ReservationsConfig, at: datetime) -> tuple[datetime, datetime]:
    start = datetime.combine(at.astimezone(cfg.tz).date(), time(0), cfg.tz)
    return start, start + timedelta(days=1)


# -- fees ----------------------------------------------------------------------------------------
@dataclass
class Fee:
    kind: str  # change, cancel, no_show
    hours_before: float
    percent: float
    amount: float
    label: str
    window_hours: float  # "within N hours before the start" of the customer's message
    currency: str = ""
    waived: str | None = None

    def record(self, now: datetime) -> dict[str, Any]:
        return {
            "kind": self.kind, "amount": self.amount, "percent": self.percent,
            "currency": self.currency, "label": self.label,
            "hours_before": round(self.hours_before, 2), "waived": self.waived, "at": iso(now),
        }  # fmt: skip

    def text(self) -> str:
        if self.waived:
            return f"none, {self.percent:g}% waived ({self.waived})"
        if not self.amount:
            return "none"
        return f"{_money(self.amount)} {self.currency} ({self.percent:g}%: {self.label})"


def _money(x: float) -> str:
    return f"{round(x, 2):g}"


def fee_for(
    store: Store,
    cfg: ReservationsConfig,
    rec: dict[str, Any],
    kind: str,
    now: datetime,
    waive: str | None,
) -> Fee:
    """The fee of a change, cancellation or no-show from the profile's table: free up to
    the notice period, then the first row whose ``min_hours_before`` the time left reaches."""
    hours = (_dt(rec["starts_at"]) - now).total_seconds() / 3600
    extra = rec.get("extra") or {}
    service = cfg.service(rec.get("service"))
    price = float(extra.get("price") or (service.price if service else 0) or 0)
    notice = cfg.change_hours if kind == "change" else cfg.cancel_hours
    if kind == "no_show":
        row = cfg.no_show or FeeRow(0, 0, "")
        window = 0.0
    else:
        row = next((r for r in cfg.fees if r.min_hours <= hours), FeeRow(0, 0, ""))
        above = [r.min_hours for r in cfg.fees if r.min_hours > hours] + [notice]
        window = min(above)
        if hours >= notice:
            row = row if row.percent == 0 else FeeRow(row.min_hours, 0, "")
    fee = Fee(kind, hours, row.percent, round(price * row.percent / 100, 2), row.label,
              window, cfg.currency)  # fmt: skip
    if fee.amount and waive:
        if waive not in cfg.waivers:
            raise UsageError(f"--waive {waive!r}; valid: {', '.join(cfg.waivers) or 'none'} "
                             "([changes.waivers] reasons)")  # fmt: skip
        fee.waived = waive
    elif fee.amount and cfg.first_time_free and first_timer(store, cfg, rec):
        fee.waived = "first_time_member"
    if fee.waived:
        fee.amount = 0.0
    return fee


def first_timer(store: Store, cfg: ReservationsConfig, rec: dict[str, Any]) -> bool:
    """A member (a customer record) who has not had a service yet."""
    cid = rec.get("customer_id")
    customer = store.get(CUSTOMERS, cid, children=False) if cid else None
    if customer is None or (customer.get("extra") or {}).get("visits"):
        return False
    done = store.scalar("SELECT COUNT(*) FROM reservations WHERE customer_id = ? AND status = ?",
                        (cid, cfg.statuses["completed"]))  # fmt: skip
    return not done


def _open(cfg: ReservationsConfig, store: Store, rid: str, what: str) -> dict[str, Any]:
    rec = store.get(RESERVATIONS, rid, children=False)
    if rec is None:
        raise UsageError(f"no reservation {rid!r} (see `ops reservations list`)")
    if rec.get("status") not in cfg.open_statuses:
        raise UsageError(f"reservation {rid} is {rec.get('status')}; only "
                         f"{' or '.join(cfg.open_statuses)} ones can be {what}")  # fmt: skip
    return rec


def _customer(store: Store, rec: dict[str, Any]) -> dict[str, Any] | None:
    cid = rec.get("customer_id")
    return store.get(CUSTOMERS, cid, children=False) if cid else None


def _set(plan: Plan, rec: dict[str, Any], name: str, value: Any, why: str) -> None:
    if rec.get(name) != value:
        plan.add(Change(f"reservations:{rec['id']}", name, SET, rec.get(name), value, why))


# -- change, cancel, no-show, complete -------------------------------------------------------
@dataclass
class ChangeRequest:
    time: str | None = None
    service: str | None = None
    store: str | None = None
    staff: str | None = None
    waive: str | None = None


def plan_change(
    store: Store,
    cfg: ReservationsConfig,
    rid: str,
    want: ChangeRequest,
    now: datetime,
    senders: Senders,
) -> Planned:
    """A move to another time, service or store: the new reservation (checked and claimed
    like a new one), the old one ``改期`` pointing at it, the fee if late."""

    old = _open(cfg, store, rid, "changed")
    if not (want.time or want.service or want.store or want.staff):
        raise UsageError("reservations change: give --time, --service, --store or --staff")
    if _dt(old["starts_at"]) <= now:
        raise UsageError(f"reservation {rid} has started; it can be completed or marked no-show")
    req = Request(
        store=want.store or old["store"], service=want.service or old["service"],
        time=want.time or local(cfg, old["starts_at"]), name=old.get("customer_name"),
        contact=old.get("contact"), email=old.get("email"),
        channel=cfg.channel_key(old.get("channel")),
        customer_id=None, staff=want.staff, platform=(old.get("extra") or {}).get("platform"),
        notes=old.get("notes"),
    )  # fmt: skip
    checked = check_request(cfg, store, req, now, what=f"reservation {rid} not changed", new=False)
    same = (checked.shop.name, checked.service.name, iso(checked.start)) == (
        old["store"], old["service"], old["starts_at"])  # fmt: skip
    if same and checked.staff in (None, old.get("staff_id")):
        raise UsageError(f"reservation {rid} is already at {local(cfg, old['starts_at'])} for "
                         f"{old['service']} at {old['store']}; nothing to change")  # fmt: skip
    fit = claimable(store, cfg, checked, now, exclude=[rid])
    fee = fee_for(store, cfg, old, "change", now, want.waive)
    old_extra = dict(old.get("extra") or {})
    keep = ("customer_id", "customer_name", "contact", "email", "channel", "notes")
    record = booking(store, cfg, checked, fit, now, senders.agent,
                     {k: old.get(k) for k in keep}, {
        **{k: v for k, v in old_extra.items() if k in ("platform", "platform_order_no")},
        "confirm_method": old_extra.get("confirm_method"), "rescheduled_from": rid,
    })  # fmt: skip
    new = record["id"]
    plan = Plan(command=f"reservations change {rid}")
    why = f"{rid} moved to {new}"
    plan.add(Change(f"reservations:{new}", "*", CREATE, None, record, why))
    _set(plan, old, "status", cfg.statuses["moved"], why)
    moved = {**old_extra, "rescheduled_to": new, "changed_at": iso(now), "fee": fee.record(now)}
    plan.add(Change(f"reservations:{rid}", "extra", SET, old.get("extra"), moved,
                    f"{why}; fee: {fee.text()}"))  # fmt: skip
    _set(plan, old, "updated_at", iso(now), why)
    if senders.enabled:
        customer = _customer(store, old)
        lang = language_of(cfg, customer)
        methods = confirm_methods(cfg, record, [*cfg.methods])
        values = {"old_reservation_id": rid, **_fee_values(fee)}
        for c in messages(cfg, senders, record, "change_confirmed", methods, f"change-{rid}",
                          f"change of {rid}", values=values, language=lang):  # fmt: skip
            plan.add(c)
        if fee.amount:
            for c in messages(cfg, senders, old, "late_change_fee", methods,
                              f"change-fee-{rid}", f"fee of the change of {rid}", values=values,
                              language=lang):  # fmt: skip
                plan.add(c)
    summary = {"reservation": rid, "moved_to": new, **booked_summary(cfg, record, fit),
               "hours_before": round(fee.hours_before, 1), "fee": fee.text()}  # fmt: skip
    return Planned(plan, record, summary, fee)


def _fee_values(fee: Fee) -> dict[str, Any]:
    return {"fee": _money(fee.amount), "percent": f"{fee.percent:g}",
            "hours": f"{fee.window_hours:g}", "fee_label": fee.label}  # fmt: skip


def plan_cancel(
    store: Store,
    cfg: ReservationsConfig,
    rid: str,
    now: datetime,
    senders: Senders,
    *,
    reason: str | None = None,
    waive: str | None = None,
) -> Planned | None:
    """None when it is cancelled already (a rerun does nothing)."""
    rec = store.get(RESERVATIONS, rid, children=False)
    if rec is not None and rec.get("status") == cfg.statuses["cancelled"]:
        return None
    rec = _open(cfg, store, rid, "cancelled")
    if _dt(rec["starts_at"]) <= now:
        raise UsageError(f"reservation {rid} has started; a customer who did not come is a "
                         f"no-show (`ops reservations no-show {rid}`)")  # fmt: skip
    fee = fee_for(store, cfg, rec, "cancel", now, waive)
    plan = Plan(command=f"reservations cancel {rid}")
    why = f"cancelled: {reason}" if reason else "cancelled"
    _set(plan, rec, "status", cfg.statuses["cancelled"], why)
    extra = {**(rec.get("extra") or {}), "cancelled_at": iso(now), "fee": fee.record(now),
             **({"cancel_reason": reason} if reason else {})}  # fmt: skip
    plan.add(Change(f"reservations:{rid}", "extra", SET, rec.get("extra"), extra,
                    f"{why}; fee: {fee.text()}"))  # fmt: skip
    _set(plan, rec, "updated_at", iso(now), why)
    if senders.enabled:
        kind = "late_cancel_fee" if fee.amount else "cancel_confirmed"
        methods = confirm_methods(cfg, rec, [*cfg.methods])
        for c in messages(cfg, senders, rec, kind, methods, f"cancel-{rid}",
                          f"cancellation of {rid}", values={**_fee_values(fee), "fee_text": ""},
                          language=language_of(cfg, _customer(store, rec))):  # fmt: skip
            plan.add(c)
    summary = {"reservation": rid, "starts_at": local(cfg, rec["starts_at"]),
               "hours_before": round(fee.hours_before, 1), "fee": fee.text()}  # fmt: skip
    return Planned(plan, rec, summary, fee)


def plan_no_show(
    store: Store, cfg: ReservationsConfig, rid: str, now: datetime, agent: str,
    waive: str | None = None,
) -> Planned | None:  # fmt: skip
    """The customer did not come: ``爽约`` with the ``[changes.no_show]`` fee."""
    rec = store.get(RESERVATIONS, rid, children=False)
    if rec is not None and rec.get("status") == cfg.statuses["no_show"]:
        return None
    rec = _open(cfg, store, rid, "marked no-show")
    if _dt(rec["starts_at"]) > now:
        raise UsageError(f"reservation {rid} starts at {local(cfg, rec['starts_at'])}; "
                         "a no-show is marked after the start")  # fmt: skip
    fee = fee_for(store, cfg, rec, "no_show", now, waive)
    plan = Plan(command=f"reservations no-show {rid}")
    _set(plan, rec, "status", cfg.statuses["no_show"], "no-show")
    extra = {**(rec.get("extra") or {}), "no_show_marked_by": agent, "no_show_at": iso(now),
             "fee": fee.record(now)}  # fmt: skip
    plan.add(Change(f"reservations:{rid}", "extra", SET, rec.get("extra"), extra,
                    f"no-show; fee: {fee.text()}"))  # fmt: skip
    _set(plan, rec, "updated_at", iso(now), "no-show")
    return Planned(plan, rec, {"reservation": rid, "fee": fee.text()}, fee)


def plan_complete(
    store: Store, cfg: ReservationsConfig, rid: str, now: datetime, started: datetime | None
) -> Planned | None:
    """Service delivered: ``已完成`` with when it really started (the on-time KPI)."""
    rec = store.get(RESERVATIONS, rid, children=False)
    if rec is not None and rec.get("status") == cfg.statuses["completed"]:
        return None
    rec = _open(cfg, store, rid, "completed")
    begin = started or _dt(rec["starts_at"])
    if begin > now:
        raise UsageError(f"reservation {rid}: the service starts at {local(cfg, iso(begin))}; "
                         "it can be completed once it has")  # fmt: skip
    minutes = int((rec.get("extra") or {}).get("minutes") or 0) or int(
        (_dt(rec["ends_at"]) - _dt(rec["starts_at"])).total_seconds() // 60
    )
    ended = min(begin + timedelta(minutes=minutes), now)
    plan = Plan(command=f"reservations complete {rid}")
    _set(plan, rec, "status", cfg.statuses["completed"], "service delivered")
    extra = {**(rec.get("extra") or {}), "service_started_at": iso(begin),
             "service_ended_at": iso(ended)}  # fmt: skip
    plan.add(Change(f"reservations:{rid}", "extra", SET, rec.get("extra"), extra,
                    "service delivered"))  # fmt: skip
    _set(plan, rec, "updated_at", iso(now), "service delivered")
    late = (begin - _dt(rec["starts_at"])).total_seconds() / 60
    return Planned(plan, rec, {"reservation": rid, "started_at": local(cfg, iso(begin)),
                               "late_minutes": round(max(late, 0))})  # fmt: skip


# -- confirm online requests ---------------------------------------------------------------------
CONFIRMED, FIX_REQUESTED, FIX_NEEDED, TAKEN, HANDLED, NOT_FOUND, FAILED = (
    "confirmed", "fix requested", "fix needed", "taken", "already handled", "not found",
    "failed",
)  # fmt: skip
CONFIRM_FIELDS = ["id", "store", "starts_at", "service", "customer_name", "contact", "channel",
                  "outcome", "detail", "staff_id", "room_id", "run_id"]  # fmt: skip
CONFIRM_DEFAULT = ["id", "store", "starts_at", "service", "customer_name", "outcome", "detail"]


@dataclass
class Decision:
    """What ``reservations confirm`` does with one request: the outcome, the words for the
    desk, and the plan that does it (its own atomic run). ``problem``: an id that could
    not be handled (not found, not pending, or its run failed): the run is partial."""

    rid: str
    rec: dict[str, Any] | None
    outcome: str
    detail: str
    plan: Plan | None = None
    problem: bool = False
    staff_id: str | None = None
    room_id: str | None = None
    run_id: str | None = None

    def row(self, cfg: ReservationsConfig) -> dict[str, Any]:
        r = self.rec or {}
        return {
            "id": self.rid, "store": r.get("store"), "starts_at": local(cfg, r.get("starts_at")),
            "service": r.get("service"), "customer_name": r.get("customer_name"),
            "contact": r.get("contact"), "channel": r.get("channel"), "outcome": self.outcome,
            "detail": self.detail, "staff_id": self.staff_id or r.get("staff_id"),
            "room_id": self.room_id or r.get("room_id"), "run_id": self.run_id,
        }  # fmt: skip


def request_of(cfg: ReservationsConfig, rec: dict[str, Any]) -> Request:
    """A stored request as the desk would have typed it, for :func:`check_request`."""
    extra = rec.get("extra") or {}
    return Request(
        store=rec.get("store"), service=rec.get("service"), time=local(cfg, rec.get("starts_at")),
        name=rec.get("customer_name"), contact=rec.get("contact"), email=rec.get("email"),
        channel=rec.get("channel"), customer_id=rec.get("customer_id"),
        staff=extra.get("requested_staff"), platform=extra.get("platform"),
        notes=rec.get("notes"),
    )  # fmt: skip


def pending_requests(
    store: Store, cfg: ReservationsConfig, ids: list[str], shop: str | None
) -> list[tuple[str, dict[str, Any] | None]]:
    """(id, record) of the requests to confirm: those ids (None: not found), else every
    pending one, oldest request first (of one store)."""
    if ids:
        return [(rid, store.get(RESERVATIONS, rid, children=False)) for rid in dict.fromkeys(ids)]
    where, params = "status = ?", [cfg.statuses["pending"]]
    if shop:
        where += " AND store = ?"
        params.append(shop)
    found = store.iter_records(RESERVATIONS, where, params, order="created_at, id", children=False)
    return [(r["id"], r) for r in found]


def fix_problems(cfg: ReservationsConfig, items: list[Problem], language: str | None) -> str:
    """The problems in the customer's words where the fix-request template gives them:
    ``problems`` (``"contact.invalid"`` or ``"missing"``, ``{field}`` the label) and
    ``fields`` (labels) of ``[templates.<fix_request_template>[_<language>]]``; otherwise
    the desk's wording under the field's label."""
    templates = _table(cfg.profile, "templates")
    names = ([f"{cfg.fix_template}_{language}"] if language else []) + [cfg.fix_template]
    spec: dict[str, Any] = next(
        (templates[n] for n in names if isinstance(templates.get(n), dict)), {}
    )
    labels, words = _table(spec, "fields"), _table(spec, "problems")
    out = []
    for p in items:
        label = str(labels.get(p.field) or p.field)
        said = words.get(f"{p.field}.{p.kind}") or words.get(p.kind)
        out.append(str(said).format(field=label) if said else f"{label}: {p.text}")
    return str(spec.get("problem_separator") or "; ").join(dict.fromkeys(out))


def _fix_key(rid: str, items: list[Problem]) -> str:
    """One fix request per request and set of problems (a new problem: a new request)."""
    import hashlib

    text = "\n".join(sorted(f"{p.field}|{p.kind}|{p.text}" for p in items))
    return f"fix-{rid}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"


def plan_fix_request(
    store: Store, cfg: ReservationsConfig, rec: dict[str, Any], invalid: Invalid,
    senders: Senders, sent: set[str],
) -> Decision:  # fmt: skip
    """Ask the customer to fix the request, by the channel's method (and e-mail when they
    left one), only to an address that is itself valid; once per set of problems."""
    rid, items = rec["id"], invalid.items
    desk = "; ".join(f"{p.field}: {p.text}" for p in items)
    customer = _customer(store, rec)
    bad = {p.field for p in items}
    contact = str(rec.get("contact") or next(iter((customer or {}).get("phones") or []), "") or "")
    email = str(rec.get("email") or next(iter((customer or {}).get("emails") or []), "") or "")
    national = check_phone(cfg, contact)[0] if contact and "contact" not in bad else None
    ok_email = email if email and "email" not in bad and EMAIL_RE.fullmatch(email) else None
    reach = {**rec, "contact": national, "email": ok_email}
    key = _fix_key(rid, items)
    methods = confirm_methods(cfg, reach, [*cfg.methods] if senders.enabled else [])
    usable = [m for m in methods if reach["email" if m == "email" else "contact"]
              and _template(cfg, cfg.fix_template, m, language_of(cfg, customer))]  # fmt: skip
    done = [m for m in usable if f"outbox:{key}-{m}" in sent]
    todo = [m for m in usable if m not in done]
    lang = language_of(cfg, customer)
    values = {"problems": fix_problems(cfg, items, lang)}
    plan = Plan(command=f"reservations confirm {rid}")
    for c in messages(cfg, senders, reach, cfg.fix_template, todo, key, f"fix request for {rid}",
                      values=values, language=lang):  # fmt: skip
        plan.add(c)
    n = len(items)
    said = f"{n} problem{'s' if n > 1 else ''}: {desk}"
    if not usable:
        why = "messages are off" if not senders.enabled else "no valid number or e-mail"
        return Decision(rid, rec, FIX_NEEDED, f"{said}; not asked ({why}): call the customer")
    by = ", ".join(cfg.methods.get(m, m) for m in usable)
    if not plan.changes:
        return Decision(rid, rec, FIX_REQUESTED, f"{said}; asked before ({by}), waiting")
    return Decision(rid, rec, FIX_REQUESTED, f"{said}; asked by {by}", plan)


def plan_confirm_one(
    store: Store, cfg: ReservationsConfig, rec: dict[str, Any], now: datetime,
    senders: Senders, sent: set[str], held: list[dict[str, Any]],
) -> Decision:  # fmt: skip
    """A pending request: validated like a new booking (``create``'s rules); invalid → a
    fix request; valid → its staff and room claimed like ``create`` claims them (``held``:
    the claims planned before it in the same run), then the confirmation."""
    rid = rec["id"]
    try:
        checked = check_request(cfg, store, request_of(cfg, rec), now, what=f"request {rid}")
    except Invalid as exc:
        return plan_fix_request(store, cfg, rec, exc, senders, sent)
    same = same_booking(store, cfg, checked)
    if same is not None and same["id"] != rid:
        return Decision(rid, rec, HANDLED, f"{same['id']} already books this ({same['status']}); "
                        "left pending for the desk")  # fmt: skip
    try:
        fit = claimable(store, cfg, checked, now, exclude=[rid], held=held)
    except Unavailable as exc:
        return Decision(rid, rec, TAKEN, f"{exc.message}; left pending: call the customer")
    customer = checked.customer
    label = cfg.channels.get(checked.channel) or rec.get("channel")
    methods = confirm_methods(cfg, {"channel": label, "email": checked.email},
                              [*cfg.methods] if senders.enabled else [])  # fmt: skip
    extra = {**(rec.get("extra") or {}), "price": checked.service.price,
             "minutes": checked.service.minutes, "confirmed_at": iso(now),
             "confirmed_by": senders.agent, "confirm_method": cfg.methods.get(methods[0],
             methods[0]) if methods else label}  # fmt: skip
    if checked.service.staff > 1:
        extra["staff_ids"] = [s["id"] for s in fit.staff]
    want = {
        "customer_id": customer["id"] if customer else rec.get("customer_id"),
        "customer_name": checked.name, "contact": checked.contact, "email": checked.email,
        "service": checked.service.name, "starts_at": iso(checked.start),
        "ends_at": iso(checked.end), "staff_id": fit.staff[0]["id"],
        "room_id": fit.room["id"] if fit.room else None, "extra": extra,
        "updated_at": iso(now),
    }  # fmt: skip
    plan = Plan(command=f"reservations confirm {rid}")
    why = f"request {rid} confirmed"
    for name, value in want.items():
        _set(plan, rec, name, value, why)
    _set(plan, rec, "status", cfg.statuses["confirmed"], why)  # last: the claim is checked here
    record = {**rec, **want, "status": cfg.statuses["confirmed"]}
    for c in messages(cfg, senders, record, "confirm", methods, f"confirm-{rid}",
                      f"confirmation of {rid}", language=language_of(cfg, customer)):  # fmt: skip
        plan.add(c)
    held.append({"id": rid, "store": record["store"], "staff_id": record["staff_id"],
                 "room_id": record["room_id"], "starts_at": record["starts_at"],
                 "ends_at": record["ends_at"], "status": record["status"],
                 "staff": [s["id"] for s in fit.staff]})  # fmt: skip
    info = booked_summary(cfg, record, fit)
    by = ", ".join(cfg.methods.get(m, m) for m in methods) or "no message"
    return Decision(rid, rec, CONFIRMED, f"{info['staff']}; {info['room']}; confirmation: {by}",
                    plan, staff_id=record["staff_id"], room_id=record["room_id"])  # fmt: skip


def plan_confirm(
    store: Store, cfg: ReservationsConfig, ids: list[str], shop: str | None, now: datetime,
    senders: Senders,
) -> list[Decision]:  # fmt: skip
    """What to do with each request (nothing is changed yet): see :func:`plan_confirm_one`;
    an unknown id or one that is not pending is a problem of its own."""
    pending = cfg.statuses["pending"]
    sent = sent_keys(store, "outbox:fix-")
    held: list[dict[str, Any]] = []
    out = []
    for rid, rec in pending_requests(store, cfg, ids, shop):
        if rec is None:
            out.append(Decision(rid, None, NOT_FOUND, f"no reservation {rid!r}", problem=True))
        elif rec.get("status") != pending:
            out.append(Decision(rid, rec, HANDLED, f"it is {rec.get('status')}, not {pending}; "
                                "nothing to confirm", problem=True))  # fmt: skip
        else:
            out.append(plan_confirm_one(store, cfg, rec, now, senders, sent, held))
    return out


def apply_confirm(
    store: Store, cfg: ReservationsConfig, decisions: list[Decision], senders: Senders,
    progress: Any = None,
) -> None:  # fmt: skip
    """Each request's plan as its own atomic run: a request whose slot was taken meanwhile
    (checked under the lock) or whose write failed is left pending, the others stand; a
    message that failed after its records were written is named (the run is partial)."""
    from .plan import APPLIED, CONFLICT, execute

    targets = senders.targets(store, cfg)
    for d in decisions:
        if d.plan is None or not d.plan.changes:
            continue
        result = execute(d.plan, store, targets, atomic=True, who=senders.agent, progress=progress)
        d.run_id = result.run_id
        bad = [c for c in result.changes if c.outcome in (FAILED, CONFLICT)]
        if result.status == "failed":
            first = bad[0] if bad else None
            error = first.error if first is not None else "failed"
            d.staff_id = d.room_id = None
            if first is not None and "booked meanwhile" in (first.error or ""):
                d.outcome, d.detail = TAKEN, f"{error}; left pending: call the customer"
            else:
                where = f"{first.target} {first.field}: " if first is not None else ""
                d.outcome, d.detail, d.problem = FAILED, f"nothing changed: {where}{error}", True
        elif bad:
            d.problem = True
            d.detail += "; not sent: " + "; ".join(f"{c.target}: {c.error}" for c in bad)
        kept = [c for c in result.changes if c.backend == "outbox" and c.outcome == APPLIED]
        if kept:
            d.detail += f"; {len(kept)} kept in the outbox to send by hand"


# -- reminders -----------------------------------------------------------------------------------
def sent_keys(store: Store, prefix: str) -> set[str]:
    """Targets of the journal's applied sends beginning with ``prefix`` (one query for a
    whole run rather than one per message)."""
    rows = store.query(
        "SELECT DISTINCT target FROM journal_entries WHERE target LIKE ? AND op = 'send' "
        "AND outcome = 'applied'",
        (prefix + "%",),
    )
    return {str(r["target"]) for r in rows}


def in_quiet_hours(cfg: ReservationsConfig, now: datetime) -> bool:
    if cfg.quiet is None:
        return False
    t, (a, b) = now.astimezone(cfg.tz).time(), cfg.quiet
    return (a <= t or t < b) if a > b else (a <= t < b)


def _hours_tag(h: float) -> str:
    return f"{h:g}h"


def _consents(customer: dict[str, Any] | None, cfg: ReservationsConfig, method: str) -> bool:
    flags = ((customer or {}).get("extra") or {}).get("consent") or {}
    key = cfg.consent.get(method)
    return not (key and flags.get(key) is False)


def plan_remind(
    store: Store,
    cfg: ReservationsConfig,
    now: datetime,
    senders: Senders,
    *,
    window: timedelta | None = None,
) -> tuple[Plan, int]:
    """(the plan, reminders held back by quiet hours). Each confirmed reservation gets the
    reminder of the latest point of ``[reminders] hours_before`` that has passed since it
    was made, once per point and method; with ``window``, every one starting within it
    that has had no reminder by that method yet."""
    points = [window.total_seconds() / 3600] if window else list(cfg.remind_hours)
    plan = Plan(command="reservations remind")
    horizon = now + timedelta(hours=max(points))
    sent = sent_keys(store, "outbox:remind-")
    customers: dict[str, dict[str, Any] | None] = {}
    allowed = [*cfg.remind_methods, *(["email"] if cfg.remind_email else [])]
    due = []
    for r in store.iter_records(
        RESERVATIONS, "status = ? AND starts_at > ? AND starts_at <= ?",
        (cfg.statuses["confirmed"], iso(now), iso(horizon)), order="starts_at, id",
        children=False,
    ):  # fmt: skip
        start, made = _dt(r["starts_at"]), _dt(r.get("created_at") or r["starts_at"])
        points_at = {h: start - timedelta(hours=h) for h in points}
        passed = [h for h, at in points_at.items() if at <= now and (window or made <= at)]
        if passed:
            due.append((r, min(passed)))
    if in_quiet_hours(cfg, now):
        return plan, len(due)
    for r, h in due:
        cid = r.get("customer_id")
        if cid and cid not in customers:
            customers[cid] = store.get(CUSTOMERS, cid, children=False)
        customer = customers.get(cid) if cid else None
        methods = [m for m in confirm_methods(cfg, r, allowed) if _consents(customer, cfg, m)]
        key = f"remind-{r['id']}-{_hours_tag(h)}"
        if window:  # anyone not reminded yet, whatever the point of the reminder they had
            had = {t.rpartition("-")[2] for t in sent if t.startswith(f"outbox:remind-{r['id']}-")}
            todo = [m for m in methods if m not in had]
        else:
            todo = [m for m in methods if f"outbox:{key}-{m}" not in sent]
        for c in messages(cfg, senders, r, "reminder", todo, key,
                          f"reminder {_hours_tag(h)} before {r['id']}",
                          language=language_of(cfg, customer)):  # fmt: skip
            plan.add(c)
    return plan, 0


# -- survey --------------------------------------------------------------------------------------
def plan_survey(store: Store, cfg: ReservationsConfig, now: datetime, senders: Senders) -> Plan:
    """Satisfaction requests for services that ended ``[survey] send_after_hours`` ago (and
    not longer than ``send_within_hours``): the ``survey`` message per method, and
    ``extra.survey_sent_at``. One that went out (journal) or was recorded as sent
    elsewhere (``survey_sent_at`` of imported data) is not sent again."""
    plan = Plan(command="reservations survey")
    latest, earliest = (
        now - timedelta(hours=cfg.survey_after),
        now - timedelta(hours=cfg.survey_within),
    )
    sent = sent_keys(store, "outbox:survey-")
    slack = timedelta(hours=24)  # the service may have ended later than booked
    for r in store.iter_records(
        RESERVATIONS, "status = ? AND ends_at > ? AND ends_at <= ?",
        (cfg.statuses["completed"], iso(earliest - slack), iso(latest + slack)),
        order="ends_at, id", children=False,
    ):  # fmt: skip
        extra = r.get("extra") or {}
        ended = _dt(extra.get("service_ended_at") or r["ends_at"])
        if not (earliest <= ended <= latest):
            continue
        key = f"survey-{r['id']}"
        mine = {t for t in sent if t.startswith(f"outbox:{key}-")}
        if extra.get("survey_sent_at") and not mine:
            continue  # sent before ops, by whoever imported it
        methods = confirm_methods(cfg, r, cfg.survey_methods)
        todo = [m for m in methods if f"outbox:{key}-{m}" not in mine]
        changes = messages(cfg, senders, r, "survey", todo, key, f"survey of {r['id']}",
                           language=language_of(cfg, _customer(store, r)))  # fmt: skip
        for c in changes:
            plan.add(c)
        if changes and not extra.get("survey_sent_at"):
            plan.add(Change(f"reservations:{r['id']}", "extra", SET, r.get("extra"),
                            {**extra, "survey_sent_at": iso(now)}, "survey sent"))  # fmt: skip
    return plan


def plan_score(
    store: Store, cfg: ReservationsConfig, rid: str, score: int, now: datetime,
    comment: str | None = None,
) -> tuple[Plan, dict[str, Any]]:  # fmt: skip
    """A survey answer: ``satisfaction`` (what the report's reservations section counts)
    and when it came; a low score gets a follow-up due date for the store manager."""
    rec = store.get(RESERVATIONS, rid, children=False)
    if rec is None:
        raise UsageError(f"no reservation {rid!r} (see `ops reservations list`)")
    lo, hi = cfg.scale
    if not lo <= score <= hi:
        raise UsageError(f"score {score}: the survey's scale is {lo}–{hi} ([survey] scale)")
    if rec.get("status") != cfg.statuses["completed"]:
        raise UsageError(f"reservation {rid} is {rec.get('status')}; a satisfaction score "
                         f"belongs to a {cfg.statuses['completed']} one")  # fmt: skip
    plan = Plan(command=f"reservations survey --record {rid} {score}")
    why = f"survey answer {score}"
    _set(plan, rec, "satisfaction", score, why)
    extra = dict(rec.get("extra") or {})
    new = {**extra, "survey_answered_at": extra.get("survey_answered_at") or iso(now)}
    if comment:
        new["survey_comment"] = comment
    low = score <= cfg.low_score
    if low:
        new["follow_up"] = extra.get("follow_up") or {
            "due": iso(now + timedelta(hours=cfg.follow_up_hours)),
            "reason": f"low satisfaction score {score}",
        }
    if plan.changes or new != extra:
        plan.add(Change(f"reservations:{rid}", "extra", SET, rec.get("extra"), new, why))
    info = {"reservation": rid, "store": rec.get("store"), "satisfaction": score,
            "follow_up_due": local(cfg, new["follow_up"]["due"]) if low else None}  # fmt: skip
    return plan, info


# -- reading -------------------------------------------------------------------------------------
RESERVATION_FIELDS = [
    "id", "starts_at", "ends_at", "store", "service", "customer_name", "contact", "email",
    "channel", "status", "staff_id", "room_id", "fee", "satisfaction", "customer_id",
    "created_at", "notes",
]  # fmt: skip
RESERVATION_DEFAULT = ["id", "starts_at", "store", "service", "customer_name", "contact",
                       "channel", "status", "staff_id", "room_id"]  # fmt: skip
OUTBOX_FIELDS = ["at", "key", "channel", "to", "title", "text", "template", "run_id", "undone_by"]


@dataclass
class Filter:
    store: str | None = None  # the store's name
    first: datetime | None = None
    last: datetime | None = None
    statuses: list[str] = field(default_factory=list)
    customer_id: str | None = None
    channel: str | None = None  # label


def reservation_rows(store: Store, cfg: ReservationsConfig, f: Filter) -> Iterable[dict]:
    where, params = [], []
    for column, value in (("store", f.store), ("customer_id", f.customer_id),
                          ("channel", f.channel)):  # fmt: skip
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if f.first is not None:
        where.append("starts_at >= ?")
        params.append(iso(f.first))
    if f.last is not None:
        where.append("starts_at < ?")
        params.append(iso(f.last))
    if f.statuses:
        where.append(f"status IN ({', '.join('?' for _ in f.statuses)})")
        params.extend(f.statuses)
    for r in store.iter_records(RESERVATIONS, " AND ".join(where), params,
                                order="starts_at, id", children=False):  # fmt: skip
        yield row_of(cfg, r)


def row_of(cfg: ReservationsConfig, r: dict[str, Any]) -> dict[str, Any]:
    out = dict(r)
    for k in ("starts_at", "ends_at", "created_at", "updated_at"):
        out[k] = local(cfg, r.get(k))
    fee = (r.get("extra") or {}).get("fee") or {}
    out["fee"] = fee.get("amount") if fee else None
    return out


def message_log(store: Store, rid: str) -> list[dict[str, Any]]:
    """The messages of a reservation in the journal (sent, or kept in the outbox)."""
    rows = store.query(
        "SELECT e.at, e.backend, e.target, e.after, e.outcome, e.run_id FROM journal_entries e "
        "WHERE e.op = 'send' AND e.target LIKE ? ORDER BY e.at, e.seq",
        (f"outbox:%-{rid}-%",),
    )
    out = []
    for r in rows:
        after = loads(r["after"]) or {}
        out.append({"at": r["at"], "key": str(r["target"]).removeprefix("outbox:"),
                    "via": r["backend"], "outcome": r["outcome"], "run_id": r["run_id"],
                    "channel": after.get("channel") or ("email" if "raw" in after else None),
                    "to": ", ".join(after["to"]) if isinstance(after.get("to"), list)
                    else after.get("to"), "text": after.get("text")})  # fmt: skip
    return out


def outbox_rows(store: Store, cfg: ReservationsConfig, since: datetime | None) -> list[dict]:
    """Messages recorded for the desk to send (the outbox), oldest first."""
    sql = ("SELECT e.at, e.target, e.after, e.run_id, r.undone_by FROM journal_entries e "
           "JOIN journal_runs r ON r.run_id = e.run_id WHERE e.backend = 'outbox' "
           "AND e.op = 'send' AND e.outcome = 'applied'")  # fmt: skip
    params: list[Any] = []
    if since is not None:
        sql += " AND e.at >= ?"
        params.append(iso(since))
    out = []
    for r in store.query(sql + " ORDER BY e.at, e.run_id, e.seq", params):
        after = loads(r["after"]) or {}
        out.append({"at": local(cfg, r["at"]), "key": str(r["target"]).removeprefix("outbox:"),
                    "channel": after.get("channel"), "to": after.get("to"),
                    "title": after.get("title"), "text": after.get("text"),
                    "template": after.get("template"), "run_id": r["run_id"],
                    "undone_by": r["undone_by"]})  # fmt: skip
    return out
