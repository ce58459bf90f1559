"""PBX call logs → call records: sipuni CSV exports and Asterisk ``Master.csv``.

sipuni: ``;``-separated, UTF-8 with BOM (older web exports CP1251), Russian
headers whose set depends on the request, so columns are found by name.
Parties look like ``428 (Иванов Иван)``; durations come as seconds or
``H:MM:SS``. Asterisk cdr_csv: no header row, fixed column order.

Rows are yielded one at a time (``(line, record)`` or ``(line, RowError)``),
so a log of millions of rows never sits in memory.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from datetime import tzinfo
from typing import IO, Any

from .errors import UsageError
from .files import RowError, csv_rows, open_text

Row = tuple[int, "dict[str, Any] | RowError"]

# our field → header names seen in sipuni exports (lower-case)
SIPUNI_COLUMNS: dict[str, tuple[str, ...]] = {
    "type": ("тип",),
    "status": ("статус",),
    "time": ("время", "дата", "время звонка"),
    "line": ("схема", "линия", "номер линии"),
    "from": ("откуда",),
    "to": ("куда",),
    "answered_by": ("кто ответил",),
    "duration": ("длительность звонка", "длительность"),
    "talk": ("длительность разговора",),
    "answer_after": ("время ответа",),
    "record_id": ("id записи", "id звонка"),
    "cost": ("стоимость", "стоимость звонка"),
    "new_client": ("новый клиент",),
    "callback_state": ("состояние перезвона",),
    "callback_time": ("время перезвона",),
}
SIPUNI_DIRECTION = {"входящий": "inbound", "исходящий": "outbound", "внутренний": "internal"}
SIPUNI_STATUS = {
    "отвечен": "answered",
    "отвеченный": "answered",
    "не отвечен": "missed",
    "неотвечен": "missed",
    "пропущен": "missed",
    "занято": "busy",
    "ошибка": "failed",
}
ASTERISK_COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
    "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
    "uniqueid", "userfield",
)  # fmt: skip
ASTERISK_STATUS = {
    "ANSWERED": "answered",
    "NO ANSWER": "missed",
    "BUSY": "busy",
    "FAILED": "failed",
    "CONGESTION": "failed",
}
_PARTY = re.compile(r"^\s*(?P<num>[^()]*?)\s*(?:\((?P<name>[^)]*)\))?\s*$")


def parse_duration(text: str) -> int:
    """Seconds from ``75``, ``1:15`` or ``0:01:15``."""
    s = str(text).strip()
    if not s:
        return 0
    if ":" in s:
        parts = [int(p) for p in s.split(":")]
        total = 0
        for p in parts:
            total = total * 60 + p
        return total
    return int(float(s.replace(",", ".")))


def parse_party(text: str) -> tuple[str, str | None]:
    m = _PARTY.match(text or "")
    if not m:
        return text.strip(), None
    return m.group("num").strip(), (m.group("name") or "").strip() or None


def _money(text: str) -> float | None:
    s = (text or "").strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    s = s.replace("₽", "").replace("руб.", "").replace("р.", "")
    return float(s) if s else None


def call_id(source: str, *parts: str) -> str:
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]
    return f"{source}-{digest}"


def sniff_format(first_line: str) -> str:
    low = first_line.lstrip("\ufeff").lower()
    if "откуда" in low or "тип;" in low or low.startswith("тип"):
        return "sipuni"
    return "asterisk"


def iter_calls(
    path: str,
    *,
    fmt: str = "auto",
    tz: tzinfo,
    encoding: str | None = None,
    stdin: IO[bytes] | None = None,
) -> Iterator[Row]:
    reader = open_text(path, encoding, stdin)
    first = reader.readline()
    if not first.strip():
        raise UsageError(f"{reader.name}:1: empty call log")
    if fmt == "auto":
        fmt = sniff_format(first)
    if fmt == "sipuni":
        yield from _sipuni(reader, first, tz)
    elif fmt == "asterisk":
        yield from _asterisk(reader, first, tz)
    else:
        raise UsageError(f"unknown call log format {fmt!r}; valid: auto, sipuni, asterisk")


def _local_time(text: str, tz: tzinfo, field: str) -> str:
    from datetime import UTC, datetime

    s = text.strip()
    for f in ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            dt = datetime.strptime(s, f).replace(tzinfo=tz)
            return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            continue
    raise ValueError(f"field {field}: {text!r} is not a time")


def _sipuni(reader: Any, first: str, tz: tzinfo) -> Iterator[Row]:
    name = reader.name
    header = [h.strip().lower() for h in next(csv.reader([first.lstrip("\ufeff")], delimiter=";"))]
    index: dict[str, int] = {}
    for field, names in SIPUNI_COLUMNS.items():
        for i, h in enumerate(header):
            if h in names and field not in index:
                index[field] = i
    missing = [f for f in ("type", "status", "time", "from", "to") if f not in index]
    if missing:
        wanted = ", ".join(SIPUNI_COLUMNS[f][0].capitalize() for f in missing)
        raise UsageError(f"{name}:1: not a sipuni export: no column {wanted}")
    known = set(index.values())
    for line, cells in csv_rows(reader, ";", len(header), exact=False):
        if isinstance(cells, RowError):
            yield line, cells
            continue

        def cell(field: str, cells: list[str] = cells) -> str:
            i = index.get(field)
            return cells[i].strip() if i is not None else ""

        try:
            started = _local_time(cell("time"), tz, "Время")
            caller, caller_name = parse_party(cell("from"))
            callee, _ = parse_party(cell("to"))
            answered_by, _ = parse_party(cell("answered_by"))
            duration = parse_duration(cell("duration"))
            talk = parse_duration(cell("talk")) if "talk" in index else None
            cost = _money(cell("cost")) if "cost" in index else None
        except ValueError as exc:
            msg = str(exc)
            yield line, RowError(line, msg if msg.startswith("field") else f"bad value: {msg}")
            continue
        kind = cell("type").lower()
        status = cell("status").lower()
        extra = {header[i]: c for i, c in enumerate(cells) if i not in known and c.strip()}
        if cell("record_id"):
            extra["record_id"] = cell("record_id")
        yield (
            line,
            {
                "id": call_id(
                    "sipuni",
                    cell("time"),
                    cell("type"),
                    cell("from"),
                    cell("to"),
                    cell("line"),
                    cell("record_id"),
                ),
                "source": "sipuni",
                "line": cell("line") or None,
                "direction": SIPUNI_DIRECTION.get(kind, kind or None),
                "status": SIPUNI_STATUS.get(status, status or None),
                "started_at": started,
                "caller": caller or None,
                "caller_name": caller_name,
                "callee": callee or None,
                "answered_by": answered_by or None,
                "duration": duration,
                "talk_seconds": talk,
                "cost": cost,
                "extra": extra or None,
            },
        )


def _asterisk(reader: Any, first: str, tz: tzinfo) -> Iterator[Row]:
    for line, cells in csv_rows(reader, ",", 16, exact=False, first=first):
        if isinstance(cells, RowError):
            yield line, cells
            continue
        rec = dict(zip(ASTERISK_COLUMNS, (c.strip() for c in cells), strict=False))
        try:
            started = _local_time(rec["start"], tz, "start")
            duration = int(rec["duration"] or 0)
            billsec = int(rec["billsec"] or 0)
        except ValueError as exc:
            msg = str(exc)
            yield line, RowError(line, msg if msg.startswith("field") else f"bad number: {msg}")
            continue
        ctx = rec["dcontext"].lower()
        if "internal" in ctx or ctx.startswith("from-sip"):
            direction = "outbound" if len(re.sub(r"\D", "", rec["dst"])) > 5 else "internal"
        else:
            direction = "inbound"
        m = re.match(r'\s*"?([^"<]*)"?\s*<', rec["clid"])
        answered_by = None
        if rec["disposition"] == "ANSWERED" and rec["dstchannel"]:
            answered_by = re.sub(r"^[A-Za-z]+/", "", rec["dstchannel"]).split("-")[0] or None
        yield (
            line,
            {
                "id": call_id(
                    "asterisk",
                    rec.get("uniqueid") or "",
                    rec["start"],
                    rec["src"],
                    rec["dst"],
                    rec["channel"],
                    rec["dstchannel"],
                ),
                "source": "asterisk",
                "line": rec["dcontext"] or None,
                "direction": direction,
                "status": ASTERISK_STATUS.get(
                    rec["disposition"].upper(), rec["disposition"].lower()
                ),
                "started_at": started,
                "caller": rec["src"] or None,
                "caller_name": (m.group(1).strip() or None) if m else None,
                "callee": rec["dst"] or None,
                "answered_by": answered_by,
                "duration": duration,
                "talk_seconds": billsec,
                "cost": None,
                "extra": {
                    k: rec[k]
                    for k in ("uniqueid", "userfield", "accountcode", "lastapp")
                    if rec.get(k)
                }
                or None,
            },
        )
