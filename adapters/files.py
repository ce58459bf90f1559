"""Reading the files teams really export: encodings, CSV dialects, JSON and JSONL.

Exports from the five teams come as UTF-8 (with or without BOM), UTF-16,
CP1251, KOI8-R, Shift_JIS/CP932, EUC-JP and GB18030. The encoding is taken
from a BOM, else strict UTF-8 is tried, else the legacy candidates are ranked
by charset-normalizer restricted to that list. Records are yielded with the
line they start on, so every error can name file and line.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import UsageError

LEGACY = ("cp1251", "koi8_r", "cp932", "euc_jp", "gb18030")
SAMPLE = 256 * 1024
csv.field_size_limit(16 * 1024 * 1024)


@dataclass
class RowError:
    line: int
    message: str


@dataclass
class Header:
    """The column names of a CSV/TSV file, yielded before its rows."""

    columns: list[str]


def open_binary(path: str, stdin: IO[bytes] | None = None) -> tuple[IO[bytes], str]:
    """``-`` is standard input; the name is used in messages."""
    if path == "-":
        return (stdin or sys.stdin.buffer), "<stdin>"
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{path}: is a directory")
    try:
        return p.open("rb"), path
    except OSError as exc:
        raise UsageError(f"{path}: cannot open ({exc.strerror})") from None


def detect_encoding(sample: bytes, name: str = "input") -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4 and sample[0] != 0:
        return "utf-16-le"
    if len(sample) >= 4 and sample[0::2].count(0) > len(sample) // 4:
        return "utf-16-be"
    if b"\x00" in sample:
        raise UsageError(f"{name}: looks like a binary file, not text")
    try:
        _decode_prefix(sample, "utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    # A short sample with a few rare characters (①, ㈱) reads as "chaos" at the
    # default threshold; a looser second pass still ranks the candidates.
    best = (
        from_bytes(sample, cp_isolation=list(LEGACY)).best()
        or from_bytes(sample, cp_isolation=list(LEGACY), threshold=0.5).best()
    )
    if best is None:
        raise UsageError(
            f"{name}: cannot tell its encoding (tried UTF-8, UTF-16, "
            f"{', '.join(LEGACY)}); give --encoding"
        )
    return str(best.encoding)


def _decode_prefix(sample: bytes, encoding: str) -> str:
    """Decode a sample that may end inside a multi-byte character."""
    dec = codecs.getincrementaldecoder(encoding)()
    return dec.decode(sample, final=False)


class LineCountingReader:
    """Text lines from a binary stream; a decoding error names its line.

    ASCII-compatible encodings (all the legacy ones above) never put a newline
    byte inside a multi-byte character, so each byte line is decoded on its
    own and an undecodable byte is pinned to its line. UTF-16/32 go through a
    TextIOWrapper.
    """

    def __init__(self, raw: IO[bytes], encoding: str, name: str) -> None:
        self.name = name
        self.charset = encoding
        self.line = 0
        self._raw = raw
        wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
        self._text = (
            io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="") if wide else None
        )
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")

    def readline(self, size: int = -1) -> str:
        try:
            if self._text is not None:
                line = self._text.readline(size)
            else:
                data = self._raw.readline()
                line = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise UsageError(
                f"{self.name}:{self.line + 1}: not valid {self.charset} text; "
                "give the right --encoding"
            ) from None
        if line:
            self.line += 1
        return line

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def open_text(
    path: str, encoding: str | None = None, stdin: IO[bytes] | None = None
) -> LineCountingReader:
    raw, name = open_binary(path, stdin)
    buffered: Any = raw if hasattr(raw, "peek") else io.BufferedReader(raw)  # type: ignore[type-var]
    if encoding is None:
        sample = buffered.peek(SAMPLE)[:SAMPLE]
        encoding = detect_encoding(sample, name)
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise UsageError(f"--encoding {encoding}: unknown encoding") from None
    return LineCountingReader(buffered, encoding, name)


def guess_format(path: str, first: str) -> str:
    lower = path.lower()
    for ext, fmt in (
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "json"),
        (".csv", "csv"),
        (".tsv", "tsv"),
    ):
        if lower.endswith(ext):
            return fmt
    s = first.lstrip("\ufeff \t\r\n")
    if s.startswith("["):
        return "json"
    if s.startswith("{"):
        return "jsonl"
    return "csv"


def sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def iter_records(
    path: str,
    *,
    fmt: str = "auto",
    encoding: str | None = None,
    delimiter: str | None = None,
    stdin: IO[bytes] | None = None,
) -> Iterator[tuple[int, dict[str, Any] | RowError | Header]]:
    """Yield ``(line, record)``, ``(line, RowError)`` or a CSV's ``(1, Header)``.

    File-level problems (unreadable, undecodable, malformed JSON document) raise.
    """
    reader = open_text(path, encoding, stdin)
    name = reader.name
    first = reader.readline()
    if fmt == "auto":
        fmt = guess_format(path, first)
    if fmt in ("csv", "tsv"):
        yield from _iter_csv(reader, first, "\t" if fmt == "tsv" else delimiter, name)
    elif fmt == "jsonl":
        yield from iter_jsonl(reader, first)
    elif fmt == "json":
        yield from _iter_json(reader, first, name)
    else:
        raise UsageError(f"unknown input format {fmt!r}; valid: auto, csv, tsv, json, jsonl")


def _iter_csv(
    reader: LineCountingReader, first: str, delimiter: str | None, name: str
) -> Iterator[tuple[int, dict[str, Any] | RowError | Header]]:
    first = first.lstrip("\ufeff")
    if not first.strip():
        raise UsageError(f"{name}:1: empty file or missing header row")
    delim = delimiter or sniff_delimiter(first)
    header = next(csv.reader([first], delimiter=delim))
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise UsageError(f"{name}:1: column {dup!r} appears twice in the header")
    yield 1, Header(header)
    for line, cells in csv_rows(reader, delim, len(header), exact=True):
        yield line, cells if isinstance(cells, RowError) else dict(zip(header, cells, strict=True))


def csv_rows(
    reader: Any, delimiter: str, width: int, *, exact: bool, first: str | None = None
) -> Iterator[tuple[int, list[str] | RowError]]:
    """Non-blank CSV rows with the line they start on; malformed or short rows as errors.

    ``width``: the number of fields a row must have (``exact``) or at least have.
    ``first``: a line already read from ``reader`` that belongs to the rows.
    """
    import itertools

    source = itertools.chain([first], reader) if first is not None else reader
    rows = csv.reader(source, delimiter=delimiter, strict=True)
    while True:
        start = reader.line + 1 if first is None else 1
        try:
            cells = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, RowError(start, f"malformed CSV: {exc}")
            continue
        finally:
            first = None
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < width or (exact and len(cells) != width):
            yield start, RowError(start, f"has {len(cells)} fields, expected {width}")
            continue
        yield start, cells


def iter_jsonl(
    reader: LineCountingReader, first: str
) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    line_no, line = 1, first
    while line:
        text = line.strip().lstrip("\ufeff")
        if text:
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield line_no, RowError(line_no, f"malformed JSON: {exc.msg} (column {exc.colno})")
            else:
                if isinstance(obj, dict):
                    yield line_no, obj
                else:
                    yield line_no, RowError(line_no, "expected a JSON object")
        line = reader.readline()
        line_no = reader.line


def _iter_json(
    reader: LineCountingReader, first: str, name: str
) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    text = first + "".join(reader)
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{name}:{exc.lineno}: malformed JSON: {exc.msg}") from None
    if isinstance(data, dict):
        for key in ("records", "items", "data", "rows"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            data = [data]
    if not isinstance(data, list):
        raise UsageError(f"{name}: expected a JSON array of objects")
    # Line numbers of top-level objects: find each element's opening brace.
    starts = _element_lines(text.lstrip("\ufeff"))
    for i, obj in enumerate(data):
        line = starts[i] if i < len(starts) else 0
        if isinstance(obj, dict):
            yield line, obj
        else:
            yield line, RowError(line, f"element {i + 1} is not a JSON object")


def _element_lines(text: str) -> list[int]:
    """The line each element of a top-level JSON array starts on."""
    lines, depth, line, in_str, esc = [], 0, 1, False, False
    for ch in text:
        if ch == "\n":
            line += 1
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            if depth == 1:
                lines.append(line)
            depth += 1
        elif ch in "]}":
            depth -= 1
    return lines
