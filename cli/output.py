"""The one renderer every command uses.

``-o table|json|jsonl|csv|tsv``; without ``-o`` a rich table on a terminal
and TSV with a header row when piped (so ``grep``/``cut``/``sort`` work).
``--fields a,b`` picks columns; an unknown field is an error listing the
valid ones. JSON and JSONL stream row by row. CSV/TSV cells that a
spreadsheet would run as a formula are neutralised with a leading ``'``.
TSV escapes tab, newline, carriage return and backslash as ``\\t``, ``\\n``,
``\\r``, ``\\\\`` so each record stays one line.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from deskops.adapters.errors import UsageError

FORMATS = ("table", "json", "jsonl", "csv", "tsv")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def no_color_env() -> bool:
    """NO_COLOR (any value) or TERM=dumb turn colour off, as everywhere else."""
    import os

    return "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"


def parse_fields(spec: str | None, valid: Sequence[str]) -> list[str] | None:
    if not spec:
        return None
    fields = [f.strip() for f in spec.split(",") if f.strip()]
    unknown = [f for f in fields if f not in valid]
    if unknown:
        raise UsageError(
            f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"valid: {', '.join(valid)}"
        )
    return fields


def resolve_format(fmt: str | None, is_tty: bool) -> str:
    if fmt is None:
        return "table" if is_tty else "tsv"
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise UsageError(f"unknown output format {fmt!r}; valid: {', '.join(FORMATS)}")
    return fmt


def json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def text_cell(value: Any) -> str:
    """How a value reads in a table, CSV or TSV cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, list) and all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    ):
        return "; ".join(str(v) for v in value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=json_default, sort_keys=True)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def _safe(value: Any) -> str:
    if type(value) is str:
        return neutralise(value)
    # Numbers are data, not formulas: a negative refund amount stays -350.
    cell = text_cell(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return cell
    return neutralise(cell)


def _tsv_cell(value: Any) -> str:
    """``tsv_escape(_safe(value))``, with the common case (a plain string or number) first."""
    if value is None:
        return ""
    if type(value) is str:
        if value.startswith(FORMULA_PREFIXES):
            value = "'" + value
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return tsv_escape(value)
        return value
    if type(value) is int:
        return str(value)
    return tsv_escape(_safe(value))


def tsv_escape(cell: str) -> str:
    return cell.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class Renderer:
    def __init__(
        self,
        *,
        fmt: str | None,
        fields: str | None,
        out: IO[str] | None = None,
        is_tty: bool | None = None,
        color: bool = True,
    ) -> None:
        self.out = out or sys.stdout
        self.is_tty = self.out.isatty() if is_tty is None else is_tty
        self.fmt = resolve_format(fmt, self.is_tty)
        self.fields_spec = fields
        self.color = color and self.is_tty and no_color_env() is False

    def columns(self, valid: Sequence[str], default: Sequence[str] | None) -> list[str]:
        """``--fields``, else the default columns; JSON gets every field (it is for programs)."""
        chosen = parse_fields(self.fields_spec, valid)
        if chosen:
            return chosen
        if self.fmt in ("json", "jsonl"):
            return list(valid)
        return list(default or valid)

    def render(
        self,
        rows: Iterable[Mapping[str, Any]],
        valid: Sequence[str],
        default: Sequence[str] | None = None,
        *,
        title: str | None = None,
    ) -> int:
        """Write ``rows``; returns how many were written."""
        cols = self.columns(valid, default)
        return getattr(self, f"_{self.fmt}")(rows, cols, title)

    def _json(self, rows: Iterable[Mapping[str, Any]], cols: list[str], title: str | None) -> int:
        w = self.out.write
        n = 0
        w("[")
        for row in rows:
            w(",\n" if n else "\n")
            w(_dump({c: row.get(c) for c in cols}))
            n += 1
        w("\n]\n" if n else "]\n")
        return n

    def _jsonl(self, rows: Iterable[Mapping[str, Any]], cols: list[str], title: str | None) -> int:
        n = 0
        for row in rows:
            self.out.write(_dump({c: row.get(c) for c in cols}) + "\n")
            n += 1
        return n

    def _csv(self, rows: Iterable[Mapping[str, Any]], cols: list[str], title: str | None) -> int:
        import csv

        writer = csv.writer(self.out, lineterminator="\n")
        writer.writerow(cols)
        n = 0
        for row in rows:
            writer.writerow([_safe(row.get(c)) for c in cols])
            n += 1
        return n

    def _tsv(self, rows: Iterable[Mapping[str, Any]], cols: list[str], title: str | None) -> int:
        w = self.out.write
        w("\t".join(cols) + "\n")
        n = 0
        for row in rows:
            w("\t".join([_tsv_cell(row.get(c)) for c in cols]) + "\n")
            n += 1
        return n

    def _table(self, rows: Iterable[Mapping[str, Any]], cols: list[str], title: str | None) -> int:
        from rich import box
        from rich.console import Console
        from rich.table import Table

        table = Table(box=box.SIMPLE_HEAD, title=title, show_edge=False, pad_edge=False)
        for i, c in enumerate(cols):
            table.add_column(c, overflow="fold", no_wrap=i == 0)  # keep ids whole
        n = 0
        for row in rows:
            table.add_row(*(text_cell(row.get(c)) for c in cols))
            n += 1
        console = Console(
            file=self.out,
            no_color=not self.color,
            highlight=False,
            force_terminal=self.is_tty if self.color else None,
        )
        if n:
            console.print(table)
        else:
            console.print("(no rows)", style="dim")
        return n


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=json_default)


def dump_document(obj: Any, out: IO[str] | None = None) -> None:
    """One JSON document (for outputs that are not rows, like a summary)."""
    (out or sys.stdout).write(json.dumps(obj, ensure_ascii=False, default=json_default, indent=2))
    (out or sys.stdout).write("\n")
