"""The orders port: read orders by query, apply status/flag/comment/field changes.

Every backend returns order records shaped like the store's ``orders`` entity
(``id``, ``status``, ``payment_method``, ``campaign``, ``site``, ``phone``,
``created_at`` as ISO-8601 text, ``support_called``, ``items`` [{sku, name,
qty, price}], ``flags`` [names], ``comments`` [{at, author, text}], ``extra``)
and takes the same changes on targets ``orders:<id>``:

- ``status`` set, ``support_called`` set, ``manager`` set;
- ``flags`` add/remove, ``comments`` add.

Backends:

- the embedded store (the default; SQLite or PostgreSQL): its changes are
  ordinary store changes (backend ``"store"``), so the executor's store target
  applies them in one transaction;
- vendor APIs (``retailcrm+https://…``, ``magento+https://…``): changes carry
  the backend name ``orders:<url>`` and the adapter's ``read``/``write_batch``
  apply them, refusing to overwrite what someone changed since it was read.

Attempts, claims, notes and the journal always stay in the local store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from .phones import e164
from .schema import ORDERS
from .store import Store


@dataclass
class OrderQuery:
    """Filters every backend understands; empty lists mean "any"."""

    statuses: list[str] = field(default_factory=list)
    payment_methods: list[str] = field(default_factory=list)
    campaigns: list[str] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)
    created_from: datetime | None = None
    created_to: datetime | None = None
    support_called: bool | None = None
    flags: list[str] = field(default_factory=list)
    phone: str | None = None  # E.164, matched against the order's phone read in ``region``
    region: str = ""
    ids: list[str] = field(default_factory=list)
    limit: int | None = None
    newest_first: bool = True

    def matches(self, order: dict[str, Any]) -> bool:
        """The exact test, applied after a backend's coarser server-side filter."""
        if self.ids and str(order.get("id")) not in self.ids:
            return False
        if self.statuses and order.get("status") not in self.statuses:
            return False
        if self.payment_methods and order.get("payment_method") not in self.payment_methods:
            return False
        if self.campaigns and order.get("campaign") not in self.campaigns:
            return False
        if self.sites and order.get("site") not in self.sites:
            return False
        if self.support_called is not None and bool(order.get("support_called")) != (
            self.support_called
        ):
            return False
        if self.flags and not set(self.flags) <= set(order.get("flags") or []):
            return False
        if self.phone and e164(str(order.get("phone") or ""), self.region) != self.phone:
            return False
        if self.created_from or self.created_to:
            created = when_of(order.get("created_at"))
            if created is None:
                return False
            if self.created_from and created < self.created_from:
                return False
            if self.created_to and created > self.created_to:
                return False
        return True


def when_of(value: Any) -> datetime | None:
    """A record's time (ISO-8601 text or a datetime) as an aware datetime; a time without
    an offset is taken as UTC, so comparisons never mix naive and aware times."""
    if isinstance(value, datetime):
        dt = value
    elif not value:
        return None
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class OrdersBackend(Protocol):
    # Where its changes go: "store", or "orders:<url>" so an undo can reopen it.
    backend: str
    display: str

    def orders(self, query: OrderQuery) -> Iterator[dict[str, Any]]: ...

    def get(self, order_id: str) -> dict[str, Any] | None: ...


class StoreOrders:
    """Orders kept in the store (SQLite, or PostgreSQL shared by a team)."""

    backend = "store"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.display = f"store {store.display_url}"

    def orders(self, query: OrderQuery) -> Iterator[dict[str, Any]]:
        where: list[str] = []
        params: list[Any] = []

        def any_of(column: str, values: list[str]) -> None:
            if values:
                where.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)

        any_of("id", query.ids)
        any_of("status", query.statuses)
        any_of("payment_method", query.payment_methods)
        any_of("campaign", query.campaigns)
        any_of("site", query.sites)
        if query.support_called is not None:
            where.append("COALESCE(support_called, ?) = ?")
            params += [False, query.support_called]
        # Times are ISO text with their own UTC offsets: the SQL range is widened by a
        # day on each side (an index range scan) and the exact test is done on datetimes.
        if query.created_from is not None:
            where.append("created_at >= ?")
            params.append(_shift(query.created_from, -1))
        if query.created_to is not None:
            where.append("created_at <= ?")
            params.append(_shift(query.created_to, 1))
        for flag in query.flags:
            where.append("id IN (SELECT parent_id FROM order_flags WHERE flag = ?)")
            params.append(flag)
        if query.phone:
            # Digits only, ending in the national number: +380 73 426 82 08, 073-426-82-08.
            import phonenumbers

            national = str(phonenumbers.parse(query.phone).national_number)
            digits = "phone"
            for ch in " -()+.":
                digits = f"REPLACE({digits}, '{ch}', '')"
            where.append(f"{digits} LIKE ?")
            params.append(f"%{national}")
        order = "created_at DESC, id DESC" if query.newest_first else "created_at, id"
        sql_where = " AND ".join(where)
        found = 0
        # Fetch in pages: the exact test may drop a few rows near the widened edges.
        page = max(50, (query.limit or 500) * 2)
        offset = 0
        while True:
            batch = list(
                self.store.iter_records(
                    ORDERS,
                    sql_where,
                    params,
                    order=order,
                    limit=page,
                    offset=offset,
                )
            )
            for rec in batch:
                if query.matches(rec):
                    yield rec
                    found += 1
                    if query.limit is not None and found >= query.limit:
                        return
            if len(batch) < page:
                return
            offset += page
            page = min(page * 2, 5000)  # rows dropped by the exact test: read on in bigger steps

    def get(self, order_id: str) -> dict[str, Any] | None:
        return self.store.get(ORDERS, order_id)


def _shift(when: datetime, days: int) -> str:
    from datetime import timedelta

    return (when + timedelta(days=days)).date().isoformat()
