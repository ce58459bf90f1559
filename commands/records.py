"""Where customer registrations and case records live: the store, or a backend's app.

The support desk keeps cases (and may keep customers) in kintone; everyone else in
the store. Commands read and change them through one small interface, so that
``ops cases`` and ``ops customers`` work the same on either:

- ``records()`` every record, as the store's field names (``schema.CASES`` /
  ``schema.CUSTOMERS``); ``get(id)``;
- ``record_url(id)``: the link a person opens (kintone's record page, the CRM's
  customer page), or None;
- ``backend``: the name changes are journaled under (``store`` or ``<kind>:<url>``),
  and ``targets()`` the change targets for :func:`deskops.commands.plan.execute`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from deskops.adapters.errors import UsageError
from deskops.adapters.schema import CASES, CUSTOMERS, Entity
from deskops.adapters.store import Store

ENTITY = {"cases": CASES, "customers": CUSTOMERS}


class StoreRecords:
    """Records of one kind in the store."""

    backend = "store"

    def __init__(self, store: Store, kind: str, profile: dict[str, Any]) -> None:
        if kind not in ENTITY:
            raise UsageError(f"no record kind {kind!r}; valid: {', '.join(ENTITY)}")
        self.store = store
        self.kind = kind
        self.entity: Entity = ENTITY[kind]
        self._url = _url_template(profile, kind)

    def records(self) -> Iterator[dict[str, Any]]:
        yield from self.store.iter_records(self.entity)

    def get(self, record_id: str) -> dict[str, Any] | None:
        return self.store.get(self.entity, str(record_id))

    def record_url(self, record_id: str, record: dict[str, Any] | None = None) -> str | None:
        extra = (record or {}).get("extra")
        if isinstance(extra, dict) and extra.get("record_url"):
            return str(extra["record_url"])
        return self._url.format(id=record_id) if self._url else None

    def targets(self) -> dict[str, Any]:
        return {}  # the executor's own store target


class BackendRecords:
    """Records of one kind in a backend's app (``cases:kintone+https://…``)."""

    def __init__(self, adapter: Any, kind: str) -> None:
        self.adapter = adapter
        self.kind = kind
        self.backend = str(adapter.backend)

    def records(self) -> Iterator[dict[str, Any]]:
        yield from self.adapter.records()

    def get(self, record_id: str) -> dict[str, Any] | None:
        found = self.adapter.get(str(record_id))
        return dict(found) if found is not None else None

    def record_url(self, record_id: str, record: dict[str, Any] | None = None) -> str | None:
        return str(self.adapter.record_url(record_id))

    def targets(self) -> dict[str, Any]:
        return {self.backend: self.adapter}


Records = StoreRecords | BackendRecords


def _url_template(profile: dict[str, Any], kind: str) -> str | None:
    """``[kintone] record_url`` for cases, ``[crm] customer_url`` for customers."""
    section, key = ("kintone", "record_url") if kind == "cases" else ("crm", "customer_url")
    table = profile.get(section)
    value = table.get(key) if isinstance(table, dict) else None
    return str(value) if value else None
