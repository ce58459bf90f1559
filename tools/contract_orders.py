"""Local RetailCRM v5 and Magento 2 order APIs on a free loopback port (stdlib only).

They speak the contract of shared/backends.md "Orders" closely enough to test
the adapters and to benchmark them, with the vendor quirks that matter:

- RetailCRM: ``X-API-KEY`` (401 without, 403 when wrong), the pagination
  envelope, the listing filters the adapter uses (an unknown filter is a 400,
  as on the real API), ``limit`` only 20/50/100, edits by form field
  ``order=<json>``, ``customFields`` merged, and — with ``rps_limit`` — a 503
  for every request beyond ``rps_limit`` in any one-second window;
- Magento: bearer token, ``searchCriteria`` filter groups (AND of groups, OR
  within) on order columns only, sort orders, **a page past the end answering
  the last page again**, status history comments (a comment without a status
  blanks the order's status, as Magento 2.3–2.4.3 does; ``status_from_comments
  = False`` ignores the status like 2.4.7), and the order save merging
  ``extension_attributes``.

Faults are injected per request, in order: ``fail_next`` (429 with
``Retry-After`` or 503…), ``delay_next`` (answer late, past a client timeout),
``malformed_next`` (a body that is not JSON) and ``fail_page`` (a listing page
that fails, the middle of a sync). Counters tell what was sent::

    with RetailCrmServer(make_retailcrm_orders(250), api_key="k", rps_limit=10) as srv:
        ... RetailCrmOrders(f"retailcrm+{srv.url}/?site=igromir", api_key="k") ...
        srv.sent[503], srv.throttled, srv.calls, srv.edits
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Call:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]


@dataclass
class Fault:
    """One injected misbehaviour, used up by the requests it applies to.

    ``kind``: ``status`` (answer ``status``, with ``Retry-After`` when set),
    ``delay`` (sleep ``seconds``, then answer normally), ``malformed`` (a 200
    whose body is not JSON) or ``page`` (listing requests for ``page`` answer
    ``status``). ``count`` is how many requests it takes; None means every one.
    """

    kind: str
    count: int | None = 1
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0
    page: int | None = None


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> Answer:
    body = json.dumps(data, ensure_ascii=False).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, body


def no_waits(api: Any, waits: list[float] | None = None) -> Any:
    """An HTTP adapter that does not really wait: retries and its rate limiter return at
    once (the waits it was told recorded in ``waits``), for tests against these servers."""
    api.backoff, api.max_wait = 0.0, 600.0
    api.sleep = (lambda s: None) if waits is None else waits.append
    if hasattr(api, "limiter"):
        api.limiter.sleep = lambda s: None
    return api


class ContractServer:
    """The HTTP plumbing, the faults and the counters; subclasses answer the API."""

    def __init__(
        self, *, rps_limit: float | None = None, fail: Fault | Iterable[Fault] | None = None
    ) -> None:
        self.rps_limit = rps_limit
        self.faults: list[Fault] = [fail] if isinstance(fail, Fault) else list(fail or [])
        self.lock = threading.RLock()
        self.requests = 0
        self.sent: Counter[int] = Counter()  # answers by status code
        self.throttled = 0  # 503s for going over rps_limit
        self.calls: list[Call] = []  # every request, faulty or not
        self.edits: list[tuple[str, Any]] = []  # (order id, what was written)
        self._arrivals: deque[float] = deque()
        self._http: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- life cycle ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ContractServer:
        self._http = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._http.contract = self
        self.port = int(self._http.server_address[1])
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ContractServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults ----------------------------------------------------------------------------
    def fail_next(
        self, count: int = 1, status: int = 503, retry_after: float | None = None
    ) -> None:
        with self.lock:
            self.faults.append(Fault("status", count, status, retry_after))

    def delay_next(self, count: int = 1, seconds: float = 1.0) -> None:
        with self.lock:
            self.faults.append(Fault("delay", count, seconds=seconds))

    def malformed_next(self, count: int = 1) -> None:
        with self.lock:
            self.faults.append(Fault("malformed", count))

    def fail_page(self, page: int, status: int = 500, count: int | None = None) -> None:
        with self.lock:
            self.faults.append(Fault("page", count, status, page=page))

    @property
    def sent_429(self) -> int:
        return self.sent[429]

    @property
    def sent_503(self) -> int:
        return self.sent[503]

    # -- dispatch ----------------------------------------------------------------------------
    def dispatch(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Answer:
        now = time.monotonic()
        delay = 0.0
        with self.lock:
            self.requests += 1
            self.calls.append(Call(method, path, query))
            answer = self._gate(now, method, path, query)
            if answer is None:
                fault = self._take(("status", "delay", "malformed"))
                if fault is not None and fault.kind == "status":
                    headers_out = {}
                    if fault.retry_after is not None:
                        headers_out["Retry-After"] = f"{fault.retry_after:g}"
                    answer = self.error(fault.status, "injected failure", headers_out)
                elif fault is not None and fault.kind == "malformed":
                    answer = 200, {"Content-Type": "application/json"}, b'{"success": true, "ord'
                elif fault is not None:
                    delay = fault.seconds
        if delay:
            time.sleep(delay)  # outside the lock: other requests go on meanwhile
        if answer is None:
            with self.lock:
                answer = self.route(method, path, query, headers, body)
        with self.lock:
            self.sent[answer[0]] += 1
        return answer

    def _gate(
        self, now: float, method: str, path: str, query: dict[str, list[str]]
    ) -> Answer | None:
        """The rate limit: every arrival counts; more than the limit in a second is a 503."""
        if self.rps_limit is None:
            return None
        self._arrivals.append(now)
        while self._arrivals and self._arrivals[0] <= now - 1.0:
            self._arrivals.popleft()
        if len(self._arrivals) > self.rps_limit:
            self.throttled += 1
            return self.error(503, "Service Unavailable: too many requests")
        return None

    def _take(self, kinds: tuple[str, ...], page: int | None = None) -> Fault | None:
        for fault in self.faults:
            if fault.kind in kinds and (fault.kind != "page" or fault.page == page):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    def page_fault(self, page: int) -> Answer | None:
        fault = self._take(("page",), page)
        return None if fault is None else self.error(fault.status, f"failure on page {page}")

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
        raise NotImplementedError

    def route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Answer:
        raise NotImplementedError


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a delayed answer must not hold up stop()
    contract: ContractServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout) closed its end: not worth a traceback."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the adapters reuse their connection
    disable_nagle_algorithm = True
    server: _HTTPServer

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        status, headers, payload = self.server.contract.dispatch(
            self.command, unquote(parts.path), query, self.headers, body
        )
        try:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


def _first(query: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    values = query.get(name)
    return values[0] if values else default


# -- RetailCRM -------------------------------------------------------------------------------
RETAILCRM_FILTERS = {
    "ids",
    "numbers",
    "externalIds",
    "extendedStatus",
    "paymentTypes",
    "sites",
    "createdAtFrom",
    "createdAtTo",
    "customer",
}


class RetailCrmServer(ContractServer):
    """RetailCRM API v5 orders: list, get, edit. ``orders``: RetailCRM order objects."""

    def __init__(
        self,
        orders: Iterable[dict[str, Any]],
        *,
        api_key: str,
        rps_limit: float | None = None,
        fail: Fault | Iterable[Fault] | None = None,
        statuses: Iterable[str] | None = None,
    ) -> None:
        super().__init__(rps_limit=rps_limit, fail=fail)
        self.api_key = api_key
        self.statuses = set(statuses) if statuses is not None else None
        self.orders: dict[int, dict[str, Any]] = {int(o["id"]): o for o in orders}

    def order(self, order_id: int | str) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.orders[int(order_id)]))

    def update(self, order_id: int | str, **fields: Any) -> None:
        """Someone else's edit in the CRM (for conflict tests)."""
        with self.lock:
            self.orders[int(order_id)].update(fields)

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
        return _json(status, {"success": False, "errorMsg": message}, headers)

    def route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Answer:
        key = headers.get("X-API-KEY") or _first(query, "apiKey")
        if not key:
            return self.error(401, '"apiKey" is missing.')
        if key != self.api_key:
            return self.error(403, 'Wrong "apiKey" value.')
        if path == "/api/v5/orders" and method == "GET":
            return self.listing(query)
        m = re.fullmatch(r"/api/v5/orders/([^/]+)", path)
        if m and method == "GET" and m.group(1) not in ("history", "statuses"):
            found = self._find(m.group(1), _first(query, "by", "externalId") or "externalId")
            if found is None:
                return self.error(404, "Not found")
            return _json(200, {"success": True, "order": found})
        m = re.fullmatch(r"/api/v5/orders/([^/]+)/edit", path)
        if m and method == "POST":
            return self.edit(m.group(1), parse_qs(body.decode(), keep_blank_values=True))
        # combine, delete and anything else the adapter must never call
        return self.error(404, "API method not found")

    def _find(self, key: str, by: str) -> dict[str, Any] | None:
        if by == "id":
            return self.orders.get(int(key)) if key.isdigit() else None
        return next((o for o in self.orders.values() if str(o.get("externalId")) == key), None)

    def listing(self, query: dict[str, list[str]]) -> Answer:
        limit = _first(query, "limit", "20") or "20"
        page_text = _first(query, "page", "1") or "1"
        if limit not in ("20", "50", "100"):
            return _invalid({"limit": "This value should be 20, 50 or 100."})
        if not page_text.isdigit() or int(page_text) < 1:
            return _invalid({"page": "This value should be 1 or more."})
        filters: dict[str, list[str]] = {}
        for name, values in query.items():
            m = re.fullmatch(r"filter\[([A-Za-z]+)\](\[\d*\])?", name)
            if name in ("limit", "page", "apiKey"):
                continue
            if m is None or m.group(1) not in RETAILCRM_FILTERS:
                return _invalid({name: "This field was not expected."})
            filters.setdefault(m.group(1), []).extend(values)
        page, size = int(page_text), int(limit)
        fault = self.page_fault(page)
        if fault is not None:
            return fault
        found = sorted(
            (o for o in self.orders.values() if _crm_matches(o, filters)),
            key=lambda o: -int(o["id"]),
        )
        pages = math.ceil(len(found) / size)
        return _json(200, {
            "success": True,
            "pagination": {"limit": size, "totalCount": len(found), "currentPage": page,
                           "totalPageCount": pages},
            "orders": found[(page - 1) * size : page * size],
        })  # fmt: skip

    def edit(self, key: str, form: dict[str, list[str]]) -> Answer:
        order = self._find(key, _first(form, "by", "externalId") or "externalId")
        if order is None:
            return self.error(404, "Not found")
        try:
            patch = json.loads(_first(form, "order", "") or "")
        except ValueError:
            patch = None
        if not isinstance(patch, dict):
            return _json(400, {"success": False, "errorMsg": "Parameter 'order' is missing"})
        status = patch.get("status")
        if self.statuses is not None and status is not None and status not in self.statuses:
            return _invalid({"status": f"Status {status!r} does not exist"}, "Order is not loaded")
        for name, value in patch.items():
            if name == "customFields":
                custom = order.get("customFields")
                order["customFields"] = {**(custom if isinstance(custom, dict) else {}), **value}
            else:
                order[name] = value
        self.edits.append((str(order["id"]), patch))
        return _json(200, {"success": True, "id": order["id"], "order": order})


def _invalid(errors: dict[str, str], message: str = "Errors in the input parameters") -> Answer:
    return _json(400, {"success": False, "errorMsg": message, "errors": errors})


def _digits(text: Any) -> str:
    return "".join(c for c in str(text or "") if c.isdigit())


def _crm_matches(o: dict[str, Any], f: dict[str, list[str]]) -> bool:
    payments = o.get("payments")
    types = {p.get("type") for p in (payments.values() if isinstance(payments, dict) else [])}
    day = str(o.get("createdAt") or "")[:10]
    checks: list[tuple[str, Callable[[list[str]], bool]]] = [
        ("ids", lambda v: str(o["id"]) in v),
        ("numbers", lambda v: str(o.get("number")) in v),
        ("externalIds", lambda v: str(o.get("externalId")) in v),
        ("extendedStatus", lambda v: o.get("status") in v),
        ("paymentTypes", lambda v: bool(types & set(v))),
        ("sites", lambda v: o.get("site") in v),
        ("createdAtFrom", lambda v: day >= v[0]),
        ("createdAtTo", lambda v: day <= v[0]),
    ]
    for name, test in checks:
        if name in f and not test(f[name]):
            return False
    if "customer" in f:
        needle = f["customer"][0].casefold()
        name = " ".join(str(o.get(k) or "") for k in ("firstName", "lastName", "patronymic"))
        digits = _digits(needle)
        if not (
            needle in name.casefold()
            or needle in str(o.get("email") or "").casefold()
            or (len(digits) >= 5 and digits in _digits(o.get("phone")))
        ):
            return False
    return True


# -- Magento -----------------------------------------------------------------------------------
CRITERIA = re.compile(r"searchCriteria\[filter_groups\]\[(\d+)\]\[filters\]\[(\d+)\]\[(\w+)\]")
SORT = re.compile(r"searchCriteria\[sortOrders\]\[(\d+)\]\[(\w+)\]")


class MagentoServer(ContractServer):
    """Magento 2 REST orders: search, get, comments, save. ``orders``: order objects."""

    def __init__(
        self,
        orders: Iterable[dict[str, Any]],
        *,
        token: str,
        rps_limit: float | None = None,
        fail: Fault | Iterable[Fault] | None = None,
        status_from_comments: bool = True,
    ) -> None:
        super().__init__(rps_limit=rps_limit, fail=fail)
        self.token = token
        self.status_from_comments = status_from_comments
        self.orders: dict[int, dict[str, Any]] = {int(o["entity_id"]): o for o in orders}
        self._history_id = 1000

    def order(self, entity_id: int | str) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.orders[int(entity_id)]))

    def update(self, entity_id: int | str, **fields: Any) -> None:
        with self.lock:
            self.orders[int(entity_id)].update(fields)

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
        return _json(status, {"message": message}, headers)

    def route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Answer:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return _json(401, {"message": "The consumer isn't authorized to access %resources.",
                               "parameters": {"resources": "Magento_Sales::sales"}})  # fmt: skip
        m = re.fullmatch(r"/rest(?:/(?!V1/)[A-Za-z0-9_]+)?/V1/(.*)", path)
        rest = m.group(1) if m else ""
        if rest == "orders" and method == "GET":
            return self.search(query)
        if rest == "orders" and method == "POST":
            return self.save(body)
        mm = re.fullmatch(r"orders/(\d+)", rest)
        if mm and method == "GET":
            order = self.orders.get(int(mm.group(1)))
            if order is None:
                return self.error(404, "The entity that was requested doesn't exist.")
            return _json(200, order)
        mm = re.fullmatch(r"orders/(\d+)/comments", rest)
        if mm and method == "POST":
            return self.comment(int(mm.group(1)), body)
        return self.error(404, f"Request does not match any route: {method} {path}")

    def search(self, query: dict[str, list[str]]) -> Answer:
        groups: dict[int, dict[int, dict[str, str]]] = {}
        sorts: dict[int, dict[str, str]] = {}
        for name, values in query.items():
            m = CRITERIA.fullmatch(name)
            if m:
                groups.setdefault(int(m[1]), {}).setdefault(int(m[2]), {})[m[3]] = values[0]
                continue
            s = SORT.fullmatch(name)
            if s:
                sorts.setdefault(int(s[1]), {})[s[2]] = values[0]
        columns = {
            k for o in self.orders.values() for k, v in o.items() if not isinstance(v, dict | list)
        }
        for group in groups.values():
            for flt in group.values():
                if flt.get("field") not in columns:
                    return self.error(400, f"Invalid filter field: {flt.get('field')}")
        found = [
            o
            for o in self.orders.values()
            if all(any(_mg_matches(o, flt) for flt in g.values()) for g in groups.values())
        ]
        for _, sort in sorted(sorts.items(), reverse=True):  # stable: the first sort wins
            field = sort.get("field", "entity_id")
            descending = sort.get("direction", "ASC").upper() == "DESC"
            found.sort(key=_sort_key(field), reverse=descending)
        size_text = _first(query, "searchCriteria[pageSize]")
        page = int(_first(query, "searchCriteria[currentPage]", "1") or "1")
        total = len(found)
        if size_text:
            size = int(size_text)
            last = max(1, math.ceil(total / size))
            fault = self.page_fault(page)
            if fault is not None:
                return fault
            page = min(page, last)  # past the end: the last page again, as Magento does
            items = found[(page - 1) * size : page * size]
        else:
            items = found
        return _json(200, {"items": items, "search_criteria": {"current_page": page},
                           "total_count": total})  # fmt: skip

    def comment(self, entity_id: int, body: bytes) -> Answer:
        order = self.orders.get(entity_id)
        if order is None:
            return self.error(404, "The entity that was requested doesn't exist.")
        try:
            history = json.loads(body).get("statusHistory")
        except (ValueError, AttributeError):
            history = None
        if not isinstance(history, dict):
            return self.error(400, '"statusHistory" is required. Enter and try again.')
        self._history_id += 1
        entry = {
            "entity_id": self._history_id,
            "parent_id": entity_id,
            "entity_name": "order",
            "created_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "comment": history.get("comment"),
            "status": history.get("status"),
            "is_customer_notified": history.get("is_customer_notified"),
            "is_visible_on_front": history.get("is_visible_on_front", 0),
        }
        order.setdefault("status_histories", []).insert(0, entry)  # newest first
        if not history.get("status"):
            order["status"] = None  # Magento 2.3–2.4.3: a comment without status blanks it
        elif self.status_from_comments:
            order["status"] = history["status"]
        self.edits.append((str(entity_id), {"statusHistory": history}))
        return 200, {"Content-Type": "application/json"}, b"true"

    def save(self, body: bytes) -> Answer:
        try:
            entity = json.loads(body).get("entity")
        except (ValueError, AttributeError):
            entity = None
        if not isinstance(entity, dict) or "entity_id" not in entity:
            return self.error(400, "An order save here needs entity.entity_id (no new orders)")
        order = self.orders.get(int(entity["entity_id"]))
        if order is None:
            return self.error(404, "The entity that was requested doesn't exist.")
        _merge(order, entity)
        self.edits.append((str(order["entity_id"]), {"entity": entity}))
        return _json(200, order)


def _merge(into: dict[str, Any], patch: dict[str, Any]) -> None:
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def _sort_key(field: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """Numbers before text, as a column of one type sorts; None as empty text."""

    def key(order: dict[str, Any]) -> tuple[int, Any]:
        value = order.get(field)
        if isinstance(value, int | float):
            return (0, value)
        return (1, "" if value is None else str(value))

    return key


def _mg_matches(o: dict[str, Any], flt: dict[str, str]) -> bool:
    have = o.get(flt.get("field", ""))
    value = flt.get("value", "")
    cond = flt.get("condition_type", "eq")

    def cmp(a: Any, b: str) -> int:
        try:
            x, y = float(a), float(b)
        except (TypeError, ValueError):
            x, y = str(a), b  # type: ignore[assignment]
        return (x > y) - (x < y)

    if cond == "null":
        return have is None
    if cond == "notnull":
        return have is not None
    if have is None:
        return False
    if cond in ("in", "nin"):
        inside = any(cmp(have, v) == 0 for v in value.split(","))
        return inside if cond == "in" else not inside
    if cond == "like":
        pattern = re.escape(value).replace("%", ".*")
        return re.fullmatch(pattern, str(have), re.I) is not None
    c = cmp(have, value)
    return {"eq": c == 0, "neq": c != 0, "gt": c > 0, "gteq": c >= 0, "lt": c < 0,
            "lteq": c <= 0}.get(cond, False)  # fmt: skip


# -- sample orders -------------------------------------------------------------------------------
FIRST = ["Анна", "Илья", "Ольга", "Екатерина", "Денис", "Дарья", "Артём", "Максим", "Мария"]
LAST = ["Смирнова", "Кузнецов", "Попова", "Васильева", "Морозов", "Новикова", "Лебедев"]
CITIES = ["Москва", "Санкт-Петербург", "Казань", "Екатеринбург", "Новосибирск"]
GOODS = [
    ("KN-10211", "Конструктор магнитный «Магнитики» 64 детали", 2490.0),
    ("RZ-40003", "Пирамидка деревянная радужная", 490.0),
    ("KL-20140", "Кукла шарнирная «Вероника» с гардеробом", 1990.0),
    ("SP-80025", "Санки-ледянка «Снежок»", 590.0),
    ("MS-30027", "Набор машинок металлических «Спецтехника» 6 шт.", 990.0),
]
CRM_STATUSES = ["new", "pered-sborkoi", "dlia-sborki", "sobran", "otgruzhen", "dostavlen"]
CRM_SITES = ["igromir", "konstruktor-pro", "kukly-ko"]
START = datetime(2026, 1, 5, 9, 0)


def retailcrm_order(n: int, rng: random.Random | None = None, **fields: Any) -> dict[str, Any]:
    """A RetailCRM order object (internal id ``1000 + n``), overridable field by field."""
    rng = rng or random.Random(n)
    items: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 3)):
        sku, name, price = rng.choice(GOODS)
        items.append({"id": len(items) + 1, "initialPrice": price, "quantity": rng.randint(1, 3),
                      "offer": {"id": 100 + len(items), "externalId": sku, "article": sku,
                                "name": name}})  # fmt: skip
    phone = f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-" + (
        f"{rng.randint(10, 99)}"
    )
    city = rng.choice(CITIES)
    order: dict[str, Any] = {
        "id": 1000 + n,
        "number": f"{47000 + n}A",
        "externalId": str(47000 + n),
        "site": rng.choice(CRM_SITES),
        "status": rng.choice(CRM_STATUSES),
        "createdAt": (START + timedelta(minutes=37 * n)).strftime("%Y-%m-%d %H:%M:%S"),
        "firstName": rng.choice(FIRST),
        "lastName": rng.choice(LAST),
        "phone": phone,
        "email": f"client{n}@example.ru",
        "totalSumm": sum(i["initialPrice"] * i["quantity"] for i in items),
        "currency": "RUB",
        "payments": {str(n): {"type": rng.choice(["cash", "bank-card"]), "status": "not-paid"}},
        "delivery": {"code": "courier", "cost": 199.0,
                     "address": {"city": city, "text": f"г. {city}, ул. Ленина, д. {n % 90 + 1}"}},
        "source": {"campaign": rng.choice(["vk_ads", "yandex_direct", "email_rassylka"])},
        "customFields": [],  # RetailCRM sends an empty object as []
        "managerComment": None,
        "items": items,
    }  # fmt: skip
    order.update(fields)
    return order


def make_retailcrm_orders(count: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [retailcrm_order(n, rng) for n in range(1, count + 1)]


def magento_order(n: int, rng: random.Random | None = None, **fields: Any) -> dict[str, Any]:
    """A Magento order object (``entity_id`` = n) with a configurable item and its child."""
    rng = rng or random.Random(n)
    sku, name, price = rng.choice(GOODS)
    qty = float(rng.randint(1, 3))
    first, last = rng.choice(FIRST), rng.choice(LAST)
    city = rng.choice(CITIES)
    phone = f"+7 916 {rng.randint(100, 999)}-{n % 90 + 10}-{rng.randint(10, 99)}"
    address = {"firstname": first, "lastname": last, "city": city, "postcode": "101000",
               "street": [f"ул. Ленина, д. {n % 90 + 1}"], "country_id": "RU",
               "telephone": phone}  # fmt: skip
    created = datetime(2026, 1, 5, 6, 0) + timedelta(minutes=37 * n)
    order: dict[str, Any] = {
        "entity_id": n,
        "increment_id": f"{100000000 + n:09d}",
        "state": "new",
        "status": rng.choice(["pending", "processing", "holded"]),
        "store_id": rng.choice([1, 2]),
        "created_at": created.strftime("%Y-%m-%d %H:%M:%S"),
        "updated_at": created.strftime("%Y-%m-%d %H:%M:%S"),
        "customer_email": f"client{n}@example.ru",
        "customer_firstname": first,
        "customer_lastname": last,
        "grand_total": price * qty + 199.0,
        "shipping_amount": 199.0,
        "shipping_description": "Курьер",
        "order_currency_code": "RUB",
        "billing_address": address,
        "payment": {"method": rng.choice(["banktransfer", "checkmo", "cashondelivery"])},
        "items": [
            {"item_id": 2 * n, "sku": sku, "name": name, "qty_ordered": qty, "price": price,
             "product_type": "configurable"},
            {"item_id": 2 * n + 1, "sku": f"{sku}-RED", "name": name, "qty_ordered": qty,
             "price": 0.0, "parent_item_id": 2 * n, "product_type": "simple"},
        ],
        "status_histories": [],
        "extension_attributes": {
            "campaign": rng.choice(["vk_ads", "yandex_direct"]),
            "shipping_assignments": [{"shipping": {"address": address, "method": "flatrate"}}],
        },
    }  # fmt: skip
    order.update(fields)
    return order


def make_magento_orders(count: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [magento_order(n, rng) for n in range(1, count + 1)]
