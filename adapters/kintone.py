"""kintone apps as the ``cases`` and ``customers`` ports (``kintone+https://DOMAIN/k/APP_ID``).

The URL names the app: ``kintone+https://DOMAIN/k/APP_ID`` (``…/?app=APP_ID`` and a
guest space's ``…/k/guest/SPACE_ID/APP_ID`` work too), optionally with ``?rps=10``,
the request budget of the token. The API token comes from ``OPS_KINTONE_TOKEN`` or
the file named by ``OPS_KINTONE_TOKEN_FILE`` (or is passed in by the CLI as the
port's secret), is sent as ``X-Cybozu-API-Token`` only, and never appears in the
backend name, messages or the journal. A URL holding a secret is refused.

The profile maps the store's field names (``schema.CASES`` / ``schema.CUSTOMERS``) to
the app's field codes::

    [kintone]
    record_url = "https://DOMAIN/k/42/show#record={id}"   # optional; default as here
    [kintone.cases]
    key_field = "ops_key"      # optional: lets ops create cases (see below)
    [kintone.cases.fields]
    caller_number = "電話番号"
    customer_id = "顧客ID"
    status = "ステータス"
    [kintone.customers.fields]
    phones = "電話番号"                      # several numbers in one text field → a list
    emails = ["メールアドレス", "メール2"]    # a list field may gather several codes (read only)

``id`` is the record id ``$id``. Every app field the profile does not map is kept in
``extra`` under its field code, with ``extra["$revision"]`` (the record's revision)
and ``extra["record_url"]``. Values are converted by kintone type: DATETIME →
``YYYY-MM-DDTHH:MM:SSZ`` (UTC, as the store keeps times), NUMBER → int/float,
CHECK_BOX/MULTI_SELECT → lists, USER_SELECT/STATUS_ASSIGNEE → names, SUBTABLE →
a list of dicts; a text field mapped to ``phones``/``emails`` is split on newlines,
commas and semicolons.

Requests, and why:

- listing (:meth:`KintoneRecords.records`): ``GET /k/v1/records.json`` with
  ``<query> order by $id asc limit 500``, then **seeking on the id**
  (``(<query>) and $id > LAST``) rather than an offset, which kintone caps at
  10,000. A query with its own ``order by`` cannot seek on ``$id``: it is read
  through the cursor API (``POST /k/v1/records/cursor.json``, ``GET ?id=`` until
  ``next`` is false), and a cursor still open when reading stops — the consumer
  closed the iterator early, or an error — is deleted (``DELETE``); kintone
  allows 10 open cursors per domain and drops one itself once it is read to the end;
- reading before a write: ``GET /k/v1/record.json`` once per record and run
  (:meth:`~KintoneRecords.prefetch` reads up to 100 in one request), so a change is
  judged on what kintone holds now; its ``$revision`` is kept for the write;
- writing: ``PUT /k/v1/records.json``, one entry per record with all its changes and
  the revision read, ≤ 100 records a request. kintone applies a request all or
  nothing and refuses it (``GAIA_CO02``, HTTP 409, or 400 on some versions) when a
  revision is no longer the record's: ops then re-reads those records' revisions,
  reports the changes of every record that moved as ``conflict`` (never
  overwritten), and sends the rest again with their unchanged revisions, so they
  are still guarded;
- creating cases: ``POST /k/v1/records.json`` (≤ 100), only when ``[kintone.cases]
  key_field`` names a text field (with "prohibit duplicate values") that keeps the
  id ops gave the case: kintone numbers records itself, and without that field a
  re-run could not tell a case it created from a new one. Customers are never created;
- deleting: never. ``ops`` refuses every delete of a kintone record (customer
  registrations above all: deleting one deletes its history).

The process-management status (type STATUS) is not changed through records.json;
map ``status`` to a drop-down or text field, or leave it read-only. Fields of
types ops cannot write (user selections, calculated, files, tables, …) are read only.

The HTTP plumbing (rate limit, retries on 429/5xx honouring ``Retry-After``,
one-line errors) is :class:`deskops.adapters.vendor.HttpApi`.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Generator, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from .errors import AuthError, BackendUnreachable, OpsError, UsageError
from .http import Retryable
from .schema import CASES, CUSTOMERS, DATETIME, FLOAT, INT, JSON, Entity
from .vendor import (
    SECRET_PARAMS,
    HttpApi,
    NotFound,
    host_port,
    one_line,
    parse_rps,
    profile_zone,
    public_url,
)

KINDS: dict[str, Entity] = {"cases": CASES, "customers": CUSTOMERS}
PAGE = 500  # records a listing page or cursor page (kintone's maximum)
CHUNK = 100  # records a bulk write (kintone's maximum)
TOKEN_ENV = "OPS_KINTONE_TOKEN"

CONFLICT_CODES = {"GAIA_CO02"}  # the revision named is not the record's: nothing was written
AUTH_CODES = {"GAIA_IA02", "CB_WA01"}  # wrong API token (kintone answers 400/520), bad login

TEXT_TYPES = {
    "SINGLE_LINE_TEXT",
    "MULTI_LINE_TEXT",
    "RICH_TEXT",
    "LINK",
    "DROP_DOWN",
    "RADIO_BUTTON",
    "STATUS",
    "RECORD_NUMBER",
    "__ID__",
    "__REVISION__",
}
TIME_TYPES = {"DATETIME", "CREATED_TIME", "UPDATED_TIME"}
LIST_TYPES = {"CHECK_BOX", "MULTI_SELECT", "CATEGORY"}
ENTITY_TYPES = {"USER_SELECT", "ORGANIZATION_SELECT", "GROUP_SELECT", "STATUS_ASSIGNEE"}
WRITABLE = {
    "SINGLE_LINE_TEXT",
    "MULTI_LINE_TEXT",
    "RICH_TEXT",
    "LINK",
    "DROP_DOWN",
    "RADIO_BUTTON",
    "NUMBER",
    "DATE",
    "TIME",
    "DATETIME",
    "CHECK_BOX",
    "MULTI_SELECT",
}
CREATE_ONLY = {"CREATED_TIME", "UPDATED_TIME"}  # kintone takes these when a record is added
SYSTEM = {"STATUS", "STATUS_ASSIGNEE", "CALC", "RECORD_NUMBER", "CATEGORY", "__ID__"}
SYSTEM |= {"__REVISION__", "CREATOR", "MODIFIER"}  # set by kintone on a create: left out

_STRING = re.compile(r'"(?:\\.|[^"\\])*"')
_SPLIT = re.compile(r"[\n\r,;、，；]+")
_BAD_CODE = re.compile(r'[\s"()=<>!,]')
OPERATORS = ("=", "!=", ">", "<", ">=", "<=", "like", "not like", "in", "not in")


# -- the query language ------------------------------------------------------------------------
def literal(value: Any) -> str:
    """``value`` as a literal of kintone's query language.

    Text is quoted, with ``\\`` and ``"`` escaped by a backslash (the order matters:
    backslashes first); numbers are bare; times are UTC ISO-8601 in quotes.
    """
    if isinstance(value, bool) or value is None:
        raise UsageError(f"{value!r} cannot be compared in a kintone query")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        value = _utc_text(value)
    elif isinstance(value, date):
        value = value.isoformat()
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def field_code(code: str) -> str:
    """A field code as it stands in a query (kintone codes have no spaces or quotes)."""
    if not code or _BAD_CODE.search(code):
        raise UsageError(f"{code!r} is not a kintone field code")
    return code


def condition(code: str, op: str, value: Any) -> str:
    """One condition, ``電話番号 like "0312345678"``, its value escaped."""
    op = " ".join(op.lower().split())
    if op not in OPERATORS:
        raise UsageError(f"unknown kintone query operator {op!r}; valid: {', '.join(OPERATORS)}")
    if op in ("in", "not in"):
        values = [value] if isinstance(value, str | int | float) else list(value)
        if not values:
            raise UsageError(f"{code} {op} (): give at least one value")
        return f"{field_code(code)} {op} ({', '.join(literal(v) for v in values)})"
    return f"{field_code(code)} {op} {literal(value)}"


def _outside_strings(query: str) -> str:
    return _STRING.sub('""', query)


def has_clause(query: str, word: str) -> bool:
    """Whether the query has ``order by`` / ``limit`` / ``offset`` outside its string literals."""
    pattern = r"\border\s+by\b" if word == "order by" else rf"\b{word}\b"
    return re.search(pattern, _outside_strings(query), re.I) is not None


# -- secrets -----------------------------------------------------------------------------------
def kintone_token(env: dict[str, str] | None = None) -> str | None:
    """``OPS_KINTONE_TOKEN``, else the file ``OPS_KINTONE_TOKEN_FILE`` names (like the CLI's
    secrets: the environment first, then ``<NAME>_FILE``)."""
    source = os.environ if env is None else env
    token = source.get(TOKEN_ENV)
    if token:
        return token.strip()
    path = source.get(TOKEN_ENV + "_FILE")
    if not path:
        return None
    try:
        return Path(path).expanduser().read_text("utf-8").strip() or None
    except OSError as exc:
        raise UsageError(
            f"{TOKEN_ENV}_FILE: cannot read secret file {path} ({exc.strerror})"
        ) from None


# -- values ------------------------------------------------------------------------------------
def _utc_text(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any, tz: Any) -> datetime:
    if isinstance(value, datetime):
        when = value
    else:
        text = str(value).strip().replace(" ", "T", 1)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        when = datetime.fromisoformat(text)
    return when.replace(tzinfo=tz) if when.tzinfo is None else when


def _number(text: Any) -> int | float | None:
    if text is None or text == "":
        return None
    try:
        n = float(text)
    except (TypeError, ValueError):
        return None
    return int(n) if n.is_integer() and "." not in str(text) and "e" not in str(text) else n


def plain(ftype: str, value: Any) -> Any:
    """A kintone value (``{"type", "value"}``'s value) as a plain Python value."""
    if ftype in TEXT_TYPES:
        return None if value in (None, "") else str(value)
    if ftype == "NUMBER":
        return _number(value)
    if ftype == "CALC":
        n = _number(value)
        return n if n is not None else (value or None)
    if ftype in TIME_TYPES:
        if not value:
            return None
        try:
            return _utc_text(_parse_time(value, UTC))
        except ValueError:
            return str(value)
    if ftype in ("DATE", "TIME"):
        return value or None
    if ftype in LIST_TYPES:
        return [str(v) for v in value or []]
    if ftype in ENTITY_TYPES:
        return [_name(v) for v in value or [] if isinstance(v, dict)]
    if ftype in ("CREATOR", "MODIFIER"):
        return _name(value) if isinstance(value, dict) else None
    if ftype == "FILE":
        return [f.get("name") for f in value or [] if isinstance(f, dict)]
    if ftype == "SUBTABLE":
        rows = []
        for row in value or []:
            cells = row.get("value") if isinstance(row, dict) else None
            if isinstance(cells, dict):
                rows.append({code: _cell(cell) for code, cell in cells.items()})
        return rows
    return value


def _name(entity: dict[str, Any]) -> str | None:
    name = entity.get("name") or entity.get("code")
    return None if name is None else str(name)


def _cell(field: Any) -> Any:
    if not isinstance(field, dict):
        return field
    return plain(str(field.get("type") or ""), field.get("value"))


def _as_list(value: Any) -> list[str]:
    """Several numbers or addresses in one field: one list, split, stripped, each once."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, list):  # a check box among the gathered fields
            out += [v for v in _as_list(item) if v not in out]
            continue
        for part in _SPLIT.split(str(item)):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value if v is not None) or None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _same_instant(a: Any, b: Any, tz: Any) -> bool:
    if not isinstance(b, str | datetime):
        return False
    try:
        return _parse_time(a, tz) == _parse_time(b, tz)
    except ValueError:
        return False


def _count(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() else None


def chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


class RevisionConflict(OpsError):
    """``GAIA_CO02``: a record's revision is not the one the request named; nothing written."""


# -- the adapter -------------------------------------------------------------------------------
class KintoneRecords(HttpApi):
    """One kintone app as the records of one store entity (``kind``: cases or customers);
    change targets are ``<kind>:<record id>``."""

    secret_hint = "set OPS_KINTONE_TOKEN (or OPS_KINTONE_TOKEN_FILE) to an API token of the app"
    default_kind: str | None = None

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        profile: dict[str, Any] | None = None,
        kind: str | None = None,
    ) -> None:
        kind = kind or self.default_kind
        if kind not in KINDS:
            raise UsageError(f"kintone holds {' or '.join(KINDS)}, not {kind!r}")
        parts = urlsplit(url)
        if parts.scheme not in ("kintone+https", "kintone+http") or not parts.hostname:
            raise UsageError(f"{public_url(url)}: give the app, kintone+https://DOMAIN/k/APP_ID")
        query = dict(parse_qsl(parts.query))
        if parts.username or parts.password or SECRET_PARAMS & {k.lower() for k in query}:
            raise UsageError(
                f"{public_url(url)}: no secret in the URL; set {TOKEN_ENV} (or {TOKEN_ENV}_FILE)"
            )
        path = parts.path.rstrip("/")
        m = re.fullmatch(r"/k(?:/guest/(\d+))?/(\d+)", path)
        if m is not None:
            space, app = m.group(1), m.group(2)
        elif path == "" and (query.get("app") or "").isdigit():
            space, app = None, query["app"]
        else:
            raise UsageError(
                f"{public_url(url)}: give the app, kintone+https://DOMAIN/k/APP_ID "
                "(or kintone+https://DOMAIN/?app=APP_ID)"
            )
        host = host_port(parts)
        proto = parts.scheme.removeprefix("kintone+")
        super().__init__(
            url,
            base_url=f"{proto}://{host}",
            host=host,
            secret=secret if secret is not None else kintone_token(),
            rps=parse_rps(query.get("rps"), url),
            display=f"kintone {host} app {app}",
        )
        self.kind = kind
        self.entity = KINDS[kind]
        self.app = app
        self.api = f"/k/guest/{space}/v1" if space else "/k/v1"
        self.app_url = f"{proto}://{host}" + (f"/k/guest/{space}/{app}" if space else f"/k/{app}")
        self.backend = f"{kind}:{public_url(url)}"
        profile = profile or {}
        self.tz = profile_zone(profile)
        section = self._section(profile)
        self.fields = self._fields(section)
        self.key_field = str(section["key_field"]) if section.get("key_field") else None
        self.record_url_template = self._record_url_template(profile, section)
        self._cache: dict[str, dict[str, Any]] = {}  # record id → raw record, for changes
        self._types: dict[str, str] | None = None  # field code → type (the app's form)
        self._last_code: str | None = None
        self.total: int | None = None  # totalCount of the last listing

    @classmethod
    def from_config(cls, url: str, profile: dict[str, Any], password: str | None) -> KintoneRecords:
        """The token: ``OPS_KINTONE_TOKEN`` (or ``_FILE``), else the port's secret."""
        return cls(url, secret=kintone_token() or password, profile=profile)

    # -- profile -----------------------------------------------------------------------------
    def _section(self, profile: dict[str, Any]) -> dict[str, Any]:
        top = profile.get("kintone")
        section = top.get(self.kind) if isinstance(top, dict) else None
        if section is None:
            return {}
        if not isinstance(section, dict):
            raise UsageError(f"[kintone.{self.kind}]: expected a table")
        return section

    def _fields(self, section: dict[str, Any]) -> dict[str, list[str]]:
        table = section.get("fields") or {}
        where = f"[kintone.{self.kind}.fields]"
        if not isinstance(table, dict):
            raise UsageError(f"{where}: expected a table of field = field code")
        valid = [n for n in self.entity.all_names if n not in ("id", "extra")]
        out: dict[str, list[str]] = {}
        for name, codes in table.items():
            if name not in valid:
                raise UsageError(
                    f"{where} {name}: not a field of {self.kind} ($id is the id, unmapped "
                    f"fields go to extra); valid: {', '.join(valid)}"
                )
            codes = codes if isinstance(codes, list) else [codes]
            if not codes or not all(isinstance(c, str) and c for c in codes):
                raise UsageError(f"{where} {name}: expected a field code or a list of them")
            if len(codes) > 1 and name not in self.entity.children:
                raise UsageError(f"{where} {name}: only phones/emails lists gather several codes")
            out[name] = [field_code(c) for c in codes]
        return out

    def _record_url_template(self, profile: dict[str, Any], section: dict[str, Any]) -> str:
        """``[kintone.<kind>] record_url``, else ``[kintone] record_url`` unless it names
        another app, else the app's own show page."""
        own = section.get("record_url")
        if own:
            return str(own)
        top = profile.get("kintone")
        shared = top.get("record_url") if isinstance(top, dict) else None
        if shared:
            m = re.search(r"/k/(?:guest/\d+/)?(\d+)/", str(shared))
            if m is None or m.group(1) == self.app:
                return str(shared)
        return f"{self.app_url}/show#record={{id}}"

    def record_url(self, record_id: str | int) -> str:
        return self.record_url_template.replace("{id}", str(record_id))

    def code_of(self, name: str) -> str:
        """The one field code ``name`` is kept in (writes and conditions need one)."""
        codes = self.fields.get(name)
        if not codes:
            valid = ", ".join(sorted(self.fields)) or "none are mapped"
            raise UsageError(
                f"{self.display}: {name} is not mapped; add it to [kintone.{self.kind}.fields] "
                f"(mapped: {valid})"
            )
        if len(codes) > 1:
            raise UsageError(f"{self.display}: {name} gathers {', '.join(codes)}; it is read only")
        return codes[0]

    def where(self, name: str, op: str, value: Any) -> str:
        """A query condition on one of our fields (``phones`` gathered from several codes: any)."""
        if name == "id":
            return condition("$id", op, value)
        codes = self.fields.get(name) or [self.code_of(name)]  # code_of: the usage error
        parts = [condition(c, op, value) for c in codes]
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"

    # -- HTTP --------------------------------------------------------------------------------
    def auth_headers(self, secret: str) -> dict[str, str]:
        return {"X-Cybozu-API-Token": secret}

    def error_message(self, resp: httpx.Response) -> str:
        """``CODE: message (field: detail)`` from kintone's ``{code, id, message, errors}``."""
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not data.get("code"):
            return resp.reason_phrase or ""
        self._last_code = str(data["code"])
        text = f"{data['code']}: {data.get('message') or ''}".strip()
        errors = data.get("errors")
        if isinstance(errors, dict) and errors:
            details = []
            for where, detail in errors.items():
                msgs = detail.get("messages") if isinstance(detail, dict) else detail
                msgs = msgs if isinstance(msgs, list) else [msgs]
                details.append(f"{where}: {' '.join(str(m) for m in msgs)}")
            text += " (" + "; ".join(details) + ")"
        return one_line(text)

    def _send(
        self,
        client: httpx.Client,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]] | None,
        data: dict[str, str] | None,
        body: Any,
        what: str,
    ) -> httpx.Response:
        """kintone's error code decides what a refusal is: a revision conflict, or a wrong
        token (which kintone answers with 400 or 520, not 401)."""
        self._last_code = None
        try:
            return super()._send(client, method, path, params, data, body, what)
        except (Retryable, AuthError, RevisionConflict):
            raise
        except OpsError as exc:
            code = self._last_code
            if code in CONFLICT_CODES:
                raise RevisionConflict(exc.message) from None
            if code in AUTH_CODES:
                raise AuthError(exc.message, hint=self.secret_hint) from None
            raise

    def call(
        self,
        method: str,
        endpoint: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        """One API call whose answer must be a JSON object."""
        path = f"{self.api}/{endpoint}"
        answer = self.request(method, path, params=params, body=body)
        if answer is None and method == "DELETE":
            return {}
        if not isinstance(answer, dict):
            raise OpsError(f"{self.display}: {method} {path}: malformed response, not an object")
        return answer

    def _list(self, answer: dict[str, Any], key: str, what: str) -> list[dict[str, Any]]:
        items = answer.get(key)
        if not isinstance(items, list) or not all(isinstance(r, dict) for r in items):
            raise OpsError(f"{self.display}: {what}: malformed response, no {key} list")
        return items

    # -- reading -----------------------------------------------------------------------------
    def record(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A kintone record as a record of the store's ``cases``/``customers``."""
        rid = _cell(raw.get("$id"))
        if rid is None:
            raise OpsError(f"{self.display}: a record without $id")
        rec: dict[str, Any] = {"id": str(rid)}
        used = {"$id", "$revision"}
        for name, ftype in self.entity.fields:
            if name == "extra":
                continue
            codes = self.fields.get(name)
            if not codes:
                rec[name] = None
                continue
            used.update(codes)
            rec[name] = self._shape(ftype, _cell(raw.get(codes[0])))
        for name in self.entity.children:
            codes = self.fields.get(name) or []
            used.update(codes)
            rec[name] = _as_list([_cell(raw.get(c)) for c in codes])
        extra = {code: _cell(f) for code, f in raw.items() if code not in used}
        revision = _cell(raw.get("$revision"))
        if revision is not None:
            extra["$revision"] = str(revision)
        extra["record_url"] = self.record_url(rec["id"])
        rec["extra"] = extra
        return rec

    def _shape(self, ftype: str, value: Any) -> Any:
        if ftype == JSON:
            return value
        if ftype in (INT, FLOAT):
            n = value if isinstance(value, int | float) else _number(_text(value))
            if n is None:
                return None
            return int(n) if ftype == INT and float(n).is_integer() else n
        return _text(value)

    def _fields_param(self, fields: list[str] | None) -> list[tuple[str, str]]:
        if fields is None or "extra" in fields:
            return []
        valid = self.entity.all_names
        bad = [f for f in fields if f not in valid]
        if bad:
            raise UsageError(f"unknown field {bad[0]!r} of {self.kind}; valid: {', '.join(valid)}")
        codes = ["$id", "$revision"]
        for name in fields:
            for code in self.fields.get(name) or []:
                if code not in codes:
                    codes.append(code)
        return [(f"fields[{i}]", c) for i, c in enumerate(codes)]

    def records(
        self, query: str = "", fields: list[str] | None = None, *, mode: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """The app's records matching ``query`` (kintone's query language, without
        ``limit``/``offset``: ops pages itself), mapped.

        ``mode``: ``seek`` (by ``$id``, the default), ``cursor`` (the default when the
        query has its own ``order by``). Nothing is requested until the first record is
        asked for; close the iterator (or let it go) to stop early: an open cursor is
        deleted then.
        """
        query = query.strip()
        for word in ("limit", "offset"):
            if has_clause(query, word):
                raise UsageError(
                    f"{self.display}: the query has its own {word}; ops reads every match "
                    "page by page (stop reading instead)"
                )
        ordered = has_clause(query, "order by")
        mode = mode or ("cursor" if ordered else "seek")
        if mode not in ("seek", "cursor"):
            raise UsageError(f"{self.display}: mode {mode!r}: use seek or cursor")
        if mode == "seek" and ordered:
            raise UsageError(
                f"{self.display}: seeking needs the order of $id; a query with its own "
                "order by is read through a cursor"
            )
        params = self._fields_param(fields)
        raws = self._seek(query, params) if mode == "seek" else self._cursor(query, params)
        return self._mapped(raws, fields)

    def _mapped(
        self, raws: Generator[dict[str, Any], None, None], fields: list[str] | None
    ) -> Generator[dict[str, Any], None, None]:
        with contextlib.closing(raws):  # stopping here closes the cursor too, at once
            for raw in raws:
                rec = self.record(raw)
                yield rec if fields is None else {k: rec.get(k) for k in ["id", *fields]}

    def _seek(
        self, query: str, fields: list[tuple[str, str]]
    ) -> Generator[dict[str, Any], None, None]:
        what = f"GET {self.api}/records.json"
        last: int | None = None
        while True:
            cond = query
            if last is not None:
                cond = f"({query}) and $id > {last}" if query else f"$id > {last}"
            params = [("app", self.app), ("query", f"{cond} order by $id asc limit {PAGE}".strip())]
            if last is None:
                params.append(("totalCount", "true"))
            answer = self.call("GET", "records.json", params=[*params, *fields])
            page = self._list(answer, "records", what)
            if last is None:
                self.total = _count(answer.get("totalCount"))
            yield from page
            if len(page) < PAGE:
                return
            ids = [_number(_cell(r.get("$id"))) for r in page]
            if not all(isinstance(i, int) for i in ids):
                raise OpsError(f"{self.display}: {what}: malformed response, a record without $id")
            nxt = max(i for i in ids if isinstance(i, int))
            if last is not None and nxt <= last:
                raise OpsError(f"{self.display}: {what}: the ids did not advance past {last}")
            last = nxt

    def _cursor(
        self, query: str, fields: list[tuple[str, str]]
    ) -> Generator[dict[str, Any], None, None]:
        what = f"GET {self.api}/records/cursor.json"
        if not has_clause(query, "order by"):
            query = f"{query} order by $id asc".strip()
        body: dict[str, Any] = {"app": self.app, "query": query, "size": PAGE}
        if fields:
            body["fields"] = [code for _, code in fields]
        created = self.call("POST", "records/cursor.json", body=body)
        cursor = created.get("id")
        if not isinstance(cursor, str) or not cursor:
            raise OpsError(
                f"{self.display}: POST {self.api}/records/cursor.json: malformed response, no id"
            )
        self.total = _count(created.get("totalCount"))
        done = False  # kintone drops a cursor read to the end itself
        try:
            while not done:
                answer = self.call("GET", "records/cursor.json", params=[("id", cursor)])
                page = self._list(answer, "records", what)
                done = answer.get("next") is not True
                yield from page
        finally:
            if not done:
                self._drop_cursor(cursor)

    def _drop_cursor(self, cursor: str) -> None:
        """Free one of the domain's ten cursors; a failure here must not hide the reason
        reading stopped (kintone drops an unused cursor after ten minutes anyway)."""
        try:
            self.call("DELETE", "records/cursor.json", params=[("id", cursor)])
        except OpsError:
            pass

    def fetch(self, record_id: str) -> dict[str, Any] | None:
        """The record as kintone gives it, read now; None when there is none."""
        if not str(record_id).isdigit():
            return None
        params = [("app", self.app), ("id", str(record_id))]
        try:
            answer = self.call("GET", "record.json", params=params)
        except NotFound:
            return None
        raw = answer.get("record")
        if not isinstance(raw, dict):
            raise OpsError(
                f"{self.display}: GET {self.api}/record.json: malformed response, no record"
            )
        return raw

    def get(self, record_id: str | int) -> dict[str, Any] | None:
        raw = self.fetch(str(record_id))
        return None if raw is None else self.record(raw)

    def prefetch(self, record_ids: Iterable[str]) -> None:
        """Read the records changes will compare with, 100 a request (instead of one each)."""
        todo = [i for i in dict.fromkeys(str(r) for r in record_ids) if i.isdigit()]
        todo = [i for i in todo if i not in self._cache]
        for part in chunks(todo, CHUNK):
            for raw in self._by_ids(part):
                self._cache[str(_cell(raw.get("$id")))] = raw

    def _by_ids(self, ids: list[str], fields: Sequence[str] = ()) -> list[dict[str, Any]]:
        query = f"{condition('$id', 'in', [int(i) for i in ids])} limit {CHUNK}"
        params = [("app", self.app), ("query", query)]
        params += [(f"fields[{n}]", code) for n, code in enumerate(fields)]
        answer = self.call("GET", "records.json", params=params)
        return self._list(answer, "records", f"GET {self.api}/records.json")

    def cached(self, record_id: str) -> dict[str, Any]:
        """The record read once per run for the changes (dropped again after a write)."""
        raw = self._cache.get(record_id)
        if raw is None:
            raw = self.fetch(record_id)
            if raw is None:
                raise OpsError(f"{self.kind}:{record_id} does not exist in {self.display}")
            self._cache[record_id] = raw
        return raw

    def field_types(self) -> dict[str, str]:
        """The app's field codes and their types (``GET app/form/fields.json``), once."""
        if self._types is None:
            answer = self.call("GET", "app/form/fields.json", params=[("app", self.app)])
            props = answer.get("properties")
            if not isinstance(props, dict):
                raise OpsError(
                    f"{self.display}: GET {self.api}/app/form/fields.json: malformed response, "
                    "no properties"
                )
            self._types = {
                str(code): str(p.get("type") or "")
                for code, p in props.items()
                if isinstance(p, dict)
            }
        return self._types

    # -- the change target -------------------------------------------------------------------
    def refuse_delete(self, change: Any) -> OpsError:
        if self.kind == "customers":
            return OpsError(
                f"{change.target}: ops never deletes customer registrations "
                f"({self.display}); merge or mark it in kintone by hand"
            )
        return OpsError(
            f"{change.target}: ops never deletes kintone records ({self.display}); "
            "close the case instead"
        )

    def _target(self, change: Any, raw: dict[str, Any]) -> tuple[str, str]:
        """(field code, kintone type) a change writes; raises when it cannot be written."""
        if change.field in ("id", "extra", "*"):
            raise OpsError(f"{change.target}: {change.field} of a kintone record is not changed")
        if change.field not in self.entity.all_names:
            raise OpsError(f"{change.target}: {self.kind} have no field {change.field!r}")
        code = self.code_of(change.field)
        field = raw.get(code)
        if not isinstance(field, dict):
            raise OpsError(
                f"{change.target}: the app has no field code {code!r} "
                f"(check [kintone.{self.kind}.fields] {change.field})"
            )
        ftype = str(field.get("type") or "")
        if ftype not in WRITABLE:
            why = (
                "the process-management status changes through an action, not records.json"
                if ftype == "STATUS"
                else "ops cannot write that type"
            )
            raise OpsError(f"{change.target}: {change.field} is kintone {ftype} {code!r}: {why}")
        if change.op not in ("set", "add", "remove"):
            raise OpsError(f"{change.target}: cannot {change.op} {change.field}")
        if change.op != "set" and not self._is_list(change.field, ftype):
            raise OpsError(f"{change.target}: {change.field} is one value; it can only be set")
        return code, ftype

    def _is_list(self, name: str, ftype: str) -> bool:
        return name in self.entity.children or ftype in LIST_TYPES

    def _value(self, name: str, raw: dict[str, Any]) -> Any:
        rec = self.record(raw)
        return rec.get(name)

    def read(self, change: Any) -> Any:
        """The current value ``state_of`` compares with: the mapped field of the record
        read now (kept for the run), a list for phones/emails/check boxes; for a create,
        the case itself when its key is already in the app."""
        if change.op == "delete":
            raise self.refuse_delete(change)
        if change.op == "create":
            return self._created(change)
        raw = self.cached(change.key)
        self._target(change, raw)
        value = self._value(change.field, raw)
        if dict(self.entity.fields).get(change.field) == DATETIME:
            # the same instant in the change's own form (a plan may hold +09:00 times)
            for given in (change.after, change.before):
                if value is not None and _same_instant(value, given, self.tz):
                    return given
        return value

    def write(self, change: Any) -> None:
        self.write_batch([change])

    def transaction(self) -> Any:
        return contextlib.nullcontext()

    def write_batch(self, changes: list[Any]) -> None:
        """Apply planned changes, marking each ``applied``, ``conflict`` or ``failed``.

        Losing the token or the network stops the batch (raised): the executor journals
        what is left as failed, and a rerun finishes it (applied changes are skips).
        """
        updates: dict[str, list[Any]] = {}
        creates: list[Any] = []
        for ch in changes:
            if ch.op == "delete":
                _mark(ch, "failed", self.refuse_delete(ch))
            elif ch.op == "create":
                creates.append(ch)
            else:
                updates.setdefault(ch.key, []).append(ch)
        entries: list[tuple[dict[str, Any], list[Any]]] = []
        for rid, group in updates.items():
            try:
                raw = self.cached(rid)
            except (AuthError, BackendUnreachable):
                raise
            except OpsError as exc:
                for ch in group:
                    _mark(ch, "failed", exc)
                continue
            entry = self._entry(rid, raw, group)
            if entry is not None:
                entries.append(entry)
        for part in chunks(entries, CHUNK):
            self._put(part)
        if creates:
            self._create(creates)

    def _entry(
        self, rid: str, raw: dict[str, Any], group: list[Any]
    ) -> tuple[dict[str, Any], list[Any]] | None:
        """The ``records[]`` entry of a bulk update carrying this record's changes."""
        current: dict[str, Any] = {}
        record: dict[str, Any] = {}
        included: list[Any] = []
        for ch in group:
            try:
                code, ftype = self._target(ch, raw)
                if ch.field not in current:
                    current[ch.field] = self._value(ch.field, raw)
                value = current[ch.field]
                if ch.op == "set":
                    value = ch.after
                elif ch.op == "add":
                    value = [*(value or []), ch.after] if ch.after not in (value or []) else value
                else:
                    value = [v for v in value or [] if v != ch.before]
                record[code] = {"value": self.kintone_value(ftype, value)}
                current[ch.field] = value
            except (AuthError, BackendUnreachable):
                raise
            except (OpsError, ValueError, TypeError) as exc:
                _mark(ch, "failed", exc)
                continue
            included.append(ch)
        if not included:
            return None
        revision = _cell(raw.get("$revision"))
        entry: dict[str, Any] = {"id": rid, "record": record}
        if revision is not None:
            entry["revision"] = str(revision)
        return entry, included

    def kintone_value(self, ftype: str, value: Any) -> Any:
        """Our value as kintone wants it for a field of type ``ftype``."""
        if ftype in LIST_TYPES:
            if value is None:
                return []
            return [str(v) for v in (value if isinstance(value, list) else [value])]
        if value is None or value == "" or value == []:
            return ""
        if ftype == "NUMBER":
            if isinstance(value, bool):
                raise OpsError(f"{value!r} is not a number")
            n = _number(value) if isinstance(value, str) else value
            if not isinstance(n, int | float):
                raise OpsError(f"{value!r} is not a number")
            return str(int(n)) if float(n).is_integer() else repr(float(n))
        if ftype in TIME_TYPES:
            return _utc_text(_parse_time(value, self.tz))
        if ftype == "DATE":
            if isinstance(value, datetime) or (isinstance(value, str) and len(value) > 10):
                return _parse_time(value, self.tz).astimezone(self.tz).date().isoformat()
            return value.isoformat() if isinstance(value, date) else str(value)
        if isinstance(value, list):  # several numbers: one a line, or a comma list
            sep = ", " if ftype == "SINGLE_LINE_TEXT" else "\n"
            return sep.join(str(v) for v in value)
        return _text(value) or ""

    def _put(self, part: list[tuple[dict[str, Any], list[Any]]]) -> None:
        """One bulk update. After a revision conflict the records that moved are
        conflicts, unless they hold exactly what was sent (our own write, whose answer
        was lost and the request retried: applied); the others go again, still guarded
        by their revisions."""
        path = f"{self.api}/records.json"
        pending = list(part)
        while pending:
            body = {"app": self.app, "records": [entry for entry, _ in pending]}
            try:
                answer = self.call("PUT", "records.json", body=body)
            except RevisionConflict as exc:
                moved = self._moved([entry for entry, _ in pending])
                still: list[tuple[dict[str, Any], list[Any]]] = []
                for entry, group in pending:
                    rid = entry["id"]
                    if moved and rid not in moved:
                        still.append((entry, group))
                        continue
                    self._cache.pop(rid, None)
                    now = moved.get(rid)
                    if now == "ours":
                        outcome, why = "applied", None
                    elif now:
                        outcome = "conflict"
                        why = (
                            f"changed in kintone since it was read (revision "
                            f"{entry.get('revision')} → {now}); left as it is"
                        )
                    else:
                        outcome, why = "conflict", f"{exc.message}; left as it is"
                    for ch in group:
                        ch.outcome, ch.error = outcome, None if why is None else one_line(why)
                if not moved:
                    return
                pending = still
                continue
            except (AuthError, BackendUnreachable):
                raise
            except OpsError as exc:
                for _, group in pending:
                    for ch in group:
                        _mark(ch, "failed", exc)
                return
            self._list(answer, "records", f"PUT {path}")
            for entry, group in pending:
                self._cache.pop(entry["id"], None)
                for ch in group:
                    if ch.outcome == "planned":
                        ch.outcome = "applied"
            return

    def _moved(self, entries: list[dict[str, Any]]) -> dict[str, str]:
        """Of these entries, the records whose revision is no longer the one sent:
        id → the revision now, ``deleted`` when gone, ``ours`` when the record holds
        every value the entry sends (the request got through before)."""
        codes = ["$id", "$revision"]
        for entry in entries:
            codes += [c for c in entry["record"] if c not in codes]
        now = {str(_cell(r.get("$id"))): r for r in self._by_ids([e["id"] for e in entries], codes)}
        moved: dict[str, str] = {}
        for entry in entries:
            rid = str(entry["id"])
            raw = now.get(rid)
            if raw is None:
                moved[rid] = "deleted"
                continue
            revision = str(_cell(raw.get("$revision")))
            if entry.get("revision") is None or revision == str(entry["revision"]):
                continue
            sent = entry["record"]
            mine = all(
                isinstance(raw.get(c), dict) and raw[c].get("value") == cell["value"]
                for c, cell in sent.items()
            )
            moved[rid] = (
                "ours" if mine and int(revision) == int(entry["revision"]) + 1 else revision
            )
        return moved

    # -- creating cases --------------------------------------------------------------------
    def _key_field(self, change: Any) -> str:
        if self.kind != "cases":
            raise OpsError(f"{change.target}: ops does not create {self.kind} in kintone")
        if not self.key_field:
            raise OpsError(
                f"{change.target}: creating cases in {self.display} needs [kintone.cases] "
                "key_field, a text field (prohibit duplicate values) that keeps the id ops "
                "gave the case, so that a re-run finds what it created"
            )
        return field_code(self.key_field)

    def _created(self, change: Any) -> Any:
        key_field = self._key_field(change)
        if change.field != "*" or not isinstance(change.after, dict):
            raise OpsError(f"{change.target}: a create carries the whole case")
        query = f"{condition(key_field, '=', change.key)} limit 1"
        answer = self.call(
            "GET",
            "records.json",
            params=[("app", self.app), ("query", query), ("fields[0]", "$id")],
        )
        found = self._list(answer, "records", f"GET {self.api}/records.json")
        return change.after if found else None

    def new_record(self, change: Any) -> dict[str, Any]:
        """The ``record`` of an add for a case: its mapped fields, and the key."""
        types = self.field_types()
        key_field = self._key_field(change)
        if types.get(key_field) not in ("SINGLE_LINE_TEXT", "NUMBER"):
            raise OpsError(
                f"{change.target}: key_field {key_field!r} is not a text field of the app"
            )
        record: dict[str, Any] = {key_field: {"value": change.key}}
        for name, value in change.after.items():
            if name in ("id", "extra") or value is None or value == [] or name not in self.fields:
                continue
            code = self.code_of(name)
            ftype = types.get(code)
            if ftype is None:
                raise OpsError(f"{change.target}: the app has no field code {code!r} ({name})")
            if ftype in SYSTEM:
                continue
            if ftype not in WRITABLE | CREATE_ONLY:
                raise OpsError(f"{change.target}: {name} is kintone {ftype}; ops cannot write it")
            record[code] = {"value": self.kintone_value(ftype, value)}
        return record

    def _create(self, creates: list[Any]) -> None:
        ready: list[tuple[dict[str, Any], Any]] = []
        for ch in creates:
            try:
                ready.append((self.new_record(ch), ch))
            except (AuthError, BackendUnreachable):
                raise
            except (OpsError, ValueError, TypeError) as exc:
                _mark(ch, "failed", exc)
        for part in chunks(ready, CHUNK):
            body = {"app": self.app, "records": [record for record, _ in part]}
            try:
                answer = self.call("POST", "records.json", body=body)
            except (AuthError, BackendUnreachable):
                raise
            except OpsError as exc:
                for _, ch in part:
                    _mark(ch, "failed", exc)
                continue
            ids = answer.get("ids")
            if not isinstance(ids, list) or len(ids) != len(part):
                raise OpsError(
                    f"{self.display}: POST {self.api}/records.json: malformed response, no ids"
                )
            for _, ch in part:
                ch.outcome = "applied"


def _mark(change: Any, outcome: str, exc: Exception) -> None:
    if change.outcome != "applied":
        change.outcome, change.error = outcome, one_line(str(exc))


class KintoneCases(KintoneRecords):
    """The ``cases`` port on a kintone app (registry: ``cases:kintone+https``)."""

    default_kind = "cases"


class KintoneCustomers(KintoneRecords):
    """The ``customers`` port on a kintone app (registry: ``customers:kintone+https``)."""

    default_kind = "customers"
