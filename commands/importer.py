"""Import records into the store as a plan, and normalise them on the way.

Every row is checked against the record type of ``schema.ENTITIES``; a bad
row is set aside with its line and reason while good rows are planned. A new
record is a ``create``; an existing one gets ``set`` changes for the fields the
row gives and that differ (an empty cell never blanks a stored value), and
``add`` changes for new phones, e-mails, flags or labels. Importing the same
file twice therefore plans nothing the second time.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import tzinfo
from pathlib import Path
from typing import IO, Any

from deskops.adapters.calllogs import iter_calls, sniff_format
from deskops.adapters.eml import parse_message
from deskops.adapters.errors import UsageError
from deskops.adapters.files import Header, RowError, iter_records, open_text
from deskops.adapters.schema import (
    BLOB,
    BOOL,
    DATE,
    DATETIME,
    FLOAT,
    INT,
    JSON,
    Entity,
)
from deskops.adapters.store import Store

from .clock import iso, parse_date, parse_datetime
from .plan import ADD, CREATE, SET, Change, Plan

TRUE = {"1", "true", "yes", "y", "да", "так", "はい", "是", "on"}
FALSE = {"0", "false", "no", "n", "нет", "ні", "いいえ", "否", "off", ""}


class RowProblem(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"field {field}: {message}")


def _number(text: str) -> str:
    s = text.strip().replace("\u00a0", "").replace(" ", "").replace("\u202f", "")
    if "," in s and "." not in s:
        s = s.replace(",", ".")
    return s


def convert(kind: str, value: Any, tz: tzinfo, name: str) -> Any:
    """One value to its stored form; raises :class:`RowProblem` naming the field."""
    if value is None:
        return None
    if isinstance(value, str) and kind not in (JSON,) and not value.strip():
        return None
    try:
        if kind == INT:
            if isinstance(value, bool):
                raise ValueError
            f = float(_number(value)) if isinstance(value, str) else float(value)
            if not f.is_integer():
                raise ValueError
            return int(f)
        if kind == FLOAT:
            if isinstance(value, bool):
                raise ValueError
            return round(float(_number(value)) if isinstance(value, str) else float(value), 6)
        if kind == BOOL:
            if isinstance(value, bool):
                return value
            s = str(value).strip().lower()
            if s in TRUE:
                return True
            if s in FALSE:
                return False
            raise RowProblem(name, f"{value!r} is not yes/no")
        if kind == DATETIME:
            return iso(parse_datetime(str(value), tz, field=name))
        if kind == DATE:
            return parse_date(str(value)[:10], field=name).isoformat()
        if kind == JSON:
            if isinstance(value, str):
                s = value.strip()
                if not s:
                    return None
                if s[0] in "[{":
                    return json.loads(s)
                return s
            return value
        if kind == BLOB:
            if isinstance(value, dict) and "$bytes" in value:
                return base64.b64decode(value["$bytes"])
            if isinstance(value, bytes):
                return value
            return str(value).encode("utf-8")
    except UsageError as exc:
        raise RowProblem(name, exc.message.split(": ", 1)[-1]) from None
    except (ValueError, TypeError, json.JSONDecodeError):
        raise RowProblem(name, f"{value!r} is not a valid {kind}") from None
    if isinstance(value, dict | list):
        raise RowProblem(name, "expected text, got a JSON structure")
    return str(value).strip()


def _child_list(entity: Entity, name: str, value: Any, tz: tzinfo) -> list[Any]:
    child = entity.children[name]
    if value is None or value == "":
        return []
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("["):
            try:
                value = json.loads(s)
            except json.JSONDecodeError:
                raise RowProblem(name, "malformed JSON list") from None
        elif child.scalar:
            value = [v.strip() for v in re.split(r"[;\n]", s) if v.strip()]
        else:
            raise RowProblem(name, "expected a JSON list of objects")
    if not isinstance(value, list):
        value = [value]
    out: list[Any] = []
    for item in value:
        if child.scalar:
            col, kind = child.columns[0]
            v = convert(kind, item, tz, f"{name}")
            if v is not None and not (child.unique and v in out):
                out.append(v)
        else:
            if not isinstance(item, dict):
                raise RowProblem(name, "each element must be an object")
            extra = set(item) - set(child.names)
            if extra:
                raise RowProblem(
                    name, f"unknown key {sorted(extra)[0]!r}; valid: {', '.join(child.names)}"
                )
            out.append({c: convert(k, item.get(c), tz, f"{name}.{c}") for c, k in child.columns})
    return out


def aliases(entity: Entity) -> dict[str, str]:
    """Singular column names for child lists: a CSV column ``phone`` fills ``phones``."""
    out = {}
    for name in entity.children:
        if name.endswith("s") and name[:-1] not in entity.field_names:
            out[name[:-1]] = name
    return out


def valid_columns(entity: Entity) -> list[str]:
    return [*entity.all_names, *aliases(entity), "extra.<name>"]


def normalise(entity: Entity, raw: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """A record with exactly the fields the row gives, converted; raises RowProblem."""
    alias = aliases(entity)
    rec: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        k = str(key).strip()
        if k.startswith("extra."):
            extra[k[6:]] = value if not isinstance(value, str) else value.strip()
            continue
        k = alias.get(k, k)
        if k in entity.children:
            items = _child_list(entity, k, value, tz)
            if k in rec:
                items = [*rec[k], *(i for i in items if i not in rec[k])]
            rec[k] = items
        elif k in entity.field_names:
            rec[k] = convert(entity.type_of(k), value, tz, k)
        else:
            raise RowProblem(k, f"unknown field; valid: {', '.join(valid_columns(entity))}")
    if extra:
        base = rec.get("extra")
        rec["extra"] = {**base, **extra} if isinstance(base, dict) else extra
    if not rec.get("id"):
        raise RowProblem("id", "required")
    rec["id"] = str(rec["id"])
    return rec


def check_required(entity: Entity, rec: dict[str, Any]) -> None:
    """A new record needs its required fields; an update may give only what changes."""
    for req in entity.required:
        if rec.get(req) in (None, ""):
            raise RowProblem(req, "required")


def check_header(entity: Entity, columns: Iterable[str], name: str) -> None:
    known = {*entity.all_names, *aliases(entity)}
    unknown = [c for c in columns if c not in known and not c.startswith("extra.")]
    if unknown:
        raise UsageError(
            f"{name}:1: unknown column{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))} for {entity.name}; valid: "
            + ", ".join(valid_columns(entity))
        )


INPUT_FORMATS = ("auto", "csv", "tsv", "json", "jsonl", "eml", "sipuni", "asterisk")


def read_rows(
    path: str,
    kind: str,
    *,
    fmt: str = "auto",
    encoding: str | None = None,
    delimiter: str | None = None,
    tz: tzinfo,
    stdin: IO[bytes] | None = None,
    region: str | None = None,
) -> Iterator[tuple[int, dict[str, Any] | RowError | Header]]:
    """Rows of ``kind`` from a file in our own layout or in the source system's.

    Messages may come as ``.eml`` files or a directory of them (a Maildir or
    an export folder); calls as sipuni or Asterisk ``Master.csv`` logs.
    """
    if fmt not in INPUT_FORMATS:
        raise UsageError(f"unknown input format {fmt!r}; valid: {', '.join(INPUT_FORMATS)}")
    if kind == "messages" and (
        fmt == "eml" or (fmt == "auto" and (path.lower().endswith(".eml") or Path(path).is_dir()))
    ):
        yield from _eml_rows(path, stdin)
        return
    if kind == "calls" and fmt in ("auto", "sipuni", "asterisk") and path != "-":
        detected = fmt if fmt != "auto" else _call_log_format(path, encoding)
        if detected:
            yield from iter_calls(
                path, fmt=detected, tz=tz, encoding=encoding, stdin=stdin, region=region
            )
            return
    yield from iter_records(path, fmt=fmt, encoding=encoding, delimiter=delimiter, stdin=stdin)


def _call_log_format(path: str, encoding: str | None) -> str | None:
    """sipuni/asterisk when the file is a PBX log rather than our own CSV layout."""
    if path.lower().endswith((".json", ".jsonl")):
        return None
    reader = open_text(path, encoding)
    first = reader.readline()
    if "started_at" in first or first.lstrip("\ufeff").startswith("id"):
        return None
    fmt = sniff_format(first)
    if fmt == "asterisk" and first.count(",") < 15:
        return None
    return fmt


def _eml_rows(path: str, stdin: IO[bytes] | None) -> Iterator[tuple[int, Any]]:
    if path == "-":
        data = (stdin or sys.stdin.buffer).read()
        try:
            yield 1, parse_message(data, name="<stdin>")
        except UsageError as exc:
            yield 1, RowError(1, exc.message)
        return
    yield from mail_rows(path)


def mail_rows(path: str, mailbox: str | None = None) -> Iterator[tuple[int, Any]]:
    """Messages of an .eml file, a folder of them, a Maildir (flags kept) or an mbox."""
    root = Path(path)
    if not root.exists():
        raise UsageError(f"{path}: no such file or directory")
    files: list[tuple[str, bytes | None, str, str]] = []
    if root.is_dir():
        for p in sorted(p for p in root.rglob("*") if p.is_file() and _looks_like_mail(p)):
            rel = p.relative_to(root).parts
            folder = "/".join(x.lstrip(".") for x in rel[:-1] if x not in ("cur", "new", "tmp"))
            files.append((str(p), None, mailbox or root.name, folder or "INBOX"))
    elif not path.lower().endswith(".eml") and _is_mbox(root):
        import mailbox as mb

        for n, msg in enumerate(mb.mbox(str(root)), 1):
            files.append((f"{path}#{n}", msg.as_bytes(), mailbox or root.stem, "INBOX"))
    else:
        files = [(path, None, mailbox or "", "")]
    for n, (name, data, box, folder) in enumerate(files, 1):
        try:
            raw = data if data is not None else Path(name).read_bytes()
            rec = parse_message(raw, name=name, mailbox=box, folder=folder)
        except OSError as exc:
            yield n, RowError(n, f"{name}: cannot read ({exc.strerror})")
            continue
        except UsageError as exc:
            yield n, RowError(n, exc.message)
            continue
        info = re.search(r":2,([A-Za-z]*)$", name)
        if info:
            rec["seen"] = "S" in info.group(1)
            rec["flagged"] = "F" in info.group(1)
        yield n, rec


def _is_mbox(p: Path) -> bool:
    with p.open("rb") as fh:
        return fh.read(5) == b"From "


def _looks_like_mail(p: Path) -> bool:
    if p.suffix.lower() == ".eml":
        return True
    return p.parent.name in ("cur", "new") and not p.name.startswith(".")


def plan_import(
    store: Store,
    entity: Entity,
    rows: Iterable[tuple[int, dict[str, Any] | RowError | Header]],
    *,
    tz: tzinfo,
    source: str,
    command: str | None = None,
) -> Plan:
    plan = Plan(command=command or f"store import --type {entity.name} {source}")
    seen: dict[str, int] = {}
    reason = f"import {source}"
    for line, row in rows:
        if isinstance(row, Header):
            check_header(entity, row.columns, source)
            continue
        if isinstance(row, RowError):
            plan.problems.append(f"{source}:{line}: {row.message}")
            continue
        try:
            rec = normalise(entity, row, tz)
        except RowProblem as exc:
            plan.problems.append(f"{source}:{line}: {exc}")
            continue
        rid = rec["id"]
        try:
            changes = diff_record(store, entity, rec, reason)
        except RowProblem as exc:
            plan.problems.append(f"{source}:{line}: {exc}")
            continue
        if rid in seen:
            plan.problems.append(f"{source}:{line}: id {rid!r} already appears on line {seen[rid]}")
            continue
        seen[rid] = line
        if changes:
            for c in changes:
                plan.add(c)
        else:
            plan.unchanged += 1
    return plan


def full_record(entity: Entity, rec: dict[str, Any]) -> dict[str, Any]:
    """``rec`` as the store gives it back: every field, every child collection, every
    column of a child row — so a journaled create compares equal when it is undone."""
    full = {n: rec.get(n) for n in entity.field_names}
    for name, child in entity.children.items():
        values = rec.get(name) or []
        if not child.scalar:
            values = [{c: v.get(c) for c in child.names} if isinstance(v, dict) else v
                      for v in values]  # fmt: skip
        full[name] = values
    return full


def diff_record(store: Store, entity: Entity, rec: dict[str, Any], reason: str) -> list[Change]:
    """The changes that bring the stored record up to ``rec`` (never removing data)."""
    target = f"{entity.name}:{rec['id']}"
    current = store.get(entity, rec["id"])
    if current is None:
        check_required(entity, rec)
        return [Change(target, "*", CREATE, None, full_record(entity, rec), reason)]
    changes: list[Change] = []
    for name, value in rec.items():
        if name == "id":
            continue
        if name in entity.children:
            child = entity.children[name]
            have = current.get(name) or []
            if child.unique:
                for v in value:
                    if v not in have:
                        changes.append(Change(target, name, ADD, None, v, reason))
            elif value and value != have:
                changes.append(Change(target, name, SET, have, value, reason))
        elif value is not None and value != current.get(name):
            if name == "extra" and isinstance(value, dict) and isinstance(current.get(name), dict):
                value = {**current[name], **value}
                if value == current[name]:
                    continue
            changes.append(Change(target, name, SET, current.get(name), value, reason))
    return changes
