"""The kintone adapter against the local contract server (tools/contract_kintone.py), over
HTTP: paging past the 10,000 offset limit (seek and cursor), cursors always freed, the
field mapping both ways, bulk updates in chunks of 100 with revision conflicts, creates,
the delete refusal, retries, errors and query escaping."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deskops.adapters.errors import AuthError, BackendUnreachable, OpsError, UsageError
from deskops.adapters.kintone import (
    KintoneCases,
    KintoneCustomers,
    KintoneRecords,
    condition,
    has_clause,
    literal,
)
from deskops.adapters.registry import resolve
from deskops.adapters.store import Store
from deskops.commands.plan import ADD, CREATE, DELETE, REMOVE, SET, Change, Plan, execute

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from contract_kintone import CASE_PROPERTIES, KintoneServer, make_cases  # noqa: E402

TOKEN = "kintone-test-token"
CASES_APP, CUSTOMERS_APP = 42, 7
CUSTOMER_PROPERTIES = {
    "氏名": "SINGLE_LINE_TEXT",
    "会社名": "SINGLE_LINE_TEXT",
    "電話番号": "MULTI_LINE_TEXT",
    "メールアドレス": "SINGLE_LINE_TEXT",
    "携帯メール": "SINGLE_LINE_TEXT",
    "更新日時": "UPDATED_TIME",
    "備考": "MULTI_LINE_TEXT",
    "作成者": "CREATOR",
}
PROFILE: dict[str, Any] = {
    "profile": {"timezone": "Asia/Tokyo"},
    "kintone": {
        "record_url": "https://labelworks.kintone.example/k/42/show#record={id}",
        "cases": {
            "key_field": "ops_key",
            "fields": {
                "subject": "件名",
                "caller_number": "電話番号",
                "customer_id": "顧客ID",
                "status": "対応状況",
                "opened_at": "受付日時",
                "agent": "担当者",
                "tags": "タグ",
            },
        },
        "customers": {
            "fields": {
                "name": "氏名",
                "company": "会社名",
                "phones": "電話番号",
                "emails": ["メールアドレス", "携帯メール"],
                "updated_at": "更新日時",
            }
        },
    },
}


def customers() -> list[dict[str, Any]]:
    return [
        {
            "氏名": "山崎 麻衣",
            "電話番号": "07049994264\n06-6363-8992, 0663638992",
            "メールアドレス": "yamazakim42@example.ne.jp",
            "携帯メール": "maiy@docomo.example",
            "更新日時": "2025-03-22T07:12:00Z",
            "備考": "請求書は郵送希望",
            "作成者": {"code": "sato", "name": "佐藤"},
        },
        {"氏名": "斎藤 幸子", "会社名": "株式会社さくら製菓", "電話番号": "022(445)6150"},
    ]


@pytest.fixture
def srv() -> Iterator[KintoneServer]:
    with KintoneServer(token=TOKEN) as server:
        server.add_app(CASES_APP, CASE_PROPERTIES, make_cases(300), unique=["ops_key"])
        server.add_app(CUSTOMERS_APP, CUSTOMER_PROPERTIES, customers())
        yield server


def app_url(srv: KintoneServer, app: int = CASES_APP, query: str = "rps=1000") -> str:
    return f"kintone+{srv.url}/k/{app}?{query}"


def fast(backend: KintoneRecords) -> KintoneRecords:
    backend.attempts, backend.backoff, backend.max_wait, backend.timeout = 3, 0.0, 0.0, 5.0
    backend.sleep = lambda s: None
    return backend


def cases(srv: KintoneServer, token: str | None = TOKEN, **kw: Any) -> KintoneRecords:
    return fast(KintoneCases(app_url(srv), secret=token, profile=PROFILE, **kw))


def custs(srv: KintoneServer) -> KintoneRecords:
    return fast(KintoneCustomers(app_url(srv, CUSTOMERS_APP), secret=TOKEN, profile=PROFILE))


def calls(srv: KintoneServer, method: str, path: str) -> list[Any]:
    return [c for c in srv.calls if c.method == method and c.path == path]


@pytest.fixture(scope="module")
def big_app() -> Iterator[KintoneServer]:
    with KintoneServer(token=TOKEN) as server:
        server.add_app(CASES_APP, CASE_PROPERTIES, make_cases(25_000))
        yield server


@pytest.fixture
def big(big_app: KintoneServer) -> KintoneServer:
    """25,000 cases: more than the 10,000 a listing may skip with an offset (read only, so
    the tests share them; the counters start afresh for each)."""
    big_app.reset()
    return big_app


# -- reading past the offset limit ---------------------------------------------------------
def test_seek_reads_25000_records_by_id_never_by_offset(big: KintoneServer) -> None:
    backend = cases(big)
    ids = [int(r["id"]) for r in backend.records(fields=["subject"])]
    assert ids == list(range(1, 25_001))  # every record once, in id order
    assert backend.total == 25_000
    queries = [c.query["query"][0] for c in calls(big, "GET", "/k/v1/records.json")]
    assert len(queries) == 51  # 50 full pages, then an empty one
    assert queries[0] == "order by $id asc limit 500"
    assert queries[1] == "$id > 500 order by $id asc limit 500"
    assert queries[-1] == "$id > 25000 order by $id asc limit 500"
    assert not any("offset" in q for q in queries)
    assert big.cursors_created == 0


def test_seek_keeps_the_users_condition_around_the_id(big: KintoneServer) -> None:
    backend = cases(big)
    found = list(backend.records('対応状況 = "完了" or 対応状況 = "未対応"', fields=["status"]))
    assert len(found) == sum(1 for n in range(1, 25_001) if n % 3 != 1) and {
        r["status"] for r in found
    } == {"完了", "未対応"}
    queries = [c.query["query"][0] for c in calls(big, "GET", "/k/v1/records.json")]
    assert queries[1].startswith('(対応状況 = "完了" or 対応状況 = "未対応") and $id > ')


def test_the_server_refuses_an_offset_past_10000_as_kintone_does(big: KintoneServer) -> None:
    backend = cases(big)
    params = [("app", "42"), ("query", "order by $id asc limit 500 offset 10500")]
    with pytest.raises(OpsError, match=r"HTTP 400 CB_VA01: .*offset") as err:
        backend.call("GET", "records.json", params=params)
    assert "\n" not in str(err.value)
    with pytest.raises(OpsError, match="limit"):
        backend.call("GET", "records.json", params=[("app", "42"), ("query", "limit 501")])


def test_cursor_reads_25000_records_and_kintone_drops_it_at_the_end(big: KintoneServer) -> None:
    backend = cases(big)
    ids = [int(r["id"]) for r in backend.records("order by $id asc", fields=["subject"])]
    assert ids == list(range(1, 25_001))
    assert backend.total == 25_000
    created = calls(big, "POST", "/k/v1/records/cursor.json")
    assert len(created) == 1 and len(calls(big, "GET", "/k/v1/records/cursor.json")) == 50
    assert big.cursors_created == big.cursors_exhausted == 1 and big.open_cursors == 0
    assert calls(big, "GET", "/k/v1/records.json") == []  # no offset paging anywhere


def test_a_query_with_its_own_order_goes_through_a_cursor(big: KintoneServer) -> None:
    backend = cases(big)
    newest = list(itertools.islice(backend.records("order by $id desc"), 3))
    assert [r["id"] for r in newest] == ["25000", "24999", "24998"]
    assert big.open_cursors == 0 and big.cursors_deleted == 1  # stopped early: deleted
    with pytest.raises(UsageError, match="order by is read through a cursor"):
        backend.records("order by $id desc", mode="seek")
    with pytest.raises(UsageError, match="own limit"):
        backend.records("limit 10")
    assert not has_clause('件名 = "order by limit"', "order by")  # inside a string: not a clause


def test_a_cursor_is_deleted_when_the_consumer_stops_early(big: KintoneServer) -> None:
    backend = cases(big)
    reading = backend.records(mode="cursor")
    first = list(itertools.islice(reading, 1_200))
    assert [int(r["id"]) for r in first] == list(range(1, 1_201))
    assert big.open_cursors == 1
    reading.close()
    assert big.open_cursors == 0 and big.cursors_deleted == 1
    deleted = calls(big, "DELETE", "/k/v1/records/cursor.json")
    assert len(deleted) == 1 and deleted[0].query["id"]


@pytest.mark.parametrize("fault", ["malformed", "server error"])
def test_a_cursor_is_deleted_when_reading_fails_midway(big: KintoneServer, fault: str) -> None:
    backend = cases(big)
    reading = backend.records(mode="cursor")
    assert len(list(itertools.islice(reading, 1_000))) == 1_000  # two pages of 500
    if fault == "malformed":
        big.malformed_next(1)
    else:
        big.fail_next(1, status=500)
    with pytest.raises(OpsError) as err:
        list(reading)
    message = str(err.value)
    assert "\n" not in message and "GET /k/v1/records/cursor.json" in message
    assert ("not JSON" if fault == "malformed" else "HTTP 500") in message
    assert big.open_cursors == 0 and big.cursors_deleted == 1


def test_ten_open_cursors_is_kintones_limit(srv: KintoneServer) -> None:
    others = [srv.open_cursor(CASES_APP) for _ in range(10)]
    backend = cases(srv)
    with pytest.raises(BackendUnreachable, match="GAIA_TM12") as err:
        next(backend.records(mode="cursor"))
    assert "\n" not in str(err.value) and srv.sent[429] == backend.attempts
    srv.delete_cursor({"id": [others[0]]}, {})
    assert len(list(backend.records(mode="cursor"))) == 300
    assert srv.open_cursors == 9  # ours read to the end; the others' still open


# -- mapping -------------------------------------------------------------------------------
def test_case_fields_are_mapped_and_typed(srv: KintoneServer) -> None:
    srv.edit(
        CASES_APP,
        3,
        担当者=[{"code": "sasaki", "name": "佐々木"}, {"code": "kimura", "name": "木村"}],
        タグ=["至急", "法人"],
        対応履歴=[
            {
                "id": "9",
                "value": {
                    "日時": {"type": "DATETIME", "value": "2026-01-06T00:39:00Z"},
                    "メモ": {"type": "MULTI_LINE_TEXT", "value": "折り返し済み"},
                },
            }
        ],
    )
    rec = cases(srv).get(3)
    assert rec is not None
    assert rec["id"] == "3" and rec["subject"] == "問い合わせ 3"
    assert rec["customer_id"] == "1000003"  # a NUMBER field, our text field
    assert rec["opened_at"] == "2026-01-04T03:30:00Z"  # UTC, as the store keeps times
    assert rec["agent"] == "佐々木, 木村"  # USER_SELECT → names
    assert rec["tags"] == ["至急", "法人"]
    assert rec["channel"] is None and rec["body"] is None  # not mapped
    extra = rec["extra"]
    assert extra["$revision"] == "2" and extra["ステータス"] == "未処理"
    assert extra["対応履歴"] == [{"日時": "2026-01-06T00:39:00Z", "メモ": "折り返し済み"}]
    assert extra["record_url"] == "https://labelworks.kintone.example/k/42/show#record=3"
    assert cases(srv).get(9999) is None and cases(srv).get("x") is None


def test_customer_phones_and_emails_become_lists(srv: KintoneServer) -> None:
    backend = custs(srv)
    first, second = backend.records()
    assert first["phones"] == ["07049994264", "06-6363-8992", "0663638992"]
    assert first["emails"] == ["yamazakim42@example.ne.jp", "maiy@docomo.example"]
    assert first["updated_at"] == "2025-03-22T07:12:00Z"
    assert first["extra"]["備考"] == "請求書は郵送希望" and first["extra"]["作成者"] == "佐藤"
    assert second["phones"] == ["022(445)6150"] and second["emails"] == []
    # the shared [kintone] record_url is app 42's: customers (app 7) get their own page
    assert backend.record_url(1) == f"{srv.url}/k/7/show#record=1"


def test_changes_are_written_back_in_kintones_types(srv: KintoneServer, tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    kc, ku = cases(srv), custs(srv)
    plan = Plan("kintone test")
    plan.add(Change("cases:5", "status", SET, "完了", "対応中", "t", kc.backend))
    plan.add(Change("cases:5", "opened_at", SET, "2026-01-06T05:30:00Z",
                    "2026-01-06T09:00:00+09:00", "t", kc.backend))  # fmt: skip
    plan.add(Change("cases:5", "customer_id", SET, "1000005", "1026236", "t", kc.backend))
    plan.add(Change("cases:5", "tags", ADD, None, "要折返し", "t", kc.backend))
    plan.add(Change("customers:2", "phones", ADD, None, "090-1111-2222", "t", ku.backend))
    plan.add(Change("customers:1", "phones", REMOVE, "0663638992", None, "t", ku.backend))
    result = execute(plan, store, {kc.backend: kc, ku.backend: ku}, atomic=False)
    assert result.counts == {"applied": 6}, [c.error for c in result.changes]
    raw = srv.record(CASES_APP, 5)
    assert raw["対応状況"]["value"] == "対応中" and raw["顧客ID"]["value"] == "1026236"
    assert raw["受付日時"]["value"] == "2026-01-06T00:00:00Z"  # Tokyo 09:00 in UTC
    assert raw["タグ"]["value"] == ["要折返し"] and raw["$revision"]["value"] == "2"
    assert srv.value(CUSTOMERS_APP, 2, "電話番号") == "022(445)6150\n090-1111-2222"
    assert srv.value(CUSTOMERS_APP, 1, "電話番号") == "07049994264\n06-6363-8992"
    assert [len(ids) for ids in srv.puts] == [1, 2]  # one PUT per app, one entry per record
    again = execute(plan, store, {kc.backend: kc, ku.backend: ku}, atomic=False)
    assert again.counts == {"skipped": 6} and len(srv.puts) == 2


def test_fields_ops_cannot_write_fail_with_a_reason(srv: KintoneServer, tmp_path: Path) -> None:
    profile = {"kintone": {"cases": {"fields": {"status": "ステータス", "body": "存在しない"}}}}
    backend = fast(KintoneCases(app_url(srv), secret=TOKEN, profile=profile))
    store = Store.open(str(tmp_path / "s.sqlite"))
    plan = Plan("kintone test")
    plan.add(Change("cases:1", "status", SET, "未処理", "完了", "t", backend.backend))
    plan.add(Change("cases:1", "body", SET, None, "x", "t", backend.backend))
    plan.add(Change("cases:1", "topic", SET, None, "x", "t", backend.backend))
    result = execute(plan, store, {backend.backend: backend}, atomic=False)
    status, body, topic = result.changes
    assert status.outcome == "failed" and "STATUS" in (status.error or "")
    assert "through an action" in (status.error or "")
    assert body.outcome == "failed" and "no field code '存在しない'" in (body.error or "")
    assert topic.outcome == "failed" and "topic is not mapped" in (topic.error or "")
    assert srv.puts == []
    with pytest.raises(UsageError, match="not a field of cases"):
        KintoneCases(
            app_url(srv), secret=TOKEN, profile={"kintone": {"cases": {"fields": {"x": "y"}}}}
        )


# -- bulk updates --------------------------------------------------------------------------
def status_plan(backend: KintoneRecords, srv: KintoneServer, ids: range) -> Plan:
    plan = Plan("kintone bulk")
    for rid in ids:
        now = srv.value(CASES_APP, rid, "対応状況")
        after = "完了" if now != "完了" else "対応中"
        plan.add(Change(f"cases:{rid}", "status", SET, now, after, "t", backend.backend))
    return plan


def test_250_changes_go_in_three_puts_of_at_most_100(srv: KintoneServer, tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    backend = cases(srv)
    plan = status_plan(backend, srv, range(1, 251))
    backend.prefetch(c.key for c in plan.changes)  # the reads: 100 records a request
    assert len(calls(srv, "GET", "/k/v1/records.json")) == 3
    result = execute(plan, store, {backend.backend: backend}, atomic=False)
    assert result.counts == {"applied": 250}
    assert [len(ids) for ids in srv.puts] == [100, 100, 50]
    assert calls(srv, "GET", "/k/v1/record.json") == []  # every read came from the prefetch
    assert all(srv.value(CASES_APP, c_id, "対応状況") == c.after
               for c_id, c in zip(range(1, 251), plan.changes, strict=True))  # fmt: skip


def test_a_revision_conflict_is_reported_and_the_rest_still_goes(
    srv: KintoneServer, tmp_path: Path
) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    backend = cases(srv)
    plan = status_plan(backend, srv, range(1, 251))
    backend.prefetch(c.key for c in plan.changes)
    srv.edit(CASES_APP, 150, 件名="お客様が電話で件名を訂正")  # someone else, after our read
    theirs = srv.value(CASES_APP, 150, "対応状況")
    result = execute(plan, store, {backend.backend: backend}, atomic=False)
    assert result.status == "partial" and result.counts == {"applied": 249, "conflict": 1}
    (conflict,) = [c for c in result.changes if c.outcome == "conflict"]
    assert conflict.target == "cases:150" and "revision 1 → 2" in (conflict.error or "")
    assert srv.value(CASES_APP, 150, "対応状況") == theirs  # never overwritten
    assert srv.value(CASES_APP, 150, "件名") == "お客様が電話で件名を訂正"
    # the refused request (all or nothing) went again without the record that moved
    assert srv.refused_puts == 1 and [len(ids) for ids in srv.puts] == [100, 99, 50]
    assert "150" not in srv.puts[1]


def test_a_write_already_in_kintone_is_applied_not_a_conflict(srv: KintoneServer) -> None:
    """A PUT retried after its answer was lost meets its own revision: the record holds
    what was sent, so the change is applied (a rerun would find it in place anyway)."""
    backend = cases(srv)
    change = Change("cases:4", "status", SET, "対応中", "完了", "t", backend.backend)
    other = Change("cases:5", "status", SET, "完了", "未対応", "t", backend.backend)
    assert backend.read(change) == "対応中" and backend.read(other) == "完了"
    srv.edit(CASES_APP, 4, 対応状況="完了")  # the first attempt got through
    backend.write_batch([change, other])
    assert (change.outcome, change.error, other.outcome) == ("applied", None, "applied")
    assert srv.refused_puts == 1 and srv.puts == [["5"]]


def test_a_request_kintone_refuses_fails_its_changes_only(srv: KintoneServer) -> None:
    backend = cases(srv)
    first = Change("cases:1", "customer_id", SET, "1000001", "12a", "t", backend.backend)
    second = Change("cases:2", "status", SET, "完了", "対応中", "t", backend.backend)
    for ch in (first, second):
        backend.read(ch)
    backend.write_batch([first, second])
    assert first.outcome == "failed" and "'12a' is not a number" in (first.error or "")
    assert second.outcome == "applied"


# -- creates and deletes -------------------------------------------------------------------
def test_cases_are_created_once_under_their_key(srv: KintoneServer, tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    backend = cases(srv)
    case = {
        "id": "mail-20260114-001",
        "subject": "ラベルがずれる",
        "status": "未対応",
        "opened_at": "2026-01-14T10:05:00+09:00",
        "tags": ["技術"],
        "channel": "メール",  # not mapped: stays in the store only
    }

    def run() -> dict[str, int]:
        plan = Plan("kintone create")
        plan.add(Change("cases:mail-20260114-001", "*", CREATE, None, case, "t", backend.backend))
        return execute(plan, store, {backend.backend: backend}, atomic=False).counts

    assert run() == {"applied": 1}
    assert run() == {"skipped": 1}  # found by its key: not created twice
    assert srv.posts == [["301"]]
    raw = srv.record(CASES_APP, 301)
    assert (
        raw["ops_key"]["value"] == "mail-20260114-001" and raw["件名"]["value"] == "ラベルがずれる"
    )
    assert raw["受付日時"]["value"] == "2026-01-14T01:05:00Z" and raw["タグ"]["value"] == ["技術"]
    plain = fast(KintoneCases(app_url(srv), secret=TOKEN, profile={}))
    change = Change("cases:x", "*", CREATE, None, case, "t", plain.backend)
    with pytest.raises(OpsError, match="key_field"):
        plain.read(change)


def test_ops_never_deletes_a_customer_registration(srv: KintoneServer, tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    backend = custs(srv)
    before = backend.get(1)
    plan = Plan("customers merge")
    plan.add(Change("customers:1", "*", DELETE, before, None, "duplicate", backend.backend))
    result = execute(plan, store, {backend.backend: backend}, atomic=False)
    (change,) = result.changes
    assert change.outcome == "failed"
    assert "ops never deletes customer registrations" in (change.error or "")
    assert srv.record(CUSTOMERS_APP, 1)["氏名"]["value"] == "山崎 麻衣"
    assert not [c for c in srv.calls if c.method in ("DELETE", "PUT", "POST")]
    change.outcome = "planned"  # straight to the batch as well: refused there too
    backend.write_batch([change])
    assert change.outcome == "failed" and "never deletes customer" in (change.error or "")
    with pytest.raises(OpsError, match="ops never deletes kintone records"):
        cases(srv).read(Change("cases:1", "*", DELETE, {}, None, "t", "x"))
    with pytest.raises(OpsError, match="does not create customers"):
        backend.read(Change("customers:new", "*", CREATE, None, {"name": "x"}, "t", "x"))


# -- retries and errors --------------------------------------------------------------------
def test_429_with_retry_after_is_waited_out_and_retried(srv: KintoneServer) -> None:
    backend = cases(srv)
    waits: list[float] = []
    backend.sleep, backend.max_wait = waits.append, 60.0
    srv.fail_next(2, status=429, retry_after=3)
    rec = backend.get(1)
    assert rec is not None and rec["id"] == "1"
    assert waits == [3.0, 3.0] and srv.sent[429] == 2 and backend.requests == 3


@pytest.mark.parametrize("status", [400, 401, 520])
def test_a_wrong_token_is_one_auth_error_line(status: int) -> None:
    with KintoneServer(token=TOKEN, bad_token_status=status) as server:
        server.add_app(CASES_APP, CASE_PROPERTIES, make_cases(3))
        backend = cases(server, token="not-the-token")
        with pytest.raises(AuthError) as err:
            list(backend.records())
    message = str(err.value)
    assert "\n" not in message and "not-the-token" not in message
    assert f"HTTP {status} GAIA_IA02: 指定したAPIトークンは" in message
    assert "OPS_KINTONE_TOKEN" in message  # the hint
    assert server.requests == 1  # refused, not retried


def test_kintone_error_bodies_name_the_code_and_message(srv: KintoneServer) -> None:
    with pytest.raises(OpsError) as err:
        list(cases(srv).records('未知のフィールド = "x"'))
    assert (
        "HTTP 400 GAIA_IQ11: 指定したフィールド（code: 未知のフィールド）が見つかりません。"
        in str(err.value)
    )
    srv.malformed_next(1)
    with pytest.raises(OpsError, match=r"GET /k/v1/record.json: malformed response, not JSON"):
        cases(srv).get(1)


def test_no_token_is_refused_before_any_request(
    srv: KintoneServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(AuthError, match="no credentials"):
        cases(srv, token=None).get(1)
    assert srv.requests == 0
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n", "utf-8")
    monkeypatch.setenv("OPS_KINTONE_TOKEN_FILE", str(secret))
    backend = KintoneCases.from_config(app_url(srv), PROFILE, None)
    assert backend.secret == TOKEN and backend.get(1) is not None


# -- the query language, URLs and the registry ---------------------------------------------
def test_string_literals_are_escaped(srv: KintoneServer) -> None:
    assert literal('a"b\\c') == '"a\\"b\\\\c"'
    assert literal(42) == "42"
    assert condition("件名", "LIKE", 'x" or $id > "0') == '件名 like "x\\" or $id > \\"0"'
    assert condition("$id", "in", [1, 2]) == "$id in (1, 2)"
    with pytest.raises(UsageError, match="field code"):
        condition('件名 = "" or 件名', "=", "x")
    tricky = 'He said "hi" \\ bye'
    srv.edit(CASES_APP, 7, 件名=tricky)
    backend = cases(srv)
    found = list(backend.records(backend.where("subject", "=", tricky)))
    assert [r["id"] for r in found] == ["7"]
    injected = list(backend.records(backend.where("subject", "like", '" or $id > "0')))
    assert injected == []  # the quote stayed inside the literal
    with pytest.raises(UsageError, match="phones is not mapped"):
        backend.where("phones", "like", "x")
    assert custs(srv).where("emails", "like", "docomo") == (
        '(メールアドレス like "docomo" or 携帯メール like "docomo")'
    )


def test_urls_backend_names_and_the_registry() -> None:
    url = "kintone+https://labelworks.cybozu.com/k/42/?rps=5"
    assert resolve("cases", url) is KintoneCases and resolve("customers", url) is KintoneCustomers
    backend = KintoneCases(url, secret=TOKEN)
    assert backend.app == "42" and backend.base_url == "https://labelworks.cybozu.com"
    assert backend.backend == "cases:kintone+https://labelworks.cybozu.com/k/42/?rps=5"
    assert backend.record_url(5) == "https://labelworks.cybozu.com/k/42/show#record=5"
    assert KintoneCustomers("kintone+https://x.cybozu.com/?app=7", secret=TOKEN).app == "7"
    guest = KintoneCases("kintone+https://x.cybozu.com/k/guest/3/9", secret=TOKEN)
    assert guest.api == "/k/guest/3/v1" and guest.app == "9"
    for bad in ("kintone+https://x.cybozu.com/", "kintone+https://x.cybozu.com/k/abc"):
        with pytest.raises(UsageError, match="give the app"):
            KintoneCases(bad, secret=TOKEN)
    with pytest.raises(UsageError, match="no secret in the URL"):
        KintoneCases("kintone+https://x.cybozu.com/k/42?token=abc", secret=TOKEN)
    with pytest.raises(UsageError, match="cases or customers"):
        KintoneRecords(url, secret=TOKEN, kind="orders")
