"""The store on SQLite and on PostgreSQL: migrations, records, children, transactions."""

from __future__ import annotations

import sqlite3

import pytest

from deskops.adapters.errors import LockHeld, StoreError
from deskops.adapters.migrations import MIGRATIONS
from deskops.adapters.schema import CUSTOMERS, ENTITIES, MESSAGES, ORDERS
from deskops.adapters.store import Store, mask_url, sqlite_path


def test_migrations_create_every_declared_field(store_url: str) -> None:
    with Store.open(store_url) as store:
        assert store.schema_version() == MIGRATIONS[-1][0]
        for ent in ENTITIES.values():
            assert set(store.columns(ent.table)) == set(ent.field_names), ent.name
            for child in ent.children.values():
                assert set(store.columns(child.table)) == {"parent_id", "pos", *child.names}
        # opening again applies nothing
        assert store.migrate() == []


def test_records_children_and_field_ops(store_url: str) -> None:
    with Store.open(store_url) as store:
        order = {
            "id": "А-1001",
            "status": "Перед сборкой",
            "total": 1499.5,
            "support_called": False,
            "created_at": "2026-01-13T07:00:00Z",
            "extra": {"affiliate": "igrushki-msk"},
            "items": [
                {
                    "sku": "LG-1",
                    "name": "Конструктор",
                    "qty": 2,
                    "price": 700.0,
                    "supplier_group": "1",
                }
            ],
            "flags": ["Склад"],
        }
        with store.transaction():
            store.insert(ORDERS, order)
        got = store.get(ORDERS, "А-1001")
        assert got["total"] == 1499.5 and got["support_called"] is False
        assert got["extra"] == {"affiliate": "igrushki-msk"}
        assert got["items"][0]["qty"] == 2 and got["flags"] == ["Склад"]
        assert got["comments"] == []

        with store.transaction():
            store.set_field(ORDERS, "А-1001", "status", "Для сборки")
            store.add_child(ORDERS, "А-1001", "flags", "Обмен/Возврат")
            store.remove_child(ORDERS, "А-1001", "flags", "Склад")
            store.add_child(
                ORDERS,
                "А-1001",
                "comments",
                {"at": "2026-01-13T08:00:00Z", "author": "ops", "text": "форма в почте"},
            )
        got = store.get(ORDERS, "А-1001")
        assert got["status"] == "Для сборки"
        assert got["flags"] == ["Обмен/Возврат"]
        assert got["comments"][0]["text"] == "форма в почте"
        assert [r["id"] for r in store.iter_records(ORDERS)] == ["А-1001"]


def test_transaction_rolls_back_everything(store_url: str) -> None:
    with Store.open(store_url) as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.insert(CUSTOMERS, {"id": "c1", "name": "山田太郎", "phones": ["090-1234-5678"]})
            raise RuntimeError("boom")
        assert store.get(CUSTOMERS, "c1") is None
        assert store.scalar("SELECT COUNT(*) FROM customer_phones") == 0


def test_blob_and_json_round_trip(store_url: str) -> None:
    raw = "Subject: テスト\r\n\r\n本文".encode("iso-2022-jp")
    with Store.open(store_url) as store, store.transaction():
        store.insert(
            MESSAGES,
            {
                "id": "<m1@x>",
                "date": "2026-01-13T00:00:00Z",
                "raw": raw,
                "headers": {"X-A": ["1", "2"]},
                "labels": ["返信待ち"],
            },
        )
    with Store.open(store_url) as store:
        got = store.get(MESSAGES, "<m1@x>")
        assert got["raw"] == raw and got["headers"] == {"X-A": ["1", "2"]}
        assert got["labels"] == ["返信待ち"]


def test_corrupt_sqlite_file_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a readable SQLite database"):
        Store.open(str(bad))


def test_locked_sqlite_store_reports_lock(tmp_path) -> None:
    path = tmp_path / "s.sqlite"
    Store.open(str(path)).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = Store.open(str(path), migrate=False)
        store.execute("PRAGMA busy_timeout = 100")
        with pytest.raises(LockHeld):
            with store.transaction():
                store.insert(CUSTOMERS, {"id": "x", "name": "y"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_newer_schema_is_refused(tmp_path) -> None:
    path = tmp_path / "s.sqlite"
    with Store.open(str(path)) as store:
        store.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'now')")
    with pytest.raises(StoreError, match="newer"):
        Store.open(str(path))


def test_url_helpers() -> None:
    assert sqlite_path("sqlite:///tmp/a.db") == "/tmp/a.db"
    assert sqlite_path("sqlite:rel.db") == "rel.db"
    assert sqlite_path("/x/y.sqlite") == "/x/y.sqlite"
    assert mask_url("postgresql://ops:hunter2@db/x") == "postgresql://ops:***@db/x"
