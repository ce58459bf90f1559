"""The Magento 2 orders adapter against the local contract server (tools/contract_orders.py)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from deskops.adapters.errors import AuthError, BackendUnreachable, OpsError, UsageError
from deskops.adapters.magento import MagentoOrders
from deskops.adapters.orders import OrderQuery
from deskops.adapters.schema import ORDERS
from deskops.adapters.store import Store
from deskops.commands.importer import plan_import
from deskops.commands.plan import ADD, SET, Change, Plan, execute, undo_plan

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from contract_orders import MagentoServer, magento_order, make_magento_orders  # noqa: E402

TOKEN = "magento-test-token"
MSK = timezone(timedelta(hours=3))
PROFILE: dict[str, Any] = {
    "profile": {"timezone": "Europe/Moscow"},
    "orders": {
        "magento": {
            "statuses": {"Новый": "pending", "В обработке": "processing", "Отложен": "holded"},
            "flags": {"Обзвон": "extension_attributes.obzvon"},
            "fields": {
                "campaign": "extension_attributes.campaign",
                "support_called": "extension_attributes.support_called",
            },
            "sites": {"igromir.example": 1, "kukly-ko.example": 2},
            "payment_methods": {"Банковский перевод": "banktransfer"},
        }
    },
}


def sample_orders(count: int = 250) -> list[dict[str, Any]]:
    orders = make_magento_orders(count)
    orders[0].update(
        status="pending",
        store_id=1,
        created_at="2026-01-05 06:37:00",
        payment={"method": "banktransfer"},
        status_histories=[
            {"entity_id": 2, "created_at": "2026-01-05 08:00:00", "status": "pending",
             "comment": "[Попова] Ждёт звонка"},
            {"entity_id": 1, "created_at": "2026-01-05 07:00:00", "status": "pending",
             "comment": "Заказ создан на сайте"},
            {"entity_id": 3, "created_at": "2026-01-05 09:00:00", "status": "pending",
             "comment": None},
        ],
    )  # fmt: skip
    orders[0]["extension_attributes"].update(support_called=False, obzvon=False)
    orders[1].update(status="pending", status_histories=[])
    return orders


@pytest.fixture
def srv() -> Iterator[MagentoServer]:
    with MagentoServer(sample_orders(), token=TOKEN) as s:
        yield s


def mg(srv: MagentoServer, token: str | None = TOKEN, query: str = "rps=1000") -> MagentoOrders:
    backend = MagentoOrders.from_config(f"magento+{srv.url}/rest/default?{query}", PROFILE, token)
    backend.attempts, backend.backoff, backend.timeout = 3, 0.01, 0.3
    return backend


def searches(srv: MagentoServer) -> list[Any]:
    return [c for c in srv.calls if c.method == "GET" and c.path.endswith("/V1/orders")]


def page_of(call: Any) -> str:
    return str(call.query["searchCriteria[currentPage]"][0])


# -- reading ---------------------------------------------------------------------------------
def test_paging_stops_at_total_count_and_gives_each_order_once(srv: MagentoServer) -> None:
    records = list(mg(srv).orders(OrderQuery()))
    assert len(records) == 250 and len({r["id"] for r in records}) == 250
    assert [page_of(c) for c in searches(srv)] == ["1", "2", "3"]
    assert [r["id"] for r in records[:2]] == ["250", "249"]  # created_at DESC


def test_a_page_past_the_end_is_never_asked_for() -> None:
    """200 orders are exactly 2 pages; a 3rd request would get page 2 again from Magento."""
    with MagentoServer(make_magento_orders(200), token=TOKEN) as server:
        records = list(mg(server).orders(OrderQuery()))
        assert len(records) == 200 and len({r["id"] for r in records}) == 200
        assert [page_of(c) for c in searches(server)] == ["1", "2"]


def test_an_order_pushed_onto_the_next_page_is_not_given_twice(srv: MagentoServer) -> None:
    found = mg(srv).orders(OrderQuery())
    first_page = [next(found)["id"] for _ in range(100)]
    srv.orders[251] = magento_order(251)  # a new order: everything moves one place down
    rest = [r["id"] for r in found]
    assert len(rest) == 150 and not set(rest) & set(first_page)


def test_record_mapping_from_profile_tables(srv: MagentoServer) -> None:
    rec = mg(srv).get("1")
    assert rec is not None
    assert rec["id"] == "1" and rec["extra"]["increment_id"] == "100000001"
    assert rec["status"] == "Новый"
    assert rec["site"] == "igromir.example"
    assert rec["payment_method"] == "Банковский перевод"
    assert rec["phone"] == srv.order(1)["billing_address"]["telephone"]
    assert rec["campaign"] == srv.order(1)["extension_attributes"]["campaign"]
    assert rec["support_called"] is False and rec["flags"] == []
    assert rec["created_at"] == "2026-01-05T09:37:00+03:00"  # UTC from Magento, shown in Moscow
    assert len(rec["items"]) == 1  # the configurable's child item is left out
    assert rec["items"][0]["qty"] == int(srv.order(1)["items"][0]["qty_ordered"])
    assert rec["comments"] == [
        {"at": "2026-01-05T10:00:00+03:00", "author": None, "text": "Заказ создан на сайте"},
        {"at": "2026-01-05T11:00:00+03:00", "author": "Попова", "text": "Ждёт звонка"},
    ]


def test_get_accepts_the_increment_id_too(srv: MagentoServer) -> None:
    backend = mg(srv)
    rec = backend.get("100000007")
    assert rec is not None and rec["id"] == "7"
    assert backend.get("999") is None


def test_filters_use_order_columns_and_the_exact_test_does_the_rest(srv: MagentoServer) -> None:
    everything = list(mg(srv).orders(OrderQuery()))
    query = OrderQuery(
        statuses=["Новый", "В обработке"],
        sites=["igromir.example"],
        payment_methods=["Банковский перевод"],
        created_from=datetime(2026, 1, 5, 12, 0, tzinfo=MSK),
        created_to=datetime(2026, 1, 8, 12, 0, tzinfo=MSK),
    )
    found = [r["id"] for r in mg(srv).orders(query)]
    assert found == [r["id"] for r in everything if query.matches(r)] and found
    sent = searches(srv)[-1].query
    fields = {k: v[0] for k, v in sent.items() if k.startswith("searchCriteria[filter_groups]")}
    assert fields == {
        "searchCriteria[filter_groups][0][filters][0][field]": "status",
        "searchCriteria[filter_groups][0][filters][0][value]": "pending,processing",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "in",
        "searchCriteria[filter_groups][1][filters][0][field]": "store_id",
        "searchCriteria[filter_groups][1][filters][0][value]": "1",
        "searchCriteria[filter_groups][1][filters][0][condition_type]": "in",
        "searchCriteria[filter_groups][2][filters][0][field]": "created_at",
        "searchCriteria[filter_groups][2][filters][0][value]": "2026-01-05 09:00:00",
        "searchCriteria[filter_groups][2][filters][0][condition_type]": "gteq",
        "searchCriteria[filter_groups][3][filters][0][field]": "created_at",
        "searchCriteria[filter_groups][3][filters][0][value]": "2026-01-08 09:00:00",
        "searchCriteria[filter_groups][3][filters][0][condition_type]": "lteq",
    }
    assert [r["id"] for r in mg(srv).orders(OrderQuery(ids=["7", "3"]))] == ["7", "3"]
    phone = srv.order(5)["billing_address"]["telephone"]
    by_phone = OrderQuery(phone="+7" + "".join(c for c in phone if c.isdigit())[1:], region="RU")
    assert [r["id"] for r in mg(srv).orders(by_phone)] == ["5"]


def test_a_flag_the_profile_does_not_map_is_a_usage_error(srv: MagentoServer) -> None:
    with pytest.raises(UsageError, match="valid flags: Обзвон"):
        list(mg(srv).orders(OrderQuery(flags=["Срочно"])))


# -- failures --------------------------------------------------------------------------------
def test_429_with_retry_after_then_503_are_retried(srv: MagentoServer) -> None:
    srv.fail_next(1, status=429, retry_after=0.1)
    srv.fail_next(1, status=503)
    started = time.monotonic()
    assert mg(srv).get("3") is not None
    assert time.monotonic() - started >= 0.1
    assert srv.sent_429 == 1 and srv.sent_503 == 1


def test_giving_up_and_timeouts_are_backend_unreachable(srv: MagentoServer) -> None:
    srv.fail_next(5, status=503)
    with pytest.raises(BackendUnreachable, match="127.0.0.1") as err:
        mg(srv).get("3")
    assert "\n" not in str(err.value)
    srv.faults.clear()
    srv.delay_next(1, seconds=1.0)
    assert mg(srv).get("3") is not None  # the retry after the timeout is answered


def test_malformed_json_is_a_one_line_ops_error(srv: MagentoServer) -> None:
    srv.malformed_next(1)
    with pytest.raises(OpsError, match="GET /V1/orders: malformed response, not JSON") as err:
        list(mg(srv).orders(OrderQuery()))
    assert type(err.value) is OpsError and "\n" not in str(err.value)


def test_a_bad_token_is_an_auth_error(srv: MagentoServer) -> None:
    with pytest.raises(AuthError, match="isn't authorized to access Magento_Sales::sales"):
        mg(srv, token="wrong").get("1")
    with pytest.raises(AuthError, match="OPS_MAGENTO_TOKEN"):
        mg(srv, token=None).get("1")


def test_a_failure_in_the_middle_of_a_sync_writes_nothing(
    srv: MagentoServer, tmp_path: Path
) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    srv.fail_page(3, status=500)
    with pytest.raises(OpsError, match="HTTP 500 failure on page 3"):
        rows = enumerate(mg(srv).orders(OrderQuery()), 1)
        execute(plan_import(store, ORDERS, rows, tz=MSK, source="magento"), store)
    assert store.scalar("SELECT COUNT(*) FROM orders") == 0
    assert srv.edits == []


# -- writing ---------------------------------------------------------------------------------
def test_plan_applied_through_the_executor_then_undone(srv: MagentoServer, tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    backend = mg(srv)
    before = backend.get("2")
    b = backend.backend
    plan = Plan("orders test")
    plan.add(Change("orders:2", "status", SET, "Новый", "В обработке", "t", b))
    plan.add(Change("orders:2", "support_called", SET, None, True, "t", b))
    plan.add(Change("orders:2", "flags", ADD, None, "Обзвон", "t", b))
    note = {"at": "2026-01-10T09:30:00Z", "author": "tester", "text": "Позвонить после 18:00"}
    plan.add(Change("orders:2", "comments", ADD, None, note, "t", b))
    result = execute(plan, store, {b: backend}, atomic=False)
    assert result.status == "done" and result.counts == {"applied": 4}

    raw = srv.order(2)
    assert raw["status"] == "processing"
    assert raw["extension_attributes"]["support_called"] is True
    assert raw["extension_attributes"]["obzvon"] is True
    assert raw["status_histories"][0]["comment"] == "[tester] Позвонить после 18:00"
    assert raw["status_histories"][0]["status"] == "processing"  # status and comment in one
    rec = backend.get("2")
    assert rec is not None and rec["flags"] == ["Обзвон"] and rec["status"] == "В обработке"

    undo = execute(undo_plan(store, result.run_id), store, {b: backend}, atomic=False)
    assert undo.counts == {"applied": 3, "failed": 1}
    failed = next(c for c in undo.changes if c.outcome == "failed")
    assert failed.field == "comments" and "cannot delete an order comment" in (failed.error or "")
    after = backend.get("2")
    assert after is not None and before is not None
    assert {k: after[k] for k in ("status", "support_called", "flags")} == {
        k: before[k] for k in ("status", "support_called", "flags")
    }
    assert srv.order(2)["status"] == "pending"
    posted = [e for _, e in srv.edits if "statusHistory" in e]
    assert posted and all(e["statusHistory"]["status"] for e in posted)  # never blanked


def test_a_comment_alone_carries_the_current_status(srv: MagentoServer, tmp_path: Path) -> None:
    """Magento 2.3–2.4.3 blank the order's status when a comment comes without one."""
    store = Store.open(str(tmp_path / "s.sqlite"))
    backend = mg(srv)
    plan = Plan("orders comment")
    note = {"at": "2026-01-10T09:30:00Z", "author": "tester", "text": "Оплата пришла"}
    plan.add(Change("orders:1", "comments", ADD, None, note, "t", backend.backend))
    assert execute(plan, store, {backend.backend: backend}, atomic=False).counts == {"applied": 1}
    assert srv.order(1)["status"] == "pending"
    again = Plan("orders comment")
    again.add(Change("orders:1", "comments", ADD, None, note, "t", backend.backend))
    assert execute(again, store, {backend.backend: backend}, atomic=False).counts == {"skipped": 1}
    texts = [h["comment"] for h in srv.order(1)["status_histories"]]
    assert texts.count("[tester] Оплата пришла") == 1


def test_a_change_made_since_the_plan_is_a_conflict(srv: MagentoServer, tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "s.sqlite"))
    backend = mg(srv)
    plan = Plan("orders test")
    plan.add(Change("orders:2", "status", SET, "Новый", "В обработке", "t", backend.backend))
    srv.update(2, status="holded")
    result = execute(plan, store, {backend.backend: backend}, atomic=False)
    assert result.counts == {"conflict": 1}
    assert srv.order(2)["status"] == "holded" and srv.edits == []


def test_a_status_magento_ignores_is_reported_failed(tmp_path: Path) -> None:
    """Magento 2.4.7 takes a comment's status history but leaves the order's status."""
    store = Store.open(str(tmp_path / "s.sqlite"))
    with MagentoServer(sample_orders(5), token=TOKEN, status_from_comments=False) as server:
        backend = mg(server)
        plan = Plan("orders test")
        plan.add(Change("orders:2", "status", SET, "Новый", "В обработке", "t", backend.backend))
        result = execute(plan, store, {backend.backend: backend}, atomic=False)
        assert result.counts == {"failed": 1}
        assert "kept status 'pending'" in (result.changes[0].error or "")
        assert server.order(2)["status"] == "pending"


def test_url_backend_name_and_bad_urls() -> None:
    backend = MagentoOrders.from_config("magento+https://shop.example/rest/default", PROFILE, TOKEN)
    assert backend.backend == "orders:magento+https://shop.example/rest/default"
    assert backend.base_url == "https://shop.example/rest/default"
    assert backend.display == "magento shop.example (default)"
    with pytest.raises(UsageError, match="REST base"):
        MagentoOrders("magento+https://shop.example/rest/V1", token=TOKEN)
    with pytest.raises(UsageError, match="REST base"):
        MagentoOrders("magento+https://shop.example/", token=TOKEN)
