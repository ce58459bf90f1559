"""RFC 5322 messages (``.eml`` files, Maildir entries) → message records.

Decodes what the teams' mail really carries: ISO-2022-JP, KOI8-R, CP1251,
GB18030 bodies and MIME-encoded headers, HTML-only bodies (turned into text),
attachments (listed, not stored twice: the raw message is kept whole).
"""

from __future__ import annotations

import hashlib
import re
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
    text = _BETWEEN_WORDS.sub(r"\1", text)
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


_HEADER_LINE = re.compile(rb"^([!-9;-~]+)[ \t]*:[ \t]?(.*)$")


def split_headers(raw: bytes) -> list[tuple[str, str]]:
    """(name, value) pairs of a header block, unfolded, 8-bit kept as surrogate escapes.

    What the stdlib parser does for headers, without building a Message: for
    thousands of ``BODY[HEADER]`` fetches this is most of the parsing time.
    """
    end = re.search(rb"\r?\n\r?\n", raw)
    block = raw[: end.start()] if end else raw
    out: list[tuple[str, str]] = []
    for line in re.split(rb"\r?\n|\r", block):
        if line[:1] in (b" ", b"\t") and out:
            name, value = out[-1]
            out[-1] = (name, value + " " + line.strip().decode("ascii", "surrogateescape"))
            continue
        m = _HEADER_LINE.match(line)
        if m:
            out.append(
                (m.group(1).decode("ascii"), m.group(2).rstrip().decode("ascii", "surrogateescape"))
            )
    return out


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
    end = re.search(rb"\r?\n\r?\n", raw)
    payload = raw[end.end() :] if end else b""
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


def strip_id(value: str) -> str:
    value = value.strip()
    m = re.search(r"<([^<>]+)>", value)
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


def parse_message(
    raw: bytes,
    *,
    name: str,
    mailbox: str = "",
    folder: str = "",
    decode_headers: bool = True,
    headers_only: bool = False,
) -> dict[str, Any]:
    """A message record; a message without a usable Date is an error naming the file.

    ``decode_headers=False`` leaves the ``headers`` values as read (``headers_raw``
    is set): a run over thousands of messages decodes only the headers a rule
    asks for. ``headers_only``: ``raw`` is the header block alone (an IMAP
    ``BODY[HEADER]``), so the body is not parsed.
    """
    if not raw.strip():
        raise UsageError(f"{name}: empty file, not a message")
    items = split_headers(raw)
    simple = None if headers_only else _simple_body(raw, items)
    msg = None if headers_only or simple is not None else message_from_bytes(raw)
    if msg is not None:
        items = [(k, v if isinstance(v, str) else str(v)) for k, v in msg.raw_items()]
    if not items:
        raise UsageError(f"{name}: no headers, not an RFC 5322 message")
    hdrs: dict[str, list[str]] = {}
    for k, v in items:
        hdrs.setdefault(k.lower(), []).append(v)

    def header(field: str) -> str:
        values = hdrs.get(field.lower())
        return decode_text(values[0]) if values else ""

    date_text = header("Date")
    try:
        date = parsedate_to_datetime(date_text) if date_text else None
    except (TypeError, ValueError, IndexError):
        date = None
    if date is None:
        raise UsageError(f"{name}: missing or malformed Date header ({date_text or 'absent'})")
    if date.tzinfo is None:
        from datetime import UTC

        date = date.replace(tzinfo=UTC)
    mid = strip_id(header("Message-ID"))
    if not mid:
        mid = f"sha1-{hashlib.sha1(raw).hexdigest()[:20]}@deskops.invalid"
    refs = re.findall(r"<([^<>]+)>", header("References"))
    in_reply_to = strip_id(header("In-Reply-To")) or None
    thread = refs[0] if refs else (in_reply_to or mid)
    from_name, from_addr = _from(header("From"))
    if msg is not None:
        body, attachments = body_and_attachments(msg)
    else:
        body, attachments = (simple or ""), []
    headers: dict[str, list[str]] = {}
    for key, value in items:
        same = next((k for k in headers if k.lower() == key.lower()), key)
        headers.setdefault(same, []).append(decode_text(value) if decode_headers else value)

    def addrs(field: str) -> str:
        value = header(field)
        if not value:
            return ""
        if '"' in value or "(" in value:  # quoted names or comments: the full parser
            return ", ".join(a for _, a in getaddresses([value]) if a)
        return ", ".join(_ADDR.findall(value))

    return {
        "id": mid,
        "mailbox": mailbox or None,
        "folder": folder or None,
        "thread_id": thread,
        "in_reply_to": in_reply_to,
        "date": date.isoformat(),
        "from_addr": from_addr.lower() or None,
        "from_name": from_name or None,
        "to_addrs": addrs("To") or None,
        "cc_addrs": addrs("Cc") or None,
        "reply_to": addrs("Reply-To") or None,
        "subject": header("Subject") or None,
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
