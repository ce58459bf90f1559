"""Bounce (non-delivery report) reading, domain-typo fixes and phone numbers.

Why this exists: when a reply to a customer comes back "address unknown", the
teams (salon-ja "Bounces", toys-ru mail) need three things quickly — *which*
address failed and why, whether the domain is a plain typo they can fix and
resend (``@gmail.con``, ``@.au.com``), and a phone number from the returned
original so they can call instead.

Bounces come in many shapes: RFC 3464 ``multipart/report`` (Postfix, Gmail,
Exchange, Yandex), free text (qmail, Exim, Sendmail, Mail.ru, the Japanese
carriers) and wording in Japanese, Russian or Chinese. Everything here is a
pure function over the raw bytes: stdlib ``email`` in its tolerant
``compat32`` mode plus conservative text heuristics, no network, no printing.
A malformed report never raises; it yields what could be read.
"""

from __future__ import annotations

import base64
import binascii
import email
import quopri
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.header import decode_header
from email.message import Message
from email.parser import BytesHeaderParser, HeaderParser
from email.policy import compat32
from email.utils import getaddresses, parseaddr
from typing import Any

from deskops.adapters.eml import html_to_text

__all__ = [
    "Bounce",
    "WELL_KNOWN_DOMAINS",
    "is_bounce",
    "parse_bounce",
    "phones_in",
    "suggest_address",
]


@dataclass(frozen=True)
class Bounce:
    """What a bounce tells the agent; one failed recipient (the first failed one)."""

    recipient: str | None  # the failed address, lower-cased
    status: str | None  # enhanced status code like "5.1.1" when known
    reason: str | None  # one-line diagnostic (Diagnostic-Code or the MTA's sentence)
    style: str  # "rfc3464" | "postfix" | "exim" | "qmail" | "sendmail" | "exchange" | ...
    original_message_id: str | None  # Message-ID of the mail that bounced, without <>
    original_subject: str | None
    original_text: str | None  # body text of the returned original when included


# ---------------------------------------------------------------------------
# Detection (headers only)
# ---------------------------------------------------------------------------

# Mailboxes that only machines write from. "postmaster" is in the list because
# the carriers (ezweb, docomo) and the Chinese providers bounce from it.
_DAEMON_LOCALS = frozenset(
    {
        "mailer-daemon",
        "mailer_daemon",
        "mailerdaemon",
        "mail-daemon",
        "maildaemon",
        "postmaster",
    }
)
_DAEMON_NAME = re.compile(r"mail(?:er)?[- ]?daemon|mail delivery (?:sub)?system", re.I)

# A reply or forward *about* a bounce is a human's mail, never the bounce itself.
_REPLY_PREFIX = re.compile(
    r"^\s*(?:re|fwd?|fw|aw|wg|sv|vs|tr|rif|res|ответ|отв|пересл|回复|回覆|答复|转发|轉寄|返信|転送)"
    r"\s*(?:\[\d+\])?\s*[:：]",
    re.I,
)

# Subjects only MTAs use, anchored at the start: enough on their own.
_STRONG_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:"
    r"undelivered mail returned to sender"
    r"|delivery status notification \((?:failure|delay)\)"
    r"|mail delivery failed\s*:"
    r"|failure notice\s*$"
    r"|returned mail\s*:"
    r"|mail system error - returned mail"
    r"|undeliverable\s*:"
    r"|non[- ]?delivery report"
    r"|недоставленное сообщение"
    r"|недоставляемое\s*:"
    r"|配信不能\s*:"
    r"|无法送达\s*:"
    r"|無法傳遞\s*:"
    r"|系统退信"
    r"|退信\s*[:：]"
    r")",
    re.I,
)

# Wording a human could also use: counts only with a machine signal next to it.
_WEAK_SUBJECT = re.compile(
    r"undeliver|undelivered|returned mail|returned to sender|delivery fail|mail delivery"
    r"|delivery status notification|failure notice|non[- ]?deliver|not delivered"
    r"|could not be delivered|unzustellbar|non remis"
    r"|не доставлен|недоставлен|не удалось доставить|недоставк|ошибка доставки"
    r"|не доставлено|лист не доставлено"
    r"|未配達|配信エラー|配送エラー|配信不能|配信に失敗|配信失敗|送信エラー|返送|宛先不明"
    r"|退信|退回|未送达|无法投递|投递失败|发送失败|无法送达|無法傳遞",
    re.I,
)

# Auto-replies quote the subject they answer, which may itself say "not delivered".
_AUTOREPLY_PREFIX = re.compile(
    r"^\s*(?:automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|out of (?:the )?office"
    r"|автоответ|автоматический ответ|自動応答|自動返信|不在通知|自动回复|自動回覆)",
    re.I,
)

# Positive delivery reports share the report format but are not bounces.
_SUCCESS_SUBJECT = re.compile(
    r"\((?:success|relay|delivered)\)|^\s*(?:delivered|relayed)\s*:"
    r"|successful mail delivery report|delivery receipt",
    re.I,
)

_BLANK_LINE = re.compile(rb"\r?\n\r?\n|\r\r")


def _header_block(raw: bytes) -> bytes:
    """The header section only, so detection stays cheap on large mails."""
    m = _BLANK_LINE.search(raw)
    return raw[: m.start() + 1] if m else raw


def _headers(raw: bytes) -> Message:
    return BytesHeaderParser(policy=compat32).parsebytes(_header_block(raw))


def is_bounce(raw: bytes) -> bool:
    """Cheap header check: is this a non-delivery report?

    Why headers only: the caller runs it over whole mailboxes before parsing.
    Signals: a ``multipart/report; report-type=delivery-status`` type, an Exim
    ``X-Failed-Recipients`` header, a mailer-daemon/postmaster sender, a
    subject only MTAs write, or bounce-like wording together with a machine
    signal (``Auto-Submitted``, empty ``Return-Path``). Replies/forwards,
    success reports and read receipts are not bounces.
    """
    if not raw:
        return False
    try:
        head = _headers(raw)
        subject = _header_text(head.get("Subject"))
        if (
            _REPLY_PREFIX.match(subject)
            or _AUTOREPLY_PREFIX.match(subject)
            or _SUCCESS_SUBJECT.search(subject)
        ):
            return False
        ctype = head.get_content_type()
        report_type = str(head.get_param("report-type", "") or "").lower()
        if ctype == "multipart/report" and "delivery-status" in report_type:
            return True
        if "disposition-notification" in report_type:
            return False  # a read receipt (RFC 8098), not a delivery failure
        if head.get("X-Autoreply") is not None or head.get("X-Autorespond") is not None:
            return False
        if head.get("X-Failed-Recipients"):
            return True
        name, addr = parseaddr(_header_text(head.get("From")))
        local = addr.rpartition("@")[0] if "@" in addr else addr
        if local.lower() in _DAEMON_LOCALS or _DAEMON_NAME.search(name or ""):
            return True
        if _STRONG_SUBJECT.match(subject):
            return True
        if _WEAK_SUBJECT.search(subject):
            auto = _header_text(head.get("Auto-Submitted")).strip().lower()
            return_path = _header_text(head.get("Return-Path")).strip()
            machine = (
                (auto != "" and not auto.startswith("no"))
                or (return_path in ("<>", "") and head.get("Return-Path") is not None)
                or local.lower().startswith("microsoftexchange")
                or head.get("X-MS-Exchange-Message-Is-Ndr") is not None
                or (ctype == "multipart/report" and not report_type)
            )
            return bool(machine)
    except (ValueError, LookupError, TypeError, AttributeError, IndexError):
        return False
    return False


# ---------------------------------------------------------------------------
# Decoding helpers
# ---------------------------------------------------------------------------

# Labels mail software writes that Python's codecs do not know, or that are
# subsets of what is really sent (Shift_JIS mail is CP932 in practice).
_CHARSET_ALIASES = {
    "x-sjis": "cp932",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ks_c_5601-1987": "cp949",
    "us-ascii": "utf-8",  # mislabelled 8-bit text is far more often UTF-8 than anything
    "ascii": "utf-8",
    "unknown-8bit": "",
    "x-unknown": "",
    "unicode-1-1-utf-7": "utf-7",
}


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from bytes under a declared charset, falling back instead of failing."""
    name = (charset or "").strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    tries: list[str] = [name] if name else []
    if name.startswith("iso-2022-jp") or b"\x1b$" in data:
        tries += ["iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_2004"]
    tries.append("utf-8")
    for codec in tries:
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return data.decode(name or "utf-8", errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _header_text(value: Any) -> str:
    """A header value as readable text: encoded-words and raw 8-bit both decoded."""
    if value is None:
        return ""
    try:
        if isinstance(value, str):
            value = re.sub(r"\r?\n[ \t]+", " ", value)
        chunks = decode_header(value)
    except (ValueError, LookupError, TypeError, AssertionError, binascii.Error):
        return re.sub(r"\s+", " ", str(value)).strip()
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(_decode_bytes(chunk, charset))
        else:
            out.append(chunk)
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _addresses(value: Any) -> list[str]:
    return [a.lower() for _, a in getaddresses([_header_text(value)]) if "@" in a]


def _strip_id(value: str) -> str | None:
    """Message-IDs are stored without angle brackets elsewhere in ``ops``."""
    m = re.search(r"<([^<>\s]+)>", value)
    found = (m.group(1) if m else value).strip()
    return found or None


def _decode_cte(text: str, cte: str) -> bytes:
    data = text.encode("ascii", errors="ignore")
    if cte == "base64":
        try:
            return base64.b64decode(re.sub(rb"[^A-Za-z0-9+/=]", b"", data) + b"==", validate=False)
        except (binascii.Error, ValueError):
            return data
    if cte == "quoted-printable":
        return quopri.decodestring(data)
    return data


def _part_text(part: Message, predecoded: bool = False) -> str:
    """Decoded text of a leaf part, whatever its transfer encoding or charset says.

    ``predecoded``: the part comes from an original quoted inside an already
    decoded report, so 8-bit text is already Unicode and must not be decoded again.
    """
    if predecoded:
        raw_payload = part.get_payload()
        cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
        if isinstance(raw_payload, str) and cte not in ("base64", "quoted-printable"):
            return raw_payload
        if isinstance(raw_payload, str) and cte == "quoted-printable":
            data = quopri.decodestring(raw_payload.encode("utf-8"))
            return _decode_bytes(data, "utf-8")
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError, binascii.Error):
        payload = None
    if isinstance(payload, bytes):
        try:
            charset = part.get_content_charset()
        except (ValueError, LookupError):
            charset = None
        return _decode_bytes(payload, charset)
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw
    return ""


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------------------
# MIME walk
# ---------------------------------------------------------------------------

_DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_ORIGINAL_TYPES = frozenset({"message/rfc822", "message/global"})
_HEADERS_TYPES = frozenset(
    {"text/rfc822-headers", "message/rfc822-headers", "message/global-headers"}
)


@dataclass
class _Report:
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    dsn: list[str] = field(default_factory=list)
    original: Message | None = None
    original_headers: str | None = None


def _dsn_text(part: Message) -> str:
    """The delivery-status fields as text, even when the part was base64-encoded."""
    payload = part.get_payload()
    if isinstance(payload, list):
        chunks = []
        for block in payload:
            if not isinstance(block, Message):
                continue
            lines = [f"{k}: {v}" for k, v in block.items()]
            body = block.get_payload()
            if isinstance(body, str) and body.strip():
                lines.append(body)
            chunks.append("\n".join(lines))
        text = "\n\n".join(chunks)
    else:
        text = _part_text(part)
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte in ("base64", "quoted-printable") and not re.search(r"(?im)^[\w-]+-recipient\s*:", text):
        text = _decode_bytes(_decode_cte(text, cte), "utf-8")
    return _newlines(text)


def _embedded_message(part: Message) -> Message | None:
    """The attached original; re-parsed when an MTA transfer-encoded the whole part."""
    payload = part.get_payload()
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        inner = payload[0]
        body = inner.get_payload()
        if cte in ("base64", "quoted-printable") and not inner.keys() and isinstance(body, str):
            return email.message_from_bytes(_decode_cte(body, cte), policy=compat32)
        return inner
    if isinstance(payload, str) and payload.strip():
        data = _decode_cte(payload, cte) if cte in ("base64", "quoted-printable") else None
        if data is not None:
            return email.message_from_bytes(data, policy=compat32)
        return email.message_from_string(payload.lstrip("\r\n"), policy=compat32)
    return None


def _collect(part: Message, rep: _Report, depth: int = 0) -> None:
    if depth > 30:
        return
    ctype = part.get_content_type()
    if ctype in _DSN_TYPES:
        rep.dsn.append(_dsn_text(part))
        return
    if ctype in _ORIGINAL_TYPES:
        if rep.original is None:
            rep.original = _embedded_message(part)
        return
    if ctype in _HEADERS_TYPES:
        if rep.original_headers is None:
            rep.original_headers = _newlines(_part_text(part))
        return
    if part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    _collect(sub, rep, depth + 1)
        return
    if ctype.startswith("multipart/"):
        # A multipart whose boundary never appears: the parser leaves the body as
        # one string; read it as free text rather than losing it.
        rep.texts.append(_newlines(_part_text(part)))
    elif ctype == "text/html":
        rep.htmls.append(html_to_text(_part_text(part)))
    elif ctype == "text/plain" or ctype == "text/enriched":
        rep.texts.append(_newlines(_part_text(part)))


# ---------------------------------------------------------------------------
# RFC 3464 fields
# ---------------------------------------------------------------------------


def _dsn_blocks(text: str) -> list[dict[str, str]]:
    """``Name: value`` blocks separated by blank lines, folded lines joined."""
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\n[ \t]*\n", _newlines(text).strip()):
        fields: dict[str, str] = {}
        current: str | None = None
        for line in chunk.split("\n"):
            if line[:1] in (" ", "\t") and current:
                fields[current] += " " + line.strip()
                continue
            m = re.match(r"([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$", line)
            if m:
                current = m.group(1).lower()
                fields.setdefault(current, m.group(2).strip())
            else:
                current = None
        if fields:
            blocks.append(fields)
    return blocks


def _typed_value(value: str) -> str:
    """``rfc822; user@host`` / ``smtp; 550 ...`` → the part after the type."""
    m = re.match(r"\s*[A-Za-z0-9-]+\s*;\s*(.*)$", value, re.S)
    return (m.group(1) if m else value).strip()


_ENHANCED = re.compile(r"(?<![\w.])([245]\.\d{1,3}\.\d{1,3})(?!\.?\d)")


def _status_in(text: str | None) -> str | None:
    if not text:
        return None
    m = _ENHANCED.search(text)
    return m.group(1) if m else None


def _one_line(text: str | None, limit: int = 400) -> str | None:
    if not text:
        return None
    line = re.sub(r"\s+", " ", text).strip()
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line or None


_ADDR = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]*[A-Za-z0-9]", re.ASCII)


def _clean_addr(value: str | None) -> str | None:
    if not value:
        return None
    value = _typed_value(value) if ";" in value else value.strip()
    m = _ADDR.search(unicodedata.normalize("NFKC", value))
    if not m:
        cleaned = value.strip().strip("<>\"' ").lower()
        return cleaned or None
    local, _, domain = m.group(0).partition("@")
    local = local.lstrip("'\"=.`")
    domain = domain.rstrip(".-")
    if not local or not domain:
        return None
    return f"{local}@{domain}".lower()


@dataclass
class _Dsn:
    recipient: str | None = None
    status: str | None = None
    reason: str | None = None
    reporting_mta: str = ""
    only_success: bool = False
    found: bool = False


def _read_dsn(texts: Iterable[str]) -> _Dsn:
    """The first failed recipient of the reports (a delayed one if none failed)."""
    out = _Dsn()
    recipients: list[dict[str, str]] = []
    for text in texts:
        for block in _dsn_blocks(text):
            if "final-recipient" in block or "original-recipient" in block:
                recipients.append(block)
            elif "reporting-mta" in block and not out.reporting_mta:
                out.reporting_mta = _typed_value(block["reporting-mta"]).lower()
    if not recipients:
        return out
    out.found = True

    def action(block: dict[str, str]) -> str:
        return block.get("action", "").strip().lower().split(" ")[0]

    chosen = next((b for b in recipients if action(b) == "failed"), None)
    chosen = chosen or next((b for b in recipients if action(b) == "delayed"), None)
    if chosen is None:
        if all(action(b) in ("delivered", "relayed", "expanded") for b in recipients):
            out.only_success = True
            return out
        chosen = recipients[0]
    out.recipient = _clean_addr(chosen.get("final-recipient")) or _clean_addr(
        chosen.get("original-recipient")
    )
    out.status = _status_in(chosen.get("status"))
    diagnostic = chosen.get("diagnostic-code")
    out.reason = _one_line(_typed_value(diagnostic)) if diagnostic else None
    if out.status is None:
        out.status = _status_in(out.reason)
    return out


# ---------------------------------------------------------------------------
# Free text
# ---------------------------------------------------------------------------

# Where an MTA starts quoting the original message inside its own text.
_ORIGINAL_MARKER = re.compile(
    r"^[ \t]*(?:"
    r"-*\s*below this line is a copy of the message\.?"  # qmail
    r"|-*\s*enclosed is a copy of the message\.?"
    r"|-+\s*this is a copy of the message.*"  # exim
    r"|-+\s*(?:original|unsent|returned) message(?: follows)?\s*-+"  # sendmail and others
    r"|original message headers\s*:?"  # exchange
    r"|-*\s*(?:元のメッセージ|送信したメッセージ|元のメール)(?:\s*ヘッダー)?\s*[:：]?\s*-*"
    r"|-*\s*(?:исходное сообщение|копия (?:исходного )?сообщения|оригинальное сообщение"
    r"|заголовки исходного сообщения)[^\n]*"
    r"|-*\s*(?:原始邮件|原邮件|原始郵件)(?:信息|头|內容|内容)?\s*[:：]?\s*-*"
    r")[ \t]*$",
    re.I | re.M,
)

_HEADER_LINE = re.compile(
    r"^(?:Return-Path|Received|Date|From|To|Cc|Subject|Message-I[Dd]|MIME-Version"
    r"|Content-Type|Reply-To|In-Reply-To|References|X-[\w-]+)[ \t]*:",
    re.I,
)
_KEY_HEADER = re.compile(r"^(?:From|To|Subject|Message-I[Dd]|Date)[ \t]*:", re.I)


def _header_block_start(text: str) -> int | None:
    """Offset of the first run of RFC 5322 header lines quoted in free text."""
    lines = text.split("\n")
    offset = 0
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if _HEADER_LINE.match(stripped):
            run = [stripped]
            for nxt in lines[i + 1 : i + 8]:
                if not nxt.strip():
                    break
                if _HEADER_LINE.match(nxt.lstrip()):
                    run.append(nxt.lstrip())
                elif nxt[:1] in (" ", "\t"):
                    continue
                else:
                    break
            if len(run) >= 2 and any(_KEY_HEADER.match(h) for h in run):
                return offset
        offset += len(line) + 1
    return None


def _split_original(text: str) -> tuple[str, str | None]:
    """The report's own words, and the quoted original when it was appended as text."""
    m = _ORIGINAL_MARKER.search(text)
    if m:
        return text[: m.start()], text[m.end() :]
    start = _header_block_start(text)
    if start is not None:
        return text[:start], text[start:]
    return text, None


def _quoted_message(rest: str) -> tuple[Message | None, str | None]:
    """A quoted original parsed as a message; plain text when it carries no headers."""
    rest = rest.lstrip("\n")
    lines = rest.split("\n")
    first = next((ln for ln in lines if ln.strip()), "")
    if _HEADER_LINE.match(first.lstrip()):
        indent = len(first) - len(first.lstrip())
        if indent:
            rest = "\n".join(ln[indent:] if ln[:indent].isspace() else ln for ln in lines)
        else:
            rest = rest[rest.index(first) :]
        return email.message_from_string(rest, policy=compat32), None
    text = rest.strip()
    return None, text or None


_SYSTEM_LOCALS = frozenset(
    _DAEMON_LOCALS | {"root", "noreply", "no-reply", "abuse", "hostmaster", "mail-admin"}
)

_LABELED_REASON = re.compile(
    r"(?im)(?:"
    r"\(reason:\s*(?P<paren>[^\n]+?)\)\s*$"
    r"|^\s*(?:reason|причина|原因|退信原因|失败原因|理由|エラー内容|エラー理由|diagnostic[- ]code)"
    r"\s*[:：]\s*(?P<label>.+)$"
    r"|remote server returned\s+'(?P<remote>[^']+)'"
    r"|^\s*#(?P<hash>[245]\d\d [^#\n]+?)\s*##"
    r")"
)
_SMTP_LINE = re.compile(r"(?m)^.*(?:\b[45]\d\d[ -]|(?<![\w.])[45]\.\d{1,3}\.\d{1,3}(?!\.?\d)).*$")
_REASON_WORDS = re.compile(
    r"(?im)^.*(?:user unknown|unknown user|no such (?:user|host|domain)|does not exist"
    r"|doesn't exist|not found|couldn't be found|could not be found|no mailbox|mailbox unavailable"
    r"|account (?:is )?(?:disabled|suspended)|over quota|mailbox (?:is )?full|invalid"
    r"|rejected|not a valid|couldn't find|host not found"
    r"|存在しない|存在しません|見つかりません|受信拒否|容量"
    r"|не существует|не найден|нет такого|переполнен|заблокирован|отключ"
    r"|不存在|无效|無效|被拒|已满|拒绝|拒收).*$"
)


def _reason_after(diag: str, recipient: str) -> str | None:
    """The lines that follow the recipient in qmail/Exim/Postfix-style blocks."""
    lines = diag.split("\n")
    for i, line in enumerate(lines):
        at = line.lower().find(recipient)
        if at < 0:
            continue
        tail = re.sub(r"^[>\s:]+", "", line[at + len(recipient) :]).strip()
        out: list[str] = [tail] if tail else []
        for nxt in lines[i + 1 :]:
            if not nxt.strip():
                break  # the block ends; text after a blank line is boilerplate
            if _ADDR.search(nxt) and re.match(r"^\s*<?[^\s<>]+@[^\s<>]+>?:?\s*$", nxt):
                break  # the next recipient's block
            out.append(nxt.strip())
            if len(out) >= 6:
                break
        joined = " ".join(x for x in out if x)
        if joined:
            return joined
    return None


def _text_reason(diag: str, recipient: str | None) -> str | None:
    m = _LABELED_REASON.search(diag)
    if m:
        return next(g for g in m.groups() if g)
    if recipient:
        after = _reason_after(diag, recipient)
        if after:
            return after
    m2 = _SMTP_LINE.search(diag)
    if m2:
        return m2.group(0)
    m3 = _REASON_WORDS.search(diag)
    return m3.group(0) if m3 else None


def _text_recipient(diag: str, exclude: set[str]) -> str | None:
    """The first address in the report's own words that is not one of ours."""
    candidates: list[tuple[int, str]] = []
    scan = re.sub(r"(?im)^\s*(?:message-id|in-reply-to|references)\s*:.*$", "", diag)
    scan = unicodedata.normalize("NFKC", scan)
    for m in _ADDR.finditer(scan):
        addr = _clean_addr(m.group(0))
        if not addr or addr in exclude:
            continue
        if addr.partition("@")[0] in _SYSTEM_LOCALS:
            continue
        bracketed = m.start() > 0 and scan[m.start() - 1] == "<"
        candidates.append((0 if bracketed else 1, addr))
        if len(candidates) >= 20:
            break
    if not candidates:
        return None
    # Prefer "<addr>" (qmail, Sendmail, Postfix) but keep document order otherwise.
    return next((a for rank, a in candidates if rank == 0), candidates[0][1])


# Enhanced codes for the common sentences of reports that give none (RFC 3463).
_INFERRED = (
    (
        re.compile(
            r"not a valid rfc ?5321|bad (?:recipient )?address syntax|invalid address format"
            r"|アドレスの形式が正しくありません",
            re.I,
        ),
        "1.3",
    ),
    (
        re.compile(
            r"host or domain name not found|couldn't find any host|no such domain|nxdomain"
            r"|domain (?:name )?not found|unrouteable|host not found|domain .{0,40}does not exist"
            r"|домен .{0,40}не (?:существует|найден)|ドメインが見つかりません|域名不存在",
            re.I,
        ),
        "1.2",
    ),
    (
        re.compile(
            r"over quota|quota exceeded|mailbox (?:is )?full|mailbox size|insufficient storage"
            r"|переполнен|容量|已满|空间不足",
            re.I,
        ),
        "2.2",
    ),
    (
        re.compile(
            r"account (?:is |has been )?(?:disabled|suspended|blocked|inactive)|mailbox disabled"
            r"|заблокирован|отключ|已冻结|已停用",
            re.I,
        ),
        "2.1",
    ),
    (
        re.compile(
            r"user unknown|unknown user|no such user|no mailbox|mailbox unavailable|does not exist"
            r"|doesn't exist|not found|recipient(?: address)? rejected|invalid recipient"
            r"|address couldn't be found|no longer available"
            r"|存在しない|存在しません|見つかりません"
            r"|не существует|не найден|нет такого|不存在|无效|無效",
            re.I,
        ),
        "1.1",
    ),
    (re.compile(r"spam|blocked|policy|受信拒否|拒否|спам|拒收|拒绝|垃圾", re.I), "7.1"),
)


def _infer_status(text: str | None) -> str | None:
    """A code from the wording alone, so callers can still tell "address unknown"."""
    if not text:
        return None
    smtp = re.search(r"\b([245])\d\d\b", text)
    klass = smtp.group(1) if smtp else None
    if klass is None:
        temporary = re.search(r"temporar|will (?:be )?retr|still being retried|delayed", text, re.I)
        klass = "4" if temporary else "5"
    if klass == "2":
        return None
    for pattern, detail in _INFERRED:
        if pattern.search(text):
            return f"{klass}.{detail}"
    return None


# ---------------------------------------------------------------------------
# Styles
# ---------------------------------------------------------------------------

_PROVIDERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("docomo", ("docomo.ne.jp",)),
    ("au", ("ezweb.ne.jp", "au.com", "dion.ne.jp", "kddi.com", "auone-net.jp")),
    ("softbank", ("softbank.ne.jp", "i.softbank.jp", "softbank.jp", "vodafone.ne.jp")),
    ("gmail", ("googlemail.com", "gmail.com", "google.com")),
    ("yandex", ("yandex.ru", "yandex.net", "yandex.com", "yandex.ua", "yandex.by", "ya.ru")),
    ("mailru", ("mail.ru", "inbox.ru", "list.ru", "bk.ru")),
    ("qq", ("qq.com", "foxmail.com")),
    ("netease", ("163.com", "126.com", "yeah.net", "188.com")),
    ("exchange", ("outlook.com", "hotmail.com", "live.com", "onmicrosoft.com")),
)

_EXCHANGE_TEXT = re.compile(
    r"diagnostic information for administrators|delivery has failed to these recipients"
    r"|RESOLVER\.[A-Z]{3}\.|remote server returned '|couldn't be delivered\.|診断情報|管理者用"
    r"|次の受信者またはグループへの配信に失敗しました|Диагностические сведения для администраторов"
    r"|Не удалось доставить сообщение следующим получателям|管理员的诊断信息"
)


def _host_matches(host: str, domains: Iterable[str]) -> bool:
    host = host.strip().strip(".").lower()
    return any(host == d or host.endswith("." + d) for d in domains)


def _style(head: Message, from_addr: str, reporting_mta: str, text: str, has_dsn: bool) -> str:
    """Which software wrote the report; providers first, then MTA fingerprints."""
    from_host = from_addr.rpartition("@")[2]
    for style, domains in _PROVIDERS:
        if _host_matches(from_host, domains) or (
            reporting_mta and _host_matches(reporting_mta.split()[-1], domains)
        ):
            return style
    local = from_addr.partition("@")[0]
    if (
        local.startswith("microsoftexchange")
        or head.get("X-MS-Exchange-Message-Is-Ndr") is not None
        or _EXCHANGE_TEXT.search(text)
    ):
        return "exchange"
    if re.search(r"qmail-send program|^Hi\. This is the qmail", text, re.I | re.M) or re.search(
        r"\.qmail@", str(head.get("Message-ID", ""))
    ):
        return "qmail"
    if head.get("X-Failed-Recipients") or re.search(
        r"created automatically by mail delivery software|-+ This is a copy of the message", text
    ):
        return "exim"
    if re.search(
        r"-----\s*The following addresses had (?:permanent fatal|transient non-fatal) errors"
        r"|-----\s*Transcript of session follows",
        text,
    ):
        return "sendmail"
    if head.get("X-Postfix-Queue-ID") or re.search(
        r"This is the mail system at host|X-Postfix;", text
    ):
        return "postfix"
    return "rfc3464" if has_dsn else "generic"


# ---------------------------------------------------------------------------
# Original message
# ---------------------------------------------------------------------------


def _body_text(msg: Message, predecoded: bool = False) -> str | None:
    """Plain text of a message (HTML turned into text when that is all there is)."""
    plain: str | None = None
    html: str | None = None
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = _newlines(_part_text(part, predecoded))
        elif ctype == "text/html" and html is None:
            html = html_to_text(_part_text(part, predecoded))
    text = plain if plain and plain.strip() else html
    return text.strip() if text and text.strip() else None


@dataclass
class _Original:
    message_id: str | None = None
    subject: str | None = None
    text: str | None = None
    senders: set[str] = field(default_factory=set)
    recipients: list[str] = field(default_factory=list)

    def take(self, msg: Message | None, with_body: bool = True, predecoded: bool = False) -> None:
        if msg is None:
            return
        if self.message_id is None and msg.get("Message-ID"):
            self.message_id = _strip_id(_header_text(msg.get("Message-ID")))
        if self.subject is None and msg.get("Subject") is not None:
            self.subject = _header_text(msg.get("Subject")) or None
        if with_body and self.text is None:
            self.text = _body_text(msg, predecoded)
        for name in ("From", "Sender", "Return-Path", "Reply-To"):
            self.senders.update(_addresses(msg.get(name)))
        if not self.recipients:
            self.recipients = _addresses(msg.get("To")) + _addresses(msg.get("Cc"))


_LABELED_SUBJECT = re.compile(r"(?im)^\s*(?:主\s*题|主題|件名|тема|subject)\s*[:：]\s*(.+)$")
_QUOTED_ID = re.compile(r"(?im)^\s*message-id\s*:\s*(<[^>\s]+>|\S+@\S+)")


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


def parse_bounce(raw: bytes) -> Bounce | None:
    """Read a bounce; ``None`` when it is not one (or only reports success).

    Why so forgiving: bounces are produced by every kind of mail software and
    are often mangled on the way; a partial answer (the failed address from
    the text) is still what the agent needs to act on, so this never raises.
    """
    if not is_bounce(raw):
        return None
    try:
        return _parse(raw)
    except Exception:  # noqa: BLE001 - malformed input must give what it can, never raise
        return _salvage(raw)


def _salvage(raw: bytes) -> Bounce | None:
    """Last resort when the MIME structure itself could not be read."""
    text = _newlines(_decode_bytes(raw, None))
    head, _, body = text.partition("\n\n")
    dsn = _read_dsn([body])
    exclude: set[str] = set()
    for line in head.split("\n"):
        if re.match(r"(?i)(?:from|to|return-path|reply-to)\s*:", line):
            exclude.update(a.lower() for a in _ADDR.findall(line))
    diag, _ = _split_original(body)
    recipient = dsn.recipient or _text_recipient(diag, exclude)
    reason = dsn.reason or _one_line(_text_reason(diag, recipient))
    status = dsn.status or _status_in(reason) or _infer_status(reason)
    return Bounce(recipient, status, reason, "generic", None, None, None)


def _parse(raw: bytes) -> Bounce | None:
    msg = email.message_from_bytes(raw, policy=compat32)
    rep = _Report()
    _collect(msg, rep)

    text = "\n\n".join(t for t in rep.texts if t.strip()) or "\n\n".join(rep.htmls)
    diag, quoted = _split_original(text)

    dsn_sources = list(rep.dsn)
    inline = re.search(r"(?im)^(?:reporting-mta|final-recipient)\s*:", text)
    if not dsn_sources and inline:
        # The report part lost its MIME wrapping (broken boundary, pasted as text).
        dsn_sources = [text[inline.start() :]]
    dsn = _read_dsn(dsn_sources)
    if dsn.only_success:
        return None

    original = _Original()
    original.take(rep.original)
    if rep.original_headers:
        original.take(HeaderParser(policy=compat32).parsestr(rep.original_headers), False)
    if quoted is not None:
        qmsg, loose = _quoted_message(quoted)
        original.take(qmsg, predecoded=True)
        if original.text is None and loose and rep.original is None:
            original.text = loose
    if original.message_id is None:
        m = _QUOTED_ID.search(text)
        if m:
            original.message_id = _strip_id(m.group(1))
    if original.subject is None:
        m2 = _LABELED_SUBJECT.search(diag)
        if m2:
            original.subject = _header_text(m2.group(1).strip()) or None
    if original.message_id is None and msg.get("In-Reply-To"):
        # Gmail points back at the bounced mail even when it returns no copy.
        original.message_id = _strip_id(_header_text(msg.get("In-Reply-To")))

    own = set(_addresses(msg.get("To")) + _addresses(msg.get("Cc")))
    own |= set(_addresses(msg.get("From")) + _addresses(msg.get("Return-Path")))
    own |= set(_addresses(msg.get("Reply-To"))) | original.senders

    recipient = dsn.recipient
    if recipient is None and msg.get("X-Failed-Recipients"):
        failed = _addresses(msg.get("X-Failed-Recipients"))
        recipient = failed[0] if failed else None
    if recipient is None:
        recipient = _text_recipient(diag, own)
    if recipient is None and len(original.recipients) == 1:
        recipient = original.recipients[0]

    text_reason = _one_line(_text_reason(diag, recipient))
    reason = dsn.reason or text_reason
    status = (
        dsn.status
        or _status_in(reason)
        or _infer_status(reason)
        or _status_in(diag)
        or _infer_status(diag)
    )

    from_addr = parseaddr(_header_text(msg.get("From")))[1].lower()
    style = _style(msg, from_addr, dsn.reporting_mta, text, dsn.found or bool(rep.dsn))
    return Bounce(
        recipient=recipient,
        status=status,
        reason=reason,
        style=style,
        original_message_id=original.message_id,
        original_subject=original.subject,
        original_text=original.text,
    )


# ---------------------------------------------------------------------------
# Address typos
# ---------------------------------------------------------------------------

_GLOBAL = (
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
)
_JAPAN = (
    "yahoo.co.jp",
    "docomo.ne.jp",
    "ezweb.ne.jp",
    "au.com",
    "softbank.ne.jp",
    "i.softbank.jp",
    "ymobile.ne.jp",
    "icloud.com",
    "nifty.com",
    "biglobe.ne.jp",
    "ocn.ne.jp",
    "so-net.ne.jp",
)
_RUSSIA = (
    "mail.ru",
    "yandex.ru",
    "ya.ru",
    "bk.ru",
    "inbox.ru",
    "list.ru",
    "rambler.ru",
    "gmail.com",
)
_CHINA = ("qq.com", "163.com", "126.com", "sina.com", "sohu.com", "foxmail.com", "aliyun.com")
_UKRAINE = ("ukr.net", "i.ua", "meta.ua")

WELL_KNOWN_DOMAINS: tuple[str, ...] = tuple(
    dict.fromkeys(_GLOBAL + _JAPAN + _RUSSIA + _CHINA + _UKRAINE)
)

# Real mail or company domains one or two edits away from a well-known one:
# they must never be "corrected".
_REAL_NEIGHBOURS = frozenset(
    {
        "ymail.com",
        "email.com",
        "mail.com",
        "gmx.com",
        "cloud.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "yahoo.es",
        "yahoo.it",
        "yahoo.ca",
        "yahoo.cn",
        "yahoo.ne.jp",
        "yahoo.com.au",
        "yahoo.com.tw",
        "yahoo.com.hk",
        "hotmail.co.uk",
        "hotmail.co.jp",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.it",
        "hotmail.es",
        "outlook.jp",
        "outlook.fr",
        "outlook.de",
        "outlook.es",
        "outlook.it",
        "live.jp",
        "live.ru",
        "live.cn",
        "live.co.uk",
        "live.fr",
        "live.de",
        "live.nl",
        "live.it",
        "live.ca",
        "protonmail.ch",
        "proton.ch",
        "softbank.co.jp",
        "biglobe.co.jp",
        "so-net.co.jp",
        "emobile.ne.jp",
        "nttdocomo.co.jp",
        "yandex.ua",
        "yandex.by",
        "yandex.kz",
        "yandex.uz",
        "yandex.com",
        "yandex.net",
        "mail.ua",
        "mail.de",
        "inbox.lv",
        "inbox.lt",
        "inbox.eu",
        "inbox.com",
        "rambler.ua",
        "sina.cn",
        "sina.com.cn",
        "163.net",
        "aliyun.cn",
        "foxmail.cn",
    }
)

# Suffixes spanning two labels, so "docomo.ne.jo" compares "ne.jo" with "ne.jp".
_TWO_LABEL_SUFFIXES = frozenset(
    {
        "ne.jp",
        "co.jp",
        "or.jp",
        "ac.jp",
        "ad.jp",
        "go.jp",
        "gr.jp",
        "ed.jp",
        "lg.jp",
        "com.cn",
        "net.cn",
        "org.cn",
        "com.ua",
        "org.ua",
        "net.ua",
        "kiev.ua",
        "co.uk",
        "org.uk",
        "com.ru",
        "msk.ru",
        "spb.ru",
        "com.au",
        "co.kr",
        "com.tw",
        "com.hk",
    }
)

# Top-level domains people really use: a short brand followed by one of these
# is more likely a real domain (ya.ua, bk.com) than a slip of the finger. The
# famous typo TLDs (.co, .cm, .om, .ne) are deliberately absent.
_COMMON_TLDS = frozenset(
    {
        "com",
        "net",
        "org",
        "ru",
        "ua",
        "jp",
        "cn",
        "de",
        "fr",
        "uk",
        "it",
        "es",
        "by",
        "kz",
        "us",
        "eu",
        "info",
        "biz",
        "io",
        "me",
        "tv",
        "nl",
        "pl",
        "kr",
        "tw",
        "hk",
        "in",
        "br",
        "ca",
        "au",
        "edu",
        "gov",
    }
)


def _split_domain(domain: str) -> tuple[str, str]:
    labels = domain.split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in _TWO_LABEL_SUFFIXES:
        return ".".join(labels[:-2]), ".".join(labels[-2:])
    if len(labels) >= 2:
        return ".".join(labels[:-1]), labels[-1]
    return domain, ""


def _edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment): a swap counts as one slip."""
    if a == b:
        return 0
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def _typo_score(typo: str, known: str) -> int | None:
    """Edit distance when ``typo`` is a believable slip for ``known``; None otherwise."""
    name, suffix = _split_domain(known)
    distance = _edit_distance(typo, known)
    if typo.replace(".", "") == known.replace(".", ""):
        return distance  # a dot missing or doubled: "gmailcom"
    if typo.startswith(name + "."):
        rest = typo[len(name) + 1 :]
        suffix_distance = _edit_distance(rest, suffix)
        if len(name) < 5:
            # Short brands ("qq", "ya", "mail") sit next to many real domains:
            # only a one-letter slip into a TLD nobody uses for mail counts.
            if suffix_distance <= 1 and rest.rpartition(".")[2] not in _COMMON_TLDS:
                return distance
            return None
        if suffix_distance <= 2 or suffix.endswith("." + rest):
            return distance  # ".con", ".ne.jo", ".co.jp" for ".ne.jp", "docomo.jp"
        return None
    if len(name) >= 5 and distance <= (1 if len(name) == 5 else 2):
        return distance  # "gmial.com", "hotmial.com", "softbnak.ne.jp"
    return None


def _clean_domain(domain: str) -> str:
    domain = unicodedata.normalize("NFKC", domain).lower()
    domain = re.sub(r"\s+", "", domain).replace(",", ".").replace("。", ".")
    domain = re.sub(r"\.{2,}", ".", domain)
    return domain.strip(".")


def suggest_address(address: str, extra_domains: Iterable[str] = ()) -> str | None:
    """The address with a mistyped well-known domain corrected, or ``None``.

    Why conservative: a wrong "fix" sends a customer's mail to a stranger, a
    missed one only means the agent looks at it. So only domains close to a
    well-known mail provider (plus ``extra_domains``) are corrected — by
    Damerau-Levenshtein distance ≤ 2 with extra care for TLD slips (``.con``,
    ``.cm``, ``.co``, ``.ne.jo``, ``.ne.j``), a missing dot (``gmailcom``) and
    stray dots (``@.au.com``). Real neighbours (``yahoo.co.uk``, ``ymail.com``,
    ``yandex.ua``), subdomains of known providers and unknown company domains
    are left alone.
    """
    local, at, domain = (address or "").strip().rpartition("@")
    local = local.strip()
    if not at or not local or not domain.strip():
        return None
    known = list(WELL_KNOWN_DOMAINS)
    for extra in extra_domains:
        extra = _clean_domain(extra or "")
        if extra and extra not in known:
            known.append(extra)
    raw = domain.strip().lower()
    if raw in known:
        return None
    cleaned = _clean_domain(raw)
    if not cleaned:
        return None
    if cleaned in known:
        return f"{local}@{cleaned}"  # stray or missing dots, full-width letters: "@.au.com"
    if cleaned in _REAL_NEIGHBOURS or any(cleaned.endswith("." + k) for k in known):
        return None  # a real neighbour, or a subdomain such as "mail.biglobe.ne.jp"
    bare = [k for k in known if _split_domain(k)[0] == cleaned]
    if bare:  # "gmail", "docomo": the suffix was left off
        return f"{local}@{bare[0]}" if len(bare) == 1 else None
    best: str | None = None
    best_score = 0
    tie = False
    for k in known:
        score = _typo_score(cleaned, k)
        if score is None:
            continue
        if best is None or score < best_score:
            best, best_score, tie = k, score, False
        elif score == best_score and k != best:
            tie = True
    if best is None or tie:
        return None
    return f"{local}@{best}"


# ---------------------------------------------------------------------------
# Phone numbers
# ---------------------------------------------------------------------------


def phones_in(text: str, region: str) -> list[str]:
    """Valid phone numbers in a bounce copy, E.164 (the one reader: lookup.phones_in_text)."""
    from .lookup import phones_in_text

    return phones_in_text(text, region) if text else []
