"""The renderer: every format, field selection, piped TSV, spreadsheet safety."""

from __future__ import annotations

import csv
import io
import json

import pytest

from deskops.adapters.errors import UsageError
from deskops.cli.output import Renderer

ROWS = [
    {
        "id": "1",
        "name": '=HYPERLINK("http://x")',
        "total": -350.0,
        "tags": ["a", "b"],
        "note": "line1\nline2\tTab",
        "paid": True,
        "none": None,
    },
    {
        "id": "2",
        "name": "山田太郎",
        "total": 1200.5,
        "tags": [],
        "note": "+7 916",
        "paid": False,
        "none": None,
    },
]
COLS = ["id", "name", "total", "tags", "note", "paid", "none"]


def render(fmt: str | None, fields: str | None = None, tty: bool = False) -> str:
    out = io.StringIO()
    Renderer(fmt=fmt, fields=fields, out=out, is_tty=tty, color=False).render(ROWS, COLS)
    return out.getvalue()


def test_piped_default_is_tsv_with_header_and_escapes() -> None:
    text = render(None)
    lines = text.splitlines()
    assert lines[0] == "\t".join(COLS)
    assert len(lines) == 3  # embedded newline and tab are escaped, one record per line
    first = lines[1].split("\t")
    assert first[1].startswith("'=")  # formula neutralised
    assert first[2] == "-350"  # numbers are not neutralised
    assert first[3] == "a; b"
    assert first[4] == "line1\\nline2\\tTab"
    assert first[5] == "true"
    assert lines[2].split("\t")[4] == "'+7 916"


def test_csv_neutralises_formulas_and_round_trips() -> None:
    rows = list(csv.reader(io.StringIO(render("csv"))))
    assert rows[0] == COLS
    assert rows[1][1] == '\'=HYPERLINK("http://x")'
    assert rows[1][4] == "line1\nline2\tTab"
    assert rows[2][1] == "山田太郎"


def test_json_is_one_array_and_jsonl_one_object_per_line() -> None:
    data = json.loads(render("json"))
    assert data[0]["total"] == -350.0 and data[0]["tags"] == ["a", "b"] and data[0]["none"] is None
    assert data[0]["name"].startswith("=")  # JSON is data, not a spreadsheet
    lines = render("jsonl").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["1", "2"]
    assert render("json").strip() and json.loads(_render_rows([], "json")) == []


def _render_rows(rows, fmt):  # type: ignore[no-untyped-def]
    out = io.StringIO()
    Renderer(fmt=fmt, fields=None, out=out, is_tty=False).render(rows, COLS)
    return out.getvalue()


def test_fields_select_and_order_columns() -> None:
    assert render("tsv", "name,id").splitlines()[0] == "name\tid"
    assert json.loads(render("json", "id"))[1] == {"id": "2"}


def test_unknown_field_lists_valid_ones() -> None:
    with pytest.raises(UsageError, match="unknown field nope; valid: id, name, total"):
        render("tsv", "id,nope")


def test_unknown_format_lists_valid_ones() -> None:
    with pytest.raises(UsageError, match="valid: table, json, jsonl, csv, tsv"):
        render("xml")


def test_table_on_terminal_shows_everything_untruncated() -> None:
    text = render(None, tty=True)
    assert "山田太郎" in text and "HYPERLINK" in text
    assert "\x1b[" not in render("table", tty=False)  # no colour when not a terminal
