"""The RetailCRM orders adapter against the local contract server (tools/contract_orders.py)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from deskops.adapters.errors import AuthError, BackendUnreachable, OpsError, UsageError
from deskops.adapters.orders import OrderQuery
from deskops.adapters.retailcrm import RetailCrmOrders
from deskops.adapters.schema import ORDERS
from deskops.adapters.store import Store
from deskops.commands.importer import plan_import
from deskops.commands.plan import ADD, SET, Change, Plan, execute, undo_plan

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from contract_orders import RetailCrmServer, make_retailcrm_orders  # noqa: E402

KEY = "crm-test-key"
MSK = timezone(timedelta(hours=3))
PROFILE: dict[str, Any] = {
    "profile": {"timezone": "Europe/Moscow"},
    "orders": {
        "retailcrm": {
            "statuses": {"Новый": "new", "Перед сборкой": "pered-sborkoi", "Собран": "sobran"},
            "flags": {"Обзвон": "obzvon", "Ночь": "noch"},
            "fields": {"support_called": "support_called"},
            "managers": {"Кузнецов": 12, "Попова": 14},
            "payment_methods": {"Наличными курьеру": "cash", "Онлайн-оплата картой": "bank-card"},
        }
    },
}


def sample_orders(count: int = 250) -> list[dict[str, Any]]:
    orders = make_retailcrm_orders(count)
    orders[0].update(
        status="new",
        site="igromir",
        createdAt="2026-01-05 09:37:00",
        phone="8 (916) 975-17-89",
        customFields={"obzvon": False, "noch": True, "support_called": False},
        managerId=12,
        managerComment="Клиент просил звонить после 18:00\n[2026-01-05 10:15 Попова] Ждёт курьера",
        payments={"7": {"type": "cash", "status": "not-paid"}},
    )
    orders[1].update(status="new", site="igromir", managerComment=None)
    return orders


@pytest.fixture
def srv() -> Iterator[RetailCrmServer]:
    with RetailCrmServer(sample_orders(), api_key=KEY, statuses=["new", "pered-sborkoi"]) as s:
        yield s


def crm(srv: RetailCrmServer, key: str | None = KEY, query: str = "rps=1000") -> RetailCrmOrders:
    backend = RetailCrmOrders.from_config(f"retailcrm+{srv.url}/?{query}", PROFILE, key)
    backend.attempts, backend.backoff, backend.timeout = 3, 0.01, 0.3
    return backend


def list_calls(srv: RetailCrmServer) -> list[Any]:
    return [c for c in srv.calls if c.path == "/api/v5/orders"]


def comment(text: str, at: str = "2026-01-10T09:30:00Z") -> dict[str, Any]:
    return {"at": at, "author": "tester", "text": text}


# -- reading ---------------------------------------------------------------------------------
def test_pagination_reads_each_page_once_and_stops_at_total_page_count(
    srv: RetailCrmServer,
) -> None:
    records = list(crm(srv).orders(OrderQuery()))
    assert len(records) == 250 and len({r["id"] for r in records}) == 250
    pages = [(c.query["page"], c.query["limit"]) for c in list_calls(srv)]
    assert pages == [(["1"], ["100"]), (["2"], ["100"]), (["3"], ["100"])]
    assert [r["id"] for r in records[:2]] == ["1250", "1249"]  # newest first, as RetailCRM lists


def test_query_limit_stops_reading_early(srv: RetailCrmServer) -> None:
    records = list(crm(srv).orders(OrderQuery(limit=5)))
    assert [r["id"] for r in records] == ["1250", "1249", "1248", "1247", "1246"]
    assert len(list_calls(srv)) == 1


def test_oldest_first_reads_everything_then_sorts(srv: RetailCrmServer) -> None:
    records = list(crm(srv).orders(OrderQuery(newest_first=False, limit=3)))
    assert [r["id"] for r in records] == ["1001", "1002", "1003"]


def test_record_mapping_from_profile_tables(srv: RetailCrmServer) -> None:
    rec = crm(srv).get("1001")
    assert rec is not None
    assert rec["id"] == "1001" and rec["status"] == "Новый"
    assert rec["extra"]["number"] == "47001A" and rec["extra"]["externalId"] == "47001"
    assert rec["flags"] == ["Ночь"]
    assert rec["support_called"] is False
    assert rec["manager"] == "Кузнецов"
    assert rec["payment_method"] == "Наличными курьеру"
    assert rec["created_at"] == "2026-01-05T09:37:00+03:00"  # account time, Moscow offset
    assert rec["comments"] == [
        {"at": None, "author": None, "text": "Клиент просил звонить после 18:00"},
        {"at": "2026-01-05T10:15:00+03:00", "author": "Попова", "text": "Ждёт курьера"},
    ]
    assert all(set(i) == {"sku", "name", "qty", "price"} for i in rec["items"])
    raw_status = srv.order(1005)["status"]
    assert crm(srv).get("1005")["status"] == {  # type: ignore[index]
        "pered-sborkoi": "Перед сборкой",
        "sobran": "Собран",
        "new": "Новый",
    }.get(raw_status, raw_status)  # unmapped codes pass through unchanged
    assert crm(srv).get("999999") is None


def test_filters_go_to_the_server_and_the_exact_test_still_applies(srv: RetailCrmServer) -> None:
    backend = crm(srv, query="site=igromir&rps=1000")
    everything = list(crm(srv).orders(OrderQuery()))
    query = OrderQuery(
        statuses=["Новый", "Перед сборкой"],
        payment_methods=["Наличными курьеру"],
        created_from=datetime(2026, 1, 5, 12, 0, tzinfo=MSK),
        created_to=datetime(2026, 1, 8, 12, 0, tzinfo=MSK),
    )
    found = [r["id"] for r in backend.orders(query)]
    expected = [r["id"] for r in everything if r["site"] == "igromir" and query.matches(r)]
    assert found == expected and found
    sent = list_calls(srv)[-1].query
    assert sent["filter[extendedStatus][]"] == ["new", "pered-sborkoi"]
    assert sent["filter[paymentTypes][]"] == ["cash"]
    assert sent["filter[sites][]"] == ["igromir"]  # the URL's site, as the query names none
    assert sent["filter[createdAtFrom]"] == ["2026-01-05"]
    assert sent["filter[createdAtTo]"] == ["2026-01-08"]


def test_ids_and_phone_filters(srv: RetailCrmServer) -> None:
    backend = crm(srv)
    assert [r["id"] for r in backend.orders(OrderQuery(ids=["1002", "1001"]))] == ["1002", "1001"]
    assert list_calls(srv)[-1].query["filter[ids][]"] == ["1002", "1001"]
    found = list(backend.orders(OrderQuery(phone="+79169751789", region="RU")))
    assert [r["id"] for r in found] == ["1001"]
    assert list_calls(srv)[-1].query["filter[customer]"] == ["9169751789"]


def test_a_flag_the_profile_does_not_map_is_a_usage_error(srv: RetailCrmServer) -> None:
    with pytest.raises(UsageError, match="valid flags: Ночь, Обзвон"):
        list(crm(srv).orders(OrderQuery(flags=["Срочно"])))
    assert [r["id"] for r in crm(srv).orders(OrderQuery(flags=["Ночь"]))] == ["1001"]


# -- failures --------------------------------------------------------------------------------
def test_429_with_retry_after_is_honoured_then_succeeds(srv: RetailCrmServer) -> None:
    srv.fail_next(2, status=429, retry_after=0.1)
    started = time.monotonic()
    assert len(list(crm(srv).orders(OrderQuery(limit=10)))) == 10
    assert time.monotonic() - started >= 0.2
    assert srv.sent_429 == 2


def test_503_is_retried_then_succeeds(srv: RetailCrmServer) -> None:
    srv.fail_next(2, status=503)
    backend = crm(srv)
    assert backend.get("1001") is not None
    assert srv.sent_503 == 2 and backend.requests == 3


def test_giving_up_is_backend_unreachable_on_one_line(srv: RetailCrmServer) -> None:
    srv.fail_next(10, status=503)
    with pytest.raises(BackendUnreachable) as err:
        crm(srv).get("1001")
    assert err.value.exit_code == 5
    assert "127.0.0.1" in str(err.value) and "3 attempts" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_slow_answer_times_out_and_is_retried(srv: RetailCrmServer) -> None:
    srv.delay_next(1, seconds=1.0)
    assert crm(srv).get("1002") is not None
    srv.delay_next(3, seconds=1.0)
    with pytest.raises(BackendUnreachable, match="no answer within 0.3 s"):
        crm(srv).get("1002")


def test_malformed_json_or_success_false_is_a_one_line_ops_error(srv: RetailCrmServer) -> None:
    srv.malformed_next(1)
    with pytest.raises(OpsError) as err:
        list(crm(srv).orders(OrderQuery()))
    assert type(err.value) is OpsError
    assert "GET /api/v5/orders: malformed response, not JSON" in str(err.value)
    assert "\n" not in str(err.value)
    srv.fail_next(1, status=200)  # a 200 whose body says {"success": false, "errorMsg": …}
    with pytest.raises(OpsError, match="GET /api/v5/orders/1001: injected failure$"):
        crm(srv).get("1001")


def test_bad_or_missing_key_is_an_auth_error(srv: RetailCrmServer) -> None:
    with pytest.raises(AuthError, match='HTTP 403 Wrong "apiKey" value') as err:
        list(crm(srv, key="wrong").orders(OrderQuery()))
    assert err.value.exit_code == 4
    with pytest.raises(AuthError, match="no credentials"):
        crm(srv, key=None).get("1001")
    assert srv.sent[403] == 1 and len(srv.calls) == 1  # no retry, and nothing sent without a key


def test_a_failure_in_the_middle_of_a_sync_writes_nothing(
    srv: RetailCrmServer, tmp_path: Path
) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    srv.fail_page(2, status=500)
    rows = enumerate(crm(srv).orders(OrderQuery()), 1)
    with pytest.raises(OpsError, match="HTTP 500 failure on page 2"):
        plan = plan_import(store, ORDERS, rows, tz=MSK, source="retailcrm")
        execute(plan, store)
    assert store.scalar("SELECT COUNT(*) FROM orders") == 0
    assert store.scalar("SELECT COUNT(*) FROM journal_runs") == 0
    srv.faults.clear()  # the same sync, whole: every record fits the store's orders entity
    plan = plan_import(store, ORDERS, enumerate(crm(srv).orders(OrderQuery()), 1), tz=MSK,
                       source="retailcrm")  # fmt: skip
    assert not plan.problems
    assert execute(plan, store).status == "done"
    assert store.scalar("SELECT COUNT(*) FROM orders") == 250
    assert srv.edits == []


# -- writing ---------------------------------------------------------------------------------
def test_plan_applied_through_the_executor_then_undone(
    srv: RetailCrmServer, tmp_path: Path
) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    backend = crm(srv)
    before = {oid: backend.get(oid) for oid in ("1001", "1002")}
    b = backend.backend
    plan = Plan("orders test")
    plan.add(Change("orders:1001", "status", SET, "Новый", "Перед сборкой", "t", b))
    plan.add(Change("orders:1001", "flags", ADD, None, "Обзвон", "t", b))
    plan.add(Change("orders:1001", "support_called", SET, False, True, "t", b))
    plan.add(Change("orders:1001", "comments", ADD, None, comment("Перезвонить в 19:00"), "t", b))
    plan.add(Change("orders:1002", "manager", SET, None, "Попова", "t", b))
    result = execute(plan, store, {b: backend}, atomic=False)
    assert result.status == "done" and result.counts == {"applied": 5}

    raw = srv.order(1001)
    assert raw["status"] == "pered-sborkoi"
    assert raw["customFields"] == {"obzvon": True, "noch": True, "support_called": True}
    assert raw["managerComment"].splitlines()[-1] == "[2026-01-10 12:30 tester] Перезвонить в 19:00"
    assert srv.order(1002)["managerId"] == 14
    assert [oid for oid, _ in srv.edits] == ["1001", "1002"]  # one edit per order, merged
    assert not [c for c in srv.calls if "combine" in c.path or c.method == "DELETE"]

    undo = execute(undo_plan(store, result.run_id), store, {b: backend}, atomic=False)
    assert undo.status == "done" and undo.counts == {"applied": 5}
    assert {oid: backend.get(oid) for oid in ("1001", "1002")} == before
    assert srv.order(1001)["managerComment"] == sample_orders()[0]["managerComment"]


def test_a_change_made_since_the_plan_is_a_conflict_and_is_not_overwritten(
    srv: RetailCrmServer, tmp_path: Path
) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    backend = crm(srv)
    rec = backend.get("1002")
    assert rec is not None and rec["status"] == "Новый"
    plan = Plan("orders test")
    plan.add(Change("orders:1002", "status", SET, "Новый", "Перед сборкой", "t", backend.backend))
    srv.update(1002, status="sobran")  # a manager moved it meanwhile
    result = execute(plan, store, {backend.backend: backend}, atomic=False)
    assert result.counts == {"conflict": 1}
    assert srv.order(1002)["status"] == "sobran" and srv.edits == []


def test_the_same_comment_applied_twice_is_added_once(srv: RetailCrmServer, tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    backend = crm(srv)

    def run() -> dict[str, int]:
        plan = Plan("orders comment")
        note = comment("Оплата подтверждена")
        plan.add(Change("orders:1002", "comments", ADD, None, note, "t", backend.backend))
        return execute(plan, store, {backend.backend: backend}, atomic=False).counts

    assert run() == {"applied": 1}
    assert run() == {"skipped": 1}
    assert srv.order(1002)["managerComment"] == "[2026-01-10 12:30 tester] Оплата подтверждена"
    assert len(srv.edits) == 1


def test_an_order_the_api_refuses_fails_alone(srv: RetailCrmServer, tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    backend = crm(srv)
    b = backend.backend
    plan = Plan("orders test")
    plan.add(Change("orders:1001", "status", SET, "Новый", "Собран", "t", b))  # not in the account
    plan.add(Change("orders:1002", "status", SET, "Новый", "Перед сборкой", "t", b))
    plan.add(Change("orders:1002", "flags", ADD, None, "Срочно", "t", b))  # no such flag
    result = execute(plan, store, {b: backend}, atomic=False)
    assert result.status == "partial"
    first, second, third = result.changes
    assert first.outcome == "failed" and "Status 'sobran' does not exist" in (first.error or "")
    assert second.outcome == "applied" and srv.order(1002)["status"] == "pered-sborkoi"
    assert third.outcome == "failed" and "valid flags: Ночь, Обзвон" in (third.error or "")
    assert srv.order(1001)["status"] == "new"


# -- rate limit and URL ----------------------------------------------------------------------
def test_requests_keep_to_the_rate_limit_of_the_key() -> None:
    with RetailCrmServer(sample_orders(20), api_key=KEY, rps_limit=5) as server:
        backend = crm(server, query="rps=5")
        started = time.monotonic()
        for oid in range(1001, 1009):
            assert backend.get(str(oid)) is not None
        elapsed = time.monotonic() - started
    assert elapsed >= 1.0  # 5 at once, the next 3 a second later
    assert server.throttled == 0 and server.sent_503 == 0


def test_url_backend_name_and_bad_urls() -> None:
    backend = RetailCrmOrders.from_config(
        "retailcrm+https://shop.retailcrm.ru/?site=igromir&apiKey=SECRET", PROFILE, KEY
    )
    assert backend.backend == "orders:retailcrm+https://shop.retailcrm.ru/?site=igromir"
    assert backend.base_url == "https://shop.retailcrm.ru"
    assert KEY not in backend.backend and "SECRET" not in backend.backend
    with pytest.raises(UsageError, match="without a path"):
        RetailCrmOrders("retailcrm+https://shop.retailcrm.ru/api/v5", api_key=KEY)
    with pytest.raises(UsageError, match="rps"):
        RetailCrmOrders("retailcrm+https://shop.retailcrm.ru/?rps=0", api_key=KEY)


def test_the_cli_reaches_retailcrm_through_the_registry(cli, isolated, srv, monkeypatch) -> None:
    """`--orders retailcrm+http://…` with the key in OPS_RETAILCRM_KEY: list, flag, undo."""
    import json

    (isolated / "ops.toml").write_text(
        "[profile]\nname = 'crm'\ntimezone = 'Europe/Moscow'\ncountry = 'RU'\n"
        "[flags]\ncalling = 'Обзвон'\n[orders.retailcrm]\n"
        "statuses = { 'Новый' = 'new' }\nflags = { 'Обзвон' = 'obzvon' }\n",
        "utf-8",
    )
    url = f"retailcrm+{srv.url}/?rps=1000"
    r = cli("orders", "list", "--orders", url, "--limit", "3", "-o", "json")
    assert r.code == 4 and "key" in r.err.lower()  # no key: refused, not retried
    monkeypatch.setenv("OPS_RETAILCRM_KEY", KEY)
    r = cli("orders", "list", "--orders", url, "--status", "Новый", "-o", "json")
    assert r.code == 0, r.err
    first = json.loads(r.out)[0]["id"]
    assert KEY not in r.out + r.err
    r = cli("orders", "flag", first, "--set", "Обзвон", "--orders", url, "--yes")
    assert r.code == 0, r.err
    flagged = cli("orders", "list", "--orders", url, "--flag", "Обзвон", "--all", "-o", "json")
    assert first in {o["id"] for o in json.loads(flagged.out)}
    assert cli("undo", "last", "--yes").code == 0  # reopened from the journal by its URL
    flagged = cli("orders", "list", "--orders", url, "--flag", "Обзвон", "--all", "-o", "json")
    assert first not in {o["id"] for o in json.loads(flagged.out)}
