"""ops store purge on hand-made records of every kind, on SQLite and PostgreSQL: the
periods ([retention], [data] retention_days, --older-than), a dry run that changes
nothing, exactly the expired personal data blanked (and what reports count kept),
registrations never deleted, the journal redacted (record entries, messages sent about
them, records gone), no undo, and a rerun that finds nothing."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest

from deskops.adapters.store import Store
from deskops.commands.plan import SEND, Change, Plan, execute
from deskops.fixtures import FIXTURES_DIR

NOW = "2026-01-14T09:00:00+08:00"
STORES = str(FIXTURES_DIR / "profiles" / "stores-zh.toml")

CUSTOMERS = [
    # untouched since 2024, nothing tied to it: past the period
    {"id": "HY1", "name": "王芳", "store": "上海静安店", "notes": "孕期", "other": "",
     "created_at": "2023-05-01T10:00:00+08:00", "updated_at": "2024-06-01T10:00:00+08:00",
     "phones": ["13800000001"], "emails": ["wf@example.cn"],
     "extra": {"member_level": "银卡会员", "visits": 3, "last_visit": "2024-05-30",
               "birthday": "1990-03-01"}},
    # old registration, but a reservation last month (by its id)
    {"id": "HY2", "name": "李娜", "updated_at": "2024-01-01T10:00:00+08:00",
     "phones": ["13800000002"], "emails": []},
    # old registration, but it wrote a mail last week from its address
    {"id": "HY3", "name": "张伟", "updated_at": "2024-01-01T10:00:00+08:00",
     "phones": [], "emails": ["zw@example.cn"]},
    # old registration, but it called last week (the log has the number in E.164)
    {"id": "HY4", "name": "刘洋", "updated_at": "2024-01-01T10:00:00+08:00",
     "phones": ["138 0000 0004"], "emails": []},
    # recent
    {"id": "HY5", "name": "陈静", "updated_at": "2025-11-01T10:00:00+08:00",
     "phones": ["13800000005"], "emails": ["cj@example.cn"]},
]  # fmt: skip
RESERVATIONS = [
    {"id": "YX1", "store": "上海静安店", "customer_id": "HY1", "customer_name": "王芳",
     "contact": "13800000001", "email": "wf@example.cn", "service": "中式推拿 60分钟",
     "starts_at": "2024-11-02T14:00:00+08:00", "ends_at": "2024-11-02T15:00:00+08:00",
     "status": "已完成", "created_at": "2024-10-30T10:00:00+08:00",
     "updated_at": "2024-11-02T16:00:00+08:00", "notes": "肩颈酸痛", "satisfaction": 5,
     "extra": {"price": 198, "survey_comment": "王芳：很好", "raw_request": {"姓名": "王芳"}}},
    {"id": "YX2", "store": "上海静安店", "customer_id": "HY2", "customer_name": "李娜",
     "contact": "13800000002", "service": "足疗 60分钟", "status": "已完成",
     "starts_at": "2025-12-20T14:00:00+08:00", "created_at": "2025-12-18T10:00:00+08:00",
     "satisfaction": 4, "extra": {"price": 158}},
]  # fmt: skip
MESSAGES = [
    {"id": "<m1@example.cn>", "mailbox": "yuyue", "date": "2025-09-01T10:00:00+08:00",
     "from_addr": "someone@example.cn", "from_name": "赵六", "subject": "预约咨询",
     "body_text": "我的电话 13900000009", "labels": ["咨询"]},
    {"id": "<m2@example.cn>", "mailbox": "yuyue", "date": "2026-01-08T10:00:00+08:00",
     "from_addr": "ZW@example.cn", "from_name": "张伟", "subject": "改期",
     "body_text": "想改期"},
]  # fmt: skip
CALLS = [
    {"id": "c1", "source": "sipuni", "line": "400-820-3617", "direction": "inbound",
     "status": "answered", "started_at": "2024-10-01T10:00:00+08:00",
     "caller": "+8613900000007", "caller_name": "孙七", "callee": "400-820-3617",
     "answered_by": "SH01-QT01", "duration": 60, "number": "+8613900000007"},
    {"id": "c2", "source": "sipuni", "line": "021-6288-3617", "direction": "outbound",
     "status": "answered", "started_at": "2024-10-01T11:00:00+08:00",
     "caller": "201 (前台 周)", "caller_name": "前台 周", "callee": "13900000008",
     "duration": 90, "number": "+8613900000008"},
    {"id": "c3", "source": "sipuni", "line": "400-820-3617", "direction": "inbound",
     "status": "missed", "started_at": "2026-01-10T10:00:00+08:00",
     "caller": "+8613800000004", "number": "+8613800000004"},
]  # fmt: skip
ATTEMPTS = [
    {"id": "a1", "target": "caller:+8613900000007", "agent": "周", "outcome": "reached",
     "at": "2024-10-01T12:00:00+08:00", "note": "客户说地址是静安区某路1号"},
    {"id": "a2", "target": "reservations:YX1", "agent": "周", "outcome": "reached",
     "at": "2024-10-31T12:00:00+08:00", "note": "已确认"},
]  # fmt: skip
PERSONAL = ["王芳", "13800000001", "wf@example.cn", "肩颈酸痛", "很好", "1990-03-01",
            "赵六", "13900000009", "someone@example.cn", "孙七", "13900000007",
            "13900000008", "静安区某路1号"]  # fmt: skip
KEPT = ["李娜", "13800000002", "张伟", "zw@example.cn", "刘洋", "陈静", "cj@example.cn",
        "想改期", "13800000004"]  # fmt: skip
PROFILE = f"""
[profile]
extends = "{STORES}"
name = "stores-zh"

[retention]
default = "365d"
messages = "90d"
personal_extra = ["survey_comment"]
"""


class Sent:
    """A sender that only records: the journal gets the ``send`` changes."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def read(self, change: Change) -> Any:
        return change.after if self.store.sent(change.target) else None

    def write(self, change: Change) -> None:
        pass

    def transaction(self) -> Any:
        return nullcontext()


@pytest.fixture
def zh(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> Any:
    profile = tmp_path / "zh.toml"
    profile.write_text(PROFILE, "utf-8")
    monkeypatch.setenv("OPS_STORE_URL", store_url)
    monkeypatch.setenv("OPS_PROFILE", str(profile))
    monkeypatch.setenv("OPS_NOW", "2024-12-01T09:00:00+08:00")  # the records came in then
    for kind, rows in (
        ("customers", CUSTOMERS),
        ("reservations", RESERVATIONS),
        ("messages", MESSAGES),
        ("calls", CALLS),
        ("call_attempts", ATTEMPTS),
    ):
        f = tmp_path / f"{kind}.jsonl"
        f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
        r = cli("store", "import", str(f), "--type", kind, "--yes")
        assert r.code == 0, r.err
    with Store.open(store_url) as store:  # messages sent about the reservations
        plan = Plan("reservations remind")
        for rid, to, name in (("YX1", "13800000001", "王芳"), ("YX2", "13800000002", "李娜")):
            after = {
                "channel": "短信",
                "to": to,
                "text": f"{name}您好，提醒您预约",
                "template": "r",
            }
            plan.add(Change(f"outbox:remind-{rid}-24-sms", "*", SEND, None, after, "r", "outbox"))
        plan.add(
            Change(
                "outbox:thanks-x-sms",
                "*",
                SEND,
                None,
                {"channel": "短信", "to": "13900000009", "text": "谢谢赵六"},
                "r",
                "outbox",
            )
        )
        execute(plan, store, {"outbox": Sent(store)})  # fmt: skip
    monkeypatch.setenv("OPS_NOW", NOW)
    return cli


def export(cli: Any, kind: str) -> dict[str, dict[str, Any]]:
    r = cli("store", "export", "--type", kind, "-o", "jsonl")
    return {json.loads(x)["id"]: json.loads(x) for x in r.out.splitlines()}


def journal_text(store_url: str, backend: str | None = None) -> str:
    with Store.open(store_url) as store:
        rows = store.query("SELECT target, before, after, backend FROM journal_entries")
    return "\n".join(f"{r['target']} {r['before']} {r['after']}" for r in rows
                     if backend is None or r["backend"] == backend)  # fmt: skip


def everything(cli: Any) -> Any:
    kinds = ("customers", "reservations", "messages", "calls", "call_attempts")
    return {k: export(cli, k) for k in kinds}, cli("journal", "list", "-o", "json").out


# -- the preview ---------------------------------------------------------------------------------
def test_dry_run_counts_and_changes_nothing(zh, store_url: str) -> None:
    before, journal = everything(zh), journal_text(store_url)
    r = zh("store", "purge", "-o", "json")
    assert r.code == 0 and "rerun with --yes" in r.err, r.err
    rows = {row["type"]: row for row in json.loads(r.out)}
    assert rows["customers"]["period"] == "365d" and rows["messages"]["period"] == "90d"
    assert rows["customers"]["before"] == "2025-01-14T09:00:00+08:00"
    assert (rows["customers"]["expired"], rows["customers"]["blank"]) == (1, 1)
    assert rows["customers"]["fields"] == (
        "emails 1, extra.birthday 1, name 1, notes 1, phones 1"
    )  # fmt: skip
    assert rows["reservations"]["blank"] == 1 and rows["messages"]["blank"] == 1
    assert rows["calls"]["fields"] == "callee 1, caller 1, caller_name 1, number 2"
    assert rows["call_attempts"]["fields"] == "note 2, target 1"
    assert rows["journal"]["blank"] > 0
    listed = zh("store", "purge", "--list", "-o", "json")
    items = {(x["type"], x["id"]): x for x in json.loads(listed.out)}
    assert set(items) == {("customers", "HY1"), ("reservations", "YX1"),
                          ("messages", "<m1@example.cn>"), ("calls", "c1"), ("calls", "c2"),
                          ("call_attempts", "a1"), ("call_attempts", "a2")}  # fmt: skip
    assert items[("reservations", "YX1")]["fields"] == (
        "customer_name, contact, email, notes, extra.raw_request, extra.survey_comment"
    )
    assert not any(v in listed.out for v in PERSONAL)  # ids and field names only
    assert zh("store", "purge", "--dry-run", "--yes").code == 0
    assert zh("-n", "store", "purge", "--yes").code == 0
    assert everything(zh) == before and journal_text(store_url) == journal


# -- the purge -----------------------------------------------------------------------------------
def test_purge_blanks_exactly_the_expired_personal_data(zh, store_url: str) -> None:
    r = zh("store", "purge", "--yes")
    assert r.code == 0, r.err
    assert "store purge: run " in r.err
    cust = export(zh, "customers")
    assert set(cust) == {"HY1", "HY2", "HY3", "HY4", "HY5"}  # nothing deleted
    old = cust["HY1"]
    assert (old["name"], old["notes"], old["phones"], old["emails"]) == (None, None, [], [])
    assert old["store"] == "上海静安店" and old["created_at"] and old["updated_at"]
    assert old["extra"] == {"member_level": "银卡会员", "visits": 3, "last_visit": "2024-05-30"}
    for cid, name in (("HY2", "李娜"), ("HY3", "张伟"), ("HY4", "刘洋"), ("HY5", "陈静")):
        assert cust[cid]["name"] == name  # a reservation, a mail, a call, or recent
    res = export(zh, "reservations")
    yx1 = res["YX1"]
    assert [yx1[k] for k in ("customer_name", "contact", "email", "notes")] == [None] * 4
    assert yx1["extra"] == {"price": 198}
    assert (yx1["store"], yx1["service"], yx1["status"], yx1["satisfaction"]) == (
        "上海静安店", "中式推拿 60分钟", "已完成", 5)  # fmt: skip
    assert yx1["customer_id"] == "HY1" and yx1["starts_at"].startswith("2024-11-02")
    assert res["YX2"]["customer_name"] == "李娜" and res["YX2"]["contact"] == "13800000002"
    msgs = export(zh, "messages")
    m1 = msgs["<m1@example.cn>"]
    assert [m1[k] for k in ("from_addr", "from_name", "subject", "body_text")] == [None] * 4
    assert m1["labels"] == ["咨询"] and m1["mailbox"] == "yuyue" and m1["date"]
    assert msgs["<m2@example.cn>"]["body_text"] == "想改期"
    calls = export(zh, "calls")
    assert (calls["c1"]["caller"], calls["c1"]["caller_name"], calls["c1"]["number"]) == (
        None, None, None)  # fmt: skip
    assert calls["c1"]["callee"] == "400-820-3617" and calls["c1"]["answered_by"] == "SH01-QT01"
    assert (calls["c2"]["callee"], calls["c2"]["number"]) == (None, None)
    assert calls["c2"]["caller"] == "201 (前台 周)" and calls["c2"]["duration"] == 90
    assert calls["c3"]["caller"] == "+8613800000004"
    att = export(zh, "call_attempts")
    assert att["a1"]["target"] == "caller:" and att["a1"]["note"] is None
    assert att["a2"]["target"] == "reservations:YX1" and att["a2"]["outcome"] == "reached"
    # a rerun finds nothing
    again = zh("store", "purge", "-o", "json")
    rows = {row["type"]: row for row in json.loads(again.out)}
    assert all(row["blank"] == 0 for row in rows.values())
    assert rows["customers"]["expired"] == 1
    assert zh("store", "purge", "--yes").code == 0
    assert "nothing to do" in zh("store", "purge", "--yes").err


def test_the_journal_no_longer_holds_purged_data(zh, store_url: str) -> None:
    text = journal_text(store_url)
    assert all(v in text for v in PERSONAL) and all(v in text for v in KEPT)
    assert zh("store", "purge", "--yes").code == 0
    text = journal_text(store_url)
    assert [v for v in PERSONAL if v in text] == []
    assert [v for v in KEPT if v not in text] == []  # the rest of the journal stands
    purge = journal_text(store_url, "purge")
    assert '"(personal data)"' in purge and "journal:entries" in purge
    with Store.open(store_url) as store:
        sent = store.query("SELECT target, after FROM journal_entries WHERE op = 'send'")
        assert store.sent("outbox:remind-YX1-24-sms")  # still sent once
    after = {r["target"]: json.loads(r["after"]) for r in sent}
    assert after["outbox:remind-YX1-24-sms"] == {"channel": "短信", "template": "r",
                                                 "purged": True}  # fmt: skip
    assert after["outbox:thanks-x-sms"]["purged"] is True  # to a purged number
    assert after["outbox:remind-YX2-24-sms"]["to"] == "13800000002"


def test_a_purge_cannot_be_undone(zh) -> None:
    assert zh("store", "purge", "--yes").code == 0
    run = json.loads(zh("journal", "list", "-o", "json").out)[0]
    assert run["command"] == "store purge"
    before = everything(zh)[0]
    u = zh("undo", run["run_id"], "--yes")
    assert u.code == 2 and "purged personal data past its retention period" in u.err
    assert everything(zh)[0] == before


def test_records_gone_are_redacted_when_their_entries_are_old(zh, store_url, tmp_path) -> None:
    f = tmp_path / "gone.jsonl"
    f.write_text(json.dumps({"id": "YX9", "customer_name": "吴九", "contact": "13900000099",
                             "starts_at": "2024-08-01T10:00:00+08:00"}, ensure_ascii=False),
                 "utf-8")  # fmt: skip
    old = {"OPS_NOW": "2024-08-02T09:00:00+08:00"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in old.items():
            mp.setenv(k, v)
        assert zh("store", "import", str(f), "--type", "reservations", "--yes").code == 0
        assert zh("undo", "last", "--yes").code == 0  # deleted: its data only in the journal
    assert "吴九" in journal_text(store_url)
    assert zh("store", "purge", "--yes").code == 0
    assert "吴九" not in journal_text(store_url) and "13900000099" not in journal_text(store_url)


# -- periods ---------------------------------------------------------------------------------------
def test_older_than_overrides_and_type_limits(zh) -> None:
    r = zh("store", "purge", "--older-than", "20d", "-t", "reservations", "-o", "json")
    rows = {row["type"]: row for row in json.loads(r.out)}
    assert set(rows) == {"reservations", "journal"}
    assert rows["reservations"]["period"] == "20d" and rows["reservations"]["blank"] == 2
    r = zh("store", "purge", "--older-than", "2025-01-01", "-t", "customers", "-o", "json")
    row = json.loads(r.out)[0]
    assert row["before"] == "2025-01-01T00:00:00+08:00" and row["blank"] == 1
    r = zh("store", "purge", "--older-than", "18mo", "-t", "customers", "-o", "json")
    assert json.loads(r.out)[0]["before"] == "2024-07-14T09:00:00+08:00"
    assert json.loads(r.out)[0]["blank"] == 0
    for bad, words in (("soon", "not a period"), ("0d", "longer than 0"),
                       ("2027-01-01", "in the future")):  # fmt: skip
        r = zh("store", "purge", "--older-than", bad)
        assert r.code == 2 and words in r.err
    r = zh("store", "purge", "-t", "staff")
    assert r.code == 2 and "--type staff: not purged; valid: customers, reservations" in r.err


def test_periods_from_the_profile(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_NOW", NOW)
    monkeypatch.setenv("OPS_STORE_URL", str(tmp_path / "s.sqlite"))
    r = cli("-p", "stores-zh", "store", "purge", "-o", "json")  # [data] retention_days = 365
    row = json.loads(r.out)[0]
    assert r.code == 0 and row["period"] == "365d" and row["before"].startswith("2025-01-14")
    r = cli("-p", "toys-ru", "store", "purge")
    assert r.code == 2 and "no retention period" in r.err and "--older-than" in r.err
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[profile]\nextends = "{STORES}"\n[retention]\nmesages = "90d"\n', "utf-8")
    r = cli("-p", str(bad), "store", "purge")
    assert r.code == 2 and "[retention] mesages: unknown key; valid: call_attempts" in r.err


# -- registrations that are never deleted ----------------------------------------------------------
def test_never_delete_registrations_are_blanked_not_deleted(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPS_NOW", "2026-01-14T10:00:00+09:00")
    monkeypatch.setenv("OPS_STORE_URL", str(tmp_path / "ja.sqlite"))
    rows = [
        {"id": "1018078", "name": "斎藤 幸子", "company": "株式会社さくら製菓",
         "updated_at": "2019-01-01T10:00:00+09:00", "phones": ["022-445-6150"],
         "emails": ["saito@sakura-seika.example"],
         "extra": {"customer_type": "法人", "orders": ["LW-1904-89522"]}},
    ]  # fmt: skip
    cases = [
        {"id": "18001", "customer_id": "1018078", "agent": "木村", "topic": "購入検討",
         "subject": "見積もり", "body": "斎藤です。見積書がほしい。", "status": "完了",
         "caller_number": "0224456150", "opened_at": "2019-01-02T10:00:00+09:00",
         "closed_at": "2019-01-02T10:20:00+09:00"},
    ]  # fmt: skip
    for kind, data in (("customers", rows), ("cases", cases)):
        f = tmp_path / f"{kind}.jsonl"
        f.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in data), "utf-8")
        assert cli("-p", "support-ja", "store", "import", str(f), "-t", kind, "--yes").code == 0
    url = str(tmp_path / "ja.sqlite")
    with Store.open(url) as store:  # the case was escalated back then
        plan = Plan("escalate 18001 --topic purchase")
        after = {"text": "@岡 @石田 購入検討 斎藤 幸子 022-445-6150", "channel": "#inside-sales",
                 "mentions": ["岡", "石田"], "route": "purchase"}  # fmt: skip
        plan.add(Change("outbox:escalate:18001:purchase", "*", SEND, None, after, "e", "outbox"))
        execute(plan, store, {"outbox": Sent(store)})
    r = cli("-p", "support-ja", "store", "purge", "--older-than", "5y", "--yes")
    assert r.code == 0, r.err
    text = journal_text(url)
    assert "斎藤" not in text and "445-6150" not in text and "sakura-seika" not in text
    assert '"route": "purchase"' in text and "株式会社さくら製菓" in text
    (cust,) = export_with(cli, "customers")
    assert cust["id"] == "1018078" and cust["company"] == "株式会社さくら製菓"
    assert (cust["name"], cust["phones"], cust["emails"]) == (None, [], [])
    assert cust["extra"] == {"customer_type": "法人", "orders": ["LW-1904-89522"]}
    (case,) = export_with(cli, "cases")
    assert (case["subject"], case["body"], case["caller_number"]) == (None, None, None)
    assert case["customer_id"] == "1018078" and case["agent"] == "木村"
    assert case["closed_at"] and case["topic"] == "購入検討"  # handling time still counts


def export_with(cli: Any, kind: str) -> list[dict[str, Any]]:
    r = cli("-p", "support-ja", "store", "export", "--type", kind, "-o", "jsonl")
    return [json.loads(x) for x in r.out.splitlines()]
