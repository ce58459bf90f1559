"""ops report daily / range on small hand-made days with hand-checked numbers: cases and
handling time (a shift crossing midnight), calls per agent, confirmations, returns,
reservations KPIs, not-converted inquiries, masking, an empty day, and the HTML page."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deskops.fixtures import FIXTURES_DIR

TOYS = str(FIXTURES_DIR / "profiles" / "toys-ru.toml")
STORES = str(FIXTURES_DIR / "profiles" / "stores-zh.toml")
NOW = "2026-01-14T09:00:00+03:00"


def load(cli, tmp_path: Path, profile: str, kind: str, rows: list[dict[str, Any]]) -> None:
    f = tmp_path / f"{kind}.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    r = cli("-p", profile, "store", "import", str(f), "--type", kind, "--yes")
    assert r.code == 0, r.err


@pytest.fixture
def day(cli, monkeypatch: pytest.MonkeyPatch, store_url: str, tmp_path: Path) -> Any:
    monkeypatch.setenv("OPS_NOW", NOW)
    monkeypatch.setenv("OPS_STORE_URL", store_url)
    load(cli, tmp_path, TOYS, "cases", [
        # 13 Jan (Moscow): Морозов closes two cases, 10 and 20 minutes of work
        {"id": "c1", "agent": "Морозов", "opened_at": "2026-01-13T09:00:00+03:00",
         "started_at": "2026-01-13T09:05:00+03:00", "closed_at": "2026-01-13T09:15:00+03:00"},
        {"id": "c2", "agent": "Морозов", "opened_at": "2026-01-13T10:00:00+03:00",
         "started_at": "2026-01-13T10:00:00+03:00", "closed_at": "2026-01-13T10:20:00+03:00"},
        # a night shift: started 12 Jan 23:50, closed 13 Jan 00:20 — counted on the 13th
        {"id": "c3", "agent": "Попова", "opened_at": "2026-01-12T23:45:00+03:00",
         "started_at": "2026-01-12T23:50:00+03:00", "closed_at": "2026-01-13T00:20:00+03:00"},
        # closed the next day: not in the report of the 13th
        {"id": "c4", "agent": "Попова", "opened_at": "2026-01-13T23:00:00+03:00",
         "started_at": "2026-01-13T23:10:00+03:00", "closed_at": "2026-01-14T00:10:00+03:00"},
    ])  # fmt: skip
    load(cli, tmp_path, TOYS, "call_attempts", [
        {"id": "a1", "target": "orders:1", "agent": "Морозов", "at": "2026-01-13T11:00:00+03:00",
         "outcome": "confirmed"},
        {"id": "a2", "target": "orders:2", "agent": "Морозов", "at": "2026-01-13T11:10:00+03:00",
         "outcome": "no-answer"},
        {"id": "a3", "target": "orders:3", "agent": "Попова", "at": "2026-01-13T12:00:00+03:00",
         "outcome": "cancelled"},
    ])  # fmt: skip
    log = tmp_path / "calls.csv"
    log.write_text(
        "Тип;Статус;Время;Схема;Откуда;Куда;Кто ответил;Длительность звонка;"
        "Длительность разговора;Стоимость\n"
        "Исходящий;Отвечен;13.01.2026 09:30:00;;205 (Морозов Денис);79161234567;79161234567;"
        "130;120;3,60\n"
        "Входящий;Отвечен;13.01.2026 09:40:00;8-800 Игромир;79161234567;78001000000;"
        "203 (Попова Ольга);70;60;9,00\n"
        "Входящий;Не отвечен;13.01.2026 13:00:00;8-800 Игромир;79260001122;78001000000;;"
        "20;0;0\n",
        "utf-8",
    )
    assert cli("-p", TOYS, "calls", "import", str(log)).code == 0
    load(cli, tmp_path, TOYS, "returns", [
        {"id": "ЗНВ-1", "order_id": "1", "type": "Возврат", "reason": "Брак", "status": "Новая",
         "refund_amount": 1189.0, "payout_date": "2026-01-15",
         "created_at": "2026-01-13T15:00:00+03:00"},
    ])  # fmt: skip
    load(cli, tmp_path, TOYS, "report_records", [
        {"id": "nc1", "kind": "not_converted", "date": "2026-01-13", "subject": "予約",
         "customer": "Иванова Мария Петровна", "store": "新宿店"},
    ])  # fmt: skip
    return cli


def report(cli, *args: str, profile: str = TOYS) -> dict[str, Any]:
    r = cli("-p", profile, "report", "daily", "--date", "2026-01-13", "-o", "json", *args)
    assert r.code == 0, r.err
    return json.loads(r.out)["sections"]


def test_daily_numbers(day) -> None:
    s = report(day)
    agents = {r["agent"]: r for r in s["agents"]["rows"]}
    assert (
        agents["Морозов Денис"]["cases"] == 2 and agents["Морозов Денис"]["handling_minutes"] == 30
    )
    assert agents["Морозов Денис"]["avg_handling_minutes"] == 15
    assert agents["Попова Ольга"]["cases"] == 1 and agents["Попова Ольга"]["handling_minutes"] == 30
    assert (
        agents["Морозов Денис"]["calls_made"] == 1 and agents["Морозов Денис"]["talk_minutes"] == 2
    )
    assert agents["Попова Ольга"]["calls_answered"] == 1
    assert (
        agents["Морозов Денис"]["attempts"] == 2 and agents["Морозов Денис"]["confirmations"] == 1
    )
    orders = {r["agent"]: r for r in s["orders"]["rows"]}
    assert orders["Морозов Денис"]["confirmed"] == 1 and orders["Морозов Денис"]["no_answer"] == 1
    assert orders["Попова Ольга"]["cancelled"] == 1
    calls = s["calls"]["totals"]
    assert (calls["missed_callers"], calls["still_open"], calls["reached"]) == (1, 1, 0)
    assert calls["billing_deviations"] == 1  # 60 s on the 8-800 line charged two minutes
    assert s["returns"]["totals"] == {"created": 1, "refunds": 1189.0, "refunds_due": 1189.0}
    mail = s["mail"]
    assert mail["totals"]["not_converted"] == 1
    assert mail["not_converted"][0]["customer"] == "Иванова М. П."  # masked by default
    unmasked = report(day, "--unmask")
    assert unmasked["mail"]["not_converted"][0]["customer"] == "Иванова Мария Петровна"


def test_an_empty_day(day) -> None:
    r = day("-p", TOYS, "report", "daily", "--date", "2026-01-01", "-o", "json")
    assert r.code == 0, r.err
    s = json.loads(r.out)["sections"]
    assert all(not sec["rows"] for name, sec in s.items())
    assert s["agents"]["totals"]["cases"] == 0 and s["calls"]["totals"]["missed_callers"] == 0
    table = day("-p", TOYS, "report", "daily", "--date", "2026-01-01", "-o", "table")
    assert table.code == 0 and "(no rows)" in table.out


def test_one_section_as_csv_and_bad_flags(day) -> None:
    r = day("-p", TOYS, "report", "daily", "--date", "2026-01-13", "--section", "agents",
            "-o", "csv")  # fmt: skip
    assert r.code == 0, r.err
    head, *rows = r.out.splitlines()
    assert head.startswith("agent,cases,handling_minutes") and len(rows) == 2
    r = day("-p", TOYS, "report", "daily", "-o", "csv")
    assert r.code == 2 and "add --section NAME" in r.err
    r = day("-p", TOYS, "report", "daily", "--section", "weather")
    assert r.code == 2 and "valid: agents, mail" in r.err


def test_reservation_kpis(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPS_NOW", "2026-01-08T09:00:00+08:00")

    def res(i: int, status: str, **extra: Any) -> dict[str, Any]:
        rec = {"id": f"r{i}", "store": "上海徐汇店", "status": status,
               "starts_at": "2026-01-07T13:30:00+08:00",
               "created_at": "2026-01-06T10:00:00+08:00", "satisfaction": extra.pop("sat", None),
               "extra": extra}  # fmt: skip
        return rec

    load(cli, tmp_path, STORES, "reservations", [
        res(1, "已完成", service_started_at="2026-01-07T13:35:00+08:00", sat=5,
            confirmed_at="2026-01-06T10:20:00+08:00"),
        res(2, "已完成", service_started_at="2026-01-07T13:50:00+08:00", sat=3,
            confirmed_at="2026-01-06T11:00:00+08:00", complaint="等了20分钟"),
        res(3, "爽约"),
        res(4, "已取消"),
    ])  # fmt: skip
    s = report_day(cli, STORES, "2026-01-07")["reservations"]
    (row,) = s["rows"]
    assert row["reservations"] == 4
    assert row["success_rate"] == 0.75  # 已完成 ×2 + 爽约 of 4
    assert row["on_time_rate"] == 0.5  # 5 min late ok, 20 min late not
    assert row["satisfaction"] == 4.0 and row["satisfied_share"] == 0.5
    assert row["confirmed_in_time"] == 0.5  # 20 min ok, 60 min not (target 30)
    assert row["complaint_rate"] == 0.5 and row["complaints"] == 1


def report_day(cli, profile: str, day: str) -> dict[str, Any]:
    r = cli("-p", profile, "report", "daily", "--date", day, "-o", "json")
    assert r.code == 0, r.err
    return json.loads(r.out)["sections"]


def test_range_by_week(day) -> None:
    r = day("-p", TOYS, "report", "range", "--from", "2026-01-05", "--to", "2026-01-18",
            "--by", "week", "--section", "agents", "-o", "jsonl")  # fmt: skip
    assert r.code == 0, r.err
    rows = [json.loads(x) for x in r.out.splitlines()]
    assert [x["period"] for x in rows] == ["2026-01-05..2026-01-11", "2026-01-12..2026-01-18"]
    assert rows[0]["cases"] == 0 and rows[1]["cases"] == 4  # c4 closed on the 14th
    doc = json.loads(day("-p", TOYS, "report", "range", "--from", "2026-01-01", "--to",
                         "2026-03-31", "--by", "month", "-o", "json").out)  # fmt: skip
    assert [p["from"] for p in doc["periods"]] == ["2026-01-01", "2026-02-01", "2026-03-01"]


def test_range_in_worker_processes_gives_the_same_report(
    day, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big range is built by several processes, one period and section each; the
    document must be the one a single process builds."""
    args = ("-p", TOYS, "report", "range", "--from", "2026-01-05", "--to", "2026-01-25",
            "--by", "week", "-o", "json")  # fmt: skip
    monkeypatch.setenv("OPS_REPORT_WORKERS", "1")
    one = day(*args)
    monkeypatch.setenv("OPS_REPORT_WORKERS", "2")
    two = day(*args)
    assert one.code == two.code == 0, two.err
    assert json.loads(one.out) == json.loads(two.out)
    assert json.loads(two.out)["periods"][1]["sections"]["agents"]["totals"]["cases"] == 4
    monkeypatch.setenv("OPS_REPORT_WORKERS", "many")
    bad = day(*args)
    assert bad.code == 2 and "OPS_REPORT_WORKERS='many'" in bad.err


def test_html_page(day, tmp_path: Path) -> None:
    r = day("-p", TOYS, "report", "daily", "--date", "2026-01-13", "-o", "html")
    assert r.code == 0, r.err
    page = r.out
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert page.count("<svg") >= 3 and 'aria-label="agents per agent"' in page
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        from conftest import integration_skip

        integration_skip("chromium is not installed (Debian: apt-get install chromium)")
    html = tmp_path / "report.html"
    html.write_text(page, "utf-8")
    out = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
         html.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    dom = out.stdout
    assert out.returncode == 0, out.stderr[-500:]
    assert dom.count("<svg") >= 3 and dom.count('class="bar"') >= 4  # the charts are drawn
    assert "Морозов Денис" in dom


def test_send_posts_once_a_day_unless_forced(day, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    from contract_notify import SlackServer, TelegramServer

    with SlackServer(hook="T1/B1/secret") as slack, TelegramServer(token="42:abc") as tg:
        monkeypatch.setenv("OPS_TELEGRAM_TOKEN", "42:abc")
        hook = f"slack+{slack.url}/services/T1/B1/secret"
        bot = f"telegram+{tg.url}/?chat_id=-100123"
        args = ["-p", TOYS, "report", "daily", "--date", "2026-01-13", "--send", hook,
                "--send", bot]  # fmt: skip
        r = day(*args)
        assert r.code == 0, r.err
        (msg,) = slack.messages
        assert "ops report" in msg["text"] and "agents: cases 3" in msg["text"]
        assert "secret" not in r.err  # the webhook path is masked everywhere
        assert len(tg.messages) == 1
        again = day(*args)
        assert again.code == 0 and len(slack.messages) == 1 and len(tg.messages) == 1
        forced = day(*args, "--force")
        assert forced.code == 0 and len(slack.messages) == 2
        slack.channel_gone = True
        failed = day("-p", TOYS, "report", "daily", "--date", "2026-01-12", "--send", hook)
        assert failed.code != 0 and "channel_not_found" in failed.err
        assert day(*args[:5], "2026-01-12", "--send", bot).code == 0  # not marked as sent


def test_the_toy_shops_demo_day_against_its_call_log(cli, monkeypatch, tmp_path: Path) -> None:
    """The demo store of toys-ru, report of 13 Jan, checked against counts taken straight
    from the sipuni export in the fixtures (outbound answered calls per caller, inbound
    answered per answering agent)."""
    import csv
    import tomllib

    monkeypatch.setenv("OPS_NOW", "2026-01-14T09:00:00+03:00")  # the demo's anchor day
    monkeypatch.setenv("OPS_STORE_URL", str(tmp_path / "demo.sqlite"))
    assert cli("demo", "--profile", "toys-ru").code == 0
    names = tomllib.loads(Path(TOYS).read_text("utf-8"))["agents"]
    made: dict[str, int] = {}
    answered: dict[str, int] = {}
    log = FIXTURES_DIR / "toys-ru" / "calls" / "sipuni-2026-01-08--2026-01-14.csv"
    with log.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            if not row["Время"].startswith("13.01.2026") or row["Статус"] != "Отвечен":
                continue
            if row["Тип"] == "Исходящий":
                who = row["Откуда"].split("(")[1].split()[0]
                made[names[who]] = made.get(names[who], 0) + 1
            elif row["Тип"] == "Входящий" and "(" in row["Кто ответил"]:
                who = row["Кто ответил"].split("(")[1].split()[0]
                answered[names[who]] = answered.get(names[who], 0) + 1
    s = report_day(cli, TOYS, "2026-01-13")
    rows = {r["agent"]: r for r in s["agents"]["rows"]}
    assert made and {a: r["calls_made"] for a, r in rows.items() if r["calls_made"]} == made
    assert {a: r["calls_answered"] for a, r in rows.items() if r["calls_answered"]} == answered


def test_by_affiliate_regroups_mail_orders_and_returns(day, tmp_path: Path) -> None:
    load(day, tmp_path, TOYS, "orders", [
        {"id": "1", "site": "kukly-ko.example", "status": "Новый", "created_at": NOW},
        {"id": "2", "site": "igromir.example", "status": "Новый", "created_at": NOW},
        {"id": "3", "site": "igromir.example", "status": "Новый", "created_at": NOW},
    ])  # fmt: skip
    r = day("-p", TOYS, "report", "daily", "--date", "2026-01-13", "--by", "affiliate",
            "-o", "json")  # fmt: skip
    assert r.code == 0, r.err
    s = json.loads(r.out)["sections"]
    assert s["orders"]["grouped_by"] == "affiliate"
    orders = {x["affiliate"]: x for x in s["orders"]["rows"]}
    assert orders["Куклы и Ко"]["confirmed"] == 1
    assert orders["Игромир"]["no_answer"] == 1 and orders["Игромир"]["cancelled"] == 1
    assert s["returns"]["rows"][0]["affiliate"] == "Куклы и Ко"  # ЗНВ-1 is of order 1
    assert s["agents"]["grouped_by"] == "agent"  # a section that cannot regroup keeps its own
    bad = day("-p", TOYS, "report", "daily", "--by", "weather")
    assert bad.code == 2 and "valid: agent, store, affiliate, line" in bad.err


def test_agents_known_by_extension_from_either_table() -> None:
    """[agents.extensions] (toys-ru) or a profile-wide [extensions] (support-ja: the
    PBX extension → agent id → the name cases carry) give one row per person."""
    from datetime import UTC, datetime

    from deskops.commands.clock import zone
    from deskops.commands.report import Context

    now = datetime(2026, 1, 14, tzinfo=UTC)
    for profile in (
        {"agents": {"sasaki": "佐々木", "extensions": {"201": "sasaki"}}},
        {"agents": {"sasaki": "佐々木"}, "extensions": {"201": "sasaki", "220": "技術担当 大野"}},
    ):
        ctx = Context(None, profile, zone("Asia/Tokyo"), now)  # type: ignore[arg-type]
        assert ctx.agent("201") == ctx.agent("sasaki") == ctx.agent("佐々木") == "佐々木"
    assert ctx.agent("220") == "技術担当 大野" and ctx.agent("299") == "299"
