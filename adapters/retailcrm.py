"""RetailCRM orders over API v5 (``retailcrm+https://HOST/?site=CODE[&rps=10]``).

The API key comes from ``OPS_RETAILCRM_KEY`` (or ``OPS_ORDERS_PASSWORD``), passed
in as the ``password`` of :meth:`RetailCrmOrders.from_config`; it is sent as the
``X-API-KEY`` header and never appears in the backend name, messages or the journal.
``site`` names the store (``sites[]`` in RetailCRM): listings keep to it unless a
query names sites, and reads and edits pass it. ``rps`` is the request budget of
the key (RetailCRM allows about 10 a second and answers 503, sometimes 429, above it).

Requests, and why:

- listing: ``GET /api/v5/orders`` with the filters RetailCRM has for the query
  (``extendedStatus[]``, ``paymentTypes[]``, ``sites[]``, ``createdAtFrom/To``,
  ``ids[]``, ``customer``), 100 a page up to ``pagination.totalPageCount``; the
  exact test (:meth:`OrderQuery.matches`) still runs here, since the server's
  filters are coarser (dates are whole days in the account's zone, ``customer``
  is a substring search);
- reading before a write: one ``GET /api/v5/orders/{id}?by=id`` per order, kept
  for the run and dropped once the order is edited, so a conflict is judged on
  what the CRM holds now, not on the listing the plan was made from;
- writing: one ``POST /api/v5/orders/{id}/edit`` per order with every change of
  that order merged (status code, ``customFields``, ``managerComment``, ``managerId``).
  The merge endpoints (``/orders/combine``) and deletes are never called.

The profile maps the team's words to the account's codes, in ``[orders.retailcrm]``::

    statuses = { "Перед сборкой" = "pered-sborkoi" }   # status name → code (else as is)
    flags = { "Обзвон" = "obzvon" }                     # flag → boolean custom field
    fields = { support_called = "support_called", campaign = "utm_campaign" }
    managers = { "Кузнецов" = 12 }                      # manager name → managerId
    payment_methods = { "Наличными курьеру" = "cash" }  # payment method → payment type code

Comments live in ``managerComment``, one line each: ``[YYYY-MM-DD HH:MM author] text``
in the account's time zone (``[profile] timezone``, which is also the zone of
``createdAt``).

The HTTP plumbing (rate limit, retries, one-line errors) and the conflict reads
are in :class:`deskops.adapters.vendor.VendorOrders`, shared with Magento.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
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

COMMENT_LINE = re.compile(r"^\[(\d{4}-\d{2}-\d{2} \d{2}:\d{2})(?: ([^\]]*))?\] ?(.*)$")


class RetailCrmOrders(VendorOrders):
    """The orders port over RetailCRM API v5; targets are ``orders:<internal id>``."""

    vendor = "retailcrm"
    secret_hint = "set OPS_RETAILCRM_KEY to an API key of the account"
    PAGE = 100  # orders per listing page (RetailCRM allows 20, 50 or 100)

    def __init__(
        self, url: str, *, api_key: str | None = None, profile: dict[str, Any] | None = None
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("retailcrm+https", "retailcrm+http") or not parts.hostname:
            raise UsageError(
                f"{public_url(url)}: give the account, retailcrm+https://HOST/?site=CODE"
            )
        if parts.path not in ("", "/"):
            raise UsageError(
                f"{public_url(url)}: give the account without a path, "
                "retailcrm+https://HOST/?site=CODE (the API path is added here)"
            )
        query = dict(parse_qsl(parts.query))
        host = host_port(parts)
        super().__init__(
            url,
            base_url=f"{parts.scheme.removeprefix('retailcrm+')}://{host}",
            host=host,
            secret=api_key,
            profile=profile,
            rps=parse_rps(query.get("rps"), url),
        )
        self.site = query.get("site") or None
        if self.site:
            self.display = f"{self.display} ({self.site})"
        self.managers = self._table(profile or {}, "managers")
        self._manager_names = {mid: name for name, mid in self.managers.items()}

    @classmethod
    def from_config(
        cls, url: str, profile: dict[str, Any], password: str | None
    ) -> RetailCrmOrders:
        """``password`` is the API key (``OPS_RETAILCRM_KEY`` or ``OPS_ORDERS_PASSWORD``)."""
        return cls(url, api_key=password, profile=profile)

    def auth_headers(self, secret: str) -> dict[str, str]:
        return {"X-API-KEY": secret}

    def error_message(self, resp: httpx.Response) -> str:
        try:
            data = resp.json()
        except ValueError:
            return resp.reason_phrase or ""
        if not isinstance(data, dict):
            return resp.reason_phrase or ""
        return _crm_error(data) or resp.reason_phrase or ""

    def api(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        data: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A call whose answer must be ``{"success": true, …}``."""
        answer = self.request(method, path, params=params, data=data)
        what = f"{method} {path}"
        if not isinstance(answer, dict):
            raise OpsError(f"{self.display}: {what}: malformed response, not a JSON object")
        if answer.get("success") is not True:
            raise OpsError(one_line(f"{self.display}: {what}: {_crm_error(answer) or 'failed'}"))
        return answer

    # -- reading -----------------------------------------------------------------------------
    def fetch(self, order_id: str) -> dict[str, Any] | None:
        params = [("by", "id")] + ([("site", self.site)] if self.site else [])
        path = f"/api/v5/orders/{quote(order_id, safe='')}"
        try:
            answer = self.api("GET", path, params=params)
        except NotFound:
            return None
        order = answer.get("order")
        if not isinstance(order, dict):
            raise OpsError(f"{self.display}: GET {path}: malformed response, no order")
        return order

    def filters(self, query: OrderQuery) -> list[tuple[str, str]] | None:
        """The listing filters for ``query``; None when no order can match."""
        params: list[tuple[str, str]] = []
        for name in query.statuses:
            params.append(("filter[extendedStatus][]", self.status_code(name)))
        for method in query.payment_methods:
            params.append(("filter[paymentTypes][]", self.payment_code(method)))
        for site in query.sites or ([self.site] if self.site else []):
            params.append(("filter[sites][]", site))
        # Whole days in the account's zone; the exact instant is tested here afterwards.
        if query.created_from is not None:
            day = self.local_time(query.created_from).date().isoformat()
            params.append(("filter[createdAtFrom]", day))
        if query.created_to is not None:
            params.append(
                ("filter[createdAtTo]", self.local_time(query.created_to).date().isoformat())
            )
        if query.ids:
            numeric = [i for i in query.ids if str(i).isdigit()]
            if not numeric:
                return None  # internal ids are numbers: nothing else can match
            params += [("filter[ids][]", str(i)) for i in numeric]
        if query.phone:
            import phonenumbers

            try:
                national = str(phonenumbers.parse(query.phone).national_number)
            except phonenumbers.NumberParseException:
                raise UsageError(f"{query.phone!r} is not an E.164 phone number") from None
            params.append(("filter[customer]", national))
        for flag in query.flags:
            self.flag_target(flag)
        return params

    def scan(self, query: OrderQuery) -> Iterator[dict[str, Any]]:
        """Matching orders in the API's order, each once, page by page."""
        params = self.filters(query)
        if params is None:
            return
        seen: set[str] = set()
        page = 1
        while True:
            answer = self.api(
                "GET",
                "/api/v5/orders",
                params=[*params, ("limit", str(self.PAGE)), ("page", str(page))],
            )
            orders, pagination = answer.get("orders"), answer.get("pagination")
            if not isinstance(orders, list) or not isinstance(pagination, dict):
                raise OpsError(
                    f"{self.display}: GET /api/v5/orders: malformed response, "
                    "no orders or pagination"
                )
            for raw in orders:
                if not isinstance(raw, dict) or raw.get("id") is None:
                    continue
                rid = str(raw["id"])
                if rid in seen:  # a new order pushed this one onto the next page
                    continue
                seen.add(rid)
                rec = self.record(raw)
                if query.matches(rec):
                    yield rec
            try:
                last = int(pagination.get("totalPageCount") or 0)
            except (TypeError, ValueError):
                raise OpsError(
                    f"{self.display}: GET /api/v5/orders: malformed totalPageCount"
                ) from None
            if page >= last or not orders:
                return
            page += 1

    def orders(self, query: OrderQuery) -> Iterator[dict[str, Any]]:
        """Orders matching ``query``, newest first as RetailCRM lists them.

        The API has no sort parameter, so oldest first means reading every match
        before the first can be given.
        """
        found = self.scan(query)
        if not query.newest_first:
            found = iter(sorted(found, key=lambda r: (str(r.get("created_at") or ""), r["id"])))
        for n, rec in enumerate(found, 1):
            yield rec
            if query.limit is not None and n >= query.limit:
                return

    def record(self, raw: dict[str, Any]) -> dict[str, Any]:
        custom = _as_dict(raw.get("customFields"))
        delivery = _as_dict(raw.get("delivery"))
        address = _as_dict(delivery.get("address"))
        payments = raw.get("payments")
        payment_list = list(payments.values()) if isinstance(payments, dict) else payments
        payment = next((p for p in payment_list or [] if isinstance(p, dict)), {})
        manager_id = raw.get("managerId")
        campaign_field = self.fields.get("campaign")
        called_field = self.fields.get("support_called")
        called = custom.get(called_field) if called_field else None
        name = " ".join(
            str(raw[k]).strip() for k in ("firstName", "patronymic", "lastName") if raw.get(k)
        )
        extra: dict[str, Any] = {
            "number": raw.get("number"),
            "externalId": raw.get("externalId"),
            "retailcrm_status": raw.get("status"),
        }
        if raw.get("customerComment"):
            extra["customerComment"] = raw["customerComment"]
        return {
            "id": str(raw.get("id")),
            "site": raw.get("site"),
            "campaign": (custom.get(campaign_field) if campaign_field
                         else _as_dict(raw.get("source")).get("campaign")),
            "customer_name": name or None,
            "phone": raw.get("phone"),
            "email": raw.get("email"),
            "address": address.get("text") or _address_text(address),
            "city": address.get("city"),
            "status": self.status_name(raw.get("status")),
            "payment_method": self.payment_name(payment.get("type") or raw.get("paymentType")),
            "payment_status": payment.get("status") or raw.get("paymentStatus"),
            "total": _number(raw.get("totalSumm")),
            "delivery_cost": _number(delivery.get("cost")),
            "currency": raw.get("currency"),
            "support_called": None if called is None else _truthy(called),
            "manager": (None if manager_id is None
                        else self._manager_names.get(str(manager_id), str(manager_id))),
            "delivery_method": delivery.get("code"),
            "created_at": self._time(raw.get("createdAt")),
            "items": [_crm_item(it) for it in raw.get("items") or [] if isinstance(it, dict)],
            "flags": [f for f, code in self.flag_map.items() if _truthy(custom.get(code))],
            "comments": self.comments(raw.get("managerComment")),
            "extra": {k: v for k, v in extra.items() if v is not None},
        }  # fmt: skip

    def _time(self, value: Any) -> str | None:
        """``createdAt`` is local time of the account without an offset: give it one."""
        if not value:
            return None
        try:
            when = datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return str(value)
        return when.replace(tzinfo=self.tz).isoformat()

    def comments(self, text: Any) -> list[dict[str, Any]]:
        """``managerComment`` lines as comments; free text lines stand alone, undated."""
        out: list[dict[str, Any]] = []
        for line in str(text or "").splitlines():
            if not line.strip():
                continue
            m = COMMENT_LINE.match(line.strip())
            if m is None:
                out.append({"at": None, "author": None, "text": line.strip()})
                continue
            at = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=self.tz)
            out.append({"at": at.isoformat(), "author": m.group(2) or None, "text": m.group(3)})
        return out

    def comment_line(self, value: Any) -> str:
        at = value.get("at") if isinstance(value, dict) else None
        when = datetime.now(UTC)
        if at:
            try:
                when = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
            except ValueError:
                pass
        author = one_line(str(value.get("author") or "")) if isinstance(value, dict) else ""
        author = author.replace("]", ")")
        stamp = self.local_time(when).strftime("%Y-%m-%d %H:%M")
        return (
            f"[{stamp} {author}] {comment_text(value)}"
            if author
            else (f"[{stamp}] {comment_text(value)}")
        )

    # -- writing -----------------------------------------------------------------------------
    def check_writable(self, change: Any) -> None:
        super().check_writable(change)
        if change.field == "manager" and change.after is not None:
            self.manager_id(str(change.after))

    def manager_id(self, name: str) -> str:
        if name in self.managers:
            return self.managers[name]
        valid = ", ".join(sorted(self.managers)) or "none are mapped"
        raise UsageError(
            f"{self.display}: no manager {name!r} in [orders.retailcrm] managers; valid: {valid}"
        )

    def write_batch(self, changes: list[Any]) -> None:
        """One edit per order with all its changes; a refused order fails alone.

        Losing the key or the network stops the batch: the executor journals what
        is left as failed, and a rerun finishes it (applied changes are skips).
        """
        for order_id, group in self.by_order(changes).items():
            try:
                raw = self.cached(order_id)
                patch, included = self._patch(raw, group)
            except (AuthError, BackendUnreachable):
                raise
            except OpsError as exc:
                _fail(group, exc)
                continue
            if not included:
                continue
            form = {"by": "id", "order": json.dumps(patch, ensure_ascii=False)}
            site = raw.get("site") or self.site
            if site:
                form["site"] = str(site)
            try:
                self.api("POST", f"/api/v5/orders/{quote(order_id, safe='')}/edit", data=form)
            except (AuthError, BackendUnreachable):
                raise
            except OpsError as exc:
                _fail(included, exc)
                continue
            finally:
                self._cache.pop(order_id, None)
            for ch in included:
                ch.outcome = "applied"

    def _patch(self, raw: dict[str, Any], group: list[Any]) -> tuple[dict[str, Any], list[Any]]:
        """The ``order`` of an edit for these changes, and the changes it carries."""
        patch: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        lines: list[str] | None = None
        included: list[Any] = []
        for ch in group:
            try:
                self.check_writable(ch)
                if ch.field == "status":
                    patch["status"] = self.status_code(str(ch.after))
                elif ch.field == "flags":
                    flag = str(ch.after if ch.op == "add" else ch.before)
                    custom[self.flag_target(flag)] = ch.op == "add"
                elif ch.field == "support_called":
                    value = None if ch.after is None else bool(ch.after)
                    custom[self.field_target("support_called")] = value
                elif ch.field == "manager":
                    after = ch.after
                    patch["managerId"] = None if after is None else _id(self.manager_id(after))
                else:  # comments
                    if lines is None:
                        lines = str(raw.get("managerComment") or "").splitlines()
                    if ch.op == "add":
                        lines.append(self.comment_line(ch.after))
                    else:
                        _drop_last(lines, comment_text(ch.before), self.comments)
            except OpsError as exc:
                ch.outcome, ch.error = "failed", one_line(str(exc))
                continue
            included.append(ch)
        if custom:
            patch["customFields"] = custom
        if lines is not None:
            patch["managerComment"] = "\n".join(lines)
        return patch, included


def _id(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _drop_last(lines: list[str], text: str, parse: Callable[[str], list[dict[str, Any]]]) -> None:
    """Remove the last line holding a comment with this text (undo of an add)."""
    for i in range(len(lines) - 1, -1, -1):
        parsed = parse(lines[i])
        if parsed and comment_text(parsed[0]) == text:
            del lines[i]
            return


def _crm_error(data: dict[str, Any]) -> str:
    """``errorMsg`` and the field errors of a RetailCRM answer, on one line."""
    msg = str(data.get("errorMsg") or "")
    errors = data.get("errors")
    if isinstance(errors, dict) and errors:
        msg += " (" + "; ".join(f"{k}: {v}" for k, v in errors.items()) + ")"
    elif isinstance(errors, list) and errors:
        msg += " (" + "; ".join(str(e) for e in errors) + ")"
    return one_line(msg)


def _crm_item(item: dict[str, Any]) -> dict[str, Any]:
    offer = _as_dict(item.get("offer"))
    sku = offer.get("article") or offer.get("externalId") or offer.get("xmlId") or offer.get("id")
    return {
        "sku": None if sku is None else str(sku),
        "name": offer.get("name") or item.get("productName"),
        "qty": _qty(item.get("quantity")),
        "price": _number(item.get("initialPrice")),
    }


def _address_text(address: dict[str, Any]) -> str | None:
    parts = [address.get(k) for k in ("index", "city", "street", "building", "flat")]
    text = ", ".join(str(p) for p in parts if p)
    return text or None
