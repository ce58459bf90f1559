"""ops customers (find, duplicates; no merge, no delete) and ops cases (unlinked, link,
link --auto, long --notify, tag-source) on the store (SQLite and PostgreSQL) and on a
kintone app (the contract server)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from deskops.fixtures import FIXTURES_DIR

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from contract_kintone import KintoneServer  # noqa: E402
from contract_notify import SlackServer  # noqa: E402

SUPPORT = str(FIXTURES_DIR / "profiles" / "support-ja.toml")
NOW = "2026-01-14T10:00:00+09:00"
HOOK = "T0001/B0001/Xsecretsecret"

CUSTOMERS = [
    {"id": "u1", "name": "山田 太郎", "name_kana": "ヤマダ タロウ", "company": "株式会社髙橋商事",
     "phones": ["03-1234-5678"], "emails": ["Taro.Yamada@Example.JP"]},
    # the number only in the free-text "other" field, without hyphens
    {"id": "u2", "name": "佐藤 花子", "company": "有限会社みどり", "phones": ["090-1111-2222"],
     "other": "会社代表 0312345678（内線12）"},
    {"id": "u3", "name": "鈴木 一郎", "company": "鈴木工務店", "phones": ["045-222-3333"],
     "emails": ["ichiro@suzuki.example"]},
    # the same person registered twice: same name and company, another number and address
    {"id": "u4", "name": "鈴木一郎", "company": "鈴木工務店", "phones": ["080-9999-0000"],
     "emails": ["i.suzuki@example.com"]},
    {"id": "u5", "name": "田中 次郎", "phones": ["06-5555-6666"]},
    {"id": "u6", "name": "田中 三郎", "notes": "奥様の携帯 06 5555 6666"},
]  # fmt: skip

CASES = [
    # the number leads to u1 (phones) and u2 ("other"): ambiguous
    {"id": "k1", "caller_number": "0312345678", "opened_at": "2026-01-13T09:00:00+09:00",
     "subject": "印刷がずれる", "status": "折り返し待ち"},
    # one match (u3), written with the country code
    {"id": "k2", "caller_number": "+81 45-222-3333", "opened_at": "2026-01-13T10:00:00+09:00",
     "subject": "カタログを見て電話しました", "body": "2026春号の冊子", "status": "対応中",
     "started_at": "2026-01-14T09:10:00+09:00"},
    # nobody has this number
    {"id": "k3", "caller_number": "0120-000-111", "opened_at": "2026-01-13T11:00:00+09:00",
     "subject": "メルマガを見て", "status": "対応中", "started_at": "2026-01-14T09:55:00+09:00"},
    # linked already
    {"id": "k4", "customer_id": "u5", "caller_number": "06-5555-6666",
     "opened_at": "2026-01-13T12:00:00+09:00", "subject": "DMを見た", "status": "対応中",
     "started_at": "2026-01-14T09:00:00+09:00", "tags": ["【DMをみた】"]},
    # closed: never long
    {"id": "k5", "customer_id": "u5", "opened_at": "2026-01-13T08:00:00+09:00",
     "started_at": "2026-01-13T08:00:00+09:00", "closed_at": "2026-01-13T09:00:00+09:00",
     "status": "完了", "subject": "領収書"},
]  # fmt: skip


def load(cli, tmp_path: Path, kind: str, rows: list[dict[str, Any]]) -> None:
    f = tmp_path / f"{kind}.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    r = cli("-p", SUPPORT, "store", "import", str(f), "--type", kind, "--yes")
    assert r.code == 0, r.err


@pytest.fixture
def desk(cli, monkeypatch: pytest.MonkeyPatch, store_url: str, tmp_path: Path) -> Any:
    monkeypatch.setenv("OPS_NOW", NOW)
    monkeypatch.setenv("OPS_STORE_URL", store_url)
    load(cli, tmp_path, "customers", CUSTOMERS)
    load(cli, tmp_path, "cases", CASES)

    def run(*args: str) -> Any:
        return cli("-p", SUPPORT, *args)

    return run


def rows(r: Any) -> list[dict[str, Any]]:
    return [json.loads(x) for x in r.out.splitlines() if x.strip()]


# -- customers find ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spelling",
    [
        "03-1234-5678",
        "0312345678",
        "+81 3 1234 5678",
        "０３－１２３４－５６７８",
        "(03) 1234-5678",
    ],  # fmt: skip
)
def test_find_by_phone_in_any_spelling_in_phone_and_other_fields(desk, spelling: str) -> None:
    r = desk("customers", "find", "--phone", spelling, "-o", "jsonl")
    assert r.code == 0, r.err
    found = {x["id"]: x for x in rows(r)}
    assert set(found) == {"u1", "u2"}
    assert found["u1"]["why"] == "phone +81312345678"
    assert found["u2"]["why"] == "other phone +81312345678"
    assert found["u1"]["url"] == "https://crm.labelworks.example/customers/u1"


def test_find_by_email_name_and_both(desk) -> None:
    r = desk("customers", "find", "--email", "taro.yamada@example.jp", "-o", "jsonl")
    assert [x["id"] for x in rows(r)] == ["u1"] and rows(r)[0]["why"].startswith("email")
    # half-width katakana and hiragana of the kana reading; a kanji variant of the company
    for name in ("ﾔﾏﾀﾞ", "やまだ　たろう", "高橋商事"):
        r = desk("customers", "find", "--name", name, "-o", "jsonl")
        assert [x["id"] for x in rows(r)] == ["u1"], name
    r = desk("customers", "find", "--name", "田中", "--phone", "06-5555-6666", "-o", "jsonl")
    assert {x["id"] for x in rows(r)} == {"u5", "u6"}  # u6: the number is in the notes
    none = desk("customers", "find", "--phone", "011-111-1111")
    assert none.code == 1 and "no registration found" in none.err
    bad = desk("customers", "find", "--phone", "12")
    assert bad.code == 2 and "not a phone number" in bad.err
    assert desk("customers", "find").code == 2


def test_duplicates_are_listed_with_links_and_nothing_is_merged(desk, store_url: str) -> None:
    r = desk("customers", "duplicates", "-o", "jsonl")
    assert r.code == 1, r.err  # groups found: a supervisor decides
    groups: dict[int, dict[str, Any]] = {}
    for x in rows(r):
        groups.setdefault(x["group"], {"ids": [], "shared": x["shared"]})["ids"].append(x["id"])
    assert sorted(g["ids"] for g in groups.values()) == [["u1", "u2"], ["u3", "u4"], ["u5", "u6"]]
    shared = {tuple(g["ids"]): g["shared"] for g in groups.values()}
    assert shared[("u3", "u4")] == "same name and company"
    assert shared[("u1", "u2")] == "phone +81312345678"
    # no merge, no delete
    for verb in ("merge", "delete", "remove"):
        assert desk("customers", verb, "u3", "u4").code == 2
    assert "3 group(s)" in r.err


def test_no_customer_registration_is_ever_deleted(desk, store_url: str) -> None:
    """Neither a plan nor an undo deletes a registration: the store refuses."""
    from deskops.adapters.schema import CUSTOMERS as ENTITY
    from deskops.adapters.store import Store
    from deskops.commands.plan import DELETE, Change, Plan, execute

    store = Store.open(store_url)
    try:
        plan = Plan("a delete", [Change("customers:u3", "*", DELETE, store.get(ENTITY, "u3"))])
        result = execute(plan, store)
        assert result.status == "failed"
        assert "customers records are never deleted by ops" in str(result.changes[0].error)
        assert store.get(ENTITY, "u3") is not None
    finally:
        store.close()
    # the undo of the import that created them keeps them and says so
    last = json.loads(desk("journal", "list", "-o", "json").out)
    imported = next(r["run_id"] for r in last if "customers" in r["command"])
    r = desk("undo", imported, "--yes")
    assert r.code == 3 and "customers:u1: kept" in r.err
    assert len(rows(desk("customers", "find", "--name", "鈴木", "-o", "jsonl"))) == 2


# -- cases unlinked / link -----------------------------------------------------------------------
def test_unlinked_cases_with_candidates(desk) -> None:
    r = desk("cases", "unlinked", "-o", "jsonl")
    assert r.code == 0, r.err
    got = {x["case"]: x for x in rows(r)}
    assert set(got) == {"k1", "k2", "k3"}  # k4, k5 are linked
    assert got["k1"]["candidates"] == "u1, u2" and "ambiguous" in got["k1"]["status"]
    assert got["k2"]["candidates"] == "u3" and got["k2"]["status"] == "one match"
    assert got["k3"]["candidates"] == "" and "ask the e-mail address" in got["k3"]["status"]
    assert got["k1"]["url"] == "https://labelworks.kintone.example/k/42/show#record=k1"
    assert "1 with one match" in r.err and "1 ambiguous" in r.err


def test_auto_link_links_one_match_only_and_undo_takes_it_back(desk) -> None:
    dry = desk("cases", "link", "--auto", "--dry-run", "-o", "jsonl")
    assert dry.code == 0, dry.err
    assert [(x["target"], x["after"]) for x in rows(dry)] == [("cases:k2", "u3")]
    assert "not linked: case k1" in dry.err and "u1, u2" in dry.err
    r = desk("cases", "link", "--auto", "--yes")
    assert r.code == 0, r.err
    left = {x["case"] for x in rows(desk("cases", "unlinked", "-o", "jsonl"))}
    assert left == {"k1", "k3"}
    again = desk("cases", "link", "--auto", "--yes")
    assert "nothing to do" in again.err
    assert desk("undo", "last", "--yes").code == 0  # a run with nothing to do is not journaled
    assert {x["case"] for x in rows(desk("cases", "unlinked", "-o", "jsonl"))} == {"k1", "k2", "k3"}


def test_link_by_hand(desk) -> None:
    r = desk("cases", "link", "k1", "u2", "--yes")
    assert r.code == 0, r.err
    assert "k1" not in {x["case"] for x in rows(desk("cases", "unlinked", "-o", "jsonl"))}
    again = desk("cases", "link", "k1", "u2", "--yes")
    assert again.code == 0 and "already up to date" in again.err
    other = desk("cases", "link", "k1", "u1", "--yes")
    assert other.code == 2 and "linked to customer u2 already" in other.err
    assert desk("cases", "link", "k9", "u1").code == 2
    bad = desk("cases", "link", "k3", "nobody")
    assert bad.code == 2 and "no customer registration 'nobody'" in bad.err
    assert desk("cases", "link", "k3").code == 2
    assert desk("cases", "link", "k3", "u1", "--auto").code == 2


# -- long cases ----------------------------------------------------------------------------------
def test_long_cases_post_once_each(desk) -> None:
    r = desk("cases", "long", "-o", "jsonl")  # [long_cases] 20 min, status 対応中 only
    assert [(x["case"], x["minutes"]) for x in rows(r)] == [("k4", 60.0), ("k2", 50.0)]
    assert [x["case"] for x in rows(desk("cases", "long", "--over", "55m", "-o", "jsonl"))] == [
        "k4"
    ]
    assert desk("cases", "long", "--over", "soon").code == 2
    with SlackServer(hook=HOOK) as slack:
        url = f"slack+{slack.url}/services/{HOOK}"
        slack.fail_next(1, status=429, retry_after=0)
        first = desk("cases", "long", "--notify", url)
        assert first.code == 0, first.err
        texts = [m["text"] for m in slack.messages]
        assert len(texts) == 2 and slack.sent[429] == 1
        assert texts[0].endswith(
            "対応が20分を超えています：https://labelworks.kintone.example/k/42/show#record=k4"
            "（- / -）"
        )
        second = desk("cases", "long", "--notify", url)
        assert second.code == 0 and len(slack.messages) == 2  # not posted twice


# -- source tags ---------------------------------------------------------------------------------
def test_source_tags_first_rule_wins_and_tagged_cases_are_left(desk) -> None:
    r = desk("cases", "tag-source", "--yes", "-o", "jsonl")
    assert r.code == 0, r.err
    got = {x["target"]: x["after"] for x in rows(r)}
    # k2 mentions カタログ (and 冊子): the catalogue tag, not 【DMをみた】; k4 has a tag already
    assert got == {"cases:k2": ["【カタログDM】"], "cases:k3": ["【DMをみた】"]}
    assert "nothing to do" in desk("cases", "tag-source", "--yes").err


# -- on kintone ----------------------------------------------------------------------------------
CASE_FIELDS = {
    "顧客ID": "SINGLE_LINE_TEXT", "電話番号": "SINGLE_LINE_TEXT", "件名": "SINGLE_LINE_TEXT",
    "受付日時": "DATETIME", "対応状況": "DROP_DOWN",
}  # fmt: skip


def test_cases_in_a_kintone_app(desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """The profile's [kintone.cases.fields] map the app; the customers stay in the store."""
    with KintoneServer(token="tok") as kt:
        kt.add_app(42, CASE_FIELDS, [
            {"$id": "1", "電話番号": "03-1234-5678", "件名": "a", "対応状況": "対応中",
             "受付日時": "2026-01-13T00:00:00Z"},
            {"$id": "2", "電話番号": "045(222)3333", "件名": "b", "対応状況": "対応中",
             "受付日時": "2026-01-13T01:00:00Z"},
            {"$id": "3", "電話番号": "045-222-3333", "顧客ID": "u9", "件名": "c",
             "対応状況": "完了", "受付日時": "2026-01-13T02:00:00Z"},
        ])  # fmt: skip
        monkeypatch.setenv("OPS_KINTONE_TOKEN", "tok")
        url = f"kintone+{kt.url}/k/42"
        r = desk("cases", "unlinked", "--cases", url, "-o", "jsonl")
        assert r.code == 0, r.err
        got = {x["case"]: x for x in rows(r)}
        assert got["1"]["candidates"] == "u1, u2" and got["2"]["candidates"] == "u3"
        assert got["2"]["url"] == "https://labelworks.kintone.example/k/42/show#record=2"
        r = desk("cases", "link", "--auto", "--cases", url, "--yes")
        assert r.code == 0, r.err
        assert kt.puts == [["2"]]  # one bulk update, guarded by the revision read
        assert kt.apps[42].records[2]["顧客ID"]["value"] == "u3"
        assert kt.apps[42].records[2]["$revision"]["value"] == "2"
        assert desk("undo", "last", "--yes").code == 0
        assert kt.apps[42].records[2]["顧客ID"]["value"] == ""


def test_customers_in_a_kintone_app(desk, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Registrations kept in kintone: found by a number written in the free-text field,
    duplicates listed with the app's links; nothing is written to the app."""
    profile = tmp_path / "desk.toml"
    profile.write_text(
        f'[profile]\nextends = "{SUPPORT}"\n\n[kintone.customers]\n'
        'record_url = "https://labelworks.kintone.example/k/7/show#record={id}"\n'
        '[kintone.customers.fields]\nname = "氏名"\ncompany = "会社名"\nphones = "電話番号"\n'
        'emails = "メール"\nother = "その他"\n',
        "utf-8",
    )
    fields = {"氏名": "SINGLE_LINE_TEXT", "会社名": "SINGLE_LINE_TEXT",
              "電話番号": "MULTI_LINE_TEXT", "メール": "SINGLE_LINE_TEXT",
              "その他": "MULTI_LINE_TEXT"}  # fmt: skip
    with KintoneServer(token="tok") as kt:
        kt.add_app(7, fields, [
            {"$id": "1", "氏名": "山田 太郎", "電話番号": "03-1234-5678\n090-0000-1111",
             "メール": "taro@example.jp"},
            {"$id": "2", "氏名": "山田太郎", "電話番号": "", "その他": "旧番号 03(1234)5678"},
            {"$id": "3", "氏名": "別人", "電話番号": "06-1111-2222"},
        ])  # fmt: skip
        monkeypatch.setenv("OPS_KINTONE_TOKEN", "tok")
        monkeypatch.setenv("OPS_CUSTOMERS_URL", f"kintone+{kt.url}/k/7")
        r = desk("-p", str(profile), "customers", "find", "--phone", "+81 3-1234-5678",
                 "-o", "jsonl")  # fmt: skip
        assert r.code == 0, r.err
        got = {x["id"]: x["why"] for x in rows(r)}
        assert got == {"1": "phone +81312345678", "2": "other phone +81312345678"}
        r = desk("-p", str(profile), "customers", "duplicates", "-o", "jsonl")
        assert r.code == 1
        assert [(x["id"], x["url"]) for x in rows(r)] == [
            ("1", "https://labelworks.kintone.example/k/7/show#record=1"),
            ("2", "https://labelworks.kintone.example/k/7/show#record=2"),
        ]
        assert kt.puts == [] and kt.posts == []
