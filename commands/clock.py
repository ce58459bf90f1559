"""The clock: real time, or pinned by ``OPS_NOW`` (``--as-of``) for tests and replays.

Times are stored as UTC ISO-8601 strings ending in ``Z`` (they sort as text in
every store) and shown in the profile's time zone.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache

from deskops.adapters.errors import UsageError


@lru_cache(maxsize=32)
def zone(name: str | None) -> tzinfo:
    if not name or name.upper() == "UTC":
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Moscow)"
        ) from None


_pinned: datetime | None = None


def pin(dt: datetime | None) -> None:
    """Pin the clock for this process (``--as-of``); ``None`` unpins."""
    global _pinned
    _pinned = dt


def now_utc() -> datetime:
    if _pinned is not None:
        return _pinned
    pinned = os.environ.get("OPS_NOW")
    if pinned:
        return parse_datetime(pinned, UTC, field="OPS_NOW")
    return datetime.now(UTC).replace(microsecond=0)


def now_local(tz: tzinfo) -> datetime:
    return now_utc().astimezone(tz)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d.%m.%Y",
)


def _parse_naive_or_aware(s: str) -> datetime | None:
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        pass
    for fmt in _FORMATS:
        try:
            return datetime.strptime(s, fmt)
        except ValueError:
            continue
    return None


def parse_datetime(text: str, tz: tzinfo, *, field: str = "time") -> datetime:
    """ISO-8601 (with or without offset) or the teams' export formats; naive → ``tz``."""
    s = str(text).strip()
    if not s:
        raise UsageError(f"{field}: empty time")
    dt = _parse_naive_or_aware(s)
    if dt is None:
        raise UsageError(f"{field}: {text!r} is not a date/time (use ISO 8601)")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(UTC)


def parse_date(text: str, *, field: str = "date") -> date:
    s = str(text).strip()
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(s).date()
    except ValueError:
        raise UsageError(f"{field}: {text!r} is not a date (use YYYY-MM-DD)") from None


def to_local(value: str | None, tz: tzinfo) -> str | None:
    """A stored UTC time shown in ``tz`` as ISO-8601 with its offset."""
    if not value:
        return value
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return dt.astimezone(tz).isoformat()


__all__ = ["zone", "now_utc", "now_local", "iso", "parse_datetime", "parse_date", "timedelta"]
