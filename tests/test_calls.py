"""ops calls: importing sipuni / Asterisk / Twilio logs, the missed-call callback list,
callbacks, handled marks and the billing check — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deskops.adapters.calllogs import iter_calls
from deskops.adapters.files import RowError
from deskops.commands.clock import zone
from deskops.fixtures import FIXTURES_DIR

DATA = Path(__file__).parent / "data" / "calls"
TOYS = str(FIXTURES_DIR / "profiles" / "toys-ru.toml")
PHARMACY = str(FIXTURES_DIR / "profiles" / "pharmacy-uk.toml")
NOW = "2026-01-14T09:00:00+03:00"


def golden(name: str) -> list[dict[str, Any]]:
    lines = (DATA / f"{name}.golden.jsonl").read_text("utf-8").splitlines()
    return [json.loads(x) for x in lines]


def parsed(name: str, tz: str, region: str) -> list[dict[str, Any]]:
    out = []
    for line, r in iter_calls(str(DATA / name), tz=zone(tz), region=region):
        rec, err = (r, None) if isinstance(r, dict) else (None, r.message)
        out.append({"source_line": line, "record": rec, "error": err})
    return json.loads(json.dumps(out, ensure_ascii=False))


@pytest.mark.parametrize(
    "name,tz,region",
    [
        ("sipuni.csv", "Europe/Moscow", "RU"),
        ("Master.csv", "Europe/Kyiv", "UA"),
        ("twilio.json", "UTC", "US"),
    ],
)
def test_golden(name: str, tz: str, region: str) -> None:
    assert parsed(name, tz, region) == golden(name)


def test_sipuni_details() -> None:
    rows = {r["source_line"]: r["record"] or r for r in golden("sipuni.csv")}
    # one number in three spellings
    assert {rows[n]["number"] for n in (2, 3, 4)} == {"+79161234567"}
    assert (
        rows[2]["caller"] == "8 (916) 123-45-67" and rows[2]["started_at"] == "2026-01-12T07:15:02Z"
    )
    assert rows[4]["line"] == "74951000000"  # the outgoing line when the scheme is empty
    assert rows[6]["extra"]["answered_by_name"] == "Попова Ольга"
    assert rows[5]["started_at"] == "2026-01-12T20:58:00Z"  # 23:58 Moscow, before midnight
    assert rows[8]["id"] == rows[11]["id"]  # a duplicated row keeps its id
    assert rows[12]["error"] == "has 3 fields, expected 13"  # the truncated last line


def test_asterisk_legs_and_dst() -> None:
    rows = [r["record"] for r in golden("Master.csv")]
    # Kyiv moved to summer time at 03:00 on 2026-03-29: 02:59:30 EET and 04:10 EEST are
    # 10.5 minutes apart
    assert rows[0]["started_at"] == "2026-03-29T00:59:30Z"
    assert rows[1]["started_at"] == "2026-03-29T01:10:00Z"
    assert rows[1]["call_group"] == rows[2]["call_group"]  # two legs of one call
    assert [rows[1]["status"], rows[2]["status"]] == ["missed", "answered"]
    assert rows[4]["number"] == rows[5]["number"] == "+380637654321"


def test_encodings_are_detected() -> None:
    utf8 = [r for _, r in iter_calls(str(DATA / "sipuni.csv"), tz=zone("Europe/Moscow"))]
    cp1251 = [r for _, r in iter_calls(str(DATA / "sipuni-cp1251.csv"), tz=zone("Europe/Moscow"))]
    good = [r for r in utf8 if not isinstance(r, RowError)]
    assert [r["id"] for r in cp1251] == [r["id"] for r in good]


def test_missing_required_column_is_named(tmp_path: Path) -> None:
    from deskops.adapters.errors import UsageError

    f = tmp_path / "no-time.csv"
    f.write_text("Тип;Статус;Откуда;Куда\nВходящий;Отвечен;1;2\n", "utf-8")
    with pytest.raises(UsageError, match=r"no-time.csv:1: not a sipuni export: no column Время"):
        list(iter_calls(str(f), tz=zone("UTC")))


# -- the CLI ---------------------------------------------------------------------------------
@pytest.fixture
def toys(cli, monkeypatch: pytest.MonkeyPatch, store_url: str, tmp_path: Path) -> Any:
    monkeypatch.setenv("OPS_NOW", NOW)
    monkeypatch.setenv("OPS_STORE_URL", store_url)
    customers = tmp_path / "customers.jsonl"
    customers.write_text(
        json.dumps({"id": "c1", "name": "Иванова Мария", "phones": ["8 916 123-45-67"]},
                   ensure_ascii=False) + "\n"
        + json.dumps({"id": "c2", "name": "Петров Пётр", "phones": ["+7 926 000-11-22"]},
                     ensure_ascii=False) + "\n",
        "utf-8",
    )  # fmt: skip
    orders = tmp_path / "orders.jsonl"
    orders.write_text(
        "\n".join(
            json.dumps(o, ensure_ascii=False)
            for o in [
                {"id": "1042", "customer_id": "c1", "phone": "+7(916)1234567",
                 "status": "Перед сборкой", "created_at": "2026-01-11T10:00:00Z"},
                {"id": "1043", "customer_id": "c2", "phone": "79260001122",
                 "status": "Доставлен", "created_at": "2026-01-02T10:00:00Z"},
                {"id": "1044", "customer_id": "c2", "phone": "8-926-000-11-22",
                 "status": "Недозвон", "created_at": "2026-01-12T10:00:00Z"},
            ]
        ),
        "utf-8",
    )  # fmt: skip
    for f, kind in ((customers, "customers"), (orders, "orders")):
        r = cli("-p", TOYS, "store", "import", str(f), "--type", kind, "--yes")
        assert r.code == 0, r.err
    return cli


def rows_of(out: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def test_import_is_idempotent_and_reports_bad_rows(toys) -> None:
    r = toys("-p", TOYS, "calls", "import", str(DATA / "sipuni.csv"), "-o", "jsonl")
    assert r.code == 3, r.err  # one row rejected: partial
    assert f"{DATA / 'sipuni.csv'}:12: has 3 fields, expected 13" in r.err
    (row,) = rows_of(r.out)
    assert (row["created"], row["present"], row["rejected"]) == (9, 1, 1)
    assert row["format"] == "sipuni"
    again = toys("-p", TOYS, "calls", "import", str(DATA / "sipuni-cp1251.csv"), "-o", "jsonl")
    assert again.code == 0, again.err
    (row,) = rows_of(again.out)
    assert (row["created"], row["present"], row["rejected"]) == (0, 10, 0)
    # undo removes what the first run imported
    runs = json.loads(toys("journal", "list", "-o", "json").out)
    first = [x for x in runs if x["command"].startswith("calls import")][-1]
    assert first["changes"] == 9
    u = toys("undo", first["run_id"], "--yes")
    assert u.code == 0, u.err
    back = toys("-p", TOYS, "calls", "import", str(DATA / "sipuni.csv"), "-o", "jsonl")
    assert rows_of(back.out)[0]["created"] == 9


def test_import_journals_fingerprints_and_undo_refuses_what_changed_since(
    toys, store_url: str
) -> None:
    """An import journals each call by its fingerprint, not in full; undo still sees a
    call changed since (and changes nothing), and deletes the calls as imported."""
    from deskops.adapters.schema import CALLS
    from deskops.adapters.store import Store

    assert toys("-p", TOYS, "calls", "import", str(DATA / "sipuni.csv")).code == 3
    run = json.loads(toys("journal", "list", "-o", "json").out)[0]
    entries = json.loads(toys("journal", "show", run["run_id"], "-o", "json").out)
    assert len(entries) == 9 and all(set(e["after"]) == {"$digest"} for e in entries)
    changed = entries[0]["target"].split(":", 1)[1]

    def talk(seconds: int | None) -> None:
        store = Store.open(store_url)
        try:
            with store.transaction():
                store.set_field(CALLS, changed, "talk_seconds", seconds)
        finally:
            store.close()

    before = rows_of(toys("store", "export", "-t", "calls", "-o", "jsonl").out)
    talk(999)
    u = toys("undo", run["run_id"], "--yes")
    assert u.code == 1 and f"calls:{changed} *: changed since" in u.err, u.err
    assert len(rows_of(toys("store", "export", "-t", "calls", "-o", "jsonl").out)) == 9
    talk(next(c["talk_seconds"] for c in before if c["id"] == changed))
    assert toys("undo", run["run_id"], "--yes").code == 0
    assert rows_of(toys("store", "export", "-t", "calls", "-o", "jsonl").out) == []
    undo_run = json.loads(toys("journal", "list", "-o", "json").out)[0]["run_id"]
    again = toys("undo", undo_run, "--yes")
    assert again.code == 1 and "import the file again" in again.err


def test_import_from_stdin_and_dry_run(toys) -> None:
    data = (DATA / "Master.csv").read_bytes()
    r = toys("-p", PHARMACY, "calls", "import", "-", "--dry-run", "-o", "jsonl", input=data)
    assert r.code == 0, r.err
    (row,) = rows_of(r.out)
    assert row["created"] == 6 and row["run"] == "dry run"
    assert "nothing was imported" in r.err
    r = toys("-p", PHARMACY, "calls", "import", "-", "-o", "jsonl", input=data)
    assert rows_of(r.out)[0]["created"] == 6


def test_import_bad_format_flag(toys) -> None:
    r = toys("calls", "import", str(DATA / "sipuni.csv"), "--format", "xml")
    assert r.code == 2 and "valid: auto, sipuni, asterisk, twilio-json" in r.err


def missed_rows(cli, *args: str, profile: str = TOYS) -> dict[str, dict[str, Any]]:
    r = cli("-p", profile, "calls", "missed", *args, "-o", "jsonl")
    assert r.code == 0, r.err
    return {x["number"]: x for x in rows_of(r.out)}


def test_missed_callback_list(toys) -> None:
    toys("-p", TOYS, "calls", "import", str(DATA / "sipuni.csv"))
    rows = missed_rows(toys, "--since", "2026-01-12", "--all")
    # Мария: two misses in two spellings, reached by a callback from Смирнова Анна
    maria = rows["+79161234567"]
    assert (maria["misses"], maria["open"], maria["status"]) == (2, 0, "handled")
    assert maria["talked"] == "Смирнова Анна" and maria["contact_at"] == "2026-01-12 11:00"
    assert maria["customer"] == "Иванова Мария" and maria["orders"] == "1042 (Перед сборкой)"
    # a miss at 23:58, answered when they called again at 00:05 the next day
    night = rows["+79035550011"]
    assert night["status"] == "handled" and night["talked"] == "Попова Ольга"
    # Пётр: open; the delivered order is not why he calls, the no-answer one is
    petr = rows["+79260001122"]
    assert (petr["misses"], petr["open"], petr["status"]) == (1, 1, "open")
    assert petr["orders"] == "1044 (Недозвон)" and petr["line"] == "8-800 Партнёры"
    # the internal line ОРТ is never on the list
    assert "+74951000102" not in rows
    # default: only the callers still to call back
    assert list(missed_rows(toys, "--since", "2026-01-12")) == ["+79260001122"]
    # a line excluded by hand
    assert missed_rows(toys, "--since", "2026-01-12", "--exclude-line", "8-800 Партнёры") == {}


def test_callback_takes_the_caller_off_the_list(toys) -> None:
    toys("-p", TOYS, "calls", "import", str(DATA / "sipuni.csv"))
    r = toys("-p", TOYS, "calls", "callback", "8 926 000-11-22", "--outcome", "no-answer",
             "--note", "не берёт")  # fmt: skip
    assert r.code == 0, r.err
    petr = missed_rows(toys, "--since", "2026-01-12")["+79260001122"]
    assert petr["attempts"] == 1 and petr["last_attempt"].endswith("no-answer")
    # by order id: the order's phone
    r = toys("-p", TOYS, "calls", "callback", "1044", "--outcome", "reached", "--note", "ок")
    assert r.code == 0, r.err
    assert missed_rows(toys, "--since", "2026-01-12") == {}
    row = missed_rows(toys, "--since", "2026-01-12", "--all")["+79260001122"]
    assert row["status"] == "handled" and row["talked"] == "tester"
    bad = toys("-p", TOYS, "calls", "callback", "1044", "--outcome", "maybe")
    assert bad.code == 2 and "valid: reached, no-answer" in bad.err
    bad = toys("-p", TOYS, "calls", "callback", "12", "--outcome", "reached")
    assert bad.code == 2 and "neither a phone number" in bad.err
    # undo of the reaching callback puts Пётр back on the list
    last = json.loads(toys("journal", "list", "-o", "json").out)[0]
    assert toys("undo", last["run_id"], "--yes").code == 0
    assert list(missed_rows(toys, "--since", "2026-01-12")) == ["+79260001122"]


def test_mark_handled_is_journaled_and_idempotent(toys) -> None:
    toys("-p", TOYS, "calls", "import", str(DATA / "sipuni.csv"))
    r = toys("-p", TOYS, "calls", "missed", "--since", "2026-01-12", "--mark-handled", "--yes",
             "-o", "jsonl")  # fmt: skip
    assert r.code == 0, r.err
    marks = [x for x in rows_of(r.out)]
    assert len(marks) == 2 and all(m["outcome"] == "applied" for m in marks)
    attempts = rows_of(toys("store", "export", "--type", "call_attempts", "-o", "jsonl").out)
    notes = sorted(a["note"] for a in attempts)
    assert notes == ["Связались (Попова Ольга)", "Связались (Смирнова Анна)"]
    again = toys("-p", TOYS, "calls", "missed", "--since", "2026-01-12", "--mark-handled",
                 "--yes", "-o", "jsonl")  # fmt: skip
    assert [m["outcome"] for m in rows_of(again.out)] == ["skipped", "skipped"]


def test_asterisk_and_twilio_misses_from_legs(toys) -> None:
    toys("-p", PHARMACY, "calls", "import", str(DATA / "Master.csv"))
    rows = missed_rows(toys, "--since", "2026-03-28", "--until", "2026-03-30", "--all",
                       profile=PHARMACY)  # fmt: skip
    assert "+380501112233" not in rows  # one leg answered: not a miss
    assert rows["+380671234567"]["status"] == "handled"
    assert rows["+380671234567"]["talked"] == "Кравченко Андрій"
    assert (rows["+380637654321"]["misses"], rows["+380637654321"]["open"]) == (2, 2)
    assert rows["+380637654321"]["line"] == "Основна лінія"

    us = Path("us.toml")
    us.write_text('[profile]\nname = "us"\ntimezone = "UTC"\ncountry = "US"\n', "utf-8")
    r = toys("-p", str(us), "calls", "import", str(DATA / "twilio.json"), "-o", "jsonl")
    assert r.code == 3 and "call CA0007: field start_time" in r.err
    rows = missed_rows(toys, "--since", "2026-01-12", "--until", "2026-01-13", "--all",
                       profile=str(us))  # fmt: skip
    assert set(rows) == {"+14155550100", "+14155550123"}
    assert rows["+14155550100"]["status"] == "open"  # the agent leg went unanswered
    assert rows["+14155550123"]["status"] == "handled"  # called back from (415) 555-0123


def test_billing_check(toys) -> None:
    toys("-p", TOYS, "calls", "import", str(DATA / "sipuni.csv"))
    r = toys("-p", TOYS, "calls", "billing-check", "--date", "2026-01-13", "-o", "json")
    assert r.code == 1, r.err  # deviations found
    doc = json.loads(r.out)
    devs = {d["line"]: d for d in doc["deviations"]}
    assert devs["Игромир Москва"]["kind"] == "round charge"
    assert (devs["Игромир Москва"]["charged"], devs["Игромир Москва"]["expected"]) == (3.6, 3.75)
    assert devs["8-800 Партнёры"]["kind"] == "undercharge"
    assert devs["8-800 Партнёры"]["expected"] == 9.0
    assert len(devs) == 2
    hot = {s["line"]: s for s in doc["summary"]}["8-800 Игромир"]
    assert (hot["calls"], hot["charged"], hot["deviations"]) == (1, 18.0, 0)
    assert "2 deviation(s)" in r.err
    # a day without deviations
    ok = toys("-p", TOYS, "calls", "billing-check", "--date", "2026-01-12", "-o", "json")
    assert ok.code == 0, ok.err and json.loads(ok.out)["deviations"] == []


def test_billing_check_with_a_tariff_file(toys, tmp_path: Path) -> None:
    toys("-p", TOYS, "calls", "import", str(DATA / "sipuni.csv"))
    t = tmp_path / "tariffs.csv"
    t.write_text("line,billing,rate_per_minute,number\nИгромир Москва,per_second,1.728,"
                 "74951000000\n8-800 Партнёры,per_minute,2.25,78002000000\n", "utf-8")  # fmt: skip
    r = toys("-p", TOYS, "calls", "billing-check", "--date", "2026-01-13", "--tariffs", str(t),
             "-o", "json")  # fmt: skip
    assert r.code == 0, r.out
    bad = tmp_path / "bad.csv"
    bad.write_text("line,billing,rate_per_minute\nX,hourly,1\n", "utf-8")
    r = toys("-p", TOYS, "calls", "billing-check", "--tariffs", str(bad))
    assert r.code == 2 and "bad.csv:2: billing 'hourly'" in r.err


def test_the_e164_shortcut_agrees_with_the_full_parser() -> None:
    """Numbers PBX logs write as digits starting with the country code take a shortcut;
    it must give what phonenumbers gives, for valid and invalid numbers alike."""
    import random

    import phonenumbers

    from deskops.adapters.phones import e164

    def full(text: str, region: str) -> str | None:
        try:
            n = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_possible_number(n):
            return None
        return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)

    rng = random.Random(5)
    for region, cc in (("RU", "7"), ("UA", "380"), ("JP", "81"), ("CN", "86"), ("US", "1")):
        for _ in range(1500):
            n = cc + "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 13)))
            for text in (n, "+" + n):
                assert e164(text, region) == full(text, region), (region, text)


def test_billing_follows_the_direction_a_line_pays_for(cli, monkeypatch, tmp_path: Path) -> None:
    """City lines pay for the calls they make, hotlines (8-800) for the calls they get."""
    monkeypatch.setenv("OPS_NOW", NOW)
    log = tmp_path / "day.csv"
    log.write_text(
        "Тип;Статус;Время;Схема;Откуда;Куда;Кто ответил;Длительность звонка;"
        "Длительность разговора;Стоимость\n"
        "Входящий;Отвечен;13.01.2026 12:00:00;Игромир Москва;79161234567;74951000000;201;100;90;0\n"
        "Входящий;Отвечен;13.01.2026 12:10:00;Игромир СПб;79161234567;78121000000;201;100;90;2,70\n"
        "Входящий;Отвечен;13.01.2026 12:20:00;8-800 Игромир;79161234567;78001000000;201;100;90;9\n",
        "utf-8",
    )
    assert cli("-p", TOYS, "calls", "import", str(log)).code == 0
    r = cli("-p", TOYS, "calls", "billing-check", "--date", "2026-01-13", "-o", "json")
    (dev,) = json.loads(r.out)["deviations"]
    assert dev["line"] == "Игромир СПб" and dev["expected"] == 0
    assert dev["kind"] == "charged, but Игромир СПб does not pay for inbound calls"


def test_the_summed_billing_agrees_with_the_call_by_call_check(store_url: str) -> None:
    """A month's summary is summed in SQL for calls on named lines; it must give what
    checking each call does: random talk times and charges, exact half cents (3 s at
    2.50/min is 0.125), a line without a tariff, calls on a number instead of a name."""
    import random
    from datetime import date

    from deskops.adapters.schema import CALLS
    from deskops.adapters.store import Store
    from deskops.commands.calls import CallsConfig, Line, billing_check

    tz = zone("Europe/Moscow")
    cfg = CallsConfig(tz=tz, region="RU")
    cfg.lines = [
        Line("Москва", "74951000000", billing="per_second", rate_per_minute=2.5),
        Line(
            "8-800",
            "78001000000",
            billing="per_minute",
            rate_per_minute=1.8,
            bills=("inbound", "outbound"),
        ),  # fmt: skip
        Line("Склад", "74952000000"),  # no tariff
    ]
    rng = random.Random(7)
    rows = []
    for i in range(3000):
        line = rng.choice(["Москва", "8-800", "Склад", "74951000000", None, "O'Hara"])
        direction = rng.choice(["inbound", "outbound"])
        status = rng.choice(["answered", "answered", "missed"])
        talk = rng.choice([0, 3, 59, 60, 61, 119, 3600, rng.randrange(1, 900)])
        rate = 2.5 if rng.random() < 0.5 else 1.8
        cost = rng.choice([round(talk * rate / 60, 3), -(-talk // 60) * rate, 0.125, 0.0,
                           round(rng.uniform(0, 20), 2)])  # fmt: skip
        ours = "74959990000" if line == "O'Hara" else "74951000000"  # a number of no line
        rows.append({
            "id": f"c{i}", "source": "sipuni", "line": line, "direction": direction,
            "status": status, "started_at": f"2026-12-{1 + i % 28:02d}T09:00:00Z",
            "caller": ours if direction == "outbound" else "79161234567",
            "callee": ours if direction == "inbound" else "79161234567",
            "duration": talk + 5, "talk_seconds": talk if rng.random() < 0.9 else None,
            "cost": cost if rng.random() < 0.95 else None,
        })  # fmt: skip
    store = Store.open(store_url)
    try:
        store.insert_many(CALLS, rows)
        summed = billing_check(store, cfg, date(2026, 12, 1), days=31, details=False).summary
        each = billing_check(store, cfg, date(2026, 12, 1), days=31, details=True)
    finally:
        store.close()
    assert {s["line"] for s in summed} == {"Москва", "8-800", "Склад", "O'Hara"}
    assert [s["line"] for s in summed] == [s["line"] for s in each.summary]
    assert summed == each.summary
    assert sum(s["deviations"] for s in each.summary) == len(each.deviations) > 0
