"""Magento 2 orders over its REST API (``magento+https://HOST/rest[/STORE_CODE][?rps=10]``).

The URL is the REST base (``/rest`` or ``/rest/default``); the admin or
integration access token comes from ``OPS_MAGENTO_TOKEN`` (or
``OPS_ORDERS_PASSWORD``), passed in as the ``password`` of
:meth:`MagentoOrders.from_config`, and is sent as a bearer token only.

Requests, and why:

- listing: ``GET /V1/orders`` with ``searchCriteria``: one filter group per
  condition (groups are AND'd, the filters of a group OR'd) on columns of the
  order itself (``status``, ``created_at`` in UTC, ``entity_id``, ``store_id``),
  sorted by ``created_at`` then ``entity_id``, 100 a page. **Magento answers a
  page past the end with the last page again**, so paging stops once
  ``page * pageSize >= total_count`` and an order already given is never given
  twice. Payment method, phone and extension attributes are not columns the
  search can filter on: :meth:`OrderQuery.matches` tests them here;
- reading before a write: ``GET /V1/orders/{id}``, once per order and run;
- writing: a status and comments go through ``POST /V1/orders/{id}/comments``
  (``statusHistory``). Every comment carries a status — the order's current
  one when only a comment is added — because Magento 2.3–2.4.3 blanks the
  order's status when a comment comes without one. Magento 2.4.7 ignores a
  status sent with a comment, so a status change is read back and reported
  failed when the order kept its old status. Custom fields and flags (extension
  attributes) go through the order save, ``POST /V1/orders`` with
  ``{"entity": {"entity_id": …, "extension_attributes": {…}}}``.

Magento has no order flags and no manager: the profile maps them to attributes
of the order, as dotted paths, in ``[orders.magento]``::

    statuses = { "Перед сборкой" = "pered_sborkoi" }   # status name → status code
    flags = { "Обзвон" = "extension_attributes.obzvon" }
    fields = { campaign = "extension_attributes.campaign",
               support_called = "extension_attributes.support_called" }
    sites = { "igromir.example" = 1 }                   # site name → store_id
    payment_methods = { "Банковский перевод" = "banktransfer" }

Comments are status history entries; their author (Magento keeps none) is
written as a ``[author] `` prefix. Magento cannot delete a history entry, so
undoing a comment fails with a message saying so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from .errors import AuthError, BackendUnreachable, OpsError, UsageError
from .orders import OrderQuery
from .vendor import (
    NotFound,
    VendorOrders,
    _as_dict,
    _fail,
    _number,
    _qty,
    _truthy,
    comment_text,
    host_port,
    one_line,
    parse_rps,
    public_url,
)

AUTHOR_PREFIX = re.compile(r"^\[([^\]]+)\] (.*)$", re.S)
MAGENTO_TIME = "%Y-%m-%d %H:%M:%S"


def get_path(data: Any, path: str) -> Any:
    """``extension_attributes.campaign`` of an order; None where a step is missing."""
    for step in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(step)
    return data


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    steps = path.split(".")
    for step in steps[:-1]:
        data = data.setdefault(step, {})
    data[steps[-1]] = value


def _utc(when: datetime, tz: Any) -> str:
    """An instant as Magento stores it: UTC, no offset."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.astimezone(UTC).strftime(MAGENTO_TIME)


class MagentoOrders(VendorOrders):
    """The orders port over Magento 2 REST; targets are ``orders:<entity_id>``."""

    vendor = "magento"
    secret_hint = "set OPS_MAGENTO_TOKEN to an admin or integration access token"
    PAGE = 100

    def __init__(
        self, url: str, *, token: str | None = None, profile: dict[str, Any] | None = None
    ) -> None:
        parts = urlsplit(url)
        path = parts.path.rstrip("/")
        m = re.fullmatch(r"(.*/rest)(?:/([A-Za-z0-9_]+))?", path)
        if (
            parts.scheme not in ("magento+https", "magento+http")
            or not parts.hostname
            or m is None
            or (m.group(2) or "").upper() == "V1"
        ):
            raise UsageError(
                f"{public_url(url)}: give the REST base, magento+https://HOST/rest or "
                "magento+https://HOST/rest/STORE_CODE"
            )
        host = host_port(parts)
        super().__init__(
            url,
            base_url=f"{parts.scheme.removeprefix('magento+')}://{host}{path}",
            host=host,
            secret=token,
            profile=profile,
            rps=parse_rps(dict(parse_qsl(parts.query)).get("rps"), url),
        )
        self.store_code = m.group(2)
        if self.store_code:
            self.display = f"{self.display} ({self.store_code})"
        self.sites = self._table(profile or {}, "sites")
        self._site_names = {store: name for name, store in self.sites.items()}

    @classmethod
    def from_config(cls, url: str, profile: dict[str, Any], password: str | None) -> MagentoOrders:
        """``password`` is the access token (``OPS_MAGENTO_TOKEN`` or ``OPS_ORDERS_PASSWORD``)."""
        return cls(url, token=password, profile=profile)

    def auth_headers(self, secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    def error_message(self, resp: httpx.Response) -> str:
        """Magento's ``message`` with its ``%1``/``%name`` placeholders filled in."""
        try:
            data = resp.json()
        except ValueError:
            return resp.reason_phrase or ""
        if not isinstance(data, dict) or not data.get("message"):
            return resp.reason_phrase or ""
        message = str(data["message"])
        params = data.get("parameters")
        if isinstance(params, list):
            for i, value in enumerate(params, 1):
                message = message.replace(f"%{i}", str(value))
        elif isinstance(params, dict):
            for key, value in params.items():
                message = message.replace(f"%{key}", str(value))
        return message

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A request whose answer must be JSON."""
        answer = self.request(method, path, **kwargs)
        if answer is None:
            raise OpsError(f"{self.display}: {method} {path}: malformed response, empty body")
        return answer

    # -- reading -----------------------------------------------------------------------------
    def fetch(self, order_id: str) -> dict[str, Any] | None:
        """By ``entity_id``, or else by ``increment_id`` (the number customers see)."""
        if order_id.isdigit() and not order_id.startswith("0"):
            try:
                found = self.call("GET", f"/V1/orders/{order_id}")
            except NotFound:
                found = None
            if isinstance(found, dict):
                return found
        params = _criteria([[("increment_id", order_id, "eq")]]) + [
            ("searchCriteria[pageSize]", "1"),
            ("searchCriteria[currentPage]", "1"),
        ]
        items = self._page(params)[0]
        return items[0] if items else None

    def _page(self, params: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], int]:
        answer = self.call("GET", "/V1/orders", params=params)
        items = answer.get("items") if isinstance(answer, dict) else None
        total = answer.get("total_count") if isinstance(answer, dict) else None
        if items is None and total == 0:
            items = []
        if not isinstance(items, list) or not isinstance(total, int):
            raise OpsError(
                f"{self.display}: GET /V1/orders: malformed response, no items or total_count"
            )
        return [i for i in items if isinstance(i, dict)], total

    def filters(self, query: OrderQuery) -> list[list[tuple[str, str, str]]] | None:
        """Filter groups for ``query`` (AND of groups, OR within); None when none can match."""
        groups: list[list[tuple[str, str, str]]] = []
        if query.statuses:
            codes = ",".join(self.status_code(s) for s in query.statuses)
            groups.append([("status", codes, "in")])
        if query.ids:
            numeric = [i for i in query.ids if str(i).isdigit()]
            if not numeric:
                return None
            groups.append([("entity_id", ",".join(numeric), "in")])
        if query.sites and all(s in self.sites for s in query.sites):
            groups.append([("store_id", ",".join(self.sites[s] for s in query.sites), "in")])
        if query.created_from is not None:
            groups.append([("created_at", _utc(query.created_from, self.tz), "gteq")])
        if query.created_to is not None:
            groups.append([("created_at", _utc(query.created_to, self.tz), "lteq")])
        for flag in query.flags:
            self.flag_target(flag)
        return groups

    def orders(self, query: OrderQuery) -> Iterator[dict[str, Any]]:
        groups = self.filters(query)
        if groups is None:
            return
        direction = "DESC" if query.newest_first else "ASC"
        base = _criteria(groups) + [
            ("searchCriteria[sortOrders][0][field]", "created_at"),
            ("searchCriteria[sortOrders][0][direction]", direction),
            ("searchCriteria[sortOrders][1][field]", "entity_id"),
            ("searchCriteria[sortOrders][1][direction]", direction),
            ("searchCriteria[pageSize]", str(self.PAGE)),
        ]
        seen: set[str] = set()
        found = 0
        page = 1
        while True:
            items, total = self._page([*base, ("searchCriteria[currentPage]", str(page))])
            for raw in items:
                rid = str(raw.get("entity_id"))
                if rid in seen:  # the last page again, or an order moved by a new one
                    continue
                seen.add(rid)
                rec = self.record(raw)
                if query.matches(rec):
                    yield rec
                    found += 1
                    if query.limit is not None and found >= query.limit:
                        return
            if not items or page * self.PAGE >= total:
                return
            page += 1

    def record(self, raw: dict[str, Any]) -> dict[str, Any]:
        billing = _as_dict(raw.get("billing_address"))
        shipping = _shipping_address(raw) or billing
        payment = _as_dict(raw.get("payment"))
        store_id = raw.get("store_id")
        site = None if store_id is None else self._site_names.get(str(store_id), str(store_id))
        name = " ".join(
            str(raw[k]).strip() for k in ("customer_firstname", "customer_lastname") if raw.get(k)
        ) or " ".join(str(billing[k]).strip() for k in ("firstname", "lastname") if billing.get(k))
        called = self._field(raw, "support_called")
        extra: dict[str, Any] = {
            "increment_id": raw.get("increment_id"),
            "magento_status": raw.get("status"),
            "state": raw.get("state"),
            "store_id": store_id,
        }
        return {
            "id": str(raw.get("entity_id")),
            "site": site,
            "campaign": self._field(raw, "campaign"),
            "customer_id": None if raw.get("customer_id") is None else str(raw["customer_id"]),
            "customer_name": name or None,
            "phone": billing.get("telephone"),
            "email": raw.get("customer_email"),
            "address": _address_text(shipping),
            "city": shipping.get("city"),
            "status": self.status_name(raw.get("status")),
            "payment_method": self.payment_name(payment.get("method")),
            "total": _number(raw.get("grand_total")),
            "delivery_cost": _number(raw.get("shipping_amount")),
            "currency": raw.get("order_currency_code"),
            "support_called": None if called is None else _truthy(called),
            "manager": self._field(raw, "manager"),
            "delivery_method": raw.get("shipping_description"),
            "created_at": self._time(raw.get("created_at")),
            "updated_at": self._time(raw.get("updated_at")),
            "items": [_item(it) for it in raw.get("items") or []
                      if isinstance(it, dict) and not it.get("parent_item_id")],
            "flags": [f for f, path in self.flag_map.items() if _truthy(get_path(raw, path))],
            "comments": self.comments(raw.get("status_histories")),
            "extra": {k: v for k, v in extra.items() if v is not None},
        }  # fmt: skip

    def _field(self, raw: dict[str, Any], name: str) -> Any:
        path = self.fields.get(name)
        return get_path(raw, path) if path else None

    def _time(self, value: Any) -> str | None:
        """Magento's times are UTC without an offset; shown in the profile's zone."""
        if not value:
            return None
        try:
            when = datetime.strptime(str(value), MAGENTO_TIME).replace(tzinfo=UTC)
        except ValueError:
            return str(value)
        return when.astimezone(self.tz).isoformat()

    def comments(self, histories: Any) -> list[dict[str, Any]]:
        """Status history entries with a comment, oldest first (Magento lists newest first)."""
        rows = [h for h in histories or [] if isinstance(h, dict) and (h.get("comment") or "")]
        rows.sort(key=lambda h: (str(h.get("created_at") or ""), _number(h.get("entity_id")) or 0))
        out: list[dict[str, Any]] = []
        for h in rows:
            text = str(h["comment"])
            m = AUTHOR_PREFIX.match(text)
            author, body = (m.group(1), m.group(2)) if m else (None, text)
            out.append({"at": self._time(h.get("created_at")), "author": author, "text": body})
        return out

    # -- writing -----------------------------------------------------------------------------
    def check_writable(self, change: Any) -> None:
        super().check_writable(change)
        if change.field == "manager":
            self.field_target("manager")
        if change.field == "comments" and change.op == "remove":
            raise OpsError(
                f"{self.display}: Magento cannot delete an order comment; "
                "remove it in the admin if it must go"
            )

    def write_batch(self, changes: list[Any]) -> None:
        """Per order: one order save for attributes, one comments call per comment/status.

        A refused call fails its own changes and the rest go on; losing the token
        or the network stops the batch (the executor journals the rest as failed).
        """
        for order_id, group in self.by_order(changes).items():
            try:
                raw = self.cached(order_id)
            except (AuthError, BackendUnreachable):
                raise
            except OpsError as exc:
                _fail(group, exc)
                continue
            try:
                self._write_order(order_id, raw, group)
            finally:
                self._cache.pop(order_id, None)

    def _write_order(self, order_id: str, raw: dict[str, Any], group: list[Any]) -> None:
        entity: dict[str, Any] = {}
        saved: list[Any] = []
        status_change: Any = None
        comments: list[Any] = []
        for ch in group:
            try:
                self.check_writable(ch)
                if ch.field == "status":
                    status_change = ch
                elif ch.field == "comments":
                    comments.append(ch)
                elif ch.field == "flags":
                    flag = str(ch.after if ch.op == "add" else ch.before)
                    set_path(entity, self.flag_target(flag), ch.op == "add")
                    saved.append(ch)
                else:  # support_called, manager
                    set_path(entity, self.field_target(ch.field), ch.after)
                    saved.append(ch)
            except OpsError as exc:
                ch.outcome, ch.error = "failed", one_line(str(exc))
        path = quote(order_id, safe="")
        if saved:
            entity["entity_id"] = int(order_id) if order_id.isdigit() else order_id
            self._apply(saved, "POST", "/V1/orders", {"entity": entity})
        status = raw.get("status")
        if status_change is not None:
            code = self.status_code(str(status_change.after))
            self._history(path, code, [status_change, *comments[:1]])
            comments = comments[1:]
            if status_change.outcome == "applied":
                self._confirm_status(order_id, status_change, code)
            if status_change.outcome == "applied":
                status = code
        for ch in comments:
            self._history(path, status, [ch])

    def _history(self, path: str, status: str | None, carried: list[Any]) -> None:
        """One status history entry: the status, and the comment among ``carried`` if any."""
        note = next((c for c in carried if c.field == "comments"), None)
        history = {
            "comment": self._comment(note.after) if note is not None else "",
            "status": status,
            "is_customer_notified": 0,
            "is_visible_on_front": 0,
        }
        self._apply(carried, "POST", f"/V1/orders/{path}/comments", {"statusHistory": history})

    def _apply(self, carried: list[Any], method: str, path: str, body: dict[str, Any]) -> None:
        try:
            self.call(method, path, body=body)
        except (AuthError, BackendUnreachable):
            raise
        except OpsError as exc:
            _fail(carried, exc)
            return
        for ch in carried:
            ch.outcome = "applied"

    def _confirm_status(self, order_id: str, change: Any, code: str | None) -> None:
        """Magento 2.4.7 takes the comment but not the status: check the order now has it."""
        now = self.fetch(order_id)
        have = None if now is None else now.get("status")
        if have != code:
            change.outcome = "failed"
            change.error = one_line(
                f"{self.display}: orders:{order_id} kept status {have!r}: this Magento ignores "
                "a status sent with a comment (2.4.7); change it in the admin"
            )

    def _comment(self, value: Any) -> str:
        author = one_line(str(value.get("author") or "")) if isinstance(value, dict) else ""
        text = comment_text(value)
        return f"[{author.replace(']', ')')}] {text}" if author else text


def _criteria(groups: list[list[tuple[str, str, str]]]) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for i, group in enumerate(groups):
        for j, (field, value, condition) in enumerate(group):
            pre = f"searchCriteria[filter_groups][{i}][filters][{j}]"
            params += [
                (f"{pre}[field]", field),
                (f"{pre}[value]", value),
                (f"{pre}[condition_type]", condition),
            ]
    return params


def _shipping_address(raw: dict[str, Any]) -> dict[str, Any] | None:
    ext = raw.get("extension_attributes")
    assignments = ext.get("shipping_assignments") if isinstance(ext, dict) else None
    for a in assignments or []:
        address = get_path(a, "shipping.address")
        if isinstance(address, dict):
            return address
    return None


def _address_text(address: dict[str, Any]) -> str | None:
    street = address.get("street")
    lines = [*street] if isinstance(street, list) else [street]
    parts = [*lines, address.get("city"), address.get("region"), address.get("postcode"),
             address.get("country_id")]  # fmt: skip
    text = ", ".join(str(p) for p in parts if p)
    return text or None


def _item(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "sku": item.get("sku"),
        "name": item.get("name"),
        "qty": _qty(item.get("qty_ordered")),
        "price": _number(item.get("price")),
    }
