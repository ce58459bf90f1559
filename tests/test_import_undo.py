"""store import → journal → undo, through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deskops.adapters.schema import ENTITIES
from deskops.adapters.store import Store

CUSTOMERS_RU = (
    "id;name;phone;email;notes\n"
    "c1;Иванов Иван Петрович;+7 916 123-45-67;ivan@example.ru;Постоянный клиент\n"
    "c2;Смирнова Ольга;8 (903) 555-12-12;olga@example.ru;\n"
    "c3;;+7 900 000-00-00;;нет имени\n"
    "c4;Кузнецов Пётр;+7 911 222-33-44;petr@example.ru;просил перезвонить после 18:00\n"
    'c5;Петров;"незакрытая кавычка\n'
)


def dump(url: str) -> dict[str, list]:
    """Every domain record with children, for exact before/after comparisons."""
    with Store.open(url) as store:
        return {name: list(store.iter_records(ent)) for name, ent in ENTITIES.items()}


@pytest.fixture
def cp1251_csv(isolated: Path) -> Path:
    path = isolated / "customers.csv"
    path.write_bytes(CUSTOMERS_RU.encode("cp1251"))
    return path


def test_partly_bad_cp1251_csv_imports_good_rows_and_exits_3(cli, cp1251_csv, store_url) -> None:
    r = cli(
        "--store", store_url, "store", "import", str(cp1251_csv), "--type", "customers", "--yes"
    )
    assert r.code == 3, r.err
    assert "customers.csv:4: field name: required" in r.err
    assert "customers.csv:6: malformed CSV" in r.err
    assert "3 applied" in r.err and "2 rejected" in r.err
    data = dump(store_url)
    assert [c["id"] for c in data["customers"]] == ["c1", "c2", "c4"]
    c1 = data["customers"][0]
    assert c1["name"] == "Иванов Иван Петрович"
    assert c1["phones"] == ["+7 916 123-45-67"] and c1["emails"] == ["ivan@example.ru"]


def test_import_then_undo_restores_store_exactly(cli, cp1251_csv, store_url, isolated) -> None:
    seed = isolated / "seed.jsonl"
    seed.write_text(
        json.dumps(
            {
                "id": "c2",
                "name": "Смирнова О.",
                "phones": ["8 903 5551212"],
                "notes": "старая запись",
            },
            ensure_ascii=False,
        )
        + "\n"
    )
    assert cli("--store", store_url, "store", "import", str(seed), "-t", "customers").code == 0
    before = dump(store_url)

    r = cli("--store", store_url, "store", "import", str(cp1251_csv), "-t", "customers", "--yes")
    assert r.code == 3
    after_import = dump(store_url)
    assert after_import != before
    c2 = next(c for c in after_import["customers"] if c["id"] == "c2")
    assert c2["name"] == "Смирнова Ольга" and c2["notes"] == "старая запись"  # empty cell kept
    assert c2["phones"] == ["8 903 5551212", "8 (903) 555-12-12"]

    runs = json.loads(cli("--store", store_url, "journal", "list", "-o", "json").out)
    assert runs[0]["status"] == "partial" and runs[0]["actor"] == "tester"
    run_id = runs[0]["run_id"]
    shown = json.loads(cli("--store", store_url, "journal", "show", run_id, "-o", "json").out)
    assert {e["op"] for e in shown} == {"create", "set", "add"}
    name_change = next(e for e in shown if e["target"] == "customers:c2" and e["field"] == "name")
    assert name_change["before"] == "Смирнова О." and name_change["after"] == "Смирнова Ольга"

    r = cli("--store", store_url, "undo", run_id, "--yes")
    # every change is undone except the registrations the import created: ops never
    # deletes a customer registration, so c1 and c4 stay and the undo says so (exit 3)
    assert r.code == 3, r.err
    assert "customers:c4: kept — customers records are never deleted by ops" in r.err
    restored = dump(store_url)
    assert [c["id"] for c in restored["customers"]] == ["c1", "c2", "c4"]
    restored["customers"] = [c for c in restored["customers"] if c["id"] not in ("c1", "c4")]
    assert restored == before

    runs = json.loads(cli("--store", store_url, "journal", "list", "-o", "json").out)
    assert runs[0]["undo_of"] == run_id and runs[1]["undone_by"] == runs[0]["run_id"]
    r = cli("--store", store_url, "undo", run_id, "--yes")
    assert r.code == 2 and "already undone" in r.err


def test_undo_refuses_what_changed_since(cli, isolated, store_url) -> None:
    f = isolated / "o.jsonl"
    f.write_text(
        json.dumps(
            {"id": "1001", "status": "Новый", "created_at": "2026-01-13 10:00"}, ensure_ascii=False
        )
        + "\n"
    )
    assert cli("--store", store_url, "store", "import", str(f), "-t", "orders").code == 0
    f.write_text(json.dumps({"id": "1001", "status": "Перед сборкой"}, ensure_ascii=False) + "\n")
    assert cli("--store", store_url, "store", "import", str(f), "-t", "orders").code == 0
    runs = json.loads(cli("--store", store_url, "journal", "list", "-o", "json").out)
    first = runs[1]["run_id"]
    r = cli("--store", store_url, "undo", first, "--yes")
    assert r.code == 1
    assert "nothing was changed" in r.err and "orders:1001" in r.err
    assert dump(store_url)["orders"][0]["status"] == "Перед сборкой"
    # undoing the newer run first, then the older one, works
    assert cli("--store", store_url, "undo", runs[0]["run_id"], "--yes").code == 0
    assert cli("--store", store_url, "undo", first, "--yes").code == 0
    assert dump(store_url)["orders"] == []


def test_reimport_is_a_no_op_and_dry_run_changes_nothing(cli, isolated) -> None:
    f = isolated / "c.json"
    f.write_text(
        json.dumps(
            [
                {"id": "a", "name": "山田太郎", "phones": ["090-1234-5678"]},
                {"id": "b", "name": "佐藤花子"},
            ],
            ensure_ascii=False,
        )
    )
    r = cli("store", "import", str(f), "-t", "customers", "--dry-run", "-o", "json")
    assert r.code == 0 and "nothing was changed" in r.err
    plan = json.loads(r.out)
    assert [p["op"] for p in plan] == ["create", "create"]
    assert [p["outcome"] for p in plan] == ["planned", "planned"]
    assert json.loads(cli("store", "export", "-t", "customers", "-o", "json").out) == []
    assert json.loads(cli("journal", "list", "-o", "json").out) == []

    r = cli("store", "import", str(f), "-t", "customers")
    assert r.code == 2 and "--yes" in r.err  # bulk, no terminal
    assert cli("store", "import", str(f), "-t", "customers", "--yes").code == 0
    r = cli("store", "import", str(f), "-t", "customers", "--yes")
    assert r.code == 0 and "nothing to do (2 already up to date)" in r.err
    assert len(json.loads(cli("journal", "list", "-o", "json").out)) == 1


@pytest.mark.parametrize(
    "encoding,text",
    [
        ("koi8-r", "Иванов Иван;Постоянный клиент, звонить после обеда"),
        ("cp1251", "Смирнова Ольга;Возврат по браку, ждёт звонка"),
        ("utf-8-sig", "Кузнецов Пётр;обмен размера"),
        ("shift_jis", "山田太郎;新宿店の常連様。メールは携帯へ"),
        ("cp932", "佐藤花子;予約変更の連絡あり①"),
        ("euc-jp", "鈴木一郎;カタログDMを見て電話"),
        ("gb18030", "张伟;会员，喜欢周末预约"),
        ("utf-16", "王芳;上次投诉等待时间过长"),
        ("utf-8", "Шевченко Тарас;оплата переказом, чекає реквізити"),
    ],
)
def test_encodings_are_detected(cli, isolated, encoding, text) -> None:
    name, notes = text.split(";")
    f = isolated / "c.csv"
    f.write_bytes(f"id;name;notes\nx1;{name};{notes}\nx2;{name}2;{notes}\n".encode(encoding))
    r = cli("store", "import", str(f), "-t", "customers", "--yes")
    assert r.code == 0, r.err
    got = json.loads(cli("store", "export", "-t", "customers", "-o", "json").out)
    assert got[0]["name"] == name and got[0]["notes"] == notes


def test_bad_files_fail_cleanly(cli, isolated) -> None:
    binary = isolated / "x.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    r = cli("store", "import", str(binary), "-t", "customers", "--yes")
    assert r.code == 2 and "x.csv: looks like a binary file" in r.err

    unknown = isolated / "u.csv"
    unknown.write_text("id,name,shoe_size\n1,A,42\n")
    r = cli("store", "import", str(unknown), "-t", "customers", "--yes")
    assert r.code == 2 and "u.csv:1: unknown column 'shoe_size'" in r.err and "valid:" in r.err

    jl = isolated / "o.jsonl"
    jl.write_text(
        '{"id": "1", "status": "new", "created_at": "2026-01-13T10:00:00+03:00"}\n'
        '{"id": "2", "status": \n'
        '{"id": "3", "status": "new", "created_at": "yesterday-ish"}\n'
        '{"id": "4", "status": "new", "created_at": "2026-01-13", "total": "12,50"}\n'
    )
    r = cli("store", "import", str(jl), "-t", "orders", "--yes")
    assert r.code == 3
    assert "o.jsonl:2: malformed JSON" in r.err
    assert "o.jsonl:3: field created_at: 'yesterday-ish' is not a date/time" in r.err
    orders = json.loads(cli("store", "export", "-t", "orders", "-o", "json").out)
    assert [o["id"] for o in orders] == ["1", "4"] and orders[1]["total"] == 12.5
    assert orders[0]["created_at"] == "2026-01-13T07:00:00Z"

    r = cli("store", "import", "nope.csv", "-t", "customers")
    assert r.code == 2 and "nope.csv: cannot open" in r.err
    r = cli("store", "import", str(jl), "-t", "widgets")
    assert r.code == 2 and "unknown record type 'widgets'" in r.err

    arr = isolated / "a.json"
    arr.write_text('[\n  {"id": "1", "name": "A"},\n  {"id": "2"},\n  {"id": "3", "name": 5}\n]')
    r = cli("store", "import", str(arr), "-t", "customers", "--yes")
    assert r.code == 3 and "a.json:3: field name: required" in r.err


def test_import_from_stdin_and_wrong_encoding_flag(cli, isolated) -> None:
    data = "id,name\ns1,Іваненко Марія\n".encode("cp1251")
    r = cli("store", "import", "-", "-t", "customers", "-f", "csv", input=data)
    assert r.code == 0, r.err
    got = json.loads(cli("store", "export", "-t", "customers", "-o", "json").out)
    assert got[0]["name"] == "Іваненко Марія"
    r = cli(
        "store",
        "import",
        "-",
        "-t",
        "customers",
        "-f",
        "csv",
        "--encoding",
        "utf-8",
        input="id,name\ns2,Мария\n".encode("cp1251"),
    )
    assert r.code == 2 and "<stdin>:2: not valid utf-8" in r.err


def test_export_round_trips_through_import(cli, isolated, store_url) -> None:
    f = isolated / "o.jsonl"
    f.write_text(
        json.dumps(
            {
                "id": "А-1",
                "status": "Новый",
                "created_at": "2026-01-13T10:00:00+03:00",
                "items": [{"sku": "S1", "name": "Мяч", "qty": 1, "price": 300}],
                "flags": ["Склад", "Ночь"],
                "extra": {"affiliate": "msk"},
            },
            ensure_ascii=False,
        )
        + "\n"
    )
    assert cli("--store", store_url, "store", "import", str(f), "-t", "orders").code == 0
    for fmt in ("jsonl", "csv"):
        out = cli("--store", store_url, "store", "export", "-t", "orders", "-o", fmt).out
        g = isolated / f"export.{fmt}"
        g.write_text(out)
        r = cli("--store", store_url, "store", "import", str(g), "-t", "orders", "--yes")
        assert r.code == 0 and "already up to date" in r.err, (fmt, r.err, out)


def test_import_mail_dir_and_pbx_logs(cli, isolated) -> None:
    from email.message import EmailMessage

    box = isolated / "support" / "cur"
    box.mkdir(parents=True)
    for i in range(3):
        m = EmailMessage()
        m["From"] = f"c{i}@example.ru"
        m["Subject"] = f"Заказ {i}"
        m["Date"] = "Mon, 12 Jan 2026 09:00:00 +0300"
        m["Message-ID"] = f"<m{i}@example.ru>"
        m.set_content("Здравствуйте", charset="koi8-r")
        (box / f"17000{i}.M1P1.host,S=1:2,S").write_bytes(bytes(m))
    (box / "17999.M1P1.host:2,").write_bytes(b"Subject: no date\r\n\r\nx")
    r = cli("store", "import", str(isolated / "support"), "-t", "messages", "--yes")
    assert r.code == 3 and "missing or malformed Date" in r.err
    msgs = json.loads(
        cli(
            "store",
            "export",
            "-t",
            "messages",
            "--fields",
            "id,mailbox,folder,subject",
            "-o",
            "json",
        ).out
    )
    assert [m["subject"] for m in msgs] == ["Заказ 0", "Заказ 1", "Заказ 2"]
    assert msgs[0]["mailbox"] == "support" and msgs[0]["folder"] == "INBOX"

    log = isolated / "Master.csv"
    log.write_text(
        '"","0312345678","100","from-pstn","","SIP/t-1","","Dial","x",'
        '"2026-01-13 09:10:00","","2026-01-13 09:10:30",30,0,"NO ANSWER",'
        '"DOCUMENTATION","1.2",""\n'
    )
    assert cli("store", "import", str(log), "-t", "calls", "--yes").code == 0
    r = cli("store", "import", str(log), "-t", "calls", "--yes")
    assert "already up to date" in r.err
    calls = json.loads(cli("store", "export", "-t", "calls", "-o", "json").out)
    assert calls[0]["status"] == "missed" and calls[0]["source"] == "asterisk"
