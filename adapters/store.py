"""The store: the embedded SQLite default, or PostgreSQL for a team sharing one queue.

Both speak the same SQL; what differs between them (parameter markers, column
types, how a transaction starts, error classes) is confined to the two small
subclasses at the bottom. The store holds the domain records of
``schema.ENTITIES`` and the toolkit's own state (journal, claims, checkpoints).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import BackendUnreachable, LockHeld, StoreError, UsageError
from .migrations import MIGRATIONS
from .schema import BLOB, BOOL, JSON, Child, Entity

Record = dict[str, Any]


# Query parameters that carry a secret (API keys in vendor URLs).
SECRET_PARAMS = {"apikey", "api_key", "key", "token", "access_token", "password"}
# Secrets written in a URL's path: a Slack webhook (/services/T…/B…/…), a Telegram bot
# token (/bot123:ABC…).
_SECRET_PATHS = (re.compile(r"(/services/)[^?#]+"), re.compile(r"(/bot)\d+:[^/?#]+"))


def mask_url(url: str) -> str:
    """The URL with its secrets replaced by ``***`` — a password, a secret query
    parameter, a webhook or bot token in the path — for messages, logs and
    ``ops config show``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not (parts.scheme and parts.netloc):
        return url
    netloc, path, query = parts.netloc, parts.path, parts.query
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", ":***@")
    for pattern in _SECRET_PATHS:
        path = pattern.sub(r"\1***", path)
    if query:
        query = "&".join(
            f"{k}=***" if k.lower() in SECRET_PARAMS else f"{k}={v}" if sep else k
            for k, sep, v in (item.partition("=") for item in query.split("&"))
        )
    masked = parts._replace(netloc=netloc, path=path, query=query).geturl()
    return url if (netloc, path, query) == (parts.netloc, parts.path, parts.query) else masked


def encode_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == JSON:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if kind == BOOL:
        return bool(value)
    return value


def json_object(value: Any) -> dict[str, Any]:
    """A JSON column read by raw SQL (text on SQLite, already decoded on PostgreSQL) as a
    dict; anything else as an empty one."""
    decoded = decode_value(JSON, value)
    return decoded if isinstance(decoded, dict) else {}


def decode_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == JSON:
        return json.loads(value) if isinstance(value, str) else value
    if kind == BOOL:
        return bool(value)
    if kind == BLOB:
        return bytes(value)
    return value


class Store(ABC):
    """Common SQL over a DB-API connection; subclasses supply the dialect."""

    dialect = "sql"
    real_type = "REAL"
    blob_type = "BLOB"
    # Byte-wise text order on both stores, so exports list records alike.
    id_order = "id"

    def __init__(self, url: str) -> None:
        self.url = url
        self._depth = 0
        self.conn: Any = None

    # -- dialect hooks -------------------------------------------------
    @abstractmethod
    def _connect(self) -> Any:
        """Open the DB-API connection (each dialect its own)."""

    def _sql(self, sql: str) -> str:
        return sql

    def _begin(self) -> str:
        return "BEGIN"

    def _translate_error(self, exc: Exception) -> Exception | None:
        return None

    def _lock_for_migrations(self) -> None:  # noqa: B027 - SQLite needs none (BEGIN IMMEDIATE)
        """Serialise concurrent migrators (inside the migration transaction)."""

    def lock(self, key: str) -> None:  # noqa: B027 - SQLite: BEGIN IMMEDIATE already does
        """Inside a transaction: writers naming the same ``key`` (a store's slots, say) take
        turns until the transaction ends, so a check and the write it allows cannot be
        overtaken by another process. SQLite's write transaction is one lock for all."""

    # -- connection ----------------------------------------------------
    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        from .registry import resolve, scheme_of

        store = (resolve("store", url) if scheme_of(url) else SQLiteStore)(url)
        store.conn = store._connect()
        try:
            if migrate:
                store.migrate()
            else:
                store.schema_version()
        except Exception:
            store.close()
            raise
        return store

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def display_url(self) -> str:
        return mask_url(self.url)

    # -- SQL -------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            cur = self.conn.cursor()
            cur.execute(self._sql(sql), tuple(params))
            return cur
        except Exception as exc:
            mapped = self._translate_error(exc)
            if mapped is not None:
                raise mapped from exc
            raise

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            cur = self.conn.cursor()
            cur.executemany(self._sql(sql), [tuple(r) for r in rows])
        except Exception as exc:
            mapped = self._translate_error(exc)
            if mapped is not None:
                raise mapped from exc
            raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Record]:
        cur = self.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def iter_query(self, sql: str, params: Sequence[Any] = (), size: int = 500) -> Iterator[Record]:
        cur = self.execute(sql, params)
        cols = [d[0] for d in cur.description]
        while True:
            rows = cur.fetchmany(size)
            if not rows:
                return
            for row in rows:
                yield dict(zip(cols, row, strict=True))

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All-or-nothing; nested calls join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self.execute(self._begin())
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            self.execute("ROLLBACK")
            raise
        self._depth = 0
        self.execute("COMMIT")

    # -- migrations ---------------------------------------------------------
    def schema_version(self) -> int:
        self.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        return int(self.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    def migrate(self) -> list[int]:
        latest = MIGRATIONS[-1][0]
        current = self.schema_version()
        if current > latest:
            raise StoreError(
                f"store {self.display_url} has schema version {current}, newer than this "
                f"ops understands ({latest})",
                hint="upgrade deskops",
            )
        applied = []
        for version, name, statements in MIGRATIONS:
            if version <= current:
                continue
            with self.transaction():
                self._lock_for_migrations()
                if self.scalar(
                    "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", (version,)
                ):
                    continue  # another process migrated while we waited
                for stmt in statements:
                    self.execute(stmt.format(real=self.real_type, blob=self.blob_type))
                from datetime import UTC, datetime

                self.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
                )
            applied.append(version)
        return applied

    def columns(self, table: str) -> list[str]:
        cur = self.execute(f"SELECT * FROM {table} WHERE 1 = 0")
        return [d[0] for d in cur.description]

    # -- generic record access ---------------------------------------------------
    def _decode_row(self, entity: Entity, row: Record) -> Record:
        return {
            name: decode_value(entity.type_of(name), row.get(name)) for name in entity.field_names
        }

    def _child_values(self, child: Child, parent_id: str) -> list[Any]:
        cols = ", ".join(child.names)
        rows = self.query(
            f"SELECT {cols} FROM {child.table} WHERE parent_id = ? ORDER BY pos", (parent_id,)
        )
        return [self._decode_child(child, r) for r in rows]

    @staticmethod
    def _decode_child(child: Child, row: Record) -> Any:
        if child.scalar:
            name, kind = child.columns[0]
            return decode_value(kind, row[name])
        return {n: decode_value(k, row[n]) for n, k in child.columns}

    def get(self, entity: Entity, rid: str, *, children: bool = True) -> Record | None:
        rows = self.query(
            f"SELECT {', '.join(entity.field_names)} FROM {entity.table} WHERE id = ?", (rid,)
        )
        if not rows:
            return None
        rec = self._decode_row(entity, rows[0])
        if children:
            for name, child in entity.children.items():
                rec[name] = self._child_values(child, rid)
        return rec

    def iter_records(
        self,
        entity: Entity,
        where: str = "",
        params: Sequence[Any] = (),
        *,
        order: str | None = None,
        children: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[Record]:
        """Records with their child collections, streamed in pages."""
        sql = f"SELECT {', '.join(entity.field_names)} FROM {entity.table}"
        if where:
            sql += f" WHERE {where}"
        sql += f" ORDER BY {order or self.id_order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
            if offset:
                sql += f" OFFSET {int(offset)}"
        page: list[Record] = []
        for row in self.iter_query(sql, params):
            page.append(self._decode_row(entity, row))
            if len(page) >= 500:
                yield from self._with_children(entity, page, children)
                page = []
        yield from self._with_children(entity, page, children)

    def _with_children(self, entity: Entity, page: list[Record], children: bool) -> list[Record]:
        if not children or not entity.children or not page:
            return page
        ids = [r["id"] for r in page]
        marks = ", ".join("?" for _ in ids)
        by_id = {r["id"]: r for r in page}
        for name, child in entity.children.items():
            for r in page:
                r[name] = []
            rows = self.query(
                f"SELECT parent_id, {', '.join(child.names)} FROM {child.table} "
                f"WHERE parent_id IN ({marks}) ORDER BY parent_id, pos",
                ids,
            )
            for row in rows:
                by_id[row["parent_id"]][name].append(self._decode_child(child, row))
        return page

    def sent(self, target: str) -> bool:
        """Whether a ``send`` change to ``target`` (``outbox:<key>``) was applied in some run:
        a mail or a post goes out once."""
        return bool(self.scalar(
            "SELECT COUNT(*) FROM journal_entries WHERE target = ? AND op = 'send' "
            "AND outcome = 'applied'",
            (target,),
        ))  # fmt: skip

    def count(self, entity: Entity) -> int:
        return int(self.scalar(f"SELECT COUNT(*) FROM {entity.table}"))

    def insert(self, entity: Entity, rec: Record) -> None:
        names = [n for n in entity.field_names if n in rec]
        self.execute(
            f"INSERT INTO {entity.table} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)})",
            [encode_value(entity.type_of(n), rec[n]) for n in names],
        )
        for name, child in entity.children.items():
            if rec.get(name):
                self._insert_children(child, rec["id"], rec[name], start=0)

    def insert_many(self, entity: Entity, recs: Sequence[Record]) -> None:
        """Records of an entity without children, in one statement (a batch of imports)."""
        if not recs:
            return
        names = entity.field_names
        types = [entity.type_of(n) for n in names]
        self.executemany(
            f"INSERT INTO {entity.table} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)})",
            [[encode_value(t, rec.get(n)) for n, t in zip(names, types, strict=True)]
             for rec in recs],
        )  # fmt: skip

    def _insert_children(self, child: Child, parent_id: str, values: list[Any], start: int) -> None:
        cols = ["parent_id", "pos", *child.names]
        sql = (
            f"INSERT INTO {child.table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
        )
        for pos, value in enumerate(values, start=start):
            if child.scalar:
                vals = [encode_value(child.columns[0][1], value)]
            else:
                vals = [encode_value(k, value.get(n)) for n, k in child.columns]
            self.execute(sql, [parent_id, pos, *vals])

    def delete(self, entity: Entity, rid: str) -> None:
        if not entity.deletable:
            raise StoreError(f"{entity.name} records are never deleted by ops")
        for child in entity.children.values():
            self.execute(f"DELETE FROM {child.table} WHERE parent_id = ?", (rid,))
        self.execute(f"DELETE FROM {entity.table} WHERE id = ?", (rid,))

    def read_field(self, entity: Entity, rid: str, name: str) -> Any:
        if name in entity.children:
            return self._child_values(entity.children[name], rid)
        value = self.scalar(f"SELECT {name} FROM {entity.table} WHERE id = ?", (rid,))
        return decode_value(entity.type_of(name), value)

    def set_field(self, entity: Entity, rid: str, name: str, value: Any) -> None:
        if name in entity.children:
            child = entity.children[name]
            self.execute(f"DELETE FROM {child.table} WHERE parent_id = ?", (rid,))
            self._insert_children(child, rid, list(value or []), start=0)
            return
        if name not in entity.field_names or name == "id":
            raise UsageError(f"{entity.name} has no field {name!r}")
        self.execute(
            f"UPDATE {entity.table} SET {name} = ? WHERE id = ?",
            (encode_value(entity.type_of(name), value), rid),
        )

    def add_child(self, entity: Entity, rid: str, name: str, value: Any) -> None:
        child = entity.children[name]
        pos = self.scalar(
            f"SELECT COALESCE(MAX(pos), -1) + 1 FROM {child.table} WHERE parent_id = ?", (rid,)
        )
        self._insert_children(child, rid, [value], start=int(pos))

    def remove_child(self, entity: Entity, rid: str, name: str, value: Any) -> None:
        child = entity.children[name]
        if child.scalar:
            col, kind = child.columns[0]
            self.execute(
                f"DELETE FROM {child.table} WHERE parent_id = ? AND {col} = ?",
                (rid, encode_value(kind, value)),
            )
            return
        # Remove the last matching row only: two identical comments stay one.
        for row in reversed(
            self.query(
                f"SELECT pos, {', '.join(child.names)} FROM {child.table} "
                f"WHERE parent_id = ? ORDER BY pos",
                (rid,),
            )
        ):
            if self._decode_child(child, row) == value:
                self.execute(
                    f"DELETE FROM {child.table} WHERE parent_id = ? AND pos = ?", (rid, row["pos"])
                )
                return


class SQLiteStore(Store):
    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)

    def _connect(self) -> Any:
        if self.path != ":memory:":
            p = Path(self.path)
            if p.is_dir():
                raise StoreError(f"store {self.path} is a directory, not a database file")
            p.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=5.0)
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # 32 MB of page cache (the default is 2 MB): a million-row import keeps the
            # pages of its indexes in memory instead of reading them back for every batch
            conn.execute("PRAGMA cache_size = -32768")
        except sqlite3.Error as exc:
            mapped = self._translate_error(exc)
            raise (mapped or StoreError(f"store {self.path}: {exc}")) from exc
        return conn

    def _begin(self) -> str:
        return "BEGIN IMMEDIATE"

    def _translate_error(self, exc: Exception) -> Exception | None:
        if not isinstance(exc, sqlite3.Error):
            return None
        msg = str(exc)
        if "locked" in msg or "busy" in msg:
            return LockHeld(
                f"store {self.path} is locked by another process", hint="try again later"
            )
        if isinstance(exc, sqlite3.DatabaseError) and (
            "not a database" in msg or "malformed" in msg or "corrupt" in msg
        ):
            return StoreError(
                f"store {self.path} is not a readable SQLite database ({msg})",
                hint="point --store/OPS_STORE_URL at another file or restore a backup",
            )
        if "unable to open" in msg or "readonly" in msg:
            return StoreError(f"store {self.path} cannot be opened for writing ({msg})")
        return None


class PostgresStore(Store):
    dialect = "postgresql"
    real_type = "DOUBLE PRECISION"
    blob_type = "BYTEA"
    id_order = 'id COLLATE "C"'

    def _connect(self) -> Any:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - declared dependency
            raise StoreError(
                "PostgreSQL stores need psycopg: pip install 'psycopg[binary]'"
            ) from exc
        url = self.url.replace("postgres://", "postgresql://", 1)
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackendUnreachable(f"store {mask_url(self.url)}: {first}") from exc

    def _sql(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def _lock_for_migrations(self) -> None:
        self.execute("SELECT pg_advisory_xact_lock(727271)")

    def lock(self, key: str) -> None:
        self.execute("SELECT pg_advisory_xact_lock(727273, hashtext(?))", (key,))

    def _translate_error(self, exc: Exception) -> Exception | None:
        import psycopg

        if isinstance(exc, psycopg.errors.LockNotAvailable):
            return LockHeld(f"store {mask_url(self.url)} is locked", hint="try again later")
        if isinstance(exc, psycopg.OperationalError):
            return BackendUnreachable(f"store {mask_url(self.url)}: {exc}")
        return None


def sqlite_path(url: str) -> str:
    """``sqlite:///abs/path``, ``sqlite:rel/path``, ``sqlite://:memory:`` or a bare path."""
    if url.startswith("sqlite:"):
        rest = url[len("sqlite:") :]
        if rest.startswith("//"):
            rest = rest[2:]
        path = unquote(rest.split("?", 1)[0])
        return path or ":memory:"
    return os.path.expanduser(url)
