"""A local kintone REST API on a free loopback port (stdlib only), for the tests of
``adapters/kintone.py`` — the contract of shared/backends.md "CRM" and of kintone's
REST reference (cybozu.dev), closely enough to test paging past the offset limit,
cursors, bulk updates with optimistic locking, and the failures:

- auth: ``X-Cybozu-API-Token`` (several tokens may be given comma-separated); none →
  401 ``CB_WA01``; a wrong one → ``GAIA_IA02`` with ``bad_token_status`` (400, what
  kintone answers today; 520 on older versions; 401 if a test wants it);
- ``GET /k/v1/record.json?app=&id=`` → ``{"record"}`` (404 ``GAIA_RE01`` when none);
- ``GET /k/v1/records.json`` (params or a JSON body: ``app``, ``query``,
  ``fields[n]``, ``totalCount``) → ``{"records", "totalCount"}``. The query language
  subset: ``code = != > < >= <= value``, ``like``/``not like "x"`` (substring),
  ``in``/``not in ("a", …)``, ``and``/``or``/parentheses, ``order by code asc|desc, …``
  (default ``$id desc``, as kintone), ``limit`` (default 100, **≤ 500**) and ``offset``
  (**≤ 10,000**); beyond either → 400 ``CB_VA01``. String literals take ``\\"`` and
  ``\\\\`` escapes. A field code the app lacks → 400 ``GAIA_IQ11``, a syntax error →
  400 ``GAIA_IQ03`` (those two codes are assumed; kintone's messages differ in wording);
- cursors: ``POST /k/v1/records/cursor.json`` (``app``, ``query`` without
  limit/offset, ``fields``, ``size`` 1…500) → ``{"id", "totalCount"}``, at most
  ``max_cursors`` (10, per domain) open at once, else 429 ``GAIA_TM12``; ``GET ?id=``
  → ``{"records", "next"}``, the cursor dropped once read to the end (as kintone);
  ``DELETE ?id=`` (or a JSON body) → ``{}``; an unknown cursor → 400 ``GAIA_CR01`` (assumed code);
- ``PUT /k/v1/records.json`` (``records: [{id, revision, record}]``, ≤ 100) — all or
  nothing: a revision that is not the record's → **409 ``GAIA_CO02`` with nothing of the
  request applied**; each updated record's ``$revision`` goes up by one →
  ``{"records": [{id, revision}]}``; an unknown field code → 400 ``GAIA_FC01``; a
  field type that cannot be written (STATUS, CALC, …) → 400 ``CB_VA01``;
- ``POST /k/v1/records.json`` (``records: [record]``, ≤ 100) → ``{"ids", "revisions"}``,
  refusing a duplicate in a field declared ``unique``;
- ``GET /k/v1/app/form/fields.json?app=`` → ``{"properties": {code: {type, code, label}}}``.

Faults and counters come from :class:`contract_orders.ContractServer`:
``fail_next(n, 429, retry_after=1)`` answers the next n requests with a 429 and
``Retry-After``, ``malformed_next`` a body that is not JSON, ``delay_next`` late.
Counters: ``requests``, ``calls``, ``puts`` (ids per PUT), ``posts``,
``cursors_created`` / ``cursors_deleted`` / ``cursors_exhausted`` and ``open_cursors``::

    with KintoneServer(token="t") as srv:
        srv.add_app(42, {"件名": "SINGLE_LINE_TEXT"}, [{"件名": "x"}] * 25_000)
        ... KintoneRecords(f"kintone+{srv.url}/k/42?rps=1000", secret="t", kind="cases") ...
"""

from __future__ import annotations

import bisect
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from contract_orders import Answer, ContractServer, Fault, _first, _json

MAX_LIMIT = 500
MAX_OFFSET = 10_000
MAX_WRITE = 100
NUMERIC = {"NUMBER", "__ID__", "__REVISION__", "RECORD_NUMBER", "CALC"}
LISTS = {
    "CHECK_BOX",
    "MULTI_SELECT",
    "CATEGORY",
    "USER_SELECT",
    "ORGANIZATION_SELECT",
    "GROUP_SELECT",
    "STATUS_ASSIGNEE",
    "FILE",
}
READ_ONLY = {
    "__ID__",
    "__REVISION__",
    "RECORD_NUMBER",
    "CALC",
    "STATUS",
    "STATUS_ASSIGNEE",
    "CATEGORY",
    "CREATOR",
    "MODIFIER",
    "CREATED_TIME",
    "UPDATED_TIME",
}
ON_CREATE = {"CREATOR", "MODIFIER", "CREATED_TIME", "UPDATED_TIME"}  # kintone takes these on add
CONFLICT_MESSAGE = (
    "指定したrevisionは最新ではありません。ほかのユーザーがレコードを更新した可能性があります。"
)


class KintoneFail(Exception):
    """An error answer: ``{"code", "id", "message"[, "errors"]}`` with an HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors


def _invalid(where: str, message: str) -> KintoneFail:
    return KintoneFail(
        400, "CB_VA01", "入力内容が正しくありません。", {where: {"messages": [message]}}
    )


# -- the query language ----------------------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:\\.|[^"\\])*")
    | (?P<num>-?\d+(?:\.\d+)?)(?![^\s(),])
    | (?P<op>!=|>=|<=|=|>|<)
    | (?P<punct>[(),])
    | (?P<word>[^\s"(),=<>!]+)
    )""",
    re.X,
)
_UNESCAPE = re.compile(r"\\(.)", re.S)
Pred = Callable[[dict[str, Any]], bool]


@dataclass
class Query:
    pred: Pred
    order: list[tuple[str, bool]]  # (field code, descending)
    limit: int | None
    offset: int | None
    floor: float | None = None  # every match has $id above this (from "$id > N" and-ed in)


class _Parser:
    def __init__(self, text: str, types: dict[str, str]) -> None:
        self.types = types
        self.tokens: list[tuple[str, Any]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise self.error(f"unexpected {text[pos : pos + 10]!r}")
            pos = m.end()
            kind = m.lastgroup or ""
            value: Any = m.group(kind)
            if kind == "str":
                value = _UNESCAPE.sub(r"\1", value[1:-1])
            self.tokens.append((kind, value))
        self.i = 0
        self.floors: dict[int, float] = {}  # id(predicate) → its lower bound on $id

    def error(self, what: str) -> KintoneFail:
        return KintoneFail(400, "GAIA_IQ03", f"クエリ記法が間違っています。({what})")

    def peek(self, offset: int = 0) -> tuple[str, Any] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def word(self, offset: int = 0) -> str | None:
        tok = self.peek(offset)
        return str(tok[1]).lower() if tok and tok[0] == "word" else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end")
        self.i += 1
        return tok

    def expect_word(self, word: str) -> None:
        if self.word() != word:
            raise self.error(f"expected {word}")
        self.i += 1

    def code(self) -> str:
        kind, value = self.take()
        if kind != "word":
            raise self.error(f"expected a field code, got {value!r}")
        if value not in self.types:
            raise KintoneFail(
                400, "GAIA_IQ11", f"指定したフィールド（code: {value}）が見つかりません。"
            )
        return str(value)

    def parse(self) -> Query:
        pred: Pred = lambda rec: True  # noqa: E731 - the empty condition
        if self.peek() is not None and self.word() not in ("order", "limit", "offset"):
            pred = self.or_expr()
        order: list[tuple[str, bool]] = []
        limit = offset = None
        if self.word() == "order":
            self.i += 1
            self.expect_word("by")
            while True:
                code = self.code()
                desc = False
                if self.word() in ("asc", "desc"):
                    desc = self.take()[1].lower() == "desc"
                order.append((code, desc))
                if self.peek() == ("punct", ","):
                    self.i += 1
                    continue
                break
        for name in ("limit", "offset"):
            if self.word() == name:
                self.i += 1
                kind, value = self.take()
                if kind != "num" or not str(value).isdigit():
                    raise self.error(f"{name} needs a whole number")
                if name == "limit":
                    limit = int(value)
                else:
                    offset = int(value)
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return Query(pred, order, limit, offset, self.floors.get(id(pred)))

    def or_expr(self) -> Pred:
        parts = [self.and_expr()]
        while self.word() == "or":
            self.i += 1
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        return lambda rec: any(p(rec) for p in parts)

    def and_expr(self) -> Pred:
        parts = [self.atom()]
        while self.word() == "and":
            self.i += 1
            parts.append(self.atom())
        if len(parts) == 1:
            return parts[0]
        both: Pred = lambda rec: all(p(rec) for p in parts)  # noqa: E731
        floors = [self.floors[id(p)] for p in parts if id(p) in self.floors]
        if floors:
            self.floors[id(both)] = max(floors)
        return both

    def literal(self) -> Any:
        kind, value = self.take()
        if kind not in ("str", "num"):
            raise self.error(f"expected a value, got {value!r}")
        return value

    def atom(self) -> Pred:
        if self.peek() == ("punct", "("):
            self.i += 1
            inner = self.or_expr()
            if self.take() != ("punct", ")"):
                raise self.error("expected )")
            return inner
        code = self.code()
        ftype = self.types[code]
        negate = False
        if self.word() == "not":
            self.i += 1
            negate = True
            if self.word() not in ("in", "like"):
                raise self.error("expected in or like after not")
        tok = self.take()
        op = tok[1].lower() if tok[0] == "word" else tok[1]
        if op == "in":
            if self.take() != ("punct", "("):
                raise self.error("expected ( after in")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.i += 1
                values.append(self.literal())
            if self.take() != ("punct", ")"):
                raise self.error("expected )")
            wanted = {_key(ftype, v) for v in values}

            def member(rec: dict[str, Any]) -> bool:
                value = _get(rec, code)
                got = value if isinstance(value, list) else [value]
                return any(_key(ftype, g) in wanted for g in got if g not in (None, ""))

            return (lambda rec: not member(rec)) if negate else member
        if op == "like":
            needle = str(self.literal()).lower()

            def like(rec: dict[str, Any]) -> bool:
                value = _get(rec, code)
                text = " ".join(map(str, value)) if isinstance(value, list) else str(value or "")
                return needle in text.lower()

            return (lambda rec: not like(rec)) if negate else like
        if tok[0] != "op":
            raise self.error(f"unknown operator {op!r}")
        wanted_one = _key(ftype, self.literal())
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            ">": lambda a, b: a > b,
            "<": lambda a, b: a < b,
            ">=": lambda a, b: a >= b,
            "<=": lambda a, b: a <= b,
        }
        fn = compare[op]

        def test(rec: dict[str, Any]) -> bool:
            value = _get(rec, code)
            if value in (None, ""):
                return op == "!=" if wanted_one not in (None, "") else op == "="
            try:
                return fn(_key(ftype, value), wanted_one)
            except TypeError:
                return False

        if code == "$id" and op in (">", ">=") and isinstance(wanted_one, float):
            self.floors[id(test)] = wanted_one - (0.5 if op == ">=" else 0)
        return test


def _get(rec: dict[str, Any], code: str) -> Any:
    field_ = rec.get(code)
    return field_.get("value") if isinstance(field_, dict) else None


def _key(ftype: str, value: Any) -> Any:
    if value in (None, ""):
        return None
    if ftype in NUMERIC:
        try:
            return float(value)
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, dict):
        return value.get("name") or value.get("code")
    return str(value)


def _sort_key(ftype: str, code: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """Empty values first, then by value (numbers as numbers)."""

    def key(raw: dict[str, Any]) -> tuple[int, Any]:
        value = _key(ftype, _get(raw, code))
        if isinstance(value, list):
            value = ",".join(map(str, value))
        return (0, "") if value is None else (1, value)

    return key


def parse_query(text: str, types: dict[str, str]) -> Query:
    return _Parser(text, types).parse()


# -- the server ------------------------------------------------------------------------------
@dataclass
class App:
    properties: dict[str, str]  # field code → type
    records: dict[int, dict[str, Any]] = field(default_factory=dict)  # in $id order
    unique: set[str] = field(default_factory=set)
    next_id: int = 1

    @property
    def types(self) -> dict[str, str]:
        return {"$id": "__ID__", "$revision": "__REVISION__", **self.properties}


@dataclass
class Cursor:
    app: int
    ids: list[int]
    size: int
    fields: list[str] | None
    pos: int = 0


class KintoneServer(ContractServer):
    """kintone's records API on loopback, apps held in memory (see the module docstring)."""

    def __init__(
        self,
        *,
        token: str | Iterable[str],
        max_cursors: int = 10,
        bad_token_status: int = 400,
        fail: Fault | Iterable[Fault] | None = None,
    ) -> None:
        super().__init__(fail=fail)
        self.tokens = {token} if isinstance(token, str) else set(token)
        self.max_cursors = max_cursors
        self.bad_token_status = bad_token_status
        self.apps: dict[int, App] = {}
        self.cursors: dict[str, Cursor] = {}
        self.cursors_created = 0
        self.cursors_deleted = 0  # by DELETE
        self.cursors_exhausted = 0  # read to the end, dropped by the server
        self.puts: list[list[str]] = []  # record ids of each applied PUT
        self.refused_puts = 0  # PUTs refused whole (conflict, validation)
        self.posts: list[list[str]] = []  # new ids of each POST

    # -- data -------------------------------------------------------------------------------
    def add_app(
        self,
        app: int,
        properties: dict[str, str],
        records: Iterable[dict[str, Any]] = (),
        *,
        unique: Iterable[str] = (),
    ) -> None:
        """An app with fields ``code → type`` and records given as ``code → value``
        (``$id`` optional; ids are given in order from 1 otherwise)."""
        with self.lock:
            target = App(dict(properties), unique=set(unique))
            self.apps[app] = target
            for values in records:
                rid = int(values.get("$id") or target.next_id)
                target.next_id = max(target.next_id, rid + 1)
                target.records[rid] = self._raw(target, rid, 1, values)
            target.records = dict(sorted(target.records.items()))  # id order, as served

    def _raw(self, app: App, rid: int, revision: int, values: dict[str, Any]) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "$id": {"type": "__ID__", "value": str(rid)},
            "$revision": {"type": "__REVISION__", "value": str(revision)},
        }
        for code, ftype in app.properties.items():
            default: Any = [] if ftype in LISTS or ftype == "SUBTABLE" else ""
            raw[code] = {"type": ftype, "value": values.get(code, default)}
        return raw

    def record(self, app: int, rid: int) -> dict[str, Any]:
        """A copy of a record as kintone holds it."""
        with self.lock:
            return json.loads(json.dumps(self.apps[app].records[rid]))

    def value(self, app: int, rid: int, code: str) -> Any:
        return self.record(app, rid)[code]["value"]

    def edit(self, app: int, rid: int, **values: Any) -> None:
        """Someone else's edit in kintone (for conflict tests): the revision goes up."""
        with self.lock:
            raw = self.apps[app].records[rid]
            for code, value in values.items():
                raw[code]["value"] = value
            raw["$revision"]["value"] = str(int(raw["$revision"]["value"]) + 1)

    def reset(self) -> None:
        """Forget the requests seen and the faults pending (one server for several tests)."""
        with self.lock:
            self.faults.clear()
            self.requests = self.throttled = self.refused_puts = 0
            self.sent.clear()
            self.calls.clear()
            self.puts.clear()
            self.posts.clear()
            self.cursors.clear()
            self.cursors_created = self.cursors_deleted = self.cursors_exhausted = 0

    @property
    def open_cursors(self) -> int:
        with self.lock:
            return len(self.cursors)

    def open_cursor(self, app: int, query: str = "") -> str:
        """A cursor someone else holds (for the limit of ten)."""
        with self.lock:
            return self._create_cursor({"app": app, "query": query})["id"]

    # -- HTTP -------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
        return _json(
            status, {"code": "TEST_FAULT", "id": uuid.uuid4().hex, "message": message}, headers
        )

    def fail(self, exc: KintoneFail) -> Answer:
        body: dict[str, Any] = {"code": exc.code, "id": uuid.uuid4().hex, "message": exc.message}
        if exc.errors:
            body["errors"] = exc.errors
        return _json(exc.status, body)

    def route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Answer:
        given = headers.get("X-Cybozu-API-Token")
        if not given:
            return self.fail(
                KintoneFail(401, "CB_WA01", "ユーザーのパスワード認証を行えませんでした。")
            )
        if not {t.strip() for t in given.split(",")} & self.tokens:
            return self.fail(
                KintoneFail(
                    self.bad_token_status,
                    "GAIA_IA02",
                    "指定したAPIトークンは、アプリで生成されたトークンと異なります。",
                )
            )
        try:
            data = self._body(body)
            handler = {
                ("GET", "/k/v1/record.json"): self.get_record,
                ("GET", "/k/v1/records.json"): self.get_records,
                ("PUT", "/k/v1/records.json"): self.put_records,
                ("POST", "/k/v1/records.json"): self.post_records,
                ("POST", "/k/v1/records/cursor.json"): self.post_cursor,
                ("GET", "/k/v1/records/cursor.json"): self.get_cursor,
                ("DELETE", "/k/v1/records/cursor.json"): self.delete_cursor,
                ("GET", "/k/v1/app/form/fields.json"): self.get_fields,
            }.get((method, path))
            if handler is None:  # DELETE records.json among them: ops must never call it
                raise KintoneFail(404, "CB_NO01", f"{method} {path} is not served here")
            return _json(200, handler(query, data))
        except KintoneFail as exc:
            return self.fail(exc)

    @staticmethod
    def _body(body: bytes) -> dict[str, Any]:
        if not body.strip():
            return {}
        try:
            data = json.loads(body)
        except ValueError:
            raise KintoneFail(400, "CB_IJ01", "不正なJSON文字列です。") from None
        if not isinstance(data, dict):
            raise KintoneFail(400, "CB_IJ01", "不正なJSON文字列です。")
        return data

    def _param(self, query: dict[str, list[str]], data: dict[str, Any], name: str) -> Any:
        if name in data:
            return data[name]
        return _first(query, name)

    def _app(self, query: dict[str, list[str]], data: dict[str, Any]) -> tuple[int, App]:
        value = self._param(query, data, "app")
        if value in (None, ""):
            raise _invalid("app", "必須です。")
        if not str(value).isdigit():
            raise _invalid("app", "整数で指定してください。")
        app = self.apps.get(int(value))
        if app is None:
            raise KintoneFail(404, "GAIA_AP01", f"指定したアプリ（id: {value}）が見つかりません。")
        return int(value), app

    def _fields(self, query: dict[str, list[str]], data: dict[str, Any]) -> list[str] | None:
        if "fields" in data:
            return [str(f) for f in data["fields"]]
        found = sorted(
            (
                (int(m.group(1)), v[0])
                for k, v in query.items()
                if (m := re.fullmatch(r"fields\[(\d+)\]", k))
            ),
        )
        return [code for _, code in found] or None

    @staticmethod
    def _view(raw: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        if fields is None:
            return raw
        return {code: raw[code] for code in fields if code in raw}

    def _select(self, app: App, parsed: Query, stop: int | None = None) -> list[dict[str, Any]]:
        """The matching records in the query's order; with ``stop``, only the first ``stop``
        of them when the order is the id's (the records are kept in id order)."""
        order = parsed.order or [("$id", True)]  # kintone's default: newest first
        if len(order) == 1 and order[0][0] == "$id":
            rows: Iterable[dict[str, Any]] = app.records.values()
            if order[0][1]:
                rows = reversed(list(rows))
            elif parsed.floor is not None:  # seek: start past the floor, not at the first id
                ids = list(app.records)
                start = bisect.bisect_right(ids, parsed.floor)
                rows = (app.records[i] for i in ids[start:])
            found = []
            for raw in rows:
                if parsed.pred(raw):
                    found.append(raw)
                    if stop is not None and len(found) >= stop:
                        break
            return found
        found = [raw for raw in app.records.values() if parsed.pred(raw)]
        types = app.types
        for code, desc in reversed(order):
            found.sort(key=_sort_key(types[code], code), reverse=desc)
        return found

    # -- records ----------------------------------------------------------------------------
    def get_record(self, query: dict[str, list[str]], data: dict[str, Any]) -> dict[str, Any]:
        _, app = self._app(query, data)
        rid = self._param(query, data, "id")
        if not str(rid or "").isdigit():
            raise _invalid("id", "整数で指定してください。")
        raw = app.records.get(int(rid))
        if raw is None:
            raise KintoneFail(404, "GAIA_RE01", f"指定したレコード（id: {rid}）が見つかりません。")
        return {"record": raw}

    def get_records(self, query: dict[str, list[str]], data: dict[str, Any]) -> dict[str, Any]:
        _, app = self._app(query, data)
        parsed = parse_query(str(self._param(query, data, "query") or ""), app.types)
        limit = 100 if parsed.limit is None else parsed.limit
        offset = parsed.offset or 0
        if limit > MAX_LIMIT:
            raise _invalid("query", f"limitには{MAX_LIMIT}以下の値を指定してください。")
        if offset > MAX_OFFSET:
            raise _invalid("query", f"offsetには{MAX_OFFSET}以下の値を指定してください。")
        fields = self._fields(query, data)
        total = str(self._param(query, data, "totalCount") or "").lower() == "true"
        found = self._select(app, parsed, None if total else offset + limit)
        return {
            "records": [self._view(raw, fields) for raw in found[offset : offset + limit]],
            "totalCount": str(len(found)) if total else None,
        }

    def _check_value(self, where: str, ftype: str, value: Any) -> None:
        if ftype in LISTS and not isinstance(value, list):
            raise _invalid(where, "配列で指定してください。")
        if ftype == "NUMBER" and value not in ("", None):
            try:
                float(value)
            except (TypeError, ValueError):
                raise _invalid(where, "数値でなければなりません。") from None
        if ftype in ("DATETIME", "CREATED_TIME", "UPDATED_TIME") and value not in ("", None):
            if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?(Z|[+-]\d\d:\d\d)", str(value)):
                raise _invalid(where, "日時の形式が不正です。")
        if ftype not in LISTS and ftype != "SUBTABLE" and isinstance(value, list | dict):
            raise _invalid(where, "文字列で指定してください。")

    def _check_record(self, app: App, where: str, record: Any, creating: bool) -> dict[str, Any]:
        if not isinstance(record, dict):
            raise _invalid(where, "オブジェクトで指定してください。")
        values: dict[str, Any] = {}
        for code, cell in record.items():
            ftype = app.properties.get(code)
            if ftype is None:
                raise KintoneFail(
                    400, "GAIA_FC01", f"指定したフィールド（code: {code}）が見つかりません。"
                )
            if ftype in READ_ONLY and not (creating and ftype in ON_CREATE):
                raise _invalid(f"{where}.{code}", f"{ftype} のフィールドは更新できません。")
            if not isinstance(cell, dict) or "value" not in cell:
                raise _invalid(f"{where}.{code}.value", "必須です。")
            self._check_value(f"{where}.{code}.value", ftype, cell["value"])
            values[code] = cell["value"]
        return values

    def _check_unique(self, app: App, changes: list[tuple[int | None, dict[str, Any]]]) -> None:
        for code in app.unique:
            taken = {
                str(_get(raw, code)): rid
                for rid, raw in app.records.items()
                if _get(raw, code) not in (None, "")
            }
            for n, (rid, values) in enumerate(changes):
                if code not in values or values[code] in (None, ""):
                    continue
                key = str(values[code])
                holder = taken.get(key)
                if holder is not None and holder != rid:
                    raise _invalid(
                        f"records[{n}].{code}.value", "値がほかのレコードと重複しています。"
                    )
                taken[key] = rid if rid is not None else -1 - n

    def put_records(self, query: dict[str, list[str]], data: dict[str, Any]) -> dict[str, Any]:
        _, app = self._app(query, data)
        entries = data.get("records")
        try:
            if not isinstance(entries, list) or not entries:
                raise _invalid("records", "必須です。")
            if len(entries) > MAX_WRITE:
                raise _invalid("records", f"一度に更新できるレコードは{MAX_WRITE}件までです。")
            todo: list[tuple[int | None, dict[str, Any]]] = []
            seen: set[int] = set()
            for n, entry in enumerate(entries):
                if not isinstance(entry, dict) or not str(entry.get("id") or "").isdigit():
                    raise _invalid(f"records[{n}].id", "必須です。")
                rid = int(entry["id"])
                if rid in seen:
                    raise _invalid(f"records[{n}].id", "レコードIDが重複しています。")
                seen.add(rid)
                raw = app.records.get(rid)
                if raw is None:
                    raise KintoneFail(
                        404, "GAIA_RE01", f"指定したレコード（id: {rid}）が見つかりません。"
                    )
                revision = entry.get("revision")
                if revision not in (None, -1, "-1") and str(revision) != _get(raw, "$revision"):
                    raise KintoneFail(409, "GAIA_CO02", CONFLICT_MESSAGE)
                todo.append(
                    (
                        rid,
                        self._check_record(
                            app, f"records[{n}].record", entry.get("record") or {}, False
                        ),
                    )
                )
            self._check_unique(app, todo)
        except KintoneFail:
            self.refused_puts += 1
            raise
        out = []
        for rid, values in todo:
            assert rid is not None
            raw = app.records[rid]
            for code, value in values.items():
                raw[code]["value"] = value
            raw["$revision"]["value"] = str(int(raw["$revision"]["value"]) + 1)
            out.append({"id": str(rid), "revision": raw["$revision"]["value"]})
        self.puts.append([o["id"] for o in out])
        return {"records": out}

    def post_records(self, query: dict[str, list[str]], data: dict[str, Any]) -> dict[str, Any]:
        _, app = self._app(query, data)
        records = data.get("records")
        if not isinstance(records, list) or not records:
            raise _invalid("records", "必須です。")
        if len(records) > MAX_WRITE:
            raise _invalid("records", f"一度に追加できるレコードは{MAX_WRITE}件までです。")
        todo: list[tuple[int | None, dict[str, Any]]] = [
            (None, self._check_record(app, f"records[{n}]", rec, True))
            for n, rec in enumerate(records)
        ]
        self._check_unique(app, todo)
        ids = []
        for _, values in todo:
            rid = app.next_id
            app.next_id += 1
            app.records[rid] = self._raw(app, rid, 1, values)
            ids.append(str(rid))
        self.posts.append(ids)
        return {"ids": ids, "revisions": ["1"] * len(ids)}

    def get_fields(self, query: dict[str, list[str]], data: dict[str, Any]) -> dict[str, Any]:
        _, app = self._app(query, data)
        props = {c: {"type": t, "code": c, "label": c} for c, t in app.properties.items()}
        return {"properties": props, "revision": "1"}

    # -- cursors ----------------------------------------------------------------------------
    def _create_cursor(self, data: dict[str, Any]) -> dict[str, Any]:
        _, app = self._app({}, data)
        text = str(data.get("query") or "")
        size = data.get("size", 100)
        if not str(size).isdigit() or not 1 <= int(size) <= MAX_LIMIT:
            raise _invalid("size", f"1以上{MAX_LIMIT}以下の値を指定してください。")
        parsed = parse_query(text, app.types)
        if parsed.limit is not None or parsed.offset is not None:
            raise _invalid("query", "limitとoffsetは指定できません。")
        found = self._select(app, parsed)
        if len(self.cursors) >= self.max_cursors:
            raise KintoneFail(
                429,
                "GAIA_TM12",
                "作成できるカーソルの上限に達しているため、カーソルを作成できません。"
                "不要なカーソルを削除するか、しばらく経ってから再実行してください。",
            )
        fields = [str(f) for f in data["fields"]] if data.get("fields") else None
        cid = str(uuid.uuid4())
        self.cursors[cid] = Cursor(
            int(data["app"]), [int(_get(r, "$id")) for r in found], int(size), fields
        )
        self.cursors_created += 1
        return {"id": cid, "totalCount": str(len(found))}

    def post_cursor(self, query: dict[str, list[str]], data: dict[str, Any]) -> dict[str, Any]:
        return self._create_cursor(data)

    def _cursor(self, query: dict[str, list[str]], data: dict[str, Any]) -> tuple[str, Cursor]:
        cid = str(self._param(query, data, "id") or "")
        cursor = self.cursors.get(cid)
        if cursor is None:
            raise KintoneFail(400, "GAIA_CR01", f"指定したカーソル（id: {cid}）が見つかりません。")
        return cid, cursor

    def get_cursor(self, query: dict[str, list[str]], data: dict[str, Any]) -> dict[str, Any]:
        cid, cursor = self._cursor(query, data)
        app = self.apps[cursor.app]
        ids = cursor.ids[cursor.pos : cursor.pos + cursor.size]
        cursor.pos += len(ids)
        records = [self._view(app.records[i], cursor.fields) for i in ids if i in app.records]
        more = cursor.pos < len(cursor.ids)
        if not more:
            del self.cursors[cid]
            self.cursors_exhausted += 1
        return {"records": records, "next": more}

    def delete_cursor(self, query: dict[str, list[str]], data: dict[str, Any]) -> dict[str, Any]:
        cid, _ = self._cursor(query, data)
        del self.cursors[cid]
        self.cursors_deleted += 1
        return {}


CASE_PROPERTIES = {
    "件名": "SINGLE_LINE_TEXT",
    "電話番号": "SINGLE_LINE_TEXT",
    "顧客ID": "NUMBER",
    "対応状況": "DROP_DOWN",
    "受付日時": "DATETIME",
    "担当者": "USER_SELECT",
    "タグ": "CHECK_BOX",
    "対応履歴": "SUBTABLE",
    "ステータス": "STATUS",
    "ops_key": "SINGLE_LINE_TEXT",
}
CASE_STATES = ["未対応", "対応中", "完了"]


def make_cases(count: int, start: int = 1) -> list[dict[str, Any]]:
    """``count`` records of a support-case app (fields :data:`CASE_PROPERTIES`), ids from
    ``start``, as ``code → value``."""
    return [
        {
            "$id": str(n),
            "件名": f"問い合わせ {n}",
            "電話番号": f"03{n:08d}",
            "顧客ID": str(1_000_000 + n),
            "対応状況": CASE_STATES[n % 3],
            "受付日時": f"2026-01-{1 + n % 28:02d}T0{n % 10}:30:00Z",
            "担当者": [{"code": "sasaki", "name": "佐々木"}],
            "ステータス": "未処理",
        }
        for n in range(start, start + count)
    ]
