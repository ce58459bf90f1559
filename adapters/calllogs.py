"""PBX call logs → call records: sipuni CSV exports, Asterisk ``Master.csv``, Twilio JSON.

sipuni: ``;``-separated, UTF-8 with BOM (older web exports CP1251), Russian
headers whose set depends on the request, so columns are found by name.
Parties look like ``428 (Иванов Иван)``; durations come as seconds or
``H:MM:SS``. Asterisk cdr_csv: no header row, fixed column order, one row per
call leg (legs of one call share ``uniqueid``). Twilio: the ``Calls.json``
resource — a page (``{"calls": [...]}``), a JSON array, or one call per line;
agent legs name their parent call.

Every record carries ``number`` — the other party (the caller of an inbound
call, the callee of an outbound one) in E.164 when a region is given — and
``call_group``, the call a leg belongs to, so missed calls can be told from
calls one leg of which was answered.

Rows are yielded one at a time (``(line, record)`` or ``(line, RowError)``),
so a log of millions of rows never sits in memory.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta, tzinfo
from typing import IO, Any

from .errors import UsageError
from .files import RowError, csv_rows, iter_jsonl, open_text

Row = tuple[int, "dict[str, Any] | RowError"]

# our field → header names seen in sipuni exports (lower-case)
SIPUNI_COLUMNS: dict[str, tuple[str, ...]] = {
    "type": ("тип",),
    "status": ("статус",),
    "time": ("время", "дата", "время звонка"),
    "line": ("схема", "линия", "номер линии"),
    "out_line": ("исходящая линия",),
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
    if "(" not in text:  # most cells: a bare number
        return text.strip(), None
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


FORMATS = ("auto", "sipuni", "asterisk", "twilio-json")
TWILIO_STATUS = {
    "completed": "answered",
    "no-answer": "missed",
    "canceled": "missed",  # the caller hung up while it rang
    "busy": "busy",
    "failed": "failed",
    "queued": "in-progress",
    "ringing": "in-progress",
    "in-progress": "in-progress",
}


def sniff_format(first_line: str) -> str:
    low = first_line.lstrip("\ufeff").lower()
    if low.lstrip().startswith(("{", "[")):
        return "twilio-json"
    if "откуда" in low or "тип;" in low or low.startswith("тип"):
        return "sipuni"
    return "asterisk"


def number_of(rec: dict[str, Any], region: str | None, cache: dict[str, str | None]) -> None:
    """Set ``number``: the other party in E.164 (extensions and hidden numbers give None)."""
    raw = rec.get("callee") if rec.get("direction") == "outbound" else rec.get("caller")
    if not raw:
        rec["number"] = None
        return
    if raw not in cache:
        from .phones import e164

        if len(cache) > 500_000:  # bounded: a month of a call centre has far fewer callers
            cache.clear()
        cache[raw] = e164(raw, region or "") if region else raw
    rec["number"] = cache[raw]


def iter_calls(
    path: str,
    *,
    fmt: str = "auto",
    tz: tzinfo,
    encoding: str | None = None,
    stdin: IO[bytes] | None = None,
    region: str | None = None,
) -> Iterator[Row]:
    """Call records of a log, one at a time; ``region`` (``RU``) puts numbers in E.164."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown call log format {fmt!r}; valid: {', '.join(FORMATS)}")
    reader = open_text(path, encoding, stdin)
    first = reader.readline()
    if not first.strip():
        raise UsageError(f"{reader.name}:1: empty call log")
    if fmt == "auto":
        fmt = sniff_format(first)
    rows = {"sipuni": _sipuni, "asterisk": _asterisk, "twilio-json": _twilio}[fmt](
        reader, first, tz
    )
    cache: dict[str, str | None] = {}
    for line, rec in rows:
        if not isinstance(rec, RowError):
            number_of(rec, region, cache)
        yield line, rec


_OFFSETS: dict[tuple[tzinfo, str], Any] = {}  # (zone, local minute) → UTC offset
_ZERO = timedelta(0)


def _local_time(text: str, tz: tzinfo, field: str) -> str:
    """A local time as the PBX writes it → ``YYYY-MM-DDTHH:MM:SSZ``.

    The two layouts of every log (``DD.MM.YYYY HH:MM:SS``, ``YYYY-MM-DD HH:MM:SS``) are
    read by position and the zone's offset is looked up once per local minute — a month
    of calls is a million rows; anything else goes through ``strptime``."""
    from datetime import UTC, datetime

    s = text.strip()
    if len(s) == 19 and s[13] == ":" and s[16] == ":":
        try:
            if s[2] == "." and s[5] == ".":
                y, mo, d = int(s[6:10]), int(s[3:5]), int(s[0:2])
            elif s[4] == "-" and s[7] == "-":
                y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
            else:
                raise ValueError(s)
            local = datetime(y, mo, d, int(s[11:13]), int(s[14:16]), int(s[17:19]))
            key = (tz, s[:16])
            offset = _OFFSETS.get(key)
            if offset is None:
                if len(_OFFSETS) > 100_000:
                    _OFFSETS.clear()
                offset = _OFFSETS[key] = local.replace(tzinfo=tz).utcoffset() or _ZERO
            u = local - offset
            return (
                f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:"
                f"{u.second:02d}Z"
            )
        except (ValueError, TypeError):
            pass
    for f in ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            dt = datetime.strptime(s, f).replace(tzinfo=tz)
            return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            continue
    raise ValueError(f"field {field}: {text!r} is not a time")


def _field(parse: Any, text: str, header: list[str], index: dict[str, int], name: str) -> Any:
    """A parsed cell; a bad value names its column as the export does (``Стоимость``)."""
    if name not in index:
        return None
    try:
        return parse(text)
    except ValueError:
        column = header[index[name]].capitalize()
        raise ValueError(f"field {column}: {text!r} is not a number") from None


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
    others = [(i, header[i]) for i in range(len(header)) if i not in known]
    # each field's column, or the last column of a row padded with "" for the missing ones
    at = {field: index.get(field, len(header)) for field in SIPUNI_COLUMNS}
    for line, row in csv_rows(reader, ";", len(header), exact=False):
        if isinstance(row, RowError):
            yield line, row
            continue
        cells = [c.strip() for c in row[: len(header)]]
        cells.append("")

        def cell(field: str, cells: list[str] = cells) -> str:
            return cells[at[field]]

        try:
            started = _local_time(cell("time"), tz, "Время")
            caller, caller_name = parse_party(cell("from"))
            callee, _ = parse_party(cell("to"))
            answered_by, answered_name = parse_party(cell("answered_by"))
            duration = _field(parse_duration, cell("duration"), header, index, "duration")
            talk = _field(parse_duration, cell("talk"), header, index, "talk")
            cost = _field(_money, cell("cost"), header, index, "cost")
        except ValueError as exc:
            msg = str(exc)
            yield line, RowError(line, msg if msg.startswith("field") else f"bad value: {msg}")
            continue
        kind = cell("type").lower()
        status = cell("status").lower()
        extra = {h: cells[i] for i, h in others if cells[i]}
        if cell("record_id"):
            extra["record_id"] = cell("record_id")
        if answered_name:
            extra["answered_by_name"] = answered_name
        rid = call_id(
            "sipuni", cell("time"), cell("type"), cell("from"), cell("to"), cell("line"),
            cell("record_id"),
        )  # fmt: skip
        yield (
            line,
            {
                "id": rid,
                "call_group": rid,
                "source": "sipuni",
                "line": cell("line") or cell("out_line") or None,
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
                "call_group": "asterisk-" + (rec.get("uniqueid") or rec["start"] + rec["src"]),
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


def _rfc2822_utc(text: str | None, field: str) -> str | None:
    if not text:
        return None
    from datetime import UTC
    from email.utils import parsedate_to_datetime

    try:
        dt = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        raise ValueError(f"field {field}: {text!r} is not a time") from None
    if dt.tzinfo is None:
        raise ValueError(f"field {field}: {text!r} has no time zone")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def twilio_record(obj: dict[str, Any]) -> dict[str, Any]:
    """One Twilio call resource → a call record (ValueError names the bad field)."""
    import json

    sid = obj.get("sid")
    if not isinstance(sid, str) or not sid:
        raise ValueError("field sid: missing")
    started = _rfc2822_utc(obj.get("start_time") or obj.get("date_created"), "start_time")
    if started is None:
        raise ValueError("field start_time: missing")
    direction_raw = str(obj.get("direction") or "")
    direction = "inbound" if direction_raw == "inbound" else "outbound"
    status_raw = str(obj.get("status") or "")
    try:
        duration = int(obj.get("duration") or 0)
    except (TypeError, ValueError):
        raise ValueError(f"field duration: {obj.get('duration')!r} is not a number") from None
    price = obj.get("price")
    try:
        cost = abs(float(price)) if price not in (None, "") else None
    except (TypeError, ValueError):
        raise ValueError(f"field price: {price!r} is not a number") from None
    parent = obj.get("parent_call_sid") or None
    frm, to = obj.get("from") or None, obj.get("to") or None
    rec: dict[str, Any] = {
        "id": f"twilio-{sid}",
        "call_group": f"twilio-{parent or sid}",
        "source": "twilio",
        "line": to if direction == "inbound" else frm,
        "direction": direction,
        "status": TWILIO_STATUS.get(status_raw, status_raw or None),
        "started_at": started,
        "caller": frm,
        "caller_name": obj.get("caller_name") or None,
        "callee": to,
        "answered_by": (to if parent and direction_raw == "outbound-dial" else None)
        if status_raw == "completed"
        else None,
        "duration": duration,
        "talk_seconds": duration if status_raw == "completed" else 0,
        "cost": cost,
        "extra": {
            k: v
            for k, v in (
                ("sid", sid),
                ("parent_call_sid", parent),
                ("direction", direction_raw),
                ("status", status_raw),
                ("price_unit", obj.get("price_unit")),
            )
            if v
        },
    }
    if parent and direction_raw == "outbound-dial":
        # An agent leg of an inbound call: it talks to the caller, so the caller is the party.
        rec["direction"] = "inbound"
        rec["line"] = None
    json.dumps(rec)  # only plain values go on
    return rec


def _twilio(reader: Any, first: str, tz: tzinfo) -> Iterator[Row]:
    """A Calls.json page or array (read whole: a page holds ≤ 1000 calls) or JSON lines."""
    import json

    name = reader.name
    head = first.lstrip("\ufeff").strip()
    if head.startswith("{") and head.endswith("}"):
        try:
            obj = json.loads(head)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and "calls" not in obj:  # JSON lines, one call each
            yield from _twilio_lines(reader, first)
            return
    text = first + "".join(reader)
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{name}:{exc.lineno}: malformed JSON: {exc.msg}") from None
    calls = data.get("calls") if isinstance(data, dict) else data
    if not isinstance(calls, list):
        raise UsageError(f'{name}: not a Twilio call list (no "calls" array)')
    for n, obj in enumerate(calls, 1):
        yield n, _twilio_one(obj, n)


def _twilio_one(obj: Any, n: int) -> dict[str, Any] | RowError:
    if not isinstance(obj, dict):
        return RowError(n, "expected a JSON object")
    try:
        return twilio_record(obj)
    except ValueError as exc:
        return RowError(n, f"call {obj.get('sid') or n}: {exc}")


def _twilio_lines(reader: Any, first: str) -> Iterator[Row]:
    for line_no, obj in iter_jsonl(reader, first):
        yield line_no, obj if isinstance(obj, RowError) else _twilio_one(obj, line_no)
