"""The demo: a profile's synthetic dataset laid out relative to today.

Each dataset in ``deskops.fixtures/<profile>/`` is anchored at one day
(``manifest.toml``: ``anchor``). Loading shifts every date by whole days so the
anchor becomes today in the profile's time zone (times of day are kept: the
08:30 booking batch stays at 08:30), and leaves out what would arrive after
now; a later refresh brings those in. The records go through the same
normalisation and plan as ``ops store import``, so the demo is journaled and
a second run on the same day changes nothing.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from deskops.adapters.calllogs import iter_calls
from deskops.adapters.eml import parse_message, replace_date
from deskops.adapters.errors import OpsError, UsageError
from deskops.adapters.files import Header, RowError, iter_records
from deskops.adapters.schema import DATE, DATETIME, ENTITIES, Entity
from deskops.adapters.store import Store
from deskops.fixtures import FIXTURES_DIR

from .clock import iso, now_utc, zone
from .importer import RowProblem, diff_record, normalise
from .plan import Plan

# The field that says when a record came into being: later than now → not yet.
ARRIVAL = {
    "customers": "created_at",
    "orders": "created_at",
    "messages": "date",
    "calls": "started_at",
    "cases": "opened_at",
    "reservations": "created_at",
    "returns": "created_at",
    "call_attempts": "at",
    "notes": "at",
}
# Fields that may lie in the future (appointments, delivery dates).
FUTURE_OK = {"starts_at", "ends_at", "delivery_date", "payout_date", "expires_at"}
LOAD_ORDER = [
    "customers", "staff", "rooms", "threads", "orders", "reservations", "cases", "returns",
    "call_attempts", "notes",
]  # fmt: skip


@dataclass
class Dataset:
    profile: str
    path: Path
    anchor: date
    tz: tzinfo
    manifest: dict[str, Any]


@dataclass
class DemoStats:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    not_yet: dict[str, int] = field(default_factory=dict)

    def bump(self, bucket: dict[str, int], kind: str) -> None:
        bucket[kind] = bucket.get(kind, 0) + 1


def profiles_with_data(base: Path = FIXTURES_DIR) -> list[str]:
    return sorted(p.name for p in base.iterdir() if (p / "manifest.toml").is_file())


def dataset(profile: str, tz_name: str | None = None, base: Path = FIXTURES_DIR) -> Dataset:
    path = base / profile
    manifest_path = path / "manifest.toml"
    if not manifest_path.is_file():
        raise UsageError(
            f"profile {profile!r} has no demo data; demo profiles: "
            + ", ".join(profiles_with_data(base))
        )
    with manifest_path.open("rb") as fh:
        manifest = tomllib.load(fh)
    anchor = date.fromisoformat(str(manifest["anchor"]))
    tz = zone(tz_name or manifest.get("timezone"))
    return Dataset(profile, path, anchor, tz, manifest)


class Shifter:
    """Moves stored times by whole days in local time, so times of day stay put."""

    def __init__(self, ds: Dataset, now: datetime) -> None:
        self.tz = ds.tz
        self.days = (now.astimezone(ds.tz).date() - ds.anchor).days
        self.now = now

    def dt(self, value: str) -> str:
        local = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(self.tz)
        moved = (local.replace(tzinfo=None) + timedelta(days=self.days)).replace(tzinfo=self.tz)
        return iso(moved)

    def day(self, value: str) -> str:
        return (date.fromisoformat(value) + timedelta(days=self.days)).isoformat()

    def record(self, ent: Entity, rec: dict[str, Any]) -> dict[str, Any]:
        now_iso = iso(self.now)
        for name, kind in ent.fields:
            value = rec.get(name)
            if not value:
                continue
            if kind == DATETIME:
                rec[name] = self.dt(value)
                if name != ARRIVAL.get(ent.name) and name not in FUTURE_OK and rec[name] > now_iso:
                    rec[name] = None  # e.g. a case not closed yet at this hour
            elif kind == DATE:
                rec[name] = self.day(value)
        for cname, child in ent.children.items():
            if child.scalar or not rec.get(cname):
                continue
            times = [c for c, k in child.columns if k == DATETIME]
            kept = []
            for item in rec[cname]:
                for c in times:
                    if item.get(c):
                        item[c] = self.dt(item[c])
                if not any(item.get(c) and item[c] > now_iso for c in times):
                    kept.append(item)
            rec[cname] = kept
        return rec

    def arrived(self, ent: Entity, rec: dict[str, Any]) -> bool:
        field_ = ARRIVAL.get(ent.name)
        return not (field_ and rec.get(field_) and rec[field_] > iso(self.now))


def _region(profile: str, base: Path) -> str | None:
    """The country of the demo profile (numbers in call logs become E.164 with it)."""
    path = base / "profiles" / f"{profile}.toml"
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        country = tomllib.load(fh).get("profile", {}).get("country")
    return str(country) if country else None


def _raw_records(
    ds: Dataset, region: str | None = None
) -> Iterator[tuple[str, str, dict[str, Any] | str]]:
    """(type, where, raw record or problem) for every file of the dataset."""
    for kind in LOAD_ORDER:
        f = ds.path / f"{kind}.jsonl"
        if not f.is_file():
            continue
        for line, row in iter_records(str(f), fmt="jsonl"):
            where = f"{f.name}:{line}"
            if isinstance(row, RowError):
                yield kind, where, row.message
            elif not isinstance(row, Header):
                yield kind, where, row
    mail_dir = ds.path / "mail"
    if mail_dir.is_dir():
        for eml in sorted(mail_dir.rglob("*.eml")):
            rel = eml.relative_to(mail_dir).parts
            mailbox = rel[0]
            folder = "/".join(rel[1:-1]) or "INBOX"
            where = f"mail/{'/'.join(rel)}"
            try:
                rec = parse_message(eml.read_bytes(), name=where, mailbox=mailbox, folder=folder)
            except OpsError as exc:
                yield "messages", where, exc.message
                continue
            yield "messages", where, rec
    calls_dir = ds.path / "calls"
    if calls_dir.is_dir():
        for log in sorted(calls_dir.glob("*.csv")):
            for line, row in iter_calls(str(log), tz=ds.tz, region=region):
                where = f"calls/{log.name}:{line}"
                yield "calls", where, (row.message if isinstance(row, RowError) else row)


def plan_demo(
    store: Store, profile: str, tz_name: str | None = None, base: Path = FIXTURES_DIR
) -> tuple[Plan, DemoStats]:
    ds = dataset(profile, tz_name, base)
    now = now_utc()
    shift = Shifter(ds, now)
    plan = Plan(command=f"demo --profile {profile}")
    stats = DemoStats()
    reason = f"demo {profile}"
    for kind, where, raw in _raw_records(ds, _region(profile, base)):
        ent = ENTITIES[kind]
        if isinstance(raw, str):
            plan.problems.append(f"{profile}/{where}: {raw}")
            continue
        if kind == "messages":
            raw = _shift_message(raw, shift)
        try:
            rec = normalise(ent, raw, ds.tz)
        except RowProblem as exc:
            plan.problems.append(f"{profile}/{where}: {exc}")
            continue
        if kind != "messages":
            rec = shift.record(ent, rec)
        if not shift.arrived(ent, rec):
            stats.bump(stats.not_yet, kind)
            continue
        changes = diff_record(store, ent, rec, reason)
        if not changes:
            stats.bump(stats.unchanged, kind)
            plan.unchanged += 1
        for c in changes:
            plan.add(c)
        if changes:
            stats.bump(stats.created if changes[0].op == "create" else stats.updated, kind)
    return plan, stats


def _shift_message(rec: dict[str, Any], shift: Shifter) -> dict[str, Any]:
    sent = datetime.fromisoformat(rec["date"])
    moved_utc = shift.dt(iso(sent))
    local = datetime.fromisoformat(moved_utc.replace("Z", "+00:00")).astimezone(sent.tzinfo or UTC)
    rec["date"] = local.isoformat()
    rec["raw"] = replace_date(rec["raw"], format_datetime(local))
    for key in rec.get("headers") or {}:
        if key.lower() == "date":
            rec["headers"][key] = [format_datetime(local)]
    return rec


def try_next(profile: str, profile_cfg: dict[str, Any]) -> list[str]:
    """The profile's own suggestions (``[demo] try`` in its file)."""
    demo = profile_cfg.get("demo", {}) if isinstance(profile_cfg, dict) else {}
    return [str(t) for t in demo.get("try", [])] if isinstance(demo, dict) else []


def general_tour(profile: str, kind: str = "customers") -> list[str]:
    return [
        f"ops -p {profile} store info",
        f"ops -p {profile} store export --type {kind} -o jsonl | head -3",
        f"ops -p {profile} journal list",
        f"ops -p {profile} config show",
        "ops config profiles",
    ]
