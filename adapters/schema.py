"""The domain records of the store: tables, their fields and child collections.

One declaration serves the DDL, import validation, export and the generic
change operations of the plan executor, so a new field is added in one place.
Every domain table has a TEXT ``id`` (the record's natural key: an order
number, a Message-ID, a call id) so imports are idempotent and records keep
their identity across backends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Field types understood by import validation and (de)serialisation.
TEXT, INT, FLOAT, BOOL, DATETIME, DATE, JSON, BLOB = (
    "text",
    "int",
    "float",
    "bool",
    "datetime",
    "date",
    "json",
    "blob",
)


@dataclass(frozen=True)
class Child:
    """A collection stored in its own table, keyed by (parent id, pos).

    With one value column the collection is a list of scalars (phones, flags,
    labels); with several it is a list of dicts (items, comments).
    """

    table: str
    columns: tuple[tuple[str, str], ...]
    unique: bool = False  # set semantics: adding a present value is a no-op

    @property
    def scalar(self) -> bool:
        return len(self.columns) == 1

    @property
    def names(self) -> list[str]:
        return [c for c, _ in self.columns]


@dataclass(frozen=True)
class Entity:
    name: str
    table: str
    fields: tuple[tuple[str, str], ...]
    children: dict[str, Child] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    deletable: bool = True  # False: not even undo of an import may delete it

    @property
    def field_names(self) -> list[str]:
        return ["id", *(n for n, _ in self.fields)]

    @property
    def all_names(self) -> list[str]:
        return [*self.field_names, *self.children]

    def type_of(self, name: str) -> str:
        if name == "id":
            return TEXT
        for n, t in self.fields:
            if n == name:
                return t
        raise KeyError(name)


def _f(*pairs: str) -> tuple[tuple[str, str], ...]:
    """``_f("name:text", "total:float")`` → ((name, text), (total, float))."""
    out = []
    for p in pairs:
        n, _, t = p.partition(":")
        out.append((n, t or TEXT))
    return tuple(out)


ENTITIES: dict[str, Entity] = {}


def _entity(e: Entity) -> Entity:
    ENTITIES[e.name] = e
    return e


CUSTOMERS = _entity(
    Entity(
        "customers",
        "customers",
        _f(
            "name",
            "name_kana",
            "company",
            "region",
            "store",
            "language",
            "notes",
            "other",
            "created_at:datetime",
            "updated_at:datetime",
            "extra:json",
        ),
        children={
            "phones": Child("customer_phones", _f("phone"), unique=True),
            "emails": Child("customer_emails", _f("email"), unique=True),
        },
        required=("name",),
        # a registration carries the customer's orders and history: ops never deletes one
        # (duplicates are listed for a person to decide; `store purge` only blanks them)
        deletable=False,
    )
)

ORDERS = _entity(
    Entity(
        "orders",
        "orders",
        _f(
            "site",
            "campaign",
            "customer_id",
            "customer_name",
            "phone",
            "email",
            "address",
            "city",
            "status",
            "payment_method",
            "payment_status",
            "total:float",
            "delivery_cost:float",
            "currency",
            "support_called:bool",
            "manager",
            "delivery_method",
            "delivery_date:date",
            "timezone",
            "created_at:datetime",
            "updated_at:datetime",
            "extra:json",
        ),
        children={
            "items": Child(
                "order_items", _f("sku", "name", "qty:int", "price:float", "supplier_group")
            ),
            "flags": Child("order_flags", _f("flag"), unique=True),
            "comments": Child("order_comments", _f("at:datetime", "author", "text")),
            "status_history": Child("order_status_history", _f("at:datetime", "status", "actor")),
        },
        required=("status", "created_at"),
    )
)

THREADS = _entity(
    Entity(
        "threads",
        "threads",
        _f("mailbox", "subject", "customer_id", "last_message_at:datetime", "extra:json"),
    )
)

MESSAGES = _entity(
    Entity(
        "messages",
        "messages",
        _f(
            "mailbox",
            "folder",
            "uid:int",
            "thread_id",
            "in_reply_to",
            "date:datetime",
            "from_addr",
            "from_name",
            "to_addrs",
            "cc_addrs",
            "reply_to",
            "subject",
            "body_text",
            "has_attachments:bool",
            "attachments:json",
            "seen:bool",
            "flagged:bool",
            "headers:json",
            "raw:blob",
            "extra:json",
        ),
        children={"labels": Child("message_labels", _f("label"), unique=True)},
        required=("date",),
    )
)

CALLS = _entity(
    Entity(
        "calls",
        "calls",
        _f(
            "source",
            "line",
            "direction",
            "status",
            "started_at:datetime",
            "caller",
            "caller_name",
            "callee",
            "answered_by",
            "duration:int",
            "talk_seconds:int",
            "cost:float",
            "extra:json",
            "number",  # the other party in E.164 (caller of an inbound call, callee outbound)
            "call_group",  # the call this row is a leg of (Asterisk uniqueid, Twilio parent)
        ),
        required=("started_at",),
    )
)

RETURNS = _entity(
    Entity(
        "returns",
        "returns",
        _f(
            "order_id",
            "type",
            "reason",
            "status",
            "items:json",
            "pickup_point",
            "handed_in_at:datetime",
            "refund_method",
            "refund_details:json",
            "refund_amount:float",
            "payout_date:date",
            "exchange_order_id",
            "created_at:datetime",
            "extra:json",
        ),
        required=("order_id", "type"),
    )
)

STAFF = _entity(
    Entity("staff", "staff", _f("name", "store", "role", "services:json", "extra:json"))
)

ROOMS = _entity(Entity("rooms", "rooms", _f("store", "name", "kind", "capacity:int", "extra:json")))

RESERVATIONS = _entity(
    Entity(
        "reservations",
        "reservations",
        _f(
            "store",
            "customer_id",
            "customer_name",
            "contact",
            "email",
            "service",
            "starts_at:datetime",
            "ends_at:datetime",
            "staff_id",
            "room_id",
            "channel",
            "status",
            "created_at:datetime",
            "updated_at:datetime",
            "notes",
            "satisfaction:int",
            "extra:json",
        ),
        required=("starts_at",),
    )
)

CASES = _entity(
    Entity(
        "cases",
        "cases",
        _f(
            "customer_id",
            "agent",
            "channel",
            "topic",
            "subject",
            "body",
            "caller_number",
            "status",
            "product",
            "opened_at:datetime",
            "started_at:datetime",
            "closed_at:datetime",
            "tags:json",
            "extra:json",
        ),
        required=("opened_at",),
    )
)

REPORT_RECORDS = _entity(
    Entity(
        "report_records",
        "report_records",
        _f(
            "kind",
            "date:date",
            "subject",
            "customer",
            "store",
            "source",
            "data:json",
            "created_at:datetime",
        ),
        required=("kind", "date"),
    )
)

CALL_ATTEMPTS = _entity(
    Entity(
        "call_attempts",
        "call_attempts",
        _f("target", "agent", "at:datetime", "outcome", "note"),
        required=("target", "at"),
    )
)

NOTES = _entity(
    Entity("notes", "notes", _f("target", "author", "at:datetime", "text"), required=("target",))
)

CLAIMS = _entity(
    Entity("claims", "claims", _f("agent", "claimed_at:datetime", "expires_at:datetime"))
)

CHECKPOINTS = _entity(Entity("checkpoints", "checkpoints", _f("value", "updated_at:datetime")))


def entity(name: str) -> Entity:
    from .errors import UsageError

    try:
        return ENTITIES[name]
    except KeyError:
        raise UsageError(
            f"unknown record type {name!r}; valid: {', '.join(sorted(ENTITIES))}"
        ) from None
