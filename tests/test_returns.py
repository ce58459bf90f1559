"""ops returns: refund-detail checks with published test vectors, the delivery/refund rules,
payout dates, and the create → undo cycle through the CLI (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from deskops.commands.refunds import (
    DetailError,
    account_matches_bik,
    check_details,
    inn_valid,
    luhn,
    mask,
)
from deskops.commands.returns import ReturnsConfig, payout_date
from deskops.fixtures import FIXTURES_DIR

TOYS = str(FIXTURES_DIR / "profiles" / "toys-ru.toml")
NOW = "2026-01-14T10:00:00+03:00"  # a Wednesday


# -- checksums, with published vectors -----------------------------------------------------------
@pytest.mark.parametrize(
    "number,ok",
    [
        ("79927398713", True),  # the classic Luhn example
        ("4111111111111111", True),  # the Visa test card
        ("5555555555554444", True),  # the Mastercard test card
        ("2200000000000004", True),
        ("4111111111111112", False),
        ("79927398710", False),
    ],
)
def test_luhn(number: str, ok: bool) -> None:
    assert luhn(number) is ok


@pytest.mark.parametrize(
    "inn,ok",
    [
        ("7707083893", True),  # Sberbank (organisation, 10 digits)
        ("7736207543", True),  # Yandex LLC
        ("500100732259", True),  # a person (12 digits)
        ("7707083894", False),
        ("500100732258", False),
        ("77070838", False),
    ],
)
def test_inn(inn: str, ok: bool) -> None:
    assert inn_valid(inn) is ok


def _with_key(account: str, bik: str) -> str:
    """The account with its control digit (the 9th) set for this BIK."""
    for d in "0123456789":
        candidate = account[:8] + d + account[9:]
        if account_matches_bik(candidate, bik):
            return candidate
    raise AssertionError("no control digit fits")


def test_account_control_key() -> None:
    # correspondent accounts of VTB and Alfa-Bank (published with their BIKs)
    assert account_matches_bik("30101810700000000187", "044525187")
    assert account_matches_bik("30101810200000000593", "044525593")
    assert not account_matches_bik("30101810200000000593", "040349602")  # another region
    client = _with_key("40817810099910004312", "044525225")
    assert account_matches_bik(client, "044525225")
    wrong = client[:-1] + str((int(client[-1]) + 1) % 10)
    assert not account_matches_bik(wrong, "044525225")


def test_refund_details_named_precisely() -> None:
    given = {"card": "4111 1111 1111 1111", "holder": "Иванова Мария Петровна"}
    ok = check_details("sber-card", given, "RU")
    assert ok == {"card_number": "4111111111111111", "card_holder": "Иванова Мария Петровна"}
    cases = [
        ("sber-card", {"card": "4111111111111112", "holder": "Иванова Мария"}, "Luhn"),
        ("sber-card", {"account": "40817810099910004312"}, "account number is not accepted"),
        ("sber-card", {"card": "40817810099910004312", "holder": "Иванова Мария"},
         "20 digits is an account number"),
        ("sber-card", {"card": "4111111111111111", "holder": "Мария"}, "full name"),
        ("bank", {"card": "4111111111111111"}, "needs --refund-account, --refund-bik"),
        ("bank", {"card": "4111111111111111", "account": "40817810099910004312",
                  "bik": "44525225", "inn": "7707083893", "bank": "Б"}, "a BIK has 9 digits"),
        ("bank", {"card": "4111111111111111", "account": "40817810099910004312",
                  "bik": "044525225", "inn": "7707083893", "bank": "Б"}, "control key"),
        ("phone", {"phone": "+7 495 123-45-67"}, "not a mobile number"),
        ("phone", {"phone": "12"}, "not a valid number in RU"),
        ("yoomoney", {"wallet": "12345"}, "starting with 4100"),
        ("qiwi", {"wallet": "+7 968 407-74-71", "card": "4111111111111111"}, "is not used"),
    ]  # fmt: skip
    for method, given, why in cases:
        with pytest.raises(DetailError, match=why):
            check_details(method, given, "RU")
    client = _with_key("40817810099910004312", "044525225")
    bank = check_details("bank", {"card": "5555555555554444", "account": client,
                                  "bik": "044525225", "inn": "7707083893",
                                  "bank": "ПАО Сбербанк"}, "RU")  # fmt: skip
    assert bank["account"] == client
    with pytest.raises(DetailError, match="--refund-inn"):
        given = {"card": "5555555555554444", "account": client, "bik": "044525225",
                 "inn": "7707083894", "bank": "Б"}  # fmt: skip
        check_details("bank", given, "RU")
    assert check_details("phone", {"phone": "8 (968) 407-74-71"}, "RU") == {
        "phone": "+79684077471", "operator": "Билайн"}  # fmt: skip
    assert mask({"card_number": "4111111111111111", "account": client, "bik": "044525225"}) == {
        "card_number": "************1111", "account": "*" * 16 + client[-4:],
        "bik": "044525225"}  # fmt: skip


@pytest.mark.parametrize(
    "ready,listed,paid",
    [
        (date(2026, 1, 11), date(2026, 1, 13), date(2026, 1, 15)),  # Sunday → Tue, Thu
        (date(2026, 1, 13), date(2026, 1, 13), date(2026, 1, 15)),  # Tuesday: this week
        (date(2026, 1, 14), date(2026, 1, 20), date(2026, 1, 22)),  # Wednesday: next week
    ],
)
def test_payout_run(ready: date, listed: date, paid: date) -> None:
    from deskops.commands.clock import zone

    cfg = ReturnsConfig(tz=zone("Europe/Moscow"), region="RU")
    assert payout_date(cfg, ready) == (paid, listed)


# -- the CLI ---------------------------------------------------------------------------------
ORDER = {
    "id": "1042", "site": "igromir.example", "customer_id": "C1",
    "customer_name": "Мария Иванова", "phone": "+7 916 123-45-67",
    "email": "maria@example.ru", "address": "г. Москва, ул. Тверская, д. 1", "city": "Москва",
    "status": "Доставлен", "total": 3280.0, "delivery_cost": 199.0, "currency": "RUB",
    "created_at": "2026-01-05T10:00:00+03:00",
    "items": [{"sku": "KN-1", "name": "Конструктор", "qty": 2, "price": 990.0},
              {"sku": "MS-2", "name": "Машинка", "qty": 1, "price": 1100.0}],
    "flags": ["Обмен/Возврат"],
    "extra": {"affiliate": "Игромир", "affiliate_code": "igromir"},
}  # fmt: skip
CARD = ["--refund-method", "sber-card", "--refund-card", "4111111111111111",
        "--refund-holder", "Иванова Мария Петровна"]  # fmt: skip


@pytest.fixture
def toys(cli, monkeypatch: pytest.MonkeyPatch, store_url: str, tmp_path: Path) -> Any:
    monkeypatch.setenv("OPS_NOW", NOW)
    monkeypatch.setenv("OPS_STORE_URL", store_url)
    f = tmp_path / "orders.jsonl"
    f.write_text(json.dumps(ORDER, ensure_ascii=False) + "\n", "utf-8")
    assert cli("-p", TOYS, "store", "import", str(f), "--type", "orders", "--yes").code == 0
    c = tmp_path / "customers.jsonl"
    c.write_text(json.dumps({"id": "C1", "name": "Мария Иванова", "language": "en"}) + "\n")
    assert cli("-p", TOYS, "store", "import", str(c), "--type", "customers", "--yes").code == 0
    return cli


def order_of(cli) -> dict[str, Any]:
    out = cli("store", "export", "--type", "orders", "-o", "jsonl").out
    return {o["id"]: o for o in map(json.loads, out.splitlines())}["1042"]


def test_return_with_mail_idempotent_and_undone(toys, smtp_server) -> None:
    sink, port = smtp_server
    before = order_of(toys)
    args = ["-p", TOYS, "returns", "create", "1042", "--type", "return", "--reason", "defect",
            "--items", "KN-1:1", "--pickup", "PK-0001", *CARD, "--smtp",
            f"smtp://127.0.0.1:{port}", "-o", "jsonl"]  # fmt: skip
    r = toys(*args)
    assert r.code == 0, r.err
    assert "refund_amount: 1189.0" in r.err  # 990 + delivery 199: a defect refunds delivery
    assert "payout_date: 2026-01-22" in r.err and "refund_deadline: 2026-01-28" in r.err
    ret = json.loads(toys("-p", TOYS, "returns", "show", "ЗНВ-1").out)
    assert ret["refund_details"]["card_number"] == "************1111"  # masked
    assert ret["type"] == "Возврат" and ret["reason"] == "Брак" and ret["status"] == "Новая"
    order = order_of(toys)
    assert "Обмен/Возврат" not in order["flags"] and "Возврат денег" in order["flags"]
    assert order["comments"][-1]["text"] == (
        "Возврат денег: -1 189 ₽, Карта Сбербанка. ЗНВ №1, выплата 22.01."
    )
    (mail,) = sink.messages
    assert mail[1] == ["maria@example.ru"]
    assert b"Return request 1 for order 1042" in mail[2]  # the customer's language: en
    # the same request again: nothing new, no second mail
    again = toys(*args)
    assert again.code == 0 and "already registers" in again.err and len(sink.messages) == 1
    # undo: every record back as it was; the mail cannot be unsent and says so
    run = json.loads(toys("journal", "list", "-o", "json").out)[0]["run_id"]
    u = toys("undo", run, "--yes")
    assert "cannot be undone" in u.err
    assert order_of(toys) == before
    assert toys("-p", TOYS, "returns", "list", "-o", "jsonl").out == ""


def test_an_invalid_detail_creates_nothing(toys) -> None:
    bad = toys("-p", TOYS, "returns", "create", "1042", "--type", "return", "--reason", "size",
               "--pickup", "PK-0001", "--refund-method", "bank", "--refund-card",
               "4111111111111111", "--refund-account", "40817810099910004312", "--refund-bik",
               "044525225", "--refund-inn", "7707083893", "--refund-bank", "Сбер",
               "--no-mail")  # fmt: skip
    assert bad.code == 2 and "--refund-account" in bad.err and "control key" in bad.err
    assert toys("-p", TOYS, "returns", "list", "-o", "jsonl").out == ""
    assert order_of(toys)["flags"] == ["Обмен/Возврат"]
    for extra, why in [
        (["--items", "XX-9"], "not in order 1042"),
        (["--items", "KN-1:3"], "has 2 of it not yet returned"),
        (["--pickup", "Луна"], "not a pick-up point"),
    ]:
        r = toys("-p", TOYS, "returns", "create", "1042", "--type", "return", "--reason",
                 "size", "--pickup", "PK-0001", *CARD, "--no-mail", *extra)  # fmt: skip
        assert r.code == 2 and why in r.err, r.err


@pytest.mark.parametrize(
    "reason,refund",
    [("defect", 1189.0), ("incomplete", 1189.0), ("wrong-item", 1189.0), ("size", 990.0),
     ("colour", 990.0), ("changed-mind", 990.0)],
)  # fmt: skip
def test_who_pays_delivery_on_a_return(toys, reason: str, refund: float) -> None:
    r = toys("-p", TOYS, "returns", "create", "1042", "--type", "return", "--reason", reason,
             "--items", "KN-1", "--pickup", "PK-0001", *CARD, "--no-mail")  # fmt: skip
    assert r.code == 0, r.err
    assert f"refund_amount: {refund}" in r.err


@pytest.mark.parametrize("reason,due", [("defect", 0.0), ("size", 199.0)])
def test_exchange(toys, tmp_path: Path, reason: str, due: float) -> None:
    stock = tmp_path / "stock.csv"
    stock.write_text("sku;qty\nKN-1;5\nMS-2;0\nKN-7;3\n", "utf-8")
    base = ["-p", TOYS, "returns", "create", "1042", "--type", "exchange", "--reason", reason,
            "--pickup", "Складочная", "--date", "2026-01-20", "--stock", str(stock),
            "--no-mail"]  # fmt: skip
    out = toys(*base, "--items", "MS-2")
    assert out.code == 2 and "MS-2: out of stock (0 left" in out.err
    assert "--type return" in out.err
    r = toys(*base, "--items", "KN-1", "-o", "jsonl")
    assert r.code == 0, r.err
    assert f"amount_due: {due}" in r.err and "exchange_order: 1043" in r.err
    orders = {o["id"]: o for o in map(json.loads, toys("store", "export", "--type", "orders",
                                                     "-o", "jsonl").out.splitlines())}  # fmt: skip
    new = orders["1043"]
    assert new["phone"] == ORDER["phone"] and new["delivery_date"] == "2026-01-20"
    assert new["items"][0]["sku"] == "KN-1" and new["extra"]["exchange_for"] == "1042"
    assert new["comments"][0]["text"].startswith("ОБМЕН по заказу №1042")
    assert ("Изменение стоимости" in new["flags"]) is bool(due)
    old = orders["1042"]
    assert old["comments"][-1]["text"].startswith(
        (
            "Брак. ЗНВ №1, ОБМЕН №1043, доставка бесплатно",
            "Не подошёл размер. ЗНВ №1, ОБМЕН №1043, доставка за счёт покупателя",
        )
    )
    # undo takes the exchange order away and restores the old one
    run = json.loads(toys("journal", "list", "-o", "json").out)[0]["run_id"]
    assert toys("undo", run, "--yes").code == 0
    after = {o["id"]: o for o in map(json.loads, toys("store", "export", "--type", "orders",
                                                      "-o", "jsonl").out.splitlines())}  # fmt: skip
    assert set(after) == {"1042"} and after["1042"]["comments"] == ORDER.get("comments", [])
    assert after["1042"]["flags"] == ORDER["flags"]
    r = toys(*base, "--items", "KN-1", "-o", "jsonl")
    assert r.code == 0, r.err
    # a replacement not in the order needs its price; one in stock is accepted
    r = toys(*base, "--items", "KN-1", "--replacement", "KN-7")
    assert r.code == 0 and "already registers" in r.err  # the same request: found
    r = toys("-p", TOYS, "returns", "create", "1042", "--type", "exchange", "--reason",
             reason, "--pickup", "Складочная", "--date", "2026-01-20", "--stock", str(stock),
             "--no-mail", "--items", "KN-1", "--replacement", "KN-7")  # fmt: skip
    assert r.code == 0  # found again; KN-1 × 1 left would be a different request


def test_payouts_masked_and_unmask_needs_confirmation(toys) -> None:
    r = toys("-p", TOYS, "returns", "create", "1042", "--type", "return", "--reason", "defect",
             "--pickup", "PK-0001", *CARD, "--no-mail")  # fmt: skip
    assert r.code == 0, r.err
    p = toys("-p", TOYS, "returns", "payouts", "--week", "2026-01-21", "-o", "csv")
    assert p.code == 0, p.err
    assert "ЗНВ-1,1042,3279" in p.out and "************1111" in p.out
    assert "4111111111111111" not in p.out
    assert "list due Tue 20.01" in p.err
    refused = toys("-p", TOYS, "returns", "payouts", "--week", "2026-01-21", "--unmask")
    assert refused.code == 2 and "--yes" in refused.err
    full = toys("-p", TOYS, "returns", "payouts", "--week", "2026-01-21", "--unmask", "--yes",
                "-o", "csv")  # fmt: skip
    assert "4111111111111111" in full.out
    empty = toys("-p", TOYS, "returns", "payouts", "--week", "2026-01-14", "-o", "csv")
    assert empty.out.strip().count("\n") == 0


def test_request_form_mails_the_affiliates_blank_form_once_a_day(toys, smtp_server) -> None:
    import email

    sink, port = smtp_server
    args = ["-p", TOYS, "returns", "request-form", "1042", "--subject", "Сломался пульт",
            "--smtp", f"smtp://127.0.0.1:{port}"]  # fmt: skip
    r = toys(*args)
    assert r.code == 0, r.err
    (sent,) = sink.messages
    msg = email.message_from_bytes(sent[2], policy=email.policy.default)
    assert msg["Subject"] == "Re: Сломался пульт" and sent[1] == ["maria@example.ru"]
    (att,) = list(msg.iter_attachments())
    assert att.get_filename() == "Бланк возврата и обмена — Игромир.pdf"
    assert att.get_content_type() == "application/pdf"
    assert att.get_content().startswith(b"%PDF-1.4")
    assert "igromir.example" in msg.get_body(("plain",)).get_content()  # the signature
    assert order_of(toys)["comments"][-1]["text"].startswith("Бланк возврата отправлен")
    again = toys(*args)
    assert again.code == 0 and "went out today already" in again.err
    assert len(sink.messages) == 1
