"""Call logs fetched from the PBX's API: sipuni (CSV export) and Twilio (Calls.json).

``sipuni+https://ACCOUNT@sipuni.com`` — ``POST /api/statistic/export`` with form
fields; ``hash`` is the MD5 of the field values in the order of their names,
joined by ``+``, with the integration secret last (``OPS_SIPUNI_SECRET``). One
request per day, so a month is thirty answers of bounded size; the CSV goes
through the same parser as an exported file.

``twilio+https://ACCOUNT_SID@api.twilio.com`` — ``GET /2010-04-01/Accounts/
{sid}/Calls.json`` with Basic auth (the auth token in ``OPS_TWILIO_TOKEN``),
``PageSize`` 1000, following ``next_page_uri``. Twilio filters by UTC day, so
one day either side is asked for and the calls outside the local days dropped.

Both yield ``(where, record or RowError)``, one call at a time, retried and
rate-limited by :class:`~deskops.adapters.vendor.HttpApi`.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from .calllogs import iter_calls, number_of, twilio_record
from .errors import OpsError, UsageError
from .files import RowError
from .vendor import HttpApi, one_line, public_url


def _parts(url: str, scheme: str, what: str) -> tuple[str, str, str, str]:
    """(base URL, host, account, path) of ``<scheme>+https://ACCOUNT@HOST[/path]``."""
    parts = urlsplit(url)
    proto = parts.scheme.partition("+")[2]
    if not parts.scheme.startswith(scheme + "+") or proto not in ("http", "https"):
        raise UsageError(f"{url}: expected {scheme}+https://{what}@HOST")
    if not parts.hostname or not parts.username:
        raise UsageError(f"{public_url(url)}: give the {what}: {scheme}+https://{what}@HOST")
    if parts.password:
        raise UsageError(f"{public_url(url)}: no secret in the URL; use the environment")
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return f"{proto}://{host}", host, unquote(parts.username), parts.path.rstrip("/")


def _days(first: date, last: date) -> Iterator[date]:
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


class SipuniCalls(HttpApi):
    kind = "sipuni"
    accept = "text/csv, */*"
    secret_hint = "set OPS_SIPUNI_SECRET (the integration secret of the sipuni account)"

    def __init__(self, url: str, *, secret: str | None = None, rps: float = 5.0) -> None:
        base, host, account, path = _parts(url, "sipuni", "ACCOUNT")
        super().__init__(
            url, base_url=base, host=host, secret=secret, rps=rps,
            display=f"sipuni {account}@{host}",
        )  # fmt: skip
        self.account = account
        self.path = path or "/api/statistic/export"
        self.backend = f"calls:{public_url(url)}"

    @classmethod
    def from_config(cls, url: str, profile: dict[str, Any], password: str | None) -> SipuniCalls:
        return cls(url, secret=password)

    def auth_headers(self, secret: str) -> dict[str, str]:
        return {}  # the secret signs the form instead

    def error_message(self, resp: httpx.Response) -> str:
        return resp.text[:200]

    def form(self, day: date) -> dict[str, str]:
        """The export request for one day, signed."""
        assert self.secret is not None
        fields = {
            "anonymous": "1",
            "firstTime": "0",
            "from": day.strftime("%d.%m.%Y"),
            "fromNumber": "",
            "names": "1",
            "numbersInvolved": "1",
            "outgoingLine": "1",
            "state": "0",
            "to": day.strftime("%d.%m.%Y"),
            "toAnswer": "",
            "toNumber": "",
            "tree": "",
            "type": "0",
            "user": self.account,
        }
        signed = "+".join([*(fields[k] for k in sorted(fields)), self.secret])
        return {**fields, "hash": hashlib.md5(signed.encode("utf-8")).hexdigest()}

    def calls(
        self, first: date, last: date, *, tz: tzinfo, region: str | None
    ) -> Iterator[tuple[str, dict[str, Any] | RowError]]:
        self.connect()
        for day in _days(first, last):
            resp = self.send("POST", self.path, data=self.form(day))
            body = resp.content
            if not body.strip():
                continue
            head = body[:200].lstrip(b"\xef\xbb\xbf").lstrip()
            if head.startswith((b"{", b"<")):  # an error page or a JSON error, not the CSV
                raise OpsError(
                    one_line(f"{self.display}: export of {day}: not a call log "
                             f"({body[:120].decode('utf-8', 'replace')!r})")
                )  # fmt: skip
            try:
                rows = iter_calls("-", fmt="sipuni", tz=tz, stdin=io.BytesIO(body), region=region)
                for line, row in rows:
                    yield f"{day} line {line}", row
            except UsageError as exc:
                raise OpsError(f"{self.display}: export of {day}: {exc.message}") from None


class TwilioCalls(HttpApi):
    kind = "twilio"
    secret_hint = "set OPS_TWILIO_TOKEN (the auth token of the Twilio account)"
    page_size = 1000

    def __init__(self, url: str, *, secret: str | None = None, rps: float = 25.0) -> None:
        base, host, sid, _path = _parts(url, "twilio", "ACCOUNT_SID")
        super().__init__(
            url, base_url=base, host=host, secret=secret, rps=rps,
            display=f"twilio {sid}@{host}",
        )  # fmt: skip
        self.sid = sid
        self.backend = f"calls:{public_url(url)}"

    @classmethod
    def from_config(cls, url: str, profile: dict[str, Any], password: str | None) -> TwilioCalls:
        return cls(url, secret=password)

    def auth_headers(self, secret: str) -> dict[str, str]:
        import base64

        token = base64.b64encode(f"{self.sid}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def error_message(self, resp: httpx.Response) -> str:
        try:
            data = resp.json()
        except ValueError:
            return resp.text[:200]
        if isinstance(data, dict):
            code = data.get("code")
            return f"{data.get('message') or ''}" + (f" (error {code})" if code else "")
        return resp.text[:200]

    def calls(
        self, first: date, last: date, *, tz: tzinfo, region: str | None
    ) -> Iterator[tuple[str, dict[str, Any] | RowError]]:
        lo = datetime.combine(first, datetime.min.time(), tz).astimezone(UTC)
        hi = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz).astimezone(UTC)
        path: str | None = f"/2010-04-01/Accounts/{self.sid}/Calls.json"
        params: list[tuple[str, str]] | None = [
            ("StartTime>", (lo.date() - timedelta(days=1)).isoformat()),
            ("StartTime<", (hi.date() + timedelta(days=1)).isoformat()),
            ("PageSize", str(self.page_size)),
        ]
        cache: dict[str, str | None] = {}
        page = 0
        seen: set[str] = set()
        while path:
            data = self.request("GET", path, params=params)
            calls = data.get("calls") if isinstance(data, dict) else None
            if not isinstance(calls, list):
                raise OpsError(f"{self.display}: {path}: no calls array in the answer")
            for n, obj in enumerate(calls, 1):
                where = f"page {page} call {n}"
                if not isinstance(obj, dict):
                    yield where, RowError(n, "expected a JSON object")
                    continue
                try:
                    rec = twilio_record(obj)
                except ValueError as exc:
                    yield where, RowError(n, f"call {obj.get('sid') or n}: {exc}")
                    continue
                if not iso_between(rec["started_at"], lo, hi):
                    continue
                number_of(rec, region, cache)
                yield where, rec
            nxt = data.get("next_page_uri")
            if nxt and nxt in seen:
                raise OpsError(f"{self.display}: next_page_uri {nxt} came twice; stopped")
            if nxt:
                seen.add(nxt)
            path, params = (nxt, None) if nxt else (None, None)
            page += 1


def iso_between(text: str, lo: datetime, hi: datetime) -> bool:
    at = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return lo <= at < hi
