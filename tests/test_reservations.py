"""ops reservations on a small store of the stores-zh profile, on SQLite and PostgreSQL:
every problem of a request named at once, the staff and room checks, late-change fees
and their confirmation, free cancellation, slots claimed under a lock by parallel
processes, reminders and surveys sent once, survey answers in the daily report, undo."""

from __future__ import annotations

import json
import multiprocessing
import tomllib
from pathlib import Path
from typing import Any

import pytest

from deskops.fixtures import FIXTURES_DIR

STORES = str(FIXTURES_DIR / "profiles" / "stores-zh.toml")
NOW = "2026-01-14T17:00:00+08:00"  # a Wednesday
STAFF = [
    {"id": "SH01-JS01", "name": "杨静", "store": "上海静安店", "role": "店长",
     "services": ["中式推拿 60分钟", "艾灸调理 60分钟"],
     "extra": {"shift": {"start": "10:00", "end": "19:00"}, "days_off": [6]}},
    {"id": "SH01-JS02", "name": "田婷婷", "store": "上海静安店", "role": "技师",
     "services": ["中式推拿 60分钟", "足疗 60分钟"],
     "extra": {"shift": {"start": "13:00", "end": "22:00"}, "days_off": [0]}},
    {"id": "SH01-QT08", "name": "周敏", "store": "上海静安店", "role": "前台", "services": []},
]  # fmt: skip
ROOMS = [
    {"id": "SH01-R01", "store": "上海静安店", "name": "推拿床1", "kind": "推拿床"},
    {"id": "SH01-R05", "store": "上海静安店", "name": "足疗区A1", "kind": "足疗沙发"},
    {"id": "SH01-R08", "store": "上海静安店", "name": "艾灸房", "kind": "艾灸房"},
]  # fmt: skip
CUSTOMERS = [
    {"id": "HY1002062", "name": "萧嘉怡", "store": "上海静安店", "language": "zh",
     "phones": ["13206634323"], "emails": ["xiao4323@example.com"],
     "extra": {"visits": 11, "consent": {"sms_reminder": True, "email": True}}},
    {"id": "HY1003001", "name": "陈静", "store": "上海静安店", "language": "zh",
     "phones": ["13900001111"], "extra": {"visits": 3, "consent": {"sms_reminder": False}}},
]  # fmt: skip


def load(cli, tmp_path: Path, kind: str, rows: list[dict[str, Any]], profile: str = STORES) -> None:
    f = tmp_path / f"{kind}.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    r = cli("-p", profile, "store", "import", str(f), "--type", kind, "--yes")
    assert r.code == 0, r.err


@pytest.fixture
def zh(cli, monkeypatch: pytest.MonkeyPatch, store_url: str, tmp_path: Path) -> Any:
    monkeypatch.setenv("OPS_NOW", NOW)
    monkeypatch.setenv("OPS_STORE_URL", store_url)
    load(cli, tmp_path, "staff", STAFF)
    load(cli, tmp_path, "rooms", ROOMS)
    load(cli, tmp_path, "customers", CUSTOMERS)

    def ops(*args: str, **kw: Any) -> Any:
        return cli("-p", STORES, "reservations", *args, **kw)

    return ops


def book(ops, service: str, when: str, *extra: str) -> str:
    r = ops("create", "--store", "SH01", "--service", service, "--time", when, *extra)
    assert r.code == 0, r.err
    return r.err.split("reservation: ", 1)[1].split(";", 1)[0]


def rows(ops, *args: str) -> list[dict[str, Any]]:
    r = ops("list", *args, "-o", "jsonl")
    assert r.code == 0, r.err
    return [json.loads(line) for line in r.out.splitlines()]


def shown(ops, rid: str) -> dict[str, Any]:
    r = ops("show", rid)
    assert r.code == 0, r.err
    return json.loads(r.out)


def outbox(ops) -> list[dict[str, Any]]:
    r = ops("outbox", "-o", "jsonl")
    assert r.code == 0, r.err
    return [json.loads(line) for line in r.out.splitlines()]


# -- validation ----------------------------------------------------------------------------------
def test_every_problem_of_a_request_is_named_at_once(zh) -> None:
    r = zh("create", "--store", "SH01", "--service", "洗车", "--time", "2026-01-13 10:00",
           "--contact", "1381234567", "--email", "wang@@example", "--channel", "fax")  # fmt: skip
    assert r.code == 2
    assert "reservation not created: 6 problems" in r.err
    for why in [
        "--name: missing",
        "--service: unknown '洗车'; valid: TN60 (中式推拿 60分钟)",
        "--time: 2026-01-13 10:00 is in the past",
        "--contact: '1381234567' is not a valid phone number in CN",
        "--email: 'wang@@example' is not an e-mail address",
        "--channel: unknown 'fax'; valid: website (官网), app (App)",
    ]:
        assert why in r.err, r.err
    r = zh("create", "--store", "北京店", "--service", "TN60", "--time", "2026-01-15 21:30",
           "--name", "王芳")  # fmt: skip
    assert r.code == 2 and "2 problems" in r.err
    assert "--contact: missing" in r.err and "--store: unknown '北京店'" in r.err
    r = zh("create", "--store", "SH01", "--service", "TN60", "--time", "2026-01-15 21:30",
           "--name", "王芳", "--contact", "021-6288-3617", "--channel", "third-party")  # fmt: skip
    assert r.code == 2 and "3 problems" in r.err
    assert ("--time: 2026-01-15 21:30 is outside the opening hours of 上海静安店 (10:00–22:00; "
            "中式推拿 60分钟 takes 60 min)") in r.err  # fmt: skip
    assert "'021-6288-3617' is not a mobile number" in r.err  # a landline gets no SMS
    assert "--platform: missing; a third-party booking names one of 好店团购" in r.err
    assert rows(zh) == []


@pytest.mark.parametrize(
    "written,stored",
    [("13812345678", "13812345678"), ("+86 138-1234-5678", "13812345678"),
     ("138 1234 5678", "13812345678"), ("１３８１２３４５６７８", "13812345678")],
)  # fmt: skip
def test_phone_notations(written: str, stored: str) -> None:
    from deskops.commands.clock import zone
    from deskops.commands.reservations import check_phone, reservations_config

    profile = tomllib.loads(Path(STORES).read_text("utf-8"))
    cfg = reservations_config(profile, zone("Asia/Shanghai"))
    assert check_phone(cfg, written) == (stored, "+86" + stored, None)
    for bad in ("12812345678", "138-1234-56789", "微信同号"):
        assert check_phone(cfg, bad)[2] is not None


def test_profile_services_and_stores_are_the_demo_datas() -> None:
    profile = tomllib.loads(Path(STORES).read_text("utf-8"))
    services = json.loads((FIXTURES_DIR / "stores-zh" / "services.json").read_text("utf-8"))
    table = profile["resources"]["services"]
    assert list(table) == [s["code"] for s in services]
    for s in services:
        t = table[s["code"]]
        assert (t["name"], t["minutes"], t["price"], t["room_kinds"], t["staff"], t["skill"],
                t["preparation"]) == (s["name"], s["minutes"], s["price"], s["room_kinds"],
                                      s["staff_needed"], s["skill"], s["preparation"])  # fmt: skip
    stores = json.loads((FIXTURES_DIR / "stores-zh" / "stores.json").read_text("utf-8"))
    assert {s["code"]: {k: v for k, v in s.items() if k != "code"} for s in stores} == profile[
        "stores"
    ]


# -- resources -----------------------------------------------------------------------------------
def test_a_time_without_a_free_room_is_refused_with_the_reason(zh) -> None:
    first = book(zh, "TN60", "2026-01-15 15:00", "--customer", "HY1002062")
    (res,) = rows(zh)
    assert (res["id"], res["staff_id"], res["room_id"], res["status"]) == (
        first, "SH01-JS01", "SH01-R01", "已确认")  # fmt: skip
    assert res["starts_at"] == "2026-01-15T15:00+08:00" and res["customer_id"] == "HY1002062"
    # 田婷婷 does 推拿 and is on shift at 15:30, but the one 推拿床 is taken
    r = zh("create", "--store", "SH01", "--service", "TN60", "--time", "2026-01-15 15:30",
           "--name", "王芳", "--contact", "13812345678")  # fmt: skip
    assert r.code == 1, r.err
    assert (f"no free 推拿床: SH01-R01 推拿床1 booked ({first} 15:00–16:00)") in r.err
    assert "free that day at 14:00, 16:00, 16:30" in r.err  # the nearest to 15:30
    assert len(rows(zh)) == 1
    # the number that booked already: found by its phone, nothing new
    again = zh("create", "--store", "SH01", "--service", "TN60", "--time", "2026-01-15 15:00",
               "--name", "萧嘉怡", "--contact", "+86 132 0663 4323")  # fmt: skip
    assert again.code == 0 and f"{first} already books this" in again.err


def test_only_qualified_staff_on_shift_are_booked(zh) -> None:
    r = zh("create", "--store", "SH01", "--service", "AJ60", "--time", "2026-01-15 14:00",
           "--name", "王芳", "--contact", "13812345678", "--staff", "SH01-JS02")  # fmt: skip
    assert r.code == 1 and "SH01-JS02 田婷婷 does not do 艾灸调理 60分钟" in r.err
    # 足疗: only 田婷婷, whose shift starts at 13:00 and who has Mondays off
    r = zh("create", "--store", "SH01", "--service", "ZL60", "--time", "2026-01-15 11:00",
           "--name", "王芳", "--contact", "13812345678")  # fmt: skip
    assert r.code == 1 and "no qualified staff free: SH01-JS02 田婷婷 works 13:00–22:00" in r.err
    r = zh("create", "--store", "SH01", "--service", "ZL60", "--time", "2026-01-19 14:00",
           "--name", "王芳", "--contact", "13812345678")  # fmt: skip
    assert r.code == 1 and "SH01-JS02 田婷婷 has Mon off" in r.err
    assert "nothing else is free that day" in r.err
    rid = book(zh, "AJ60", "2026-01-15 14:00", "--name", "王芳", "--contact", "13812345678",
               "--staff", "SH01-JS01")  # fmt: skip
    assert shown(zh, rid)["staff_id"] == "SH01-JS01"
    r = zh("create", "--store", "SH01", "--service", "TN60", "--time", "2026-01-15 14:30",
           "--name", "李娜", "--contact", "13711112222", "--staff", "SH01-JS01")  # fmt: skip
    assert r.code == 1 and f"SH01-JS01 杨静 booked ({rid} 14:00–15:00)" in r.err
    assert "free that day with SH01-JS01 杨静 at" in r.err
    r = zh("create", "--store", "SH01", "--service", "TN60", "--time", "2026-01-15 14:30",
           "--name", "李娜", "--contact", "13711112222", "--staff", "SH03-JS09")  # fmt: skip
    assert r.code == 2 and "--staff: no staff member 'SH03-JS09'" in r.err


# -- changes and cancellations -------------------------------------------------------------------
def test_a_late_change_shows_its_fee_and_needs_confirmation(zh, monkeypatch) -> None:
    rid = book(zh, "TN60", "2026-01-15 14:00", "--customer", "HY1002062")  # in 21 hours
    same = zh("change", rid, "--time", "tomorrow 14:00", "--store", "上海静安店")
    assert same.code == 2 and "nothing to change" in same.err
    move = ("change", rid, "--time", "2026-01-15 16:00")
    refused = zh(*move)
    assert refused.code == 2
    assert ("a change 21.0 h before the start carries a fee of 59.4 CNY (30%: "
            "开始前2–24小时取消：收取服务价格的30%); rerun with --yes") in refused.err  # fmt: skip
    dry = zh(*move, "--dry-run", "-o", "json")
    assert dry.code == 0
    plan = json.loads(dry.out)
    fee_row = next(c for c in plan if c["field"] == "extra")
    assert "fee: 59.4 CNY (30%" in fee_row["reason"] and fee_row["after"]["fee"]["amount"] == 59.4
    assert shown(zh, rid)["status"] == "已确认"  # nothing changed yet
    # at a terminal the agent is asked
    from deskops.cli.context import Ops

    monkeypatch.setattr(Ops, "interactive", property(lambda self: True))
    said_no = zh(*move, input="n\n")
    assert said_no.code == 1 and "Apply?" in said_no.err and shown(zh, rid)["status"] == "已确认"
    done = zh(*move, input="y\n")
    assert done.code == 0, done.err
    old = shown(zh, rid)
    new_id = old["extra"]["rescheduled_to"]
    assert old["status"] == "改期" and old["fee"] == 59.4
    assert old["extra"]["fee"]["kind"] == "change" and old["extra"]["fee"]["percent"] == 30
    new = shown(zh, new_id)
    assert new["status"] == "已确认" and new["starts_at"] == "2026-01-15T16:00+08:00"
    assert new["extra"]["rescheduled_from"] == rid and new["customer_id"] == "HY1002062"
    texts = [m["text"] for m in old["messages"]]
    moved = "【悦禾养生】您的预约已改至1月15日 16:00（上海静安店「中式推拿 60分钟」），"
    assert any(t.startswith(f"{moved}原预约{rid}已失效") for t in texts)
    fee_text = "开始前24小时内改期，按规定收取违约金59.4元（服务价格的30%）"
    assert any(fee_text in t for t in texts)
    # a waiver of the profile's list takes the fee away, and no confirmation is needed
    monkeypatch.setattr(Ops, "interactive", property(lambda self: False))
    bad = zh("change", new_id, "--time", "2026-01-15 17:00", "--waive", "心情不好")
    assert bad.code == 2 and "valid: 恶劣天气, 门店原因, 医院证明" in bad.err
    ok = zh("change", new_id, "--time", "2026-01-15 17:00", "--waive", "恶劣天气")
    assert ok.code == 0, ok.err
    assert shown(zh, new_id)["extra"]["fee"] | {"at": None} == {
        "kind": "change", "amount": 0.0, "percent": 30.0, "currency": "CNY", "at": None,
        "label": "开始前2–24小时取消：收取服务价格的30%", "hours_before": 23.0,
        "waived": "恶劣天气",
    }  # fmt: skip


def test_a_cancellation_in_time_is_free(zh) -> None:
    rid = book(zh, "AJ60", "2026-01-16 14:00", "--customer", "HY1002062")  # in 45 hours
    r = zh("cancel", rid, "--reason", "行程变更")
    assert r.code == 0, r.err
    assert "fee: none" in r.err
    res = shown(zh, rid)
    assert res["status"] == "已取消" and res["extra"]["cancel_reason"] == "行程变更"
    assert res["extra"]["fee"]["amount"] == 0 and res["fee"] == 0
    cancel = [m for m in res["messages"] if m["key"].startswith("cancel-")]
    assert [m["text"] for m in cancel if m["channel"] == "短信"] == [
        "【悦禾养生】您1月16日 14:00的预约已取消。"
    ]
    assert zh("cancel", rid).err.endswith("is cancelled already; nothing to do\n")
    # the slot is free again
    book(zh, "AJ60", "2026-01-16 14:00", "--name", "王芳", "--contact", "13812345678")
    # a late one carries the fee and its own message
    late = book(zh, "TN60", "2026-01-15 11:00", "--name", "李娜", "--contact", "13711112222")
    assert zh("cancel", late).code == 2  # 18 h before: 30 % of 198
    r = zh("cancel", late, "--yes")
    assert r.code == 0, r.err
    (sms,) = [m for m in shown(zh, late)["messages"] if m["key"].startswith("cancel-")]
    assert sms["text"].startswith("【悦禾养生】您的预约在开始前24小时内取消，")
    assert "按规定收取违约金59.4元" in sms["text"]


def test_no_show_and_completion_after_the_start(zh, monkeypatch) -> None:
    rid = book(zh, "TN60", "2026-01-15 14:00", "--customer", "HY1002062")
    early = zh("no-show", rid)
    assert early.code == 2 and "a no-show is marked after the start" in early.err
    monkeypatch.setenv("OPS_NOW", "2026-01-15T14:30:00+08:00")
    assert zh("no-show", rid).code == 2  # 100 % of the price: confirm
    r = zh("no-show", rid, "--yes")
    assert r.code == 0, r.err
    res = shown(zh, rid)
    assert res["status"] == "爽约" and res["fee"] == 198 and res["extra"]["no_show_marked_by"]
    other = "2026-01-15 13:00"
    monkeypatch.setenv("OPS_NOW", NOW)
    done = book(zh, "ZL60", other, "--customer", "HY1002062")
    monkeypatch.setenv("OPS_NOW", "2026-01-15T14:05:00+08:00")
    r = zh("complete", done, "--started-at", "13:12")
    assert r.code == 0 and "late_minutes: 12" in r.err
    extra = shown(zh, done)["extra"]
    assert extra["service_started_at"] == "2026-01-15T05:12:00Z"
    assert extra["service_ended_at"] == "2026-01-15T06:05:00Z"  # not later than now


# -- concurrency ---------------------------------------------------------------------------------
def test_a_slot_taken_after_the_plan_is_refused_inside_the_transaction(zh, store_url) -> None:
    """Two desks plan the same slot from the same state; the second to apply is refused by
    the check made under the lock, not by its stale plan."""
    from deskops.adapters.store import Store
    from deskops.commands.clock import parse_datetime, zone
    from deskops.commands.plan import execute
    from deskops.commands.reservations import Request, Senders, plan_create, reservations_config

    profile = tomllib.loads(Path(STORES).read_text("utf-8"))
    cfg = reservations_config(profile, zone("Asia/Shanghai"))
    now = parse_datetime(NOW, cfg.tz)
    store = Store.open(store_url)
    senders = Senders(agent="desk1")
    plans = [
        plan_create(store, cfg, Request("SH01", "AJ60", "2026-01-15 15:00", name, contact), now,
                    senders)
        for name, contact in (("王芳", "13812345678"), ("李娜", "13711112222"))
    ]  # fmt: skip
    first = execute(plans[0].plan, store, senders.targets(store, cfg))
    second = execute(plans[1].plan, store, senders.targets(store, cfg))
    store.close()
    assert first.status == "done" and second.status == "failed"
    failed = next(c for c in second.changes if c.outcome == "failed")
    assert f"SH01-JS01, SH01-R08 booked meanwhile by {plans[0].record['id']} 15:00–16:00" in (
        failed.error or "")  # fmt: skip
    assert [r["id"] for r in rows(zh)] == [plans[0].record["id"]]


def _desk(url: str, n: int, start: Any, out: Any) -> None:
    import os

    from deskops.cli.app import run

    os.environ.update({"OPS_STORE_URL": url, "OPS_NOW": NOW, "OPS_AGENT": f"desk{n}"})
    start.wait(timeout=60)
    code = run(["-p", STORES, "reservations", "create", "--store", "SH01", "--service", "AJ60",
                "--time", "2026-01-15 15:00", "--name", f"顾客{n}",
                "--contact", f"1391234{n:04d}", "-o", "json"])  # fmt: skip
    out.put((n, code))


def test_parallel_creates_of_one_slot_book_it_once(zh, store_url: str) -> None:
    ctx = multiprocessing.get_context("fork")
    desks = 6
    start, out = ctx.Barrier(desks), ctx.Queue()
    procs = [ctx.Process(target=_desk, args=(store_url, n, start, out)) for n in range(desks)]
    for p in procs:
        p.start()
    codes = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(codes.values()) == [0] + [1] * (desks - 1), codes
    (booked,) = rows(zh)
    assert booked["starts_at"] == "2026-01-15T15:00+08:00" and booked["room_id"] == "SH01-R08"
    (winner,) = [n for n, code in codes.items() if code == 0]
    assert booked["customer_name"] == f"顾客{winner}"


# -- messages ------------------------------------------------------------------------------------
def test_confirmation_mail_goes_once_and_sms_waits_in_the_outbox(zh, smtp_server) -> None:
    import email
    from email import policy

    sink, port = smtp_server
    args = ("--customer", "HY1002062", "--channel", "website", "--smtp", f"smtp://127.0.0.1:{port}")
    rid = book(zh, "AJ60", "2026-01-15 15:00", *args)
    (mail,) = sink.messages
    msg = email.message_from_bytes(mail[2], policy=policy.default)
    assert mail[1] == ["xiao4323@example.com"]
    assert msg["Subject"] == f"【悦禾养生】预约确认通知 {rid}"
    body = msg.get_body(("plain",)).get_content()
    assert "时间：1月15日 15:00" in body and "艾灸前请勿空腹" in body
    (sms,) = outbox(zh)
    assert (sms["channel"], sms["to"], sms["key"]) == ("短信", "13206634323", f"confirm-{rid}-sms")
    assert "您已成功预约1月15日 15:00「艾灸调理 60分钟」" in sms["text"]
    again = zh("create", "--store", "SH01", "--service", "AJ60", "--time", "2026-01-15 15:00",
               *args)  # fmt: skip
    assert again.code == 0 and "already books" in again.err
    assert len(sink.messages) == 1 and len(outbox(zh)) == 1


def test_the_customers_language_picks_the_template(cli, zh, tmp_path: Path) -> None:
    profile = tmp_path / "mine.toml"
    profile.write_text(
        '[profile]\nextends = "stores-zh"\n\n[templates.confirm_push_en]\n'
        'body = "Booked: {service}, {date} {time}, {store}."\n',
        "utf-8",
    )
    load(cli, tmp_path, "customers", [{"id": "HY9", "name": "Anna Lee", "language": "en",
                                       "phones": ["13800009999"]}])  # fmt: skip
    r = cli("-p", str(profile), "reservations", "create", "--store", "SH01", "--service", "TN60",
            "--time", "2026-01-15 15:00", "--customer", "HY9", "--channel", "app")  # fmt: skip
    assert r.code == 0, r.err
    (push,) = outbox(zh)
    assert push["channel"] == "App推送"
    assert push["text"] == "Booked: 中式推拿 60分钟, 1月15日 15:00, 上海静安店."


def test_reminders_are_sent_once(zh, monkeypatch) -> None:
    mail = book(zh, "TN60", "2026-01-15 18:00", "--customer", "HY1002062")  # in 25 hours
    no_sms = book(zh, "ZL60", "2026-01-15 16:00", "--customer", "HY1003001")  # in 23 hours
    later = book(zh, "AJ60", "2026-01-16 11:00", "--name", "王芳", "--contact", "13812345678")
    monkeypatch.setenv("OPS_NOW", "2026-01-14T23:30:00+08:00")
    quiet = zh("remind", "--yes")
    assert quiet.code == 0 and "quiet hours (22:00–08:00); 1 reminder(s) wait until 08:00" in (
        quiet.err)  # fmt: skip
    monkeypatch.setenv("OPS_NOW", "2026-01-15T09:00:00+08:00")
    assert zh("remind").code == 2  # several records: cron says --yes
    r = zh("remind", "--yes", "-o", "json")
    assert r.code == 0, r.err
    sent = {c["target"] for c in json.loads(r.out)}
    assert sent == {f"outbox:remind-{mail}-24h-sms", f"outbox:remind-{mail}-24h-email"}
    # 陈静 booked less than 24 hours ahead and said no to SMS; tomorrow's is not due yet
    reminders = [m for m in outbox(zh) if m["key"].startswith("remind-")]
    assert {m["channel"] for m in reminders} == {"短信", "邮件"}
    assert reminders[0]["text"] == (
        "【悦禾养生】温馨提醒：您预约的「中式推拿 60分钟」将于1月15日 18:00"
        "开始，地点：上海静安店。请提前10分钟到店签到。"
    )
    again = zh("remind", "--yes")
    assert again.code == 0 and "nothing to do" in again.err
    # two hours before: the second reminder, once; tomorrow's first (陈静's has started)
    monkeypatch.setenv("OPS_NOW", "2026-01-15T16:10:00+08:00")
    r = zh("remind", "--yes", "-o", "json")
    assert {c["target"] for c in json.loads(r.out)} == {
        f"outbox:remind-{mail}-2h-sms", f"outbox:remind-{mail}-2h-email",
        f"outbox:remind-{later}-24h-sms"}  # fmt: skip
    assert "nothing to do" in zh("remind", "--yes").err
    # --window: every reservation starting within it that had no reminder yet, once
    new = book(zh, "TN60", "2026-01-16 15:00", "--name", "李娜", "--contact", "13711112222")
    assert "nothing to do" in zh("remind", "--yes").err  # booked less than 24 hours ahead
    r = zh("remind", "--window", "24h", "--yes", "-o", "json")
    assert {c["target"] for c in json.loads(r.out)} == {f"outbox:remind-{new}-24h-sms"}
    assert "nothing to do" in zh("remind", "--window", "1d", "--yes").err
    assert no_sms not in r.out


def test_survey_answers_count_in_the_daily_report(cli, zh, monkeypatch) -> None:
    rid = book(zh, "TN60", "2026-01-15 15:00", "--customer", "HY1002062")
    other = book(zh, "ZL60", "2026-01-15 15:00", "--customer", "HY1003001")
    early = zh("survey", "--record", rid, "5")
    assert early.code == 2 and "belongs to a 已完成 one" in early.err
    monkeypatch.setenv("OPS_NOW", "2026-01-15T16:30:00+08:00")
    for res in (rid, other):
        assert zh("complete", res).code == 0
    assert "nothing to do" in zh("survey", "--yes").err  # not two hours after yet
    monkeypatch.setenv("OPS_NOW", "2026-01-15T18:30:00+08:00")
    r = zh("survey", "--yes", "-o", "json")
    assert r.code == 0, r.err
    assert {c["target"] for c in json.loads(r.out)} == {
        f"outbox:survey-{rid}-sms", f"outbox:survey-{rid}-email", f"reservations:{rid}",
        f"outbox:survey-{other}-sms", f"reservations:{other}"}  # fmt: skip
    (url,) = {m["text"] for m in outbox(zh) if m["key"] == f"survey-{rid}-sms"}
    assert url.endswith(f"https://survey.yuehe-spa.example/s/{rid}")
    assert "nothing to do" in zh("survey", "--yes").err
    bad = zh("survey", "--record", rid, "7")
    assert bad.code == 2 and "scale is 1–5" in bad.err
    assert zh("survey", "--record", rid, "5", "--comment", "很舒服").code == 0
    low = zh("survey", "--record", other, "2")
    assert low.code == 0 and "low score 2; the manager of 上海静安店 follows it up by" in low.err
    assert shown(zh, other)["extra"]["follow_up"]["due"] == "2026-01-16T10:30:00Z"
    r = cli("-p", STORES, "report", "daily", "--date", "2026-01-15", "--section", "reservations",
            "-o", "json")  # fmt: skip
    assert r.code == 0, r.err
    (row,) = json.loads(r.out)["sections"]["reservations"]["rows"]
    assert row["store"] == "上海静安店" and row["reservations"] == 2
    assert row["satisfaction"] == 3.5 and row["satisfied_share"] == 0.5
    assert row["on_time_rate"] == 1.0 and row["success_rate"] == 1.0


# -- journal -------------------------------------------------------------------------------------
def test_undo_of_a_create_frees_the_slot(cli, zh) -> None:
    rid = book(zh, "AJ60", "2026-01-15 15:00", "--name", "王芳", "--contact", "13812345678",
               "--email", "wf@example.cn")  # fmt: skip
    runs = json.loads(cli("journal", "list", "-o", "json").out)
    assert runs[0]["command"] == f"reservations create {rid}"
    u = cli("undo", runs[0]["run_id"], "--yes")
    assert "a send cannot be undone" in u.err  # the messages were recorded; undo says so
    assert rows(zh) == []
    assert {m["undone_by"] for m in outbox(zh)} == {json.loads(
        cli("journal", "list", "-o", "json").out)[0]["run_id"]}  # fmt: skip
    again = book(zh, "AJ60", "2026-01-15 15:00", "--name", "李娜", "--contact", "13711112222")
    assert again != rid


def test_list_and_show(zh) -> None:
    a = book(zh, "TN60", "tomorrow 15:00", "--customer", "HY1002062", "--channel", "app")
    b = book(zh, "ZL60", "2026-01-16 15:00", "--customer", "HY1003001")
    assert zh("cancel", b).code == 0
    assert [r["id"] for r in rows(zh, "--date", "tomorrow")] == [a]
    assert [r["id"] for r in rows(zh, "--status", "cancelled")] == [b]
    assert [r["id"] for r in rows(zh, "--status", "已确认", "--store", "上海静安店")] == [a]
    assert [r["id"] for r in rows(zh, "--channel", "app")] == [a]
    assert rows(zh, "--store", "SH02") == []
    r = zh("list", "--fields", "id,customer_name,contact", "-o", "csv")
    assert r.out.splitlines()[0] == "id,customer_name,contact"
    bad = zh("list", "--fields", "id,phone")
    assert bad.code == 2 and "valid: id, starts_at" in bad.err
    res = shown(zh, a)
    assert res["channel"] == "App" and res["extra"]["confirm_method"] == "App推送"
    assert [m["key"] for m in res["messages"]] == [f"confirm-{a}-push", f"confirm-{a}-email"]
    assert zh("show", "YX000").code == 2


# -- SMS through a sender ------------------------------------------------------------------------
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "twilio-auth-token-0123456789abcdef"


@pytest.fixture
def twilio(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A local Twilio Messages API, its token in OPS_TWILIO_TOKEN: (server, --sms URL)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    from contract_sms import TwilioSmsServer

    monkeypatch.setenv("OPS_TWILIO_TOKEN", TWILIO_TOKEN)
    with TwilioSmsServer(sid=TWILIO_SID, token=TWILIO_TOKEN) as srv:
        yield srv, f"twilio+http://{TWILIO_SID}@127.0.0.1:{srv.port}/?from=+15005550006"


def test_a_reminder_goes_by_sms_once(cli, zh, twilio, monkeypatch) -> None:
    srv, url = twilio
    rid = book(zh, "TN60", "2026-01-15 18:00", "--customer", "HY1002062", "--sms", url)
    (confirm,) = srv.messages  # the confirmation went by SMS, not to the outbox
    assert confirm["to"] == "+8613206634323" and "您已成功预约1月15日 18:00" in confirm["body"]
    assert [m["key"] for m in outbox(zh)] == [f"confirm-{rid}-email"]  # no SMTP: kept
    monkeypatch.setenv("OPS_NOW", "2026-01-15T09:00:00+08:00")
    srv.fail_next(1, status=429, retry_after=0)  # Twilio's 20429 once: retried
    r = zh("remind", "--yes", "-o", "json", "--sms", url)
    assert r.code == 0, r.err
    sms = next(c for c in json.loads(r.out) if c["target"] == f"outbox:remind-{rid}-24h-sms")
    assert sms["outcome"] == "applied" and sms["after"]["sent_to"] == "+8613206634323"
    assert sms["after"]["sid"] == srv.messages[-1]["sid"] and sms["after"]["status"] == "queued"
    assert srv.sent[429] == 1 and [m["body"] for m in srv.messages[1:]] == [
        "【悦禾养生】温馨提醒：您预约的「中式推拿 60分钟」将于1月15日 18:00开始，"
        "地点：上海静安店。请提前10分钟到店签到。"
    ]  # fmt: skip
    assert "outbox, to send by hand: 邮件" in r.err and "outbox, to send by hand: 短信" not in r.err
    # OPS_SMS_URL is the sender when no --sms is given: nothing is due, nothing is sent
    monkeypatch.setenv("OPS_SMS_URL", url)
    again = zh("remind", "--yes")
    assert again.code == 0 and "nothing to do" in again.err
    assert len(srv.messages) == 2 and srv.requests == 3
    sent = [m for m in shown(zh, rid)["messages"] if m["key"] == f"remind-{rid}-24h-sms"]
    assert [(m["via"], m["outcome"]) for m in sent] == [
        (f"sms:twilio+http://127.0.0.1:{srv.port}/?from=+15005550006", "applied")]  # fmt: skip
    assert all(m["channel"] != "短信" for m in outbox(zh))
    runs = json.loads(cli("journal", "list", "-o", "json").out)
    journal = "".join(cli("journal", "show", run["run_id"], "-o", "json").out for run in runs)
    assert TWILIO_TOKEN not in journal + r.out + r.err and "twilio+http" in journal


def test_a_refused_number_fails_its_reminder_only(zh, twilio, monkeypatch) -> None:
    srv, url = twilio
    srv.blocked = {"+8613711112222"}  # replied STOP
    ok = book(zh, "TN60", "2026-01-15 18:00", "--name", "王芳", "--contact", "13812345678")
    stop = book(zh, "ZL60", "2026-01-15 18:00", "--name", "李娜", "--contact", "137-1111-2222")
    monkeypatch.setenv("OPS_NOW", "2026-01-15T09:00:00+08:00")
    monkeypatch.setenv("OPS_SMS_URL", url)
    dry = zh("remind", "--yes", "--dry-run")
    assert dry.code == 0 and srv.requests == 0  # a dry run asks Twilio nothing
    r = zh("remind", "--yes", "-o", "json")
    assert r.code == 3, r.err  # partial: one sent, one refused
    outcomes = {c["target"]: (c["outcome"], c["error"]) for c in json.loads(r.out)}
    assert outcomes[f"outbox:remind-{ok}-24h-sms"] == ("applied", None)
    outcome, error = outcomes[f"outbox:remind-{stop}-24h-sms"]
    assert outcome == "failed"
    assert ("SMS to +8613711112222: Twilio error 21610: Attempt to send to unsubscribed "
            "recipient (the recipient replied STOP") in error  # fmt: skip
    assert [m["to"] for m in srv.messages] == ["+8613812345678"]
    assert "1 applied, 1 failed" in r.err
    # once they reply START, the next run sends theirs, and only theirs
    srv.blocked = set()
    r = zh("remind", "--yes", "-o", "json")
    assert r.code == 0, r.err
    assert [m["to"] for m in srv.messages] == ["+8613812345678", "+8613711112222"]


def test_a_missing_or_wrong_token_is_exit_4(zh, twilio, monkeypatch) -> None:
    srv, url = twilio
    monkeypatch.delenv("OPS_TWILIO_TOKEN")
    r = zh("create", "--store", "SH01", "--service", "TN60", "--time", "2026-01-15 18:00",
           "--name", "王芳", "--contact", "13812345678", "--sms", url)  # fmt: skip
    assert r.code == 4 and "no credentials (set OPS_TWILIO_TOKEN" in r.err
    assert rows(zh) == [] and srv.requests == 0  # nothing booked, nothing asked
    for who, number in (("王芳", "13812345678"), ("李娜", "13711112222")):
        book(zh, "TN60" if who == "王芳" else "ZL60", "2026-01-15 18:00", "--name", who,
             "--contact", number)  # fmt: skip
    monkeypatch.setenv("OPS_NOW", "2026-01-15T09:00:00+08:00")
    monkeypatch.setenv("OPS_TWILIO_TOKEN", "not-the-token")
    r = zh("remind", "--yes", "--sms", url)
    assert r.code == 4, r.err
    assert "2 failed" in r.err and "HTTP 401 Authenticate (error 20003)" in r.err
    assert srv.requests == 1 and "not-the-token" not in r.err + r.out  # asked once


# -- confirm online requests ---------------------------------------------------------------------
MINUTES = {"TN60": ("中式推拿 60分钟", 60), "AJ60": ("艾灸调理 60分钟", 60),
           "ZL60": ("足疗 60分钟", 60)}  # fmt: skip


def request(rid: str, code: str, when: str, **fields: Any) -> dict[str, Any]:
    """A pending online request as the website or the app stores it."""
    from datetime import datetime, timedelta

    service, minutes = MINUTES[code]
    start = datetime.fromisoformat(f"{when}:00+08:00")
    return {
        "id": rid, "store": "上海静安店", "service": service, "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=minutes)).isoformat(), "customer_id": None,
        "customer_name": "王芳", "contact": "13812345678", "email": None, "channel": "官网",
        "status": "待确认", "created_at": "2026-01-14T10:00:00+08:00",
        "updated_at": "2026-01-14T10:00:00+08:00", "staff_id": None, "room_id": None,
        "notes": "", "satisfaction": None, "extra": {"price": 198, "minutes": minutes},
    } | fields  # fmt: skip


def confirm(ops, *args: str) -> tuple[Any, dict[str, dict[str, Any]]]:
    r = ops("confirm", *args, "-o", "jsonl")
    return r, {row["id"]: row for row in map(json.loads, r.out.splitlines())}


def test_a_complete_request_is_confirmed_with_staff_and_room(cli, zh, tmp_path, smtp_server):
    import email
    from email import policy

    sink, port = smtp_server
    load(cli, tmp_path, "reservations", [
        request("YX2601140101", "TN60", "2026-01-15 15:00", customer_id="HY1002062",
                customer_name="萧嘉怡", contact="+86 132 0663 4323",
                email="xiao4323@example.com"),
    ])  # fmt: skip
    smtp = ("--smtp", f"smtp://127.0.0.1:{port}")
    r, out = confirm(zh, *smtp)
    assert r.code == 0, r.err
    row = out["YX2601140101"]
    assert (row["outcome"], row["staff_id"], row["room_id"]) == (
        "confirmed", "SH01-JS01", "SH01-R01")  # fmt: skip
    assert row["detail"].startswith("SH01-JS01 杨静; SH01-R01 推拿床1; confirmation: 短信, 邮件")
    res = shown(zh, "YX2601140101")
    assert (res["status"], res["staff_id"], res["room_id"]) == ("已确认", "SH01-JS01", "SH01-R01")
    assert res["contact"] == "13206634323" and res["extra"]["confirm_method"] == "短信"
    assert res["extra"]["confirmed_at"] == "2026-01-14T09:00:00Z"
    (mail,) = sink.messages
    msg = email.message_from_bytes(mail[2], policy=policy.default)
    assert mail[1] == ["xiao4323@example.com"]
    assert msg["Subject"] == "【悦禾养生】预约确认通知 YX2601140101"
    (sms,) = outbox(zh)
    assert (sms["key"], sms["to"]) == ("confirm-YX2601140101-sms", "13206634323")
    assert "您已成功预约1月15日 15:00「中式推拿 60分钟」" in sms["text"]
    # confirmed: a second run has nothing pending, and sends nothing again
    r, out = confirm(zh, *smtp)
    assert r.code == 0 and out == {} and "no pending request" in r.err
    assert len(sink.messages) == 1 and len(outbox(zh)) == 1
    # the slot is held like a booking of `create`
    r = zh("create", "--store", "SH01", "--service", "TN60", "--time", "2026-01-15 15:30",
           "--name", "李娜", "--contact", "13711112222")  # fmt: skip
    assert r.code == 1 and "SH01-R01 推拿床1 booked (YX2601140101 15:00–16:00)" in r.err


def test_an_incomplete_request_gets_one_fix_request_naming_every_problem(cli, zh, tmp_path) -> None:
    bad = request("YX2601140102", "TN60", "2026-01-15 21:30", customer_name="",
                  contact="1381234567", email="wf@example.cn")  # fmt: skip
    load(cli, tmp_path, "reservations", [bad])
    r, out = confirm(zh)
    assert r.code == 0, r.err
    row = out["YX2601140102"]
    assert row["outcome"] == "fix requested" and row["detail"].startswith("3 problems: ")
    for why in ("customer_name: missing", "contact: '1381234567' is not a valid phone number",
                "starts_at: 2026-01-15 21:30 is outside the opening hours"):  # fmt: skip
        assert why in row["detail"], row["detail"]
    assert row["detail"].endswith("; asked by 邮件; 1 kept in the outbox to send by hand")
    # (the number is wrong: no SMS to it)
    (mail,) = outbox(zh)  # no SMTP: the mail waits in the outbox
    assert mail["channel"] == "邮件" and mail["to"] == "wf@example.cn"
    assert mail["title"] == "【悦禾养生】请补充预约信息 YX2601140102"
    assert ("以下信息缺失或格式不正确：姓名未填写；预约时间不在门店营业时间内（含服务时长）；"
            "联系方式格式不正确（请填写11位手机号码）\n") in mail["text"]  # fmt: skip
    assert shown(zh, "YX2601140102")["status"] == "待确认"
    # asked once: a second run says so and sends nothing
    r, out = confirm(zh)
    assert r.code == 0 and "asked before (邮件), waiting" in out["YX2601140102"]["detail"]
    assert len(outbox(zh)) == 1
    # the customer fixed the number and the time, but not the name: asked again, by SMS too
    fixed = {"contact": "13812345678", "starts_at": "2026-01-15T14:00:00+08:00",
             "ends_at": "2026-01-15T15:00:00+08:00"}  # fmt: skip
    load(cli, tmp_path, "reservations", [bad | fixed])
    r, out = confirm(zh)
    assert out["YX2601140102"]["detail"].startswith(
        "1 problem: customer_name: missing; asked by 短信, 邮件;")  # fmt: skip
    fixes = [m for m in outbox(zh) if m["key"].startswith("fix-YX2601140102-")]
    (sms,) = [m for m in fixes if m["channel"] == "短信"]
    assert len(fixes) == 3 and sms["to"] == "13812345678"
    assert "您的预约申请YX2601140102：姓名未填写。" in sms["text"]
    # complete now: confirmed
    load(cli, tmp_path, "reservations", [bad | fixed | {"customer_name": "王芳"}])
    r, out = confirm(zh)
    assert out["YX2601140102"]["outcome"] == "confirmed", r.err


def test_a_request_whose_slot_is_taken_stays_pending_with_free_times(cli, zh, tmp_path) -> None:
    first = book(zh, "TN60", "2026-01-15 15:00", "--customer", "HY1002062")
    load(cli, tmp_path, "reservations", [request("YX2601140103", "TN60", "2026-01-15 15:30")])
    r, out = confirm(zh)
    assert r.code == 0, r.err
    row = out["YX2601140103"]
    assert row["outcome"] == "taken" and row["staff_id"] is None
    assert f"no free 推拿床: SH01-R01 推拿床1 booked ({first} 15:00–16:00)" in row["detail"]
    assert "free that day at 14:00, 16:00, 16:30" in row["detail"]
    res = shown(zh, "YX2601140103")
    assert res["status"] == "待确认" and res["room_id"] is None and res["messages"] == []


def test_two_requests_of_one_slot_confirm_the_older(cli, zh, tmp_path) -> None:
    load(cli, tmp_path, "reservations", [
        request("YX2601140104", "TN60", "2026-01-15 15:00",
                created_at="2026-01-14T11:00:00+08:00"),
        request("YX2601140105", "TN60", "2026-01-15 15:00", customer_name="李娜",
                contact="13711112222", created_at="2026-01-14T10:30:00+08:00"),
        request("YX2601140109", "AJ60", "2026-01-15 16:00", customer_name="陈静",
                contact="13900001111", created_at="2026-01-14T12:00:00+08:00"),
    ])  # fmt: skip
    r = zh("confirm")  # two requests to change: cron says --yes
    assert r.code == 2 and "rerun with --yes" in r.err
    r, dry = confirm(zh, "--dry-run")
    assert r.code == 0 and "nothing was changed or sent" in r.err
    assert [(k, v["outcome"]) for k, v in dry.items()] == [
        ("YX2601140105", "confirmed"), ("YX2601140104", "taken"),  # the older first
        ("YX2601140109", "confirmed")]  # fmt: skip
    assert {x["status"] for x in rows(zh)} == {"待确认"} and outbox(zh) == []
    r, out = confirm(zh, "--yes")
    assert r.code == 0, r.err
    assert [(k, v["outcome"]) for k, v in out.items()] == [
        ("YX2601140105", "confirmed"), ("YX2601140104", "taken"),
        ("YX2601140109", "confirmed")]  # fmt: skip
    assert len({v["run_id"] for v in out.values() if v["run_id"]}) == 2  # one run each


def test_a_non_pending_id_is_a_problem_of_its_own(cli, zh, tmp_path) -> None:
    done = book(zh, "AJ60", "2026-01-15 15:00", "--name", "李娜", "--contact", "13711112222")
    load(cli, tmp_path, "reservations", [request("YX2601140106", "TN60", "2026-01-15 14:00")])
    r, out = confirm(zh, done, "YX2601140106", "YX000", "--yes")
    assert r.code == 3, r.err
    assert out[done]["outcome"] == "already handled"
    assert out[done]["detail"] == "it is 已确认, not 待确认; nothing to confirm"
    assert out["YX000"]["outcome"] == "not found"
    assert out["YX2601140106"]["outcome"] == "confirmed"
    assert shown(zh, "YX2601140106")["status"] == "已确认"
    assert "2 of 3 not done" in r.err


def test_a_slot_taken_after_the_plan_leaves_the_request_pending(cli, zh, tmp_path, store_url):
    """The claim is checked again under the lock in the write, as for `create`."""
    from deskops.adapters.store import Store
    from deskops.commands.clock import parse_datetime, zone
    from deskops.commands.reservations import (
        Senders,
        apply_confirm,
        plan_confirm,
        reservations_config,
    )

    load(cli, tmp_path, "reservations", [request("YX2601140107", "AJ60", "2026-01-15 15:00")])
    profile = tomllib.loads(Path(STORES).read_text("utf-8"))
    cfg = reservations_config(profile, zone("Asia/Shanghai"))
    store = Store.open(store_url)
    senders = Senders(agent="desk1")
    (decision,) = plan_confirm(store, cfg, [], None, parse_datetime(NOW, cfg.tz), senders)
    assert decision.outcome == "confirmed"
    other = book(zh, "AJ60", "2026-01-15 15:00", "--name", "李娜", "--contact", "13711112222")
    apply_confirm(store, cfg, [decision], senders)
    store.close()
    assert decision.outcome == "taken" and not decision.problem
    assert f"booked meanwhile by {other} 15:00–16:00" in decision.detail
    res = shown(zh, "YX2601140107")
    assert res["status"] == "待确认" and res["staff_id"] is None
    assert {m["outcome"] for m in res["messages"]} == {"not-run"}  # nothing was sent
    assert outbox(zh) == [m for m in outbox(zh) if m["key"].startswith(f"confirm-{other}")]


def test_undo_of_a_confirm_puts_the_request_back(cli, zh, tmp_path) -> None:
    load(cli, tmp_path, "reservations", [request("YX2601140108", "AJ60", "2026-01-15 15:00")])
    r, out = confirm(zh, "YX2601140108")
    assert r.code == 0, r.err
    run = out["YX2601140108"]["run_id"]
    assert json.loads(cli("journal", "list", "-o", "json").out)[0]["command"] == (
        "reservations confirm YX2601140108")  # fmt: skip
    u = cli("undo", run, "--yes")
    assert "a send cannot be undone" in u.err  # the confirmation went out; it stays sent
    res = shown(zh, "YX2601140108")
    assert (res["status"], res["staff_id"], res["room_id"]) == ("待确认", None, None)
    assert "confirmed_at" not in res["extra"]
    # the slot is free again
    book(zh, "AJ60", "2026-01-15 15:00", "--name", "李娜", "--contact", "13711112222")
