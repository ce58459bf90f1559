"""Local sipuni and Twilio call-log APIs on a free loopback port (stdlib only), for the
tests of ``ops calls fetch`` — the contract of shared/backends.md "Telephony":

- sipuni: ``POST /api/statistic/export`` with form fields; the ``hash`` must be
  the MD5 of the values in the order of their names, joined by ``+``, with the
  secret last (a wrong hash is refused); answers the day's calls as a
  ``;``-separated CSV, UTF-8 with BOM, Russian headers;
- Twilio: ``GET /2010-04-01/Accounts/{sid}/Calls.json``, Basic auth (sid, token),
  ``StartTime>``/``StartTime<`` day filters (UTC), ``PageSize`` at most 1000,
  ``next_page_uri`` to the next page; 429 with error 20429 for the faults.

Faults come from :class:`contract_orders.ContractServer` (``fail_next``,
``delay_next``, ``malformed_next``, ``fail_page``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs

from contract_orders import Answer, ContractServer, Fault, _first, _json

SIPUNI_HEADER = (
    "Тип;Статус;Время;Схема;Исходящая линия;Откуда;Куда;Кто ответил;Длительность звонка;"
    "Длительность разговора;Время ответа;ID записи;Стоимость"
)


class SipuniServer(ContractServer):
    """``rows``: CSV lines (without the header) whose third cell is ``DD.MM.YYYY HH:MM:SS``."""

    def __init__(
        self,
        rows: Iterable[str],
        *,
        user: str,
        secret: str,
        fail: Fault | Iterable[Fault] | None = None,
    ) -> None:
        super().__init__(fail=fail)
        self.user = user
        self.secret = secret
        self.rows = list(rows)

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
        return (
            status,
            {"Content-Type": "text/plain; charset=utf-8", **(headers or {})},
            (message.encode()),
        )

    def route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Answer:
        if path != "/api/statistic/export" or method != "POST":
            return self.error(404, "Not found")
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        got = form.pop("hash", "")
        signed = "+".join([*(form[k] for k in sorted(form)), self.secret])
        if form.get("user") != self.user or got != hashlib.md5(signed.encode()).hexdigest():
            return _json(401, {"success": False, "message": "wrong hash"})
        try:
            lo = datetime.strptime(form["from"], "%d.%m.%Y").date()
            hi = datetime.strptime(form["to"], "%d.%m.%Y").date()
        except (KeyError, ValueError):
            return _json(400, {"success": False, "message": "bad dates"})
        wanted = [r for r in self.rows if lo <= _sipuni_day(r) <= hi]
        text = "\ufeff" + "\r\n".join([SIPUNI_HEADER, *wanted]) + "\r\n"
        return 200, {"Content-Type": "text/csv; charset=utf-8"}, text.encode("utf-8")


def _sipuni_day(row: str) -> date:
    return datetime.strptime(row.split(";")[2][:10], "%d.%m.%Y").date()


class TwilioServer(ContractServer):
    """``calls``: Twilio call resources (``start_time`` in RFC 2822)."""

    def __init__(
        self,
        calls: Iterable[dict[str, Any]],
        *,
        sid: str,
        token: str,
        fail: Fault | Iterable[Fault] | None = None,
    ) -> None:
        super().__init__(fail=fail)
        self.sid = sid
        self.token = token
        self.calls_data = list(calls)

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
        code = 20429 if status == 429 else 20003 if status == 401 else 20500
        return _json(status, {"code": code, "message": message, "status": status}, headers)

    def route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Answer:
        auth = headers.get("Authorization") or ""
        want = base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        if auth != f"Basic {want}":
            return self.error(401, "Authenticate")
        if path != f"/2010-04-01/Accounts/{self.sid}/Calls.json" or method != "GET":
            return self.error(404, "The requested resource was not found")
        size = int(_first(query, "PageSize", "50") or 50)
        if size > 1000:
            return self.error(400, "PageSize must be at most 1000")
        page = int(_first(query, "Page", "0") or 0)
        fault = self.page_fault(page)
        if fault is not None:
            return fault
        lo, hi = _first(query, "StartTime>"), _first(query, "StartTime<")
        found = [c for c in self.calls_data if _in_days(c, lo, hi)]
        chunk = found[page * size : (page + 1) * size]
        base = f"/2010-04-01/Accounts/{self.sid}/Calls.json"
        nxt = None
        if (page + 1) * size < len(found):
            nxt = f"{base}?PageSize={size}&Page={page + 1}"
            nxt += "".join(f"&StartTime{op}={v}" for op, v in (("%3E", lo), ("%3C", hi)) if v)
        return _json(
            200,
            {
                "calls": chunk,
                "page": page,
                "page_size": size,
                "next_page_uri": nxt,
                "uri": f"{base}?PageSize={size}&Page={page}",
            },
        )


def _in_days(call: dict[str, Any], lo: str | None, hi: str | None) -> bool:
    from email.utils import parsedate_to_datetime

    try:
        day = parsedate_to_datetime(call.get("start_time") or "").date().isoformat()
    except (TypeError, ValueError):
        return True  # a broken record is served as it is (the client must cope)
    return (lo is None or day >= lo) and (hi is None or day <= hi)
