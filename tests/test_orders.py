"""ops orders on the embedded store (SQLite and PostgreSQL): the pharmacy's confirmation
queue, the toy shop's call outcomes, duplicates, flags, stale orders, delivery estimates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deskops.fixtures import FIXTURES_DIR

PHARMACY = str(FIXTURES_DIR / "profiles" / "pharmacy-uk.toml")
TOYS = str(FIXTURES_DIR / "profiles" / "toys-ru.toml")
MONDAY = "2026-11-23T10:30:00+02:00"  # Kyiv; Friday is 2026-11-20


def order(oid: str, created: str, **kw: Any) -> dict[str, Any]:
    rec = {
        "id": oid,
        "site": "dobryi-lik.example",
        "campaign": "country stores",
        "customer_name": "Олена Ткач",
        "phone": "+380 67 123 45 67",
        "email": "tkach@example.ua",
        "address": "м. Львів, НП №5",
        "status": "pending",
        "payment_method": "banktransfer",
        "total": 420.0,
        "currency": "UAH",
        "support_called": False,
        "created_at": created,
        "items": [{"sku": "LK-100101", "name": "Парацетамол", "qty": 2, "price": 210.0}],
    }
    rec.update(kw)
    return rec


def load(cli, tmp_path: Path, profile: str, orders: list[dict[str, Any]], *extra: str) -> None:
    f = tmp_path / "orders.jsonl"
    f.write_text("\n".join(json.dumps(o, ensure_ascii=False) for o in orders), "utf-8")
    r = cli("-p", profile, *extra, "store", "import", str(f), "--type", "orders", "--yes")
    assert r.code == 0, r.err


@pytest.fixture
def pharmacy(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> Any:
    monkeypatch.setenv("OPS_NOW", MONDAY)
    monkeypatch.setenv("OPS_STORE_URL", store_url)
    load(
        cli,
        tmp_path,
        PHARMACY,
        [
            order("1001", "2026-11-20T09:00:00+02:00"),  # Friday: in the Monday queue
            order("1002", "2026-11-19T17:00:00+02:00"),  # Thursday: too old
            order("1003", "2026-11-23T08:00:00+02:00", phone="067-765-43-21"),
            order("1004", "2026-11-22T12:00:00+02:00", support_called=True),  # called
            order("1005", "2026-11-21T12:00:00+02:00", campaign="direct"),
            order("1006", "2026-11-21T13:00:00+02:00", payment_method="checkmo"),
            order("1007", "2026-11-22T18:00:00+02:00", status="processing"),
            order("1008", "2026-11-23T09:00:00+02:00", items=[
                {"sku": "LK-100132", "name": "Німесулід", "qty": 1, "price": 90.0}]),
        ],
    )  # fmt: skip

    def ops(*args: str, input: str | None = None) -> Any:
        return cli("-p", PHARMACY, *args, input=input)

    return ops


def rows(r: Any) -> list[dict[str, Any]]:
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_monday_queue_reaches_back_to_friday(pharmacy) -> None:
    got = rows(pharmacy("orders", "confirm", "-o", "json"))
    assert [g["id"] for g in got] == ["1008", "1003", "1001"]  # newest first
    assert got[0]["stock"] == "LK-100132 out (0)" and got[1]["stock"] == "ok"
    assert all(g["due"] and g["attempts_today"] == 0 for g in got)


def test_holidays_push_the_previous_business_day_back(tmp_path: Path) -> None:
    from datetime import date

    from deskops.commands.clock import zone
    from deskops.commands.orders import orders_config

    profile = {"holidays": {"dates": ["2026-11-20"]}, "profile": {"country": "UA"}}
    cfg = orders_config(profile, zone("Europe/Kyiv"))
    assert cfg.previous_business_day(date(2026, 11, 23)) == date(2026, 11, 19)
    assert cfg.previous_business_day(date(2026, 11, 25)) == date(2026, 11, 24)


def test_attempts_spread_over_the_day(pharmacy, monkeypatch) -> None:
    r = pharmacy("orders", "call", "1001", "--outcome", "callback", "--note", "на роботі")
    assert r.code == 0, r.err
    got = {g["id"]: g for g in rows(pharmacy("orders", "confirm", "-o", "json"))}
    first = got["1001"]
    assert first["attempts_today"] == 1 and not first["due"]
    assert first["next_attempt"] == "2026-11-23T12:30+02:00"  # two hours later, midday part
    assert first["last_attempt"].endswith("callback")
    monkeypatch.setenv("OPS_NOW", "2026-11-23T12:35:00+02:00")
    assert {g["id"]: g for g in rows(pharmacy("orders", "confirm", "-o", "json"))}["1001"]["due"]


def test_next_claims_atomically_and_claims_expire(pharmacy, monkeypatch) -> None:
    a = rows(pharmacy("orders", "confirm", "--next", "--agent", "Мельник", "-o", "json"))[0]
    b = rows(pharmacy("orders", "confirm", "--next", "--agent", "Кравченко", "-o", "json"))[0]
    assert a["id"] == "1008" and b["id"] == "1003"
    assert a["claimed_by"] == "Мельник" and a["address"] and "Німесулід" in a["items"]
    again = rows(pharmacy("orders", "confirm", "--next", "--agent", "Мельник", "-o", "json"))
    assert again[0]["id"] == "1008"  # the agent's own claim comes back first
    monkeypatch.setenv("OPS_NOW", "2026-11-23T11:05:00+02:00")  # 35 minutes: both expired
    c = rows(pharmacy("orders", "confirm", "--next", "--agent", "Бондаренко", "-o", "json"))[0]
    assert c["id"] == "1008"
    d = rows(pharmacy("orders", "confirm", "--next", "--agent", "Мельник", "-o", "json"))[0]
    assert d["id"] == "1003"


def test_confirmed_sets_support_called_and_undo_restores(pharmacy) -> None:
    rows(pharmacy("orders", "confirm", "--next", "--agent", "Мельник", "-o", "json"))
    r = pharmacy("orders", "call", "1008", "--outcome", "confirmed", "--note", "все ок",
                 "--agent", "Мельник")  # fmt: skip
    assert r.code == 0, r.err
    listed = rows(pharmacy("orders", "list", "--called", "yes", "-o", "json"))
    assert {o["id"] for o in listed} == {"1004", "1008"}
    queue = rows(pharmacy("orders", "confirm", "-o", "json"))
    assert "1008" not in {g["id"] for g in queue}
    assert pharmacy("undo", "last", "--yes").code == 0
    assert "1008" in {g["id"] for g in rows(pharmacy("orders", "confirm", "-o", "json"))}


def test_no_answer_mails_the_template_or_refuses(pharmacy, smtp_server) -> None:
    r = pharmacy("orders", "call", "1001", "--outcome", "no-answer")
    assert r.code == 2 and "--smtp" in r.err  # nothing recorded
    assert rows(pharmacy("orders", "confirm", "-o", "json"))[-1]["attempts_today"] == 0
    sink, port = smtp_server
    r = pharmacy("orders", "call", "1001", "--outcome", "no-answer", "--smtp",
                 f"smtp://127.0.0.1:{port}")  # fmt: skip
    assert r.code == 0, r.err
    assert len(sink.messages) == 1 and sink.messages[0][1] == ["tkach@example.ua"]
    from email import message_from_bytes, policy

    mail = message_from_bytes(sink.messages[0][2], policy=policy.default)
    assert "№1001" in str(mail["Subject"]) and "Олена" in mail.get_content()
    r = pharmacy("orders", "call", "1001", "--outcome", "confirmed")
    assert r.code == 0  # support called only now
    assert rows(pharmacy("orders", "list", "--called", "no", "-o", "json"))


def test_support_called_is_never_set_on_other_outcomes(pharmacy) -> None:
    for outcome in ("callback", "wrong-number"):
        assert pharmacy("orders", "call", "1003", "--outcome", outcome).code == 0
    assert {o["id"] for o in rows(pharmacy("orders", "list", "--called", "yes", "-o", "json"))} == {
        "1004"
    }


def test_list_filters_and_bad_input(pharmacy) -> None:
    got = rows(pharmacy("orders", "list", "--phone", "+380677654321", "-o", "json"))
    assert [o["id"] for o in got] == ["1003"]
    got = rows(pharmacy("orders", "list", "--created-from", "last-business-day", "-o", "json"))
    assert {o["id"] for o in got} == {"1001", "1003", "1004", "1005", "1006", "1007", "1008"}
    got = rows(pharmacy("orders", "list", "--status", "Очікує", "--payment", "checkmo", "-o",
                        "json"))  # fmt: skip
    assert [o["id"] for o in got] == ["1006"] and got[0]["items"] == "Парацетамол ×2"
    r = pharmacy("orders", "list", "--status", "shipped")
    assert r.code == 2 and "valid: pending" in r.err
    r = pharmacy("orders", "list", "--phone", "12")
    assert r.code == 2 and "not a phone number" in r.err
    r = pharmacy("orders", "call", "1001", "--outcome", "maybe")
    assert r.code == 2 and "confirmed" in r.err


def test_notes_are_order_comments_on_the_call_sheet(pharmacy) -> None:
    r = pharmacy("orders", "note", "1008", "Просить дзвонити після 17:00", "--yes")
    assert r.code == 0, r.err
    sheet = rows(pharmacy("orders", "confirm", "--next", "--agent", "Мельник", "-o", "json"))
    assert sheet[0]["id"] == "1008"
    assert any("після 17:00" in n for n in sheet[0]["notes"])


def test_a_template_variable_missing_is_an_error_before_sending() -> None:
    from deskops.adapters.errors import UsageError
    from deskops.commands.orders import render

    with pytest.raises(UsageError, match=r"no value for \{iban\}"):
        render({"subject": "№{order_id}", "body": "{iban}"}, {"order_id": 1}, "bank")


@pytest.fixture
def toys(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPS_NOW", "2026-11-23T22:00:00+03:00")
    base = {"site": "igromir.example", "currency": "RUB", "payment_method": "Наличные",
            "email": "ivanova@example.ru", "customer_name": "Мария Иванова",
            "address": "г. Москва, ул. Ленина, д. 1", "city": "Москва", "manager": "Попова",
            "extra": {"affiliate_code": "igromir"}}  # fmt: skip
    load(
        cli,
        tmp_path,
        TOYS,
        [
            {**base, "id": "5001", "status": "Перед сборкой", "phone": "+7 (912) 345-67-89",
             "created_at": "2026-11-23T09:15:00+03:00", "total": 1500.0,
             "items": [{"sku": "T-1", "name": "Юла", "qty": 1, "price": 1500.0,
                        "supplier_group": "1"}],
             "status_history": [{"at": "2026-11-23T09:20:00+03:00", "status": "Перед сборкой",
                                 "actor": "Попова"}]},
            {**base, "id": "5002", "status": "Новый", "phone": "89123456789",
             "created_at": "2026-11-23T11:00:00+03:00", "total": 1500.0,
             "items": [{"sku": "T-1", "name": "Юла", "qty": 1, "price": 1500.0,
                        "supplier_group": "2"}]},
            {**base, "id": "5003", "status": "Новый", "phone": "9123456789", "manager": "Морозов",
             "created_at": "2026-11-23T12:00:00+03:00", "total": 700.0,
             "items": [{"sku": "T-9", "name": "Мяч", "qty": 1, "price": 700.0}]},
            {**base, "id": "5004", "status": "Новый", "phone": "12-34", "manager": "Морозов",
             "created_at": "2026-11-23T12:30:00+03:00", "total": 700.0,
             "items": [{"sku": "T-1", "name": "Юла", "qty": 1, "price": 700.0}]},
        ],
    )  # fmt: skip

    def ops(*args: str, input: str | None = None) -> Any:
        return cli("-p", TOYS, *args, input=input)

    return ops


def test_cancel_needs_a_reason_and_writes_it(toys) -> None:
    r = toys("orders", "call", "5001", "--outcome", "cancelled")
    assert r.code == 2 and "--reason" in r.err
    r = toys("orders", "call", "5001", "--outcome", "cancelled", "--reason", "передумала",
             "-o", "json")  # fmt: skip
    assert r.code == 0, r.err
    got = rows(toys("orders", "list", "--status", "Отмена", "-o", "json"))
    assert [o["id"] for o in got] == ["5001"]


def test_no_answer_sets_nedozvon_and_mails(toys, smtp_server) -> None:
    sink, port = smtp_server
    r = toys("orders", "call", "5002", "--outcome", "no-answer", "--smtp",
             f"smtp://127.0.0.1:{port}")  # fmt: skip
    assert r.code == 0, r.err
    assert [
        o["id"] for o in rows(toys("orders", "list", "--status", "Недозвон", "-o", "json"))
    ] == ["5002"]
    assert len(sink.messages) == 1
    from email import message_from_bytes, policy

    mail = message_from_bytes(sink.messages[0][2], policy=policy.default)
    body = mail.get_content()
    assert "89123456789" in body and "Юла" in body and "Игромир" in body  # affiliate signature
    r = toys("undo", "last", "--yes")
    assert r.code == 3 and "send" in r.err  # the status goes back; a sent mail cannot
    assert rows(toys("orders", "list", "--status", "Недозвон", "-o", "json")) == []


def test_flags_through_a_pipe_checked_against_the_profile(toys) -> None:
    ids = toys("orders", "list", "--status", "Новый", "-o", "jsonl").out
    r = toys("orders", "flag", "--set", "Склад", "-", "--yes", input=ids)
    assert r.code == 0, r.err
    assert len(rows(toys("orders", "list", "--flag", "Склад", "-o", "json"))) == 3
    r = toys("orders", "flag", "--set", "Срочно", "5001")
    assert r.code == 2 and "valid: Обмен/Возврат" in r.err


def test_duplicates_by_phone_keep_the_oldest_and_delete_nothing(toys) -> None:
    r = toys("orders", "duplicates", "--window", "48h", "--dry-run", "-o", "json")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert {(g["id"], g["role"]) for g in got} == {("5001", "keep"), ("5002", "duplicate")}
    assert "12-34" in r.err  # an invalid phone is reported, never matched
    r = toys("orders", "duplicates", "--window", "48h", "--yes", "-o", "json")
    assert r.code == 0, r.err
    dup = rows(toys("orders", "list", "--status", "Отмена дубль", "-o", "json"))
    assert [o["id"] for o in dup] == ["5002"]
    assert len(rows(toys("orders", "list", "--all", "-o", "json"))) == 4


def test_stale_per_manager_and_eta(toys) -> None:
    got = rows(toys("orders", "stale", "--shift-end", "21:00", "-o", "json"))
    assert [(g["manager"], g["id"]) for g in got] == [("Попова", "5001")]
    got = rows(toys("orders", "eta", "5001", "5002", "-o", "json"))
    assert got[0]["warehouse_date"] == "2026-11-23" and got[0]["delivery_date"] == "2026-11-24"
    assert got[1]["warehouse_date"] == "2026-11-24" and got[1]["delivery_date"] == "2026-11-25"
    assert got[0]["region"] == "moscow" and "10:00-15:00" in got[0]["windows"]


def test_bank_details_mailed_by_ops_show_on_the_queue(pharmacy, smtp_server) -> None:
    sink, port = smtp_server
    before = {g["id"]: g for g in rows(pharmacy("orders", "confirm", "-o", "json"))}
    assert before["1001"]["bank_details_sent"] is False
    r = pharmacy("orders", "call", "1001", "--outcome", "callback", "--resend-bank-details",
                 "--smtp", f"smtp://127.0.0.1:{port}")  # fmt: skip
    assert r.code == 0, r.err
    assert len(sink.messages) == 1
    after = {g["id"]: g for g in rows(pharmacy("orders", "confirm", "-o", "json"))}
    assert after["1001"]["bank_details_sent"] is True
    assert after["1003"]["bank_details_sent"] is False
