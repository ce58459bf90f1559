"""What the vendor HTTP adapters share. :class:`HttpApi` (order APIs and call-log APIs):
the request budget per key, retries with one-line errors. :class:`VendorOrders`
(RetailCRM, Magento): reading an order before changing it (so a change someone
made since the plan is a conflict, not overwritten), and applying a batch of
changes one order at a time."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from .errors import AuthError, BackendUnreachable, OpsError, UsageError
from .http import NotFound, Retryable, retry_after, with_retries
from .store import SECRET_PARAMS

RETRY_STATUSES = {429, 502, 503, 504}  # rate limits and gateways: worth another try
CHANGEABLE = ("status", "flags", "comments", "support_called", "manager")


def one_line(text: str) -> str:
    """Messages end up on one terminal line and in one journal cell."""
    return " ".join(str(text).split())


def profile_zone(profile: dict[str, Any]) -> tzinfo:
    """The ``[profile] timezone``: vendors give local times without an offset."""
    section = profile.get("profile")
    name = section.get("timezone") if isinstance(section, dict) else None
    if not name or str(name).upper() == "UTC":
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"[profile] timezone: unknown time zone {name!r} (use an IANA name like Europe/Moscow)"
        ) from None


def public_url(url: str) -> str:
    """The URL without user info or secret query parameters, for the backend name."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = [(k, v) for k, v in parse_qsl(parts.query) if k.lower() not in SECRET_PARAMS]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))


def host_port(parts: Any) -> str:
    host = str(parts.hostname)
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def parse_rps(value: str | None, url: str) -> float:
    if value is None:
        return 10.0
    try:
        rps = float(value)
    except ValueError:
        rps = 0.0
    if not rps > 0:
        raise UsageError(f"{public_url(url)}: rps={value!r} is not a positive number")
    return rps


def comment_text(value: Any) -> str:
    """The text of a comment given as ``{at, author, text}`` or as plain text, spaces folded."""
    text = value.get("text") if isinstance(value, dict) else value
    return one_line(str(text or ""))


class RateLimiter:
    """At most ``rate`` requests in any window of ``burst / rate`` seconds.

    Vendors count requests per key in a sliding second, so the limiter keeps the
    send times of the last ``burst`` requests and holds a request back until the
    oldest of them is a window (plus ``slack``, for jitter between our clock and
    theirs) old. Bursts of ``burst`` are allowed; the long-run rate is ``rate``.
    """

    def __init__(
        self,
        rate: float,
        *,
        slack: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.burst = max(1, int(rate))
        self.window = self.burst / rate
        self.slack = slack
        self.clock = clock
        self.sleep = sleep
        self.waited = 0.0  # seconds spent waiting (for benchmarks)
        self._sent: deque[float] = deque(maxlen=self.burst)
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            if len(self._sent) == self.burst:
                delay = self._sent[0] + self.window + self.slack - self.clock()
                if delay > 0:
                    self.sleep(delay)
                    self.waited += delay
            self._sent.append(self.clock())


_limiters: dict[tuple[str, float], RateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(host: str, secret: str, rate: float) -> RateLimiter:
    """One limiter per host and key in this process: the budget belongs to the key."""
    digest = hashlib.sha256(f"{host}\0{secret}".encode()).hexdigest()
    with _limiters_lock:
        return _limiters.setdefault((digest, rate), RateLimiter(rate))


class HttpApi(ABC):
    """One ``httpx.Client`` per adapter; every request waits for the key's rate
    limiter and is retried (tenacity) on 429/502/503/504, timeouts and network
    errors, honouring ``Retry-After``, before giving up with
    :class:`BackendUnreachable`; 401/403 are :class:`AuthError`. Every message is
    one line."""

    secret_hint = ""
    accept = "application/json"
    # Retry policy; tests shorten these on the instance.
    attempts = 5
    backoff = 0.5  # seconds before the 2nd attempt, doubled each time
    max_wait = 60.0
    timeout = 30.0

    def __init__(
        self, url: str, *, base_url: str, host: str, secret: str | None, rps: float, display: str
    ) -> None:
        self.url = url
        self.base_url = base_url
        self.host = host
        self.display = display
        self.secret = secret or None
        self.limiter = limiter_for(host, self.secret or "", rps)
        self.client: httpx.Client | None = None
        self.requests = 0  # HTTP requests sent, retries included (for benchmarks and tests)
        self.sleep: Callable[[float], None] = time.sleep

    # -- HTTP --------------------------------------------------------------------------------
    @abstractmethod
    def auth_headers(self, secret: str) -> dict[str, str]:
        """The headers that carry the key or token."""

    @abstractmethod
    def error_message(self, resp: httpx.Response) -> str:
        """The vendor's own words for an error answer."""

    def connect(self) -> httpx.Client:
        if self.client is None:
            if not self.secret:
                raise AuthError(f"{self.display}: no credentials", hint=self.secret_hint)
            self.client = httpx.Client(
                base_url=self.base_url,
                headers={
                    **self.auth_headers(self.secret),
                    "Accept": self.accept,
                    "User-Agent": "deskops",
                },
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            )
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def server_wait(self, resp: httpx.Response) -> float | None:
        """Seconds to wait that an error answer gives in its body, for services that say it
        there rather than in ``Retry-After`` (None: not given)."""
        return None

    def _send(
        self,
        client: httpx.Client,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]] | None,
        data: dict[str, str] | None,
        body: Any,
        what: str,
    ) -> httpx.Response:
        self.limiter.acquire()
        self.requests += 1
        try:
            resp = client.request(
                method, path, params=list(params) if params else None, data=data, json=body
            )  # no params: keep the query of a next-page URI
        except httpx.TimeoutException:
            raise Retryable(f"no answer within {self.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise Retryable(f"cannot reach {self.host} ({type(exc).__name__}: {exc})") from None
        code = resp.status_code
        if code < 400:
            return resp
        message = one_line(self.error_message(resp))
        if code in RETRY_STATUSES:
            wait = retry_after(resp.headers.get("Retry-After"))
            if wait is None:
                wait = self.server_wait(resp)
            raise Retryable(f"HTTP {code} {message}".strip(), wait)
        text = one_line(f"{self.display}: {what}: HTTP {code} {message}")
        if code in (401, 403):
            raise AuthError(text, hint=self.secret_hint)
        if code == 404:
            raise NotFound(text)
        raise OpsError(text)

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        data: dict[str, str] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        """One API call, rate-limited and retried; the answer (2xx/3xx)."""
        client = self.connect()
        what = f"{method} {path}"
        try:
            return with_retries(
                lambda: self._send(client, method, path, params, data, body, what),
                attempts=self.attempts, backoff=self.backoff, max_wait=self.max_wait,
                sleep=self.sleep,
            )  # fmt: skip
        except Retryable as exc:
            raise BackendUnreachable(
                one_line(f"{self.display}: {what}: {exc.message}; gave up after {self.attempts} "
                         "attempts"),
                hint="try again later",
            ) from None  # fmt: skip

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        data: dict[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        """One API call, rate-limited and retried; the decoded JSON (None for an empty body)."""
        resp = self.send(method, path, params=params, data=data, body=body)
        if not resp.content.strip():
            return None
        try:
            return resp.json()
        except ValueError:
            snippet = one_line(resp.text[:40])
            raise OpsError(
                f"{self.display}: {method} {path}: malformed response, not JSON ({snippet!r})"
            ) from None


class VendorOrders(HttpApi):
    """What the vendor order adapters share (HTTP plumbing from :class:`HttpApi`).

    ``read`` gives the value a change compares with (see ``state_of`` in
    ``commands/plan.py``), from a fresh read of the order kept for the run.
    """

    vendor = ""  # names the profile table [orders.<vendor>] and the messages

    def __init__(
        self,
        url: str,
        *,
        base_url: str,
        host: str,
        secret: str | None,
        profile: dict[str, Any] | None,
        rps: float,
    ) -> None:
        super().__init__(
            url, base_url=base_url, host=host, secret=secret, rps=rps,
            display=f"{self.vendor} {host}",
        )  # fmt: skip
        profile = profile or {}
        self.backend = f"orders:{public_url(url)}"
        self.tz = profile_zone(profile)
        self.statuses = self._table(profile, "statuses")
        self.flag_map = self._table(profile, "flags")
        self.fields = self._table(profile, "fields")
        self.payment_methods = self._table(profile, "payment_methods")
        self._status_names = {code: name for name, code in self.statuses.items()}
        self._payment_names = {code: name for name, code in self.payment_methods.items()}
        self._cache: dict[str, dict[str, Any]] = {}  # order id → raw order, for conflict reads

    def _table(self, profile: dict[str, Any], name: str) -> dict[str, str]:
        orders = profile.get("orders")
        section = orders.get(self.vendor) if isinstance(orders, dict) else None
        table = section.get(name) if isinstance(section, dict) else None
        if table is None:
            return {}
        if not isinstance(table, dict):
            raise UsageError(f"[orders.{self.vendor}] {name}: expected a table of name = code")
        return {str(k): str(v) for k, v in table.items()}

    # -- mapping -----------------------------------------------------------------------------
    def status_code(self, name: str) -> str:
        return self.statuses.get(name, name)

    def status_name(self, code: Any) -> str | None:
        return None if code is None else self._status_names.get(str(code), str(code))

    def payment_code(self, name: str) -> str:
        return self.payment_methods.get(name, name)

    def payment_name(self, code: Any) -> str | None:
        return None if code is None else self._payment_names.get(str(code), str(code))

    def flag_target(self, flag: str) -> str:
        """Where a flag is kept; a flag the profile does not map cannot be read or set."""
        if flag in self.flag_map:
            return self.flag_map[flag]
        valid = ", ".join(sorted(self.flag_map)) or "none are mapped"
        raise UsageError(
            f"{self.display}: no flag {flag!r} in [orders.{self.vendor}] flags; "
            f"valid flags: {valid}"
        )

    def field_target(self, name: str) -> str:
        if name in self.fields:
            return self.fields[name]
        raise UsageError(
            f"{self.display}: {name} is not mapped; add it to [orders.{self.vendor}] fields"
        )

    def check_writable(self, change: Any) -> None:
        """Raise before any write when a change names something this vendor cannot hold."""
        if change.field not in CHANGEABLE:
            raise OpsError(
                f"{self.display}: cannot change {change.field!r} of an order "
                f"(only {', '.join(CHANGEABLE)})"
            )
        if change.field == "flags" and change.op not in ("add", "remove"):
            raise OpsError(f"{self.display}: flags are added or removed one by one")
        if change.field == "comments" and change.op not in ("add", "remove"):
            raise OpsError(f"{self.display}: comments are added (and removed by undo) one by one")
        if change.field in ("status", "support_called", "manager") and change.op != "set":
            raise OpsError(f"{self.display}: {change.field} can only be set")
        if change.field == "flags":
            self.flag_target(str(change.after if change.op == "add" else change.before))
        elif change.field == "support_called":
            self.field_target("support_called")

    def local_time(self, when: datetime) -> datetime:
        return when.replace(tzinfo=self.tz) if when.tzinfo is None else when.astimezone(self.tz)

    # -- the order port ----------------------------------------------------------------------
    @abstractmethod
    def fetch(self, order_id: str) -> dict[str, Any] | None:
        """The order as the vendor gives it, read now; None when there is none."""

    @abstractmethod
    def record(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The vendor's order as a record of the store's ``orders`` entity."""

    def get(self, order_id: str) -> dict[str, Any] | None:
        raw = self.fetch(str(order_id))
        return None if raw is None else self.record(raw)

    def cached(self, order_id: str) -> dict[str, Any]:
        """The order read once per run for conflict checks (dropped again after a write)."""
        raw = self._cache.get(order_id)
        if raw is None:
            raw = self.fetch(order_id)
            if raw is None:
                raise OpsError(f"orders:{order_id} does not exist in {self.display}")
            self._cache[order_id] = raw
        return raw

    def read(self, change: Any) -> Any:
        """The current value ``state_of`` compares with ``before``/``after``.

        Flags: the order's flag names, so add/remove test membership. Comments:
        the comments, where one with the same text as the change's comment is
        given in the change's own form (``{at, author, text}`` or plain text), so
        an added comment that is already there is a skip and never added twice.
        """
        self.check_writable(change)
        rec = self.record(self.cached(change.key))
        if change.field == "comments":
            wanted = change.after if change.op == "add" else change.before
            text = comment_text(wanted)
            return [wanted if comment_text(c) == text else c for c in rec.get("comments") or []]
        if change.field == "flags":
            return list(rec.get("flags") or [])
        return rec.get(change.field)

    def write(self, change: Any) -> None:
        self.write_batch([change])

    @abstractmethod
    def write_batch(self, changes: list[Any]) -> None:
        """Apply planned changes, marking each ``applied`` or ``failed`` as it goes."""

    def by_order(self, changes: list[Any]) -> dict[str, list[Any]]:
        groups: dict[str, list[Any]] = {}
        for ch in changes:
            groups.setdefault(ch.key, []).append(ch)
        return groups

    def transaction(self) -> Any:
        return contextlib.nullcontext()


def _fail(changes: list[Any], exc: Exception) -> None:
    for ch in changes:
        if ch.outcome != "applied":
            ch.outcome, ch.error = "failed", one_line(str(exc))


def _number(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def _qty(value: Any) -> int | float | None:
    n = _number(value)
    return int(n) if n is not None and n.is_integer() else n


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y")
    return bool(value)


def _as_dict(value: Any) -> dict[str, Any]:
    """RetailCRM sends an empty object as ``[]`` (PHP); treat anything else as empty too."""
    return value if isinstance(value, dict) else {}
