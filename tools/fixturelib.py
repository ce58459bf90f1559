"""Helpers shared by the demo-fixture generators in this folder (stdlib only).

The generators are run as scripts (``python tools/fixtures_<x>.py``), so this
folder is the first entry of ``sys.path`` and ``import fixturelib`` finds this
module without any packaging.

Two mail kits live here, because the generators build mail in two styles:

* ``Mailer`` and the functions around it write RFC 2047 headers by hand and
  reorder headers with ``finalize`` (salon-ja, support-ja, stores-zh);
* ``MailBox`` builds with the compat32 API, replaces what the sender's charset
  cannot carry and checks every written file by parsing it back (toys-ru,
  pharmacy-uk).

Whatever draws random numbers takes the generator's own ``random.Random``, so
each script keeps its own deterministic sequence.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import json
import random
import struct
import zlib
from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr
from pathlib import Path

# ============================================================ the shared time frame
# Every dataset is anchored at one day, its "today"; the demo loader moves it to the
# real today. Activity covers the eight days before it (a weekend and a Monday).
ROOT = Path(__file__).resolve().parents[1]
ANCHOR = date(2026, 1, 14)
START = ANCHOR - timedelta(days=8)
DAYS = [START + timedelta(days=i) for i in range(9)]


def end_of_anchor(tz: tzinfo) -> datetime:
    """The last minute of the anchor day in the profile's time zone."""
    return datetime(ANCHOR.year, ANCHOR.month, ANCHOR.day, 23, 59, 0, tzinfo=tz)


# ============================================================ records, tables
def iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def public(d: dict) -> dict:
    """The record without the generator's private ``_keys``."""
    return {k: v for k, v in d.items() if not k.startswith("_")}


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def table(convert: tuple, text: str) -> list[tuple]:
    """Rows of a ``|``-separated text table, each cell stripped and passed to its converter."""
    rows = []
    for line in text.strip().splitlines():
        cells = [c.strip() for c in line.split("|")]
        rows.append(tuple(f(c) for f, c in zip(convert, cells, strict=True)))
    return rows


def listed(cell: str) -> list[str]:
    """A table cell ``"a; b; c"`` as ``["a", "b", "c"]``."""
    return cell.split("; ")


# ============================================================ attachment bytes
def png_bytes(w: int = 8, h: int = 8, rgb=(200, 160, 120)) -> bytes:
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def pdf_bytes(title: str) -> bytes:
    t = title.encode("ascii", "replace")
    return pdf_page(b"BT /F1 12 Tf 40 780 Td (" + t + b") Tj ET")


def pdf_page(body: bytes) -> bytes:
    """A one-page PDF (A4, Helvetica) around a content stream, written by hand."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(body)).encode() + b" >>\nstream\n" + body + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offs = []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += str(i).encode() + b" 0 obj\n" + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 " + str(len(objs) + 1).encode() + b"\n0000000000 65535 f \n"
    for o in offs:
        out += f"{o:010d} 00000 n \n".encode()
    out += b"trailer\n<< /Size " + str(len(objs) + 1).encode() + b" /Root 1 0 R >>\nstartxref\n"
    out += str(xref).encode() + b"\n%%EOF\n"
    return out


def fake_xlsx(seed: str) -> bytes:
    # A small stand-in: a ZIP local-file header signature followed by filler.
    h = hashlib.sha256(seed.encode()).digest()
    return b"PK\x03\x04\x14\x00\x06\x00" + h * 24


def fake_pdf(title: str, rng: random.Random) -> bytes:
    body = (
        f"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        f"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
        f"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>\n"
        f"endobj\n"
        f"4 0 obj\n<< /Length 44 >>\nstream\nBT /F1 12 Tf 72 770 Td ({title}) Tj ET\n"
        f"endstream\nendobj\n"
    )
    pad = bytes(rng.randrange(256) for _ in range(rng.randint(300, 900)))
    return (
        body.encode("latin-1", "replace")
        + b"% "
        + pad.hex().encode()
        + b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def fake_jpeg(rng: random.Random, n: int = 1200) -> bytes:
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"
        + bytes(rng.randrange(256) for _ in range(n))
        + b"\xff\xd9"
    )


# ================================================================= both kits
def delivery_status(per_message, per_recipient) -> MIMEBase:
    """A message/delivery-status part (RFC 3464) from two lists of (field, value);
    fields whose value is None are left out."""
    ds = MIMEBase("message", "delivery-status")
    del ds["MIME-Version"]
    blocks = []
    for fields in (per_message, per_recipient):
        block = Message()
        for k, v in fields:
            if v is not None:
                block[k] = v
        blocks.append(block)
    ds.set_payload(blocks)
    return ds


# ================================================ hand-encoded kit (ja / zh)
HDR_LABEL = {"iso-2022-jp": "ISO-2022-JP", "utf-8": "UTF-8"}


def enc_header(text: str, cs: str = "utf-8", room: int = 40) -> str:
    """RFC 2047 B-encoded words, each a self-contained run in ``cs``.

    ``room`` = base64 characters per word (40 keeps 'Subject: ' + the first word under 78 columns).
    """
    if text.isascii():
        return text
    label = HDR_LABEL.get(cs, cs.upper())
    prefix = f"=?{label}?B?"
    words, chunk = [], ""
    for ch in text:
        cand = chunk + ch
        if chunk and len(base64.b64encode(cand.encode(cs))) > room:
            words.append(chunk)
            chunk = ch
        else:
            chunk = cand
    if chunk:
        words.append(chunk)
    return "\n ".join(f"{prefix}{base64.b64encode(w.encode(cs)).decode()}?=" for w in words)


def addr(name: str | None, address: str, cs: str = "utf-8") -> str:
    if not name:
        return address
    if name.isascii():
        return (
            f'"{name}" <{address}>' if any(c in name for c in ",.;:()") else f"{name} <{address}>"
        )
    # one encoded word per space-separated token: some parsers keep the blank
    # between adjacent encoded words inside a display name
    words = [enc_header(tok, cs, room=56) if not tok.isascii() else tok for tok in name.split(" ")]
    return f"{' '.join(words)} <{address}>"


def text_part(
    body: str, subtype: str = "plain", cs: str = "utf-8", cte: str = "base64"
) -> MIMEText:
    if cs in ("iso-2022-jp", "us-ascii"):
        body.encode(cs)  # fail loudly on characters the charset lacks
        return MIMEText(body, subtype, cs)
    c = Charset(cs)
    c.body_encoding = QP if cte == "qp" else BASE64
    return MIMEText(body, subtype, c)


def html_doc(body_html: str, cs: str = "utf-8") -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta http-equiv="Content-Type" '
        f'content="text/html; charset={cs}"></head>\n<body>\n{body_html}\n</body></html>\n'
    )


def text_to_html(text: str) -> str:
    esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        '<div style="font-family:sans-serif;font-size:14px">'
        + esc.replace("\n", "<br>\n")
        + "</div>"
    )


def boundary(seed: str, style: str = "gmail") -> str:
    h = hashlib.sha1(seed.encode()).hexdigest()
    if style == "gmail":
        return "000000000000" + h[:12]
    if style == "outlook":
        return "_000_" + h[:20].upper() + "_"
    return "----=_Part_" + str(int(h[:6], 16)) + "_" + h[6:16] + ".1768300000000"


def finalize(msg: Message, headers: list[tuple[str, str | None]]) -> Message:
    """Put ``headers`` (None values left out) and MIME-Version before the content headers."""
    content = list(msg.items())
    for k in {k for k, _ in content}:
        del msg[k]
    for k, v in headers:
        if v is not None:
            msg[k] = v
    msg["MIME-Version"] = "1.0"
    for k, v in content:
        if k.lower() != "mime-version":
            msg[k] = v
    for part in msg.walk():
        if part is not msg and part.get("MIME-Version"):
            del part["MIME-Version"]
    return msg


def attach(data: bytes, maintype: str, subtype: str, filename: str, cs: str = "utf-8") -> MIMEBase:
    if maintype == "image":
        part = MIMEImage(data, subtype)
    else:
        part = MIMEApplication(data, subtype)
    if filename.isascii():
        part.add_header("Content-Disposition", "attachment", filename=filename)
    else:
        part.add_header("Content-Disposition", "attachment", filename=(cs, "", filename))
        part.set_param("name", enc_header(filename, cs))
    return part


def body_part(text: str | None, html: str | None, cs: str, cte: str, seed: str, style: str):
    if text is not None and html is not None:
        alt = MIMEMultipart("alternative", boundary=boundary(seed + "alt", style))
        alt.attach(text_part(text, "plain", cs, cte))
        alt.attach(text_part(html, "html", cs, cte))
        return alt
    if html is not None:
        return text_part(html, "html", cs, cte)
    return text_part(text or "", "plain", cs, cte)


def write_maildir(folder: Path, inbox: list, sent: list) -> None:
    """Sort (date, message) pairs in place and write them as folder/NNNN.eml and folder/Sent/."""
    for msgs, d in ((inbox, folder), (sent, folder / "Sent")):
        msgs.sort(key=lambda x: (x[0], x[1]["Message-ID"]))
        for i, (_t, m) in enumerate(msgs, 1):
            (d / f"{i:04d}.eml").write_bytes(m.as_bytes(policy=compat32))


ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class Mailer:
    """Message-IDs, Received headers and whole messages for one inbox ``rcpt``,
    received by ``mx_host``; Message-IDs draw from the generator's ``rng``."""

    def __init__(self, rng: random.Random, mx_host: str, rcpt: str):
        self.rng = rng
        self.mx_host = mx_host
        self.rcpt = rcpt

    def new_msgid(self, t: datetime, style: str, domain: str) -> str:
        if style == "gmail":
            s = "".join(self.rng.choice(ALNUM) for _ in range(36))
            return f"<CA{s}@mail.gmail.com>"
        stamp = t.strftime("%Y%m%d%H%M%S")
        s = "".join(self.rng.choice("0123456789abcdef") for _ in range(10))
        return f"<{stamp}.{s}@{domain}>"

    def received(self, host: str, ip: str, t: datetime, rcpt: str) -> str:
        sid = hashlib.md5((host + t.isoformat() + rcpt).encode()).hexdigest()[:16]
        return (
            f"from {host} ({host} [{ip}])\n        by {self.mx_host} with ESMTPS id {sid}\n"
            f"        for <{rcpt}>; {format_datetime(t)}"
        )

    def build_mail(
        self,
        *,
        t: datetime,
        frm: str,
        to: str,
        subject: str,
        cs: str = "utf-8",
        cte: str = "base64",
        text: str | None = None,
        html: str | None = None,
        attachments=(),
        msgid: str,
        in_reply_to: str | None = None,
        references: list[str] | None = None,
        reply_to: str | None = None,
        cc: str | None = None,
        style: str = "gmail",
        extra_headers: list[tuple[str, str]] = (),
        inbound: tuple[str, str] | None = None,
        return_path: str | None = None,
        x_mailer: str | None = None,
    ) -> Message:
        root = body_part(text, html, cs, cte, msgid, style)
        if attachments:
            mixed = MIMEMultipart("mixed", boundary=boundary(msgid + "mixed", style))
            mixed.attach(root)
            for a in attachments:
                mixed.attach(a)
            root = mixed
        headers: list[tuple[str, str | None]] = []
        if inbound:
            headers.append(("Return-Path", f"<{return_path}>" if return_path is not None else None))
            headers.append(("Received", self.received(inbound[0], inbound[1], t, self.rcpt)))
        headers += [
            ("Date", format_datetime(t)),
            ("From", frm),
            ("To", to),
            ("Cc", cc),
            ("Reply-To", reply_to),
            ("Subject", enc_header(subject, cs)),
            ("Message-ID", msgid),
            ("In-Reply-To", in_reply_to),
            ("References", " ".join(references) if references else None),
            ("X-Mailer", x_mailer),
        ]
        headers += list(extra_headers)
        return finalize(root, headers)


# ================================================= compat32 kit (ru / uk)
def mime_text(text: str, subtype: str, charset: str, cte: str) -> MIMEText:
    cs = Charset(charset)
    cs.body_encoding = {"base64": BASE64, "qp": QP, "8bit": None}[cte]
    if not text.endswith("\n"):
        text += "\n"
    return MIMEText(text, subtype, cs)


def header_value(value: str, charset: str):
    try:
        value.encode("ascii")
        return value
    except UnicodeEncodeError:
        return Header(value, charset)


def format_addr(name: str | None, address: str, charset: str) -> str:
    if not name:
        return address
    return formataddr((name, address), charset=charset)


def attachment(data: bytes, filename: str, kind: str) -> MIMEBase:
    if kind == "pdf":
        part = MIMEApplication(data, "pdf")
    elif kind == "xlsx":
        part = MIMEApplication(data, "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    elif kind == "jpg":
        part = MIMEImage(data, "jpeg")
    else:
        part = MIMEApplication(data, "octet-stream")
    try:
        filename.encode("ascii")
        part.add_header("Content-Disposition", "attachment", filename=filename)
    except UnicodeEncodeError:
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", filename))
    return part


FALLBACKS = {
    "₽": "руб.",
    "×": "x",
    "„": '"',
    "“": '"',
    "”": '"',
    "«": '"',
    "»": '"',
    "—": "-",
    "–": "-",
    "№": "N",
    "…": "...",
    "\u00a0": " ",
}


def fit_charset(text: str | None, charset: str) -> str | None:
    """Replace what the sender's charset cannot carry, the way their mail client would."""
    if text is None:
        return None
    try:
        text.encode(charset)
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        try:
            ch.encode(charset)
            out.append(ch)
        except UnicodeEncodeError:
            out.append(FALLBACKS.get(ch, "?"))
    return "".join(out)


def html_of(text: str) -> str:
    paras = "".join(f"<p>{ln}</p>" if ln else "<p>&nbsp;</p>" for ln in text.split("\n"))
    return (
        '<html><head><meta http-equiv="Content-Type" content="text/html"></head><body>'
        '<div style="font-family:Calibri,Arial,sans-serif;font-size:11pt">'
        f"{paras}</div></body></html>"
    )


def _norm(s: str) -> str:
    return " ".join(s.split())


def check_mail(data: bytes, intended: dict, path: Path):
    """Parse back with the modern API: subject and body must decode to what we meant."""
    m = email.message_from_bytes(data, policy=email.policy.default)
    for h in ("Message-ID", "Date", "From", "To", "Subject"):
        assert m[h], (path, h)
    assert str(m["Subject"]) == intended["subject"], (path, str(m["Subject"]), intended["subject"])
    body = m.get_body(preferencelist=("plain", "html"))
    content = body.get_content() if body is not None else ""
    want = _norm(intended["text"] or "")
    assert want[:200] in _norm(content), (path, want[:80], _norm(content)[:80])


class MailBox:
    """The generator's mail: (mailbox, folder, date, message) items, built with
    Message-IDs drawn from ``rng`` and numbered MIME boundaries."""

    def __init__(self, rng: random.Random):
        self.items: list[tuple[str, str, datetime, Message]] = []  # (mailbox, folder, date, msg)
        self.rng = rng
        self.boundary_n = 0

    def msgid(self, t: datetime, domain: str) -> str:
        h = (
            hashlib.sha1(f"{t.isoformat()}/{domain}/{self.rng.random()}".encode())
            .hexdigest()[:16]
            .upper()
        )
        return f"<{t.strftime('%Y%m%d%H%M%S')}.{h}@{domain}>"

    def boundary(self, style: str) -> str:
        self.boundary_n += 1
        h = hashlib.md5(f"b{self.boundary_n}".encode()).hexdigest()
        if style == "outlook":
            return f"----=_NextPart_000_{h[:4].upper()}_01DC{h[4:8].upper()}.{h[8:16].upper()}"
        if style == "thebat":
            return f"----------{h[:12].upper()}"
        return f"=_{h[:24]}"

    def add(self, mailbox: str, folder: str, t: datetime, msg: Message):
        self.items.append((mailbox, folder, t, msg))

    def build_mail(
        self,
        *,
        frm: tuple[str | None, str],
        to: list[tuple[str | None, str]],
        subject: str,
        t: datetime,
        text: str | None = None,
        html: str | None = None,
        charset: str = "utf-8",
        cte: str = "base64",
        attachments: list[MIMEBase] = (),
        in_reply_to: Message | None = None,
        cc: list[tuple[str | None, str]] = (),
        mailer: str | None = None,
        style: str = "plain",
        domain: str | None = None,
    ) -> Message:
        text, html, subject = (
            fit_charset(text, charset),
            fit_charset(html, charset),
            fit_charset(subject, charset),
        )
        frm = (fit_charset(frm[0], charset), frm[1])
        to = [(fit_charset(n, charset), a) for n, a in to]
        cc = [(fit_charset(n, charset), a) for n, a in cc]
        if text is not None and html is not None:
            body = MIMEMultipart("alternative", boundary=self.boundary(style))
            body.attach(mime_text(text, "plain", charset, cte))
            body.attach(mime_text(html, "html", charset, cte))
        elif html is not None:
            body = mime_text(html, "html", charset, cte)
        else:
            body = mime_text(text or "", "plain", charset, cte)
        if attachments:
            msg = MIMEMultipart("mixed", boundary=self.boundary(style))
            msg.attach(body)
            for a in attachments:
                msg.attach(a)
        else:
            msg = body
        dom = domain or frm[1].split("@")[1]
        mid = self.msgid(t, dom)
        # headers in the usual order (compat32 appends; reorder by rebuilding)
        head = [
            ("Message-ID", mid),
            ("Date", format_datetime(t)),
            ("From", format_addr(frm[0], frm[1], charset)),
            ("To", ", ".join(format_addr(n, a, charset) for n, a in to)),
        ]
        if cc:
            head.append(("Cc", ", ".join(format_addr(n, a, charset) for n, a in cc)))
        head.append(("Subject", header_value(subject, charset)))
        if in_reply_to is not None:
            parent = in_reply_to["Message-ID"]
            refs = in_reply_to.get("References")
            head.append(("In-Reply-To", parent))
            head.append(("References", f"{refs} {parent}" if refs else parent))
        if mailer:
            head.append(("X-Mailer", mailer))
        existing = [(k, v) for k, v in msg.items()]
        for k in list(msg.keys()):
            del msg[k]
        for k, v in head:
            msg[k] = v
        for k, v in existing:
            msg[k] = v
        msg._intended = {"subject": subject, "text": text if text is not None else html}
        return msg

    def add_bounce(
        self,
        box: str,
        t: datetime,
        mta: str,
        human: MIMEText,
        ds: MIMEBase,
        orig: Message,
        bad: str,
        to: str,
    ) -> Message:
        """File an RFC 3464 report from MAILER-DAEMON@``mta`` about ``orig`` (sent to ``bad``)."""
        rep = MIMEMultipart(
            "report", boundary=self.boundary("plain"), report_type="delivery-status"
        )
        rep.attach(human)
        rep.attach(ds)
        rep.attach(MIMEMessage(orig))
        for k, v in (
            ("Message-ID", self.msgid(t, mta)),
            ("Date", format_datetime(t)),
            ("From", f"MAILER-DAEMON@{mta} (Mail Delivery System)"),
            ("To", to),
            ("Subject", "Undelivered Mail Returned to Sender"),
            ("Auto-Submitted", "auto-replied"),
        ):
            rep[k] = v
        rep._intended = {"subject": "Undelivered Mail Returned to Sender", "text": bad}
        self.add(box, "INBOX", t, rep)
        return rep

    def write(self, out: Path, end: datetime) -> dict:
        """Write out/mail/<box>/NNNN.eml and out/mail/<box>/<folder>/NNNN.eml up to ``end``."""
        counts: dict[str, int] = {}
        groups: dict[tuple[str, str], list] = {}
        for box, folder, t, msg in self.items:
            if t > end:
                continue
            groups.setdefault((box, folder), []).append((t, msg))
        for (box, folder), lst in sorted(groups.items()):
            lst.sort(key=lambda x: (x[0], x[1]["Message-ID"]))
            d = out / "mail" / box if folder == "INBOX" else out / "mail" / box / folder
            d.mkdir(parents=True, exist_ok=True)
            for i, (_t, msg) in enumerate(lst, 1):
                data = msg.as_bytes()
                (d / f"{i:04d}.eml").write_bytes(data)
                check_mail(data, msg._intended, d / f"{i:04d}.eml")
            counts[f"{box}/{folder}"] = len(lst)
        return counts
