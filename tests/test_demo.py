"""The demo: dates laid out relative to today, idempotent refresh, every profile loads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from deskops.adapters.schema import CALLS, MESSAGES, ORDERS
from deskops.adapters.store import Store
from deskops.commands import plan as planmod
from deskops.commands.clock import pin
from deskops.commands.demo import plan_demo, profiles_with_data


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    base = tmp_path / "fx"
    d = base / "tiny"
    (d / "mail" / "reservation1").mkdir(parents=True)
    (d / "calls").mkdir()
    (d / "manifest.toml").write_text('anchor = "2026-01-14"\ntimezone = "Asia/Tokyo"\n')
    orders = [
        {
            "id": "o-morning",
            "status": "new",
            "created_at": "2026-01-14T08:30:00+09:00",
            "delivery_date": "2026-01-16",
            "comments": [
                {"at": "2026-01-14T08:40:00+09:00", "author": "a", "text": "early"},
                {"at": "2026-01-14T20:00:00+09:00", "author": "a", "text": "late"},
            ],
        },
        {"id": "o-monday", "status": "new", "created_at": "2026-01-12T10:00:00+09:00"},
        {"id": "o-evening", "status": "new", "created_at": "2026-01-14T23:00:00+09:00"},
    ]
    (d / "orders.jsonl").write_text("\n".join(json.dumps(o) for o in orders) + "\n")
    msg = EmailMessage()
    msg["From"] = "a@example.jp"
    msg["To"] = "reservation1@salon.example"
    msg["Subject"] = "予約"
    msg["Date"] = "Wed, 14 Jan 2026 08:30:00 +0900"
    msg["Message-ID"] = "<m1@example.jp>"
    msg.set_content("明日10時", charset="iso-2022-jp")
    (d / "mail" / "reservation1" / "0001.eml").write_bytes(bytes(msg))
    (d / "calls" / "Master.csv").write_text(
        '"","0312345678","100","from-pstn","","SIP/t-1","","Dial","x","2026-01-13 09:10:00",'
        '"","2026-01-13 09:10:30",30,0,"NO ANSWER","DOCUMENTATION","1.2",""\n'
    )
    return base


def test_dates_are_laid_out_relative_to_today(tiny: Path, tmp_path: Path) -> None:
    pin(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))  # Wednesday 12:00 in Tokyo
    store = Store.open(str(tmp_path / "s.sqlite"))
    plan, stats = plan_demo(store, "tiny", base=tiny)
    assert not plan.problems
    assert stats.not_yet == {"orders": 1}
    planmod.execute(plan, store)
    morning = store.get(ORDERS, "o-morning")
    assert morning["created_at"] == "2026-11-24T23:30:00Z"  # 08:30 Tokyo, today
    assert morning["delivery_date"] == "2026-11-27"
    assert [c["text"] for c in morning["comments"]] == ["early"]  # 20:00 has not happened yet
    assert store.get(ORDERS, "o-monday")["created_at"] == "2026-11-23T01:00:00Z"
    msg = store.get(MESSAGES, "m1@example.jp")
    assert msg["date"] == "2026-11-24T23:30:00Z"
    assert b"Date: Wed, 25 Nov 2026 08:30:00 +0900" in msg["raw"]
    call = next(store.iter_records(CALLS))
    assert call["started_at"] == "2026-11-24T00:10:00Z" and call["status"] == "missed"

    again, _ = plan_demo(store, "tiny", base=tiny)
    assert again.changes == [] and again.unchanged == 4

    pin(datetime(2026, 11, 25, 14, 30, tzinfo=UTC))  # 23:30 in Tokyo: the evening order is in
    later, stats = plan_demo(store, "tiny", base=tiny)
    assert stats.created == {"orders": 1}
    ops_ = {(c.target, c.op) for c in later.changes}
    assert ("orders:o-evening", "create") in ops_
    assert ("orders:o-morning", "set") in ops_  # the 20:00 comment has now happened
    store.close()


@pytest.mark.parametrize("profile", profiles_with_data() or ["(none)"])
def test_every_demo_profile_builds_and_refreshes_idempotently(cli, profile: str) -> None:
    if profile == "(none)":
        pytest.skip("no demo data")
    as_of = "2026-11-25T12:00:00"
    r = cli("--as-of", as_of, "demo", "--profile", profile, "-o", "json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert sum(row["created"] for row in rows) >= 100, rows
    assert "Try next" in r.err
    r = cli("--as-of", as_of, "demo", "--profile", profile, "-o", "json")
    assert r.code == 0, r.err
    assert all(row["created"] == 0 and row["updated"] == 0 for row in json.loads(r.out))
    runs = json.loads(cli("-p", profile, "journal", "list", "-o", "json").out)
    assert len(runs) == 1 and runs[0]["command"] == f"demo --profile {profile}"
    info = json.loads(cli("-p", profile, "store", "info", "-o", "json").out)
    assert sum(row["records"] for row in info) > 100
