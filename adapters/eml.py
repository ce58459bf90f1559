"""RFC 5322 messages (``.eml`` files, Maildir entries) → message records.

Decodes what the teams' mail really carries: ISO-2022-JP, KOI8-R, CP1251,
GB18030 bodies and MIME-encoded headers, HTML-only bodies (turned into text),
attachments (listed, not stored twice: the raw message is kept whole).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from .errors import UsageError

_BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "blockquote", "hr"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: blocks become lines, scripts and styles go."""
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # markup too broken to parse: strip the tags
        return re.sub(r"<[^>]*>", " ", html).strip()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _content(part: Message) -> str:
    """A text part as str, whatever its declared charset says.

    Mail is often mislabelled: 8-bit text without a charset, CP1251 declared as
    us-ascii, unknown charset names. The bytes are decoded with the declared
    charset when that works strictly, else as UTF-8, else with the legacy
    encoding that fits best.
    """
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode_body(payload, part.get_content_charset())


def decode_body(payload: bytes, declared: str | None) -> str:
    """Text from body bytes: the declared charset, else UTF-8, else the best legacy fit."""
    for charset in (declared, "utf-8"):
        if not charset:
            continue
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        from .files import detect_encoding

        return payload.decode(detect_encoding(payload[:65536]), errors="replace")
    except Exception:  # noqa: BLE001 - undecidable: keep what can be read
        return payload.decode("utf-8", errors="replace")


_ADDR = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_SURROGATES = re.compile("[\udc80-\udcff]")
_FOLD = re.compile(r"\r?\n[ \t]+")


def decode_text(value: Any) -> str:
    """A header value as text: raw 8-bit bytes (UTF-8 or a legacy charset) and
    RFC 2047 encoded-words decoded, folding undone.

    The compat32 parser is used on purpose: it is several times faster than
    ``policy.default``, which builds an object for every header of every message.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.isascii() and "=?" not in text and "\n" not in text:
        return text.strip()  # the common case: nothing to decode
    done = _DECODED.get(text)
    if done is None:
        if len(_DECODED) > 8192:  # senders and subjects repeat; a run over a big mailbox
            _DECODED.clear()  # keeps the cache bounded
        done = _DECODED[text] = _decode_text(text)
    return done


_DECODED: dict[str, str] = {}


def _decode_text(text: str) -> str:
    if _SURROGATES.search(text):  # raw 8-bit bytes in a header
        data = text.encode("ascii", "surrogateescape")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            from .files import detect_encoding

            try:
                text = data.decode(detect_encoding(data, "header"), errors="replace")
            except Exception:  # noqa: BLE001
                text = data.decode("utf-8", errors="replace")
    text = _FOLD.sub(" ", text)
    if "=?" in text:
        fast = _decode_words(text)
        if fast is not None:
            return fast.strip()
        try:
            text = str(make_header(decode_header(text)))
        except (LookupError, ValueError, UnicodeDecodeError, AssertionError):
            pass  # an unknown charset or a broken encoded-word: keep it as written
    return text.strip()


_WORD = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)[ \t]+(?==\?)")


def _decode_words(text: str) -> str | None:
    """RFC 2047 encoded-words, the usual shapes, without the email.header machinery.

    Whitespace between adjacent encoded-words is dropped, as the RFC says. None
    (so the general decoder runs) for anything it does not handle cleanly.
    """
    import base64
    import binascii
    import quopri

    parts: list[str] = []
    pos = 0
    text = _BETWEEN_WORDS.sub("?=", text)  # a plain replacement: no template to expand
    for m in _WORD.finditer(text):
        parts.append(text[pos : m.start()])
        charset, enc, payload = m.group(1).split("*", 1)[0], m.group(2).upper(), m.group(3)
        try:
            if enc == "B":
                data = base64.b64decode(payload + "=" * (-len(payload) % 4))
            else:
                data = quopri.decodestring(payload.replace("_", " ").encode("ascii"), header=True)
            parts.append(data.decode(charset))
        except (LookupError, UnicodeDecodeError, binascii.Error, ValueError):
            return None
        pos = m.end()
    parts.append(text[pos:])
    return "".join(parts)


_HEADER_FIELD = re.compile(r"^([!-9;-~]+)[ \t]*:[ \t]?(.*(?:\n[ \t].*)*)", re.M)


def header_end(raw: bytes) -> int:
    """Where the header block ends (the blank line), or len(raw) when there is none."""
    crlf, lf = raw.find(b"\r\n\r\n"), raw.find(b"\n\n")
    if crlf < 0:
        return lf if lf >= 0 else len(raw)
    return crlf if lf < 0 or crlf < lf else lf


def body_start(raw: bytes) -> int:
    """Where the body begins, after the blank line (len(raw) when there is none)."""
    end = header_end(raw)
    if raw.startswith(b"\r\n\r\n", end):
        return end + 4
    return min(end + 2, len(raw))


def split_headers(raw: bytes) -> list[tuple[str, str]]:
    """(name, value) pairs of a header block, unfolded, 8-bit kept as surrogate escapes.

    What the stdlib parser does for headers, without building a Message: the fields
    are found by one regex pass, folded ones joined with string methods (a regex
    substitution costs more than the rest of the parse). For thousands of
    ``BODY[HEADER]`` fetches this is most of the parsing time. A line that is no
    field (no name and colon) is skipped with its continuation lines.
    """
    block = raw[: header_end(raw)]
    if b"\r" in block and block.count(b"\r") != block.count(b"\r\n"):  # bare CR line ends
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        block = raw[: header_end(raw)]
    out: list[tuple[str, str]] = []
    for name, value in _HEADER_FIELD.findall(block.decode("ascii", "surrogateescape")):
        if "\n" in value:  # folded: the line breaks and the blanks around them become one space
            first, *rest = value.split("\n")
            value = " ".join([first.rstrip(" \t\r"), *(line.strip(" \t\r") for line in rest)])
        out.append((name, value.rstrip()))
    return out


def first_value(index: dict[str, list[str]]) -> Callable[[str], str]:
    """The first value of a field (by lower-case name), decoded; "" when absent."""

    def header(field: str) -> str:
        values = index.get(field)
        return decode_text(values[0]) if values else ""

    return header


def envelope(
    raw: bytes, header: Callable[[str], str], name: str
) -> tuple[datetime, str, str | None, str, str, str]:
    """Date, id, in-reply-to, thread id, sender name and address of a message, from
    its fields; a message without a usable Date is an error naming it. A message
    without a Message-ID gets one made of its header block (the same whether its
    body was read or not)."""
    date_text = header("date")
    date = parse_date(date_text)
    if date is None:
        raise UsageError(f"{name}: missing or malformed Date header ({date_text or 'absent'})")
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    mid = strip_id(header("message-id"))
    if not mid:
        mid = f"sha1-{hashlib.sha1(raw[: header_end(raw)]).hexdigest()[:20]}@deskops.invalid"
    references = header("references")
    refs = _ANGLED.findall(references) if references else []
    in_reply_to = strip_id(header("in-reply-to")) or None
    from_name, from_addr = _from(header("from"))
    return date, mid, in_reply_to, refs[0] if refs else (in_reply_to or mid), from_name, from_addr


def addresses(value: str) -> list[str]:
    """The addresses of an address field (decoded), as written."""
    if not value:
        return []
    if '"' in value or "(" in value:  # quoted names or comments: the full parser
        return [a for _, a in getaddresses([value]) if a]
    return _ADDR.findall(value)


def index_fields(
    items: list[tuple[str, str]],
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The values of each field, by lower-case name and by the name as first spelt
    (the same lists: a field written twice, or in two spellings, has them all)."""
    index: dict[str, list[str]] = {}
    headers: dict[str, list[str]] = {}
    for k, v in items:
        low = k.lower()
        values = index.get(low)
        if values is None:
            index[low] = headers[k] = [v]
        else:
            values.append(v)
    return index, headers


_CTYPE = re.compile(r"^\s*([\w.+-]+/[\w.+-]+)", re.ASCII)
_CHARSET = re.compile(r"charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)


def _simple_body(raw: bytes, items: list[tuple[str, str]]) -> str | None:
    """The text of a one-part text/plain or text/html message, without the MIME parser.

    Most mail is one text part; for it this is several times faster than building
    a Message. None (use the parser) for multipart, attachments and anything odd.
    """
    import base64
    import binascii
    import quopri

    ctype, cte, charset = "text/plain", "7bit", None
    for k, v in items:
        low = k.lower()
        if low == "content-type":
            m = _CTYPE.match(v)
            ctype = m.group(1).lower() if m else "?"
            cs = _CHARSET.search(v)
            charset = cs.group(1).strip("'").lower() if cs else None
        elif low == "content-transfer-encoding":
            cte = v.strip().lower()
        elif low == "content-disposition" and "attachment" in v.lower():
            return None
    if ctype not in ("text/plain", "text/html") or not raw.isascii() and cte in ("base64",):
        return None
    payload = raw[body_start(raw) :]
    try:
        if cte == "base64":
            data = base64.b64decode(b"".join(payload.split()), validate=True)
        elif cte == "quoted-printable":
            data = quopri.decodestring(payload)
        elif cte in ("7bit", "8bit", "binary", ""):
            data = payload
        else:
            return None
    except (binascii.Error, ValueError):
        return None
    text = decode_body(data, charset)
    if ctype == "text/html":
        return html_to_text(text)
    return text.replace("\r\n", "\n").strip()


_DATE = re.compile(
    r"\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"\s+([+-])(\d{2})(\d{2})(?:\s*\([^()]*\))?\s*$",
    re.ASCII,
)
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_ZONES: dict[str, tzinfo] = {}


def parse_date(text: str) -> datetime | None:
    """An RFC 5322 date; the usual shape read by one regex, anything else by the stdlib."""
    if not text:
        return None
    m = _DATE.match(text)
    if m:
        day, mon, year, hh, mm, ss, sign, zh, zm = m.groups()
        month = _MONTHS.get(mon.lower())
        key = sign + zh + zm
        zone = _ZONES.get(key)
        if zone is None:
            offset = timedelta(hours=int(zh), minutes=int(zm))
            zone = _ZONES[key] = timezone(-offset if sign == "-" else offset)
        if month:
            try:
                return datetime(int(year), month, int(day), int(hh), int(mm), int(ss or 0),
                                tzinfo=zone)  # fmt: skip
            except ValueError:
                pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


_NAME_ADDR = re.compile(r'^\s*"?([^"<>]*?)"?\s*<([^<>\s@]+@[^<>\s]+)>\s*$')
_BARE_ADDR = re.compile(r"^\s*<?([^<>\s@\"(),;:]+@[^<>\s\"(),;:]+)>?\s*$")


def _from(value: str) -> tuple[str, str]:
    """Display name and address of the sender (the decoded From header)."""
    m = _NAME_ADDR.match(value) or _BARE_ADDR.match(value)
    if m:  # the usual shapes: "Name <a@b>", a@b, <a@b>
        return (m.group(1).strip(), m.group(2)) if m.re is _NAME_ADDR else ("", m.group(1))
    name, addr = parseaddr(value)
    # Some mailers encode "Name <addr>" whole into one encoded-word: dig the address out.
    m = re.search(r"<([^<>@\s]+@[^<>\s]+)>", addr)
    if m:
        name = (name or addr[: m.start()]).strip().strip('"').strip()
        addr = m.group(1)
    elif "@" not in addr:
        m = re.search(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", value)
        addr = m.group(0) if m else addr
    return name, addr


_ANGLED = re.compile(r"<([^<>]+)>")


def strip_id(value: str) -> str:
    value = value.strip()
    m = _ANGLED.search(value)
    return (m.group(1) if m else value).strip()


def body_and_attachments(msg: Message) -> tuple[str, list[dict[str, Any]]]:
    attachments: list[dict[str, Any]] = []
    plain: str | None = None
    html: str | None = None
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = decode_text(part.get_filename()) or None
        if (
            disposition == "attachment"
            or (filename and disposition != "inline")
            or (
                ctype not in ("text/plain", "text/html")
                and not ctype.startswith("message/")
                and ctype != "text/rfc822-headers"
                and not ctype.startswith("multipart/")
            )
        ):
            payload = part.get_payload(decode=True) or b""
            attachments.append(
                {"filename": filename or "", "content_type": ctype, "size": len(payload)}
            )
            continue
        if ctype == "text/plain" and plain is None:
            plain = _content(part)
        elif ctype == "text/html" and html is None:
            html = _content(part)
    if plain is not None and plain.strip():
        return plain.replace("\r\n", "\n").strip(), attachments
    if html is not None:
        return html_to_text(html), attachments
    return (plain or "").replace("\r\n", "\n").strip(), attachments


_ODD_BREAKS = (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")  # line ends to the parser's str methods
_FIELD_LINE = re.compile(rb"[!-9;-~]+:")


def _clean_fields(data: bytes, pos: int, end: int) -> tuple[list[tuple[str, str]], int] | None:
    """The header fields of the entity at ``data[pos:end]`` as the stdlib parser stores
    them (compat32: the value after the colon with leading blanks and the last line
    break cut, folding kept), and where its body starts; None for anything but clean
    ``Name: value`` lines ended by a blank line."""
    fields: list[list[bytes]] = []
    while True:
        nl = data.find(b"\n", pos, end)
        if nl < 0:
            return None
        line = data[pos : nl + 1]
        pos = nl + 1
        if line == b"\n" or line == b"\r\n":
            break
        if line[:1] == b" " or line[:1] == b"\t":
            if not fields:
                return None
            fields[-1].append(line)
        elif _FIELD_LINE.match(line):
            fields.append([line])
        else:
            return None
    out = []
    for lines in fields:
        text = b"".join(lines).decode("ascii", "surrogateescape")
        name, _, value = text.partition(":")
        out.append((name, value.lstrip(" \t").rstrip("\r\n")))
    return out, pos


def _header_block(data: bytes, pos: int, end: int) -> tuple[Message, int] | None:
    """:func:`_clean_fields` set on a ``Message`` as the stdlib parser sets them."""
    found = _clean_fields(data, pos, end)
    if found is None:
        return None
    fields, pos = found
    msg = Message()
    for name, value in fields:
        msg.set_raw(name, value)
    return msg, pos


def _parts(raw: bytes, pos: int, boundary: str) -> list[tuple[int, int]] | None:
    """Where each part between the boundary lines of a one-level multipart begins and
    ends (its header block and body); None when the boundaries are not clean: a
    missing first or closing boundary, the closing one first, two in a row."""
    sep = b"--" + boundary.encode("ascii", "surrogateescape")
    starts: list[tuple[int, int]] = []  # (where a boundary line starts, where it ends)
    closed = False
    find = pos
    while not closed:
        at = raw.find(sep, find)
        if at < 0:
            return None  # no closing boundary
        find = at + 1
        if at != pos and raw[at - 1 : at] != b"\n":
            continue  # not at the start of a line
        nl = raw.find(b"\n", at)
        stop = len(raw) if nl < 0 else nl + 1
        rest = raw[at + len(sep) : stop]
        closed = rest.startswith(b"--")
        if closed:
            rest = rest[2:]
        if rest.rstrip(b"\r\n").strip(b" \t"):
            closed = False
            continue  # a line that only begins like the boundary
        if not starts and closed:
            return None  # the closing boundary first
        starts.append((at, stop))
        find = stop
    spans = [(begin, end) for (_, begin), (end, _) in zip(starts, starts[1:], strict=False)]
    if any(begin >= end for begin, end in spans):
        return None  # two boundary lines in a row
    return spans


def _payload(raw: bytes, begin: int, end: int) -> bytes:
    """A part's body, ``raw[begin:end]`` without the line break before the next boundary."""
    if raw.endswith(b"\r\n", begin, end):
        return raw[begin : end - 2]
    if raw.endswith(b"\n", begin, end):
        return raw[begin : end - 1]
    return raw[begin:end]


def _clean(raw: bytes) -> bool:
    """Line ends the light readers below take as the stdlib parser does."""
    return raw.count(b"\r") == raw.count(b"\r\n") and not any(b in raw for b in _ODD_BREAKS)


def _multipart(raw: bytes) -> Message | None:
    """A one-level multipart message (text, HTML, attachments) split at its boundary
    lines, the same tree the stdlib parser builds: header fields and payloads are set
    on ``email.message.Message`` objects exactly as it sets them, so everything read
    from the tree (types, charsets, file names, decoded payloads) is the stdlib's.

    What it skips is the parser's line-by-line machinery, and a compiled regex per
    boundary, several times the cost of the rest. None, so the stdlib parser reads
    the message, for anything else: nested multiparts, attached messages, digests,
    a missing first or closing boundary, empty parts, header lines that are not
    clean fields, bare CR line ends.
    """
    if not _clean(raw):
        return None
    top = _header_block(raw, 0, len(raw))
    if top is None:
        return None
    root, pos = top
    if root.get_content_maintype() != "multipart" or root.get_content_subtype() == "digest":
        return None
    boundary = root.get_boundary()
    if not boundary:
        return None
    spans = _parts(raw, pos, boundary)
    if spans is None:
        return None
    for begin, end in spans:
        head = _header_block(raw, begin, end)
        if head is None:
            return None
        part, body = head
        if part.get_content_maintype() in ("multipart", "message"):
            return None
        part.set_payload(_payload(raw, body, end).decode("ascii", "surrogateescape"))
        root.attach(part)
    return root


# A Content-Type of plain parameters: tokens or quoted strings without escapes, no
# RFC 2231 (``name*=``) and no file name. What the stdlib reads from it is then plain.
_PLAIN_TYPE = re.compile(
    r"\s*([!#-\'*+.0-9A-Z^-~-]+/[!#-\'*+.0-9A-Z^-~-]+)\s*"
    r'((?:;\s*[!#-\'+.0-9A-Z^-~-]+\s*=\s*(?:"[^"\\\r\n]*"|[!#-\'+.0-9A-Z^-~-]+)\s*)*);?\s*\Z',
    re.ASCII | re.IGNORECASE,
)
_PLAIN_PARAM = re.compile(
    r'([!#-\'+.0-9A-Z^-~-]+)\s*=\s*("[^"]*"|[^\s;]+)', re.ASCII | re.IGNORECASE
)


def _plain_type(value: str | None) -> tuple[str, dict[str, str]] | None:
    """Type and parameters (names in lower case, values unquoted) of a plain
    Content-Type; None for anything the stdlib reads in a way of its own."""
    if value is None:
        return "text/plain", {}
    m = _PLAIN_TYPE.match(value)
    if m is None:
        return None
    params: dict[str, str] = {}
    for name, val in _PLAIN_PARAM.findall(m.group(2)):
        params.setdefault(name.lower(), val[1:-1] if val.startswith('"') else val)
    return m.group(1).lower(), params


def _text_alternatives(raw: bytes) -> str | None:
    """The text of a one-level multipart whose parts are all inline text (plain and
    HTML, a quoted-printable or base64 or 8-bit body each), without building the tree:
    what :func:`body_and_attachments` reads from :func:`_multipart`'s tree, for the
    mail most often sent. None (read the tree) for attachments, file names, other
    types, dispositions, parameters in RFC 2231 or with escapes, and whatever
    :func:`_multipart` hands to the stdlib parser."""
    import quopri
    from email._encoded_words import decode_b  # what the stdlib decodes base64 bodies with

    if not _clean(raw):
        return None
    head = _clean_fields(raw, 0, len(raw))
    if head is None:
        return None
    top = _plain_type(next((v for k, v in head[0] if k.lower() == "content-type"), None))
    if top is None or not top[0].startswith("multipart/") or top[0] == "multipart/digest":
        return None
    boundary = top[1].get("boundary", "").rstrip()
    if not boundary:
        return None
    spans = _parts(raw, head[1], boundary)
    if not spans:
        return None
    plain: str | None = None
    html: str | None = None
    for begin, end in spans:
        found = _clean_fields(raw, begin, end)
        if found is None:
            return None
        fields, body = found
        first: dict[str, str] = {}
        for name, value in fields:
            first.setdefault(name.lower(), value)
        if "content-disposition" in first:
            return None
        ctype = _plain_type(first.get("content-type"))
        if ctype is None or ctype[0] not in ("text/plain", "text/html") or "name" in ctype[1]:
            return None
        if ctype[0] == "text/plain" and plain is not None:
            continue
        if ctype[0] == "text/html" and html is not None:
            continue
        data = _payload(raw, body, end)
        cte = first.get("content-transfer-encoding", "").lower()
        if cte == "quoted-printable":
            data = quopri.decodestring(data)
        elif cte == "base64":
            data = decode_b(b"".join(data.splitlines()))[0]
        elif cte in ("x-uuencode", "uuencode", "uue", "x-uue"):
            return None
        charset = ctype[1].get("charset")
        if charset is not None and not charset.isascii():
            charset = None  # what the stdlib makes of a charset it cannot name
        text = decode_body(data, charset.lower() if charset else None)
        if ctype[0] == "text/plain":
            plain = text
        else:
            html = text
    if plain is not None and plain.strip():
        return plain.replace("\r\n", "\n").strip()
    if html is not None:
        return html_to_text(html)
    return (plain or "").replace("\r\n", "\n").strip()


def body_of(
    raw: bytes, items: list[tuple[str, str]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Body text and attachments of a whole message (its headers are not decoded);
    ``items``: its header fields when already split (:func:`split_headers`)."""
    if items is None:
        items = split_headers(raw)
    simple = _simple_body(raw, items)
    if simple is None:
        simple = _text_alternatives(raw)
    if simple is not None:
        return simple, []
    return body_and_attachments(_multipart(raw) or message_from_bytes(raw))


def parse_message(
    raw: bytes,
    *,
    name: str,
    mailbox: str = "",
    folder: str = "",
    decode_headers: bool = True,
    headers_only: bool = False,
    iso_date: bool = True,
) -> dict[str, Any]:
    """A message record; a message without a usable Date is an error naming the file.

    ``decode_headers=False`` leaves the ``headers`` values as read (``headers_raw``
    is set): a run over thousands of messages decodes only the headers a rule
    asks for. ``headers_only``: ``raw`` is the header block alone (an IMAP
    ``BODY[HEADER]``), so the body is not parsed. ``iso_date=False``: ``date`` is
    the datetime itself rather than its ISO text (for a reader that builds
    messages right away).
    """
    if not raw or raw.isspace():
        raise UsageError(f"{name}: empty file, not a message")
    items = split_headers(raw)
    simple = None if headers_only else _simple_body(raw, items)
    msg = None
    if not headers_only and simple is None:
        msg = _multipart(raw) or message_from_bytes(raw)
        items = [(k, v if isinstance(v, str) else str(v)) for k, v in msg.raw_items()]
    if not items:
        raise UsageError(f"{name}: no headers, not an RFC 5322 message")
    hdrs, headers = index_fields(items)
    if decode_headers:
        headers = {k: [decode_text(v) for v in values] for k, values in headers.items()}

    header = first_value(hdrs)
    date, mid, in_reply_to, thread, from_name, from_addr = envelope(raw, header, name)
    if msg is not None:
        body, attachments = body_and_attachments(msg)
    else:
        body, attachments = (simple or ""), []

    def addrs(field: str) -> str:  # field in lower case
        return ", ".join(addresses(header(field)))

    return {
        "id": mid,
        "mailbox": mailbox or None,
        "folder": folder or None,
        "thread_id": thread,
        "in_reply_to": in_reply_to,
        "date": date.isoformat() if iso_date else date,
        "from_addr": from_addr.lower() or None,
        "from_name": from_name or None,
        "to_addrs": addrs("to") or None,
        "cc_addrs": addrs("cc") or None,
        "reply_to": addrs("reply-to") or None,
        "subject": header("subject") or None,
        "body_text": body,
        "has_attachments": bool(attachments),
        "attachments": attachments or None,
        "headers": headers,
        **({} if decode_headers else {"headers_raw": True}),
        "raw": raw,
        "labels": [],
    }


_DATE_LINE = re.compile(rb"^Date:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.MULTILINE | re.IGNORECASE)


def replace_date(raw: bytes, new_value: str) -> bytes:
    """The message with its Date header replaced (only in the header block)."""
    split = re.search(rb"\r?\n\r?\n", raw)
    head, rest = (raw[: split.start()], raw[split.start() :]) if split else (raw, b"")
    head = _DATE_LINE.sub(b"Date: " + new_value.encode("ascii"), head, count=1)
    return head + rest
